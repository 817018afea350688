//! Settings, read from command-line flags or the environment.

use clap::Args;

/// Where the service keeps its data when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "coop-registry.db";
/// Where the service listens when `BIND` is not set.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Everything the service can be told at start; each flag also reads an environment variable.
///
/// These are the flags of `serve` (and of the command line without a subcommand, which serves);
/// the database is an option of every command, so the command line reads it itself (see
/// `cli::Cli`) and puts it here.
#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// A `postgres://` (or `postgresql://`) URL selects PostgreSQL; anything else is the path
    /// of an SQLite file (see `db::BackendKind::of`).
    #[arg(skip = DEFAULT_DATABASE_URL.to_owned())]
    pub database_url: String,

    /// Address and port to listen on.
    #[arg(long, env = "BIND", default_value = DEFAULT_BIND)]
    pub bind: String,

    /// Most database connections the service keeps open for reading (SQLite) or for everything
    /// (PostgreSQL); defaults to twice the number of CPU cores. SQLite always writes through one
    /// connection of its own.
    #[arg(long, env = "POOL_SIZE", default_value_t = default_pool_size())]
    pub pool_size: u32,

    /// HTTP worker threads; defaults to the number of CPU cores (on SQLite, twice that).
    #[arg(long, env = "WORKERS")]
    pub workers: Option<usize>,

    /// Seconds a request waits for a database connection before it is answered 503.
    #[arg(long, env = "DB_TIMEOUT_SECS", default_value_t = 5)]
    pub db_timeout_secs: u64,

    /// Most open client connections per worker; more wait in the listen backlog.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 2048)]
    pub max_connections: usize,

    /// Require a valid token (any role) for reads too.
    #[arg(long, env = "READ_REQUIRES_TOKEN", default_value_t = false,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub read_requires_token: bool,

    /// Browser origins allowed to call the API (CORS), comma-separated; none by default.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Seconds a request's body may take to arrive once its headers have; then 408.
    #[arg(long, env = "BODY_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,

    /// MiB of memory for records already rendered as JSON, reused by list pages while the
    /// records are unchanged (see `rendered.rs`); 0 turns this off.
    #[arg(long, env = "RENDERED_CACHE_MIB", default_value_t = 2)]
    pub rendered_cache_mib: u64,

    /// The largest body an import (`POST /api/v1/…/import`) takes, in bytes; larger is 413.
    #[arg(long, env = "IMPORT_MAX_BYTES", default_value_t = 10 << 20)]
    pub import_max_bytes: usize,

    /// The most rows one import takes; more is 413. An import is one transaction, and on
    /// SQLite other writes wait for it.
    #[arg(long, env = "IMPORT_MAX_ROWS", default_value_t = 10_000)]
    pub import_max_rows: usize,
}

/// Twice the CPU cores. Measured on 2 cores with 32 clients: 4 PostgreSQL connections served
/// as many requests as 8 (GETs, lists, creates) with half the p99 latency, as more busy
/// backends than cores only contend; SQLite reads were the same either way.
fn default_pool_size() -> u32 {
    std::thread::available_parallelism().map_or(4, |cores| {
        u32::try_from(cores.get())
            .unwrap_or(u32::MAX / 2)
            .saturating_mul(2)
    })
}

impl Settings {
    /// Settings with every default, for the given database; used by tests and tools.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            bind: DEFAULT_BIND.to_owned(),
            pool_size: 8,
            workers: None,
            db_timeout_secs: 5,
            max_connections: 2048,
            read_requires_token: false,
            cors_allowed_origins: Vec::new(),
            body_timeout_secs: 10,
            rendered_cache_mib: 2,
            import_max_bytes: 10 << 20,
            import_max_rows: 10_000,
        }
    }
}
