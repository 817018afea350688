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
    #[arg(long, env = "RENDERED_CACHE_MIB", default_value_t = 1)]
    pub rendered_cache_mib: u64,

    /// The events calendar and the IATI files. (Boxed: the command line's enum holds the
    /// settings, and its variants should stay of a size.)
    #[command(flatten)]
    pub feeds: Box<FeedSettings>,
    /// The largest body an import (`POST /api/v1/…/import`) takes, in bytes; larger is 413.
    #[arg(long, env = "IMPORT_MAX_BYTES", default_value_t = 10 << 20)]
    pub import_max_bytes: usize,

    /// The most rows one import takes; more is 413. An import is one transaction, and on
    /// SQLite other writes wait for it.
    #[arg(long, env = "IMPORT_MAX_ROWS", default_value_t = 10_000)]
    pub import_max_rows: usize,

    /// Days the change feed (`/api/v1/changes`) reaches back: it serves only entries of the
    /// last this many days, and a feed position whose next entry is older is answered 410.
    /// Nothing is deleted: the audit log (`/api/v1/audit`) keeps every entry. 0: no horizon.
    #[arg(long, env = "CHANGES_RETENTION_DAYS", default_value_t = DEFAULT_CHANGES_RETENTION_DAYS,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub changes_retention_days: u32,

    /// Webhook delivery: which targets are allowed, and the retry schedule. (Boxed, as `feeds`.)
    #[command(flatten)]
    pub webhooks: Box<WebhookSettings>,
}

/// `CHANGES_RETENTION_DAYS` when not set.
pub const DEFAULT_CHANGES_RETENTION_DAYS: u32 = 90;

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
            rendered_cache_mib: 1,
            feeds: Box::default(),
            import_max_bytes: 10 << 20,
            import_max_rows: 10_000,
            changes_retention_days: DEFAULT_CHANGES_RETENTION_DAYS,
            webhooks: Box::default(),
        }
    }
}

/// Webhooks (`/api/v1/webhooks`): where they may point, and how failed deliveries are retried.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Allow webhook targets on loopback, private, link-local, carrier-grade NAT, unique-local
    /// and other non-public addresses (refused by default, at registration and at each send,
    /// against SSRF). For tests and closed networks only.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub webhook_allow_private_targets: bool,

    /// The waits before each retry of a failed webhook delivery, in seconds, comma-separated:
    /// a delivery is tried once, then once after each wait, then marked failed. Each wait
    /// varies by ±20% (jitter); a receiver's `Retry-After` replaces it, up to the longest.
    #[arg(long, env = "WEBHOOK_RETRY_SCHEDULE", default_value = DEFAULT_WEBHOOK_RETRY_SCHEDULE,
          value_parser = parse_retry_schedule)]
    pub webhook_retry_schedule: RetrySchedule,
}

/// `WEBHOOK_RETRY_SCHEDULE` when not set: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h,
/// 8 h; eleven attempts over about 24 hours.
pub const DEFAULT_WEBHOOK_RETRY_SCHEDULE: &str = "5,30,120,600,1800,3600,7200,14400,28800,28800";

/// The waits between the attempts of a webhook delivery, in seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<u64>);

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            webhook_allow_private_targets: false,
            webhook_retry_schedule: parse_retry_schedule(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
                .unwrap_or(RetrySchedule(vec![5])),
        }
    }
}

/// Whole seconds, comma-separated, 1 to 30 of them, each at most a day.
fn parse_retry_schedule(text: &str) -> Result<RetrySchedule, String> {
    const RULE: &str = "must be 1 to 30 waits in whole seconds (each 0 to 86400), comma-separated";
    let waits = text
        .split(',')
        .map(|wait| wait.trim().parse::<u64>().ok().filter(|s| *s <= 86_400))
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| RULE.to_owned())?;
    if waits.is_empty() || waits.len() > 30 {
        return Err(RULE.to_owned());
    }
    Ok(RetrySchedule(waits))
}

/// The events calendar (`/api/v1/calendar.ics`) and the IATI files (`/api/v1/iati/…`): how they
/// name the hub and their records (see `crate::feeds`).
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct FeedSettings {
    /// The domain in each calendar event's UID (`event-7@DOMAIN`): keep it fixed, or calendar
    /// programs take every event for a new one. The default is a reserved name that is nobody's.
    #[arg(long, env = "CALENDAR_UID_DOMAIN", default_value = DEFAULT_CALENDAR_UID_DOMAIN,
          value_parser = parse_uid_domain)]
    pub calendar_uid_domain: String,

    /// The most events one calendar holds (the earliest first); more are left out, and the
    /// answer says so in `X-Calendar-Truncated`.
    #[arg(long, env = "CALENDAR_MAX_EVENTS", default_value_t = DEFAULT_CALENDAR_MAX_EVENTS,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub calendar_max_events: u32,

    /// The hub's IATI organisation identifier: the reporting organisation of the IATI files and
    /// the prefix of every activity's identifier (`REF-<agreement id>`).
    #[arg(long, env = "IATI_REPORTING_ORG_REF", default_value = DEFAULT_IATI_REPORTING_ORG_REF,
          value_parser = parse_iati_ref)]
    pub iati_reporting_org_ref: String,

    /// The hub's name, as the IATI files write it.
    #[arg(long, env = "IATI_REPORTING_ORG_NAME", default_value = DEFAULT_IATI_REPORTING_ORG_NAME,
          value_parser = parse_org_name)]
    pub iati_reporting_org_name: String,

    /// The hub's IATI organisation type code (IATI's OrganisationType list: 10 government,
    /// 40 multilateral, 90 other…).
    #[arg(long, env = "IATI_REPORTING_ORG_TYPE", default_value = DEFAULT_IATI_REPORTING_ORG_TYPE,
          value_parser = parse_iati_org_type)]
    pub iati_reporting_org_type: String,

    /// The language of the registry's texts (ISO 639-1), written as `xml:lang` in the IATI files.
    #[arg(long, env = "IATI_LANGUAGE", default_value = DEFAULT_IATI_LANGUAGE,
          value_parser = parse_language)]
    pub iati_language: String,
}

/// `CALENDAR_UID_DOMAIN` when not set: `.invalid` is reserved (RFC 2606), so it is no one's.
pub const DEFAULT_CALENDAR_UID_DOMAIN: &str = "coop-registry.invalid";
/// `CALENDAR_MAX_EVENTS` when not set.
pub const DEFAULT_CALENDAR_MAX_EVENTS: u32 = 10_000;
/// `IATI_REPORTING_ORG_REF` when not set: a placeholder to replace before publishing.
pub const DEFAULT_IATI_REPORTING_ORG_REF: &str = "XX-COOP-REGISTRY";
/// `IATI_REPORTING_ORG_NAME` when not set.
pub const DEFAULT_IATI_REPORTING_ORG_NAME: &str = "Cooperation Registry";
/// `IATI_REPORTING_ORG_TYPE` when not set: 40, multilateral, as an intergovernmental hub is.
pub const DEFAULT_IATI_REPORTING_ORG_TYPE: &str = "40";
/// `IATI_LANGUAGE` when not set.
pub const DEFAULT_IATI_LANGUAGE: &str = "en";

/// The codes of IATI's OrganisationType list.
pub const IATI_ORGANISATION_TYPES: &[&str] = &[
    "10", "11", "15", "21", "22", "23", "24", "30", "40", "60", "70", "71", "72", "73", "80", "90",
];

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            calendar_uid_domain: DEFAULT_CALENDAR_UID_DOMAIN.to_owned(),
            calendar_max_events: DEFAULT_CALENDAR_MAX_EVENTS,
            iati_reporting_org_ref: DEFAULT_IATI_REPORTING_ORG_REF.to_owned(),
            iati_reporting_org_name: DEFAULT_IATI_REPORTING_ORG_NAME.to_owned(),
            iati_reporting_org_type: DEFAULT_IATI_REPORTING_ORG_TYPE.to_owned(),
            iati_language: DEFAULT_IATI_LANGUAGE.to_owned(),
        }
    }
}

/// A host name: letters, digits, `-` and `.`, as in the right-hand side of a UID.
fn parse_uid_domain(text: &str) -> Result<String, String> {
    let fine = !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    fine.then(|| text.to_ascii_lowercase())
        .ok_or_else(|| "must be a domain name: letters, digits, `-` and `.`".to_owned())
}

/// An IATI organisation identifier: an agency prefix and a number (`XM-DAC-41114`), without
/// white space or the characters IATI forbids in identifiers (`/`, `&`, `|`, `?`).
fn parse_iati_ref(text: &str) -> Result<String, String> {
    let fine = !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '&' | '|' | '?'));
    fine.then(|| text.to_owned()).ok_or_else(|| {
        "must be an IATI organisation identifier (printable ASCII without spaces, /, &, | or ?)"
            .to_owned()
    })
}

/// A name of one line, 1 to 200 characters.
fn parse_org_name(text: &str) -> Result<String, String> {
    let text = text.trim();
    let fine =
        !text.is_empty() && text.chars().count() <= 200 && !text.chars().any(char::is_control);
    fine.then(|| text.to_owned())
        .ok_or_else(|| "must be one line of 1 to 200 characters".to_owned())
}

fn parse_iati_org_type(text: &str) -> Result<String, String> {
    IATI_ORGANISATION_TYPES
        .contains(&text)
        .then(|| text.to_owned())
        .ok_or_else(|| {
            format!(
                "must be one of IATI's organisation types: {}",
                IATI_ORGANISATION_TYPES.join(", ")
            )
        })
}

/// An ISO 639-1 code: two lower-case letters.
fn parse_language(text: &str) -> Result<String, String> {
    let fine = text.len() == 2 && text.bytes().all(|b| b.is_ascii_lowercase());
    fine.then(|| text.to_owned())
        .ok_or_else(|| "must be an ISO 639-1 language code: two lower-case letters".to_owned())
}
