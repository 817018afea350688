//! The database: one connection type for both backends, the pools, pragmas and migrations.

use std::sync::mpsc;
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::{Notify, oneshot};

use actix_web::web;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{
    Connection, PgConnection, QueryResult, RunQueryDsl, SqliteConnection,
    connection::SimpleConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::Settings;
use crate::error::ApiError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever database the service was pointed at.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel statement on the concrete connection of either backend: for the few
/// statements the multi-backend connection cannot express (multi-row inserts), and for the hot
/// paths: reads by key and the statements of creates and updates. The multi-backend
/// connection renders a statement's SQL text again on every execution, twice (to ask whether
/// it may be cached and to collect its binds): a third of a GET's instructions, and 15% of an
/// event create's. A concrete connection finds a fixed statement prepared by its type alone.
/// The body is compiled once per backend, so queries built inside it are typed for that
/// backend. Lists, whose boxed statements are rendered on every execution anyway, run on the
/// multi-backend connection (`pagination::read_page`).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Which database engine a `DATABASE_URL` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl BackendKind {
    /// Decided by the URL's scheme alone: SQLite would accept any string as a file name, so
    /// trying one backend after the other could silently create a stray file. For the same
    /// reason the URL of another engine (`mysql://…`) is refused rather than taken for a file.
    pub fn of(url: &str) -> Result<Self, SetupError> {
        const HINT: &str = "use a postgres:// URL or an SQLite file path";
        if url.trim().is_empty() {
            return Err(format!("the database URL is empty: {HINT}").into());
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres);
        }
        // `file:` is an SQLite URI (`file:registry.db?mode=ro`), which diesel opens as such.
        if url.starts_with("sqlite://") || url.starts_with("file:") {
            return Ok(Self::Sqlite);
        }
        match url.split_once("://") {
            Some((scheme, _)) if is_url_scheme(scheme) => {
                Err(format!("unsupported database URL scheme `{scheme}`: {HINT}").into())
            }
            _ => Ok(Self::Sqlite),
        }
    }
}

/// Whether `text` has the form of a URL scheme (RFC 3986: a letter, then letters, digits,
/// `+`, `-` or `.`), so that `mysql://…` is told apart from a path such as `./data://x`.
fn is_url_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// What a PostgreSQL URL points at, for messages: `host:port/database`, never the user's
/// password. libpq's defaults fill what the URL leaves out.
fn postgres_target(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        // Not every libpq URL is one for the `url` crate (several hosts: `h1,h2:5432`); the
        // part after the user information still names the server.
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
        return rest.split('?').next().unwrap_or(rest).to_owned();
    };
    let query = |key: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .map(str::to_owned)
        .or_else(|| query("host"))
        // libpq's default on Unix; its own message then names the socket's path.
        .unwrap_or_else(|| "(local socket)".to_owned());
    let port = parsed
        .port()
        .map(|port| port.to_string())
        .or_else(|| query("port"))
        .unwrap_or_else(|| "5432".to_owned());
    let database = Some(parsed.path().trim_start_matches('/'))
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .or_else(|| query("dbname"))
        .unwrap_or_else(|| parsed.username().to_owned());
    format!("{host}:{port}/{database}")
}

/// Opens connections of the right backend and prepares every SQLite connection the same way.
#[derive(Clone, Debug)]
pub struct ConnectionFactory {
    url: String,
    kind: BackendKind,
    /// Whether the connections are SQLite's writer (see `for_writes`).
    writes: bool,
}

impl ConnectionFactory {
    /// Refuses a URL that names no backend this service speaks (see `BackendKind::of`).
    pub fn new(url: &str) -> Result<Self, SetupError> {
        let kind = BackendKind::of(url)?;
        let url = match kind {
            BackendKind::Sqlite => url.strip_prefix("sqlite://").unwrap_or(url).to_owned(),
            BackendKind::Postgres => url.to_owned(),
        };
        Ok(Self {
            url,
            kind,
            writes: false,
        })
    }

    /// The same, for SQLite's one writing connection. The writer runs each write of a batch in
    /// a savepoint, and SQLite first copies every page a savepoint changes into a sub-journal,
    /// by default a temporary file: a `pwrite` per page, 30% of the writer thread's time in a
    /// profile of event creates (the thread that bounds SQLite's write rate). The writer keeps
    /// its sub-journal in memory instead: one write's changed pages, freed as it is released.
    pub fn for_writes(mut self) -> Self {
        self.writes = true;
        self
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Opens one connection and closes it again, or says in one message why it cannot, naming
    /// the SQLite file or the PostgreSQL server and database (never the password).
    pub fn check(&self) -> Result<(), SetupError> {
        let Err(error) = self.connect() else {
            return Ok(());
        };
        let error = error.to_string();
        let error = error.trim_end();
        Err(match self.kind {
            BackendKind::Postgres => format!(
                "cannot connect to PostgreSQL at {}: {error}",
                postgres_target(&self.url)
            ),
            BackendKind::Sqlite => {
                let mut message = format!("cannot open the SQLite database {}: {error}", self.url);
                let path = std::path::Path::new(&self.url);
                if let Some(dir) = path.parent().filter(|dir| {
                    !dir.as_os_str().is_empty() && !self.url.starts_with("file:") && !dir.exists()
                }) {
                    message.push_str(&format!(
                        " (the directory {} does not exist)",
                        dir.display()
                    ));
                }
                message
            }
        }
        .into())
    }

    /// Opens one connection.
    pub fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.kind {
            BackendKind::Postgres => {
                let mut conn =
                    PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // No statement may hold a request (and a pooled connection) for long; a lock
                // waited on past this answers 503 instead of hanging. JIT off: it compiles any
                // query the planner thinks costly (a list page on a table not yet analyzed),
                // measured at 5 ms of compiling for a page read in 1 ms; the service only runs
                // short queries, which JIT cannot make faster. No parallel workers: starting two
                // took 10 ms of a 2 ms search (q=한국 on 1 000 000 events: 17.7 ms, 8.8 without).
                conn.batch_execute(
                    "SET statement_timeout = '15s'; SET lock_timeout = '10s'; SET jit = off; \
                     SET max_parallel_workers_per_gather = 0",
                )
                .map_err(r2d2::Error::QueryError)?;
                conn.set_instrumentation(count_statement);
                Ok(DbConnection::Postgres(conn))
            }
            BackendKind::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first: switching to WAL needs the lock another process may hold.
                // cache_size: 512 KiB of pages per connection (SQLite's default is 2 MiB); the
                // OS caches the file as well, and with a pool of connections the cache made up
                // most of the service's memory under load (bench/RESULTS.md, peak RSS).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA cache_size = -512;",
                )
                .map_err(r2d2::Error::QueryError)?;
                crate::search::register(&mut conn).map_err(r2d2::Error::QueryError)?;
                if self.writes {
                    conn.batch_execute("PRAGMA temp_store = MEMORY;")
                        .map_err(r2d2::Error::QueryError)?;
                }
                conn.set_instrumentation(count_statement);
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for ConnectionFactory {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        ConnectionFactory::connect(self)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// A pool of database connections.
pub type Pool = r2d2::Pool<ConnectionFactory>;

/// The service's handle on its database, shared by every request.
///
/// SQLite allows one writer at a time; letting many connections race for that lock was measured
/// to push p99 from 5 ms to 157 ms, so on SQLite all writes queue for a single writer connection
/// while reads use the pool. On PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Db {
    readers: Pool,
    writer: Pool,
    /// One connection apart from the requests' pool, for the webhook worker's check before
    /// each attempt (`read_aside`).
    aside: Pool,
    kind: BackendKind,
    /// On SQLite, the queue of the writer thread that commits writes in batches.
    writes: Option<mpsc::Sender<Box<dyn WriteJob>>>,
    /// Woken after a commit that wrote webhook deliveries, so that the delivery worker sends
    /// them at once (see `webhooks::delivery`).
    deliveries: Arc<Notify>,
}

/// An error while preparing the database at start.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// Where the pools report a failed attempt to open a connection: the debug log only. A pool
/// retries until its `connection_timeout`, and each attempt would otherwise be an error line; a
/// request that gets no connection is answered 503 and logged once with the last cause
/// (`ApiError::Unavailable`), and at start `ConnectionFactory::check` reports the cause once.
#[derive(Debug)]
struct LogAttemptsAtDebug;

impl r2d2::HandleError<r2d2::Error> for LogAttemptsAtDebug {
    fn handle_error(&self, error: r2d2::Error) {
        log::debug!("opening a database connection failed: {error}");
    }
}

impl Db {
    /// Checks the database URL, opens one connection to make sure the database is there (a
    /// wrong path, host or database name is reported at once, in one message), then builds
    /// the pools. Their connections are opened lazily: a database that goes away later is
    /// found out by the next request (or `/readyz`), and the pool reconnects by itself.
    pub fn new(settings: &Settings) -> Result<Self, SetupError> {
        let factory = ConnectionFactory::new(&settings.database_url)?;
        factory.check()?;
        let kind = factory.kind();
        let timeout = Duration::from_secs(settings.db_timeout_secs.max(1));
        let build = |size: u32, factory: ConnectionFactory| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(0))
                .connection_timeout(timeout)
                .test_on_check_out(false)
                .error_handler(Box::new(LogAttemptsAtDebug))
                .build_unchecked(factory)
        };
        let readers = build(settings.pool_size, factory.clone());
        let aside = build(1, factory.clone());
        let deliveries = Arc::new(Notify::new());
        let (writer, writes) = match kind {
            BackendKind::Sqlite => {
                let writer = build(1, factory.for_writes());
                let writes = spawn_batch_writer(writer.clone(), deliveries.clone());
                (writer, writes)
            }
            BackendKind::Postgres => (readers.clone(), None),
        };
        Ok(Self {
            readers,
            writer,
            aside,
            kind,
            writes,
            deliveries,
        })
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// What wakes the webhook delivery worker: notified after each commit that wrote
    /// deliveries (and by whoever makes one due at once).
    pub fn deliveries_written(&self) -> Arc<Notify> {
        self.deliveries.clone()
    }

    /// The reading pool, for the metrics that report on it.
    pub fn readers(&self) -> &Pool {
        &self.readers
    }

    /// The writing pool (the same as `readers` on PostgreSQL).
    pub fn writer(&self) -> &Pool {
        &self.writer
    }

    /// Runs `f` on a reading connection, off the async workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        read_from(&self.readers, f).await
    }

    /// Runs a point read (one row by its key, and its relations) as cheaply as possible.
    ///
    /// On SQLite, when a connection is free at once, the read runs right here on the async
    /// worker: an indexed lookup takes microseconds, far less than handing the work to the
    /// blocking pool and back (measured here with wrk, 32 connections: GET /partners/{id} went
    /// from 33 000 to 43 000 requests/s). Anything that may take longer (lists,
    /// searches, writes, and every PostgreSQL query, which waits on the network) goes through
    /// `read` or `write` instead.
    pub async fn read_point<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.point_read_from(&self.readers, f).await
    }

    /// Runs a short read on a connection kept apart from the requests' pool: the webhook
    /// worker reads its webhook before each attempt, and would otherwise queue behind the
    /// requests for a connection under load. On SQLite it runs right here, as `read_point`.
    pub async fn read_aside<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.point_read_from(&self.aside, f).await
    }

    /// A point read (see [`Db::read_point`]) on a connection of `pool`.
    async fn point_read_from<T, F>(&self, pool: &Pool, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        if self.kind == BackendKind::Sqlite
            && let Some(mut conn) = pool.try_get()
        {
            let (result, statements) = counted(|| f(&mut conn));
            charge_request(statements);
            return result;
        }
        read_from(pool, f).await
    }

    /// Runs `f` as one transaction, off the async workers: either all of its changes land or
    /// none does, and the answer comes once they are committed.
    ///
    /// On SQLite the writes of concurrent requests share commits: the writer thread runs each
    /// in a savepoint of its own inside one transaction, then commits them together (see
    /// `spawn_batch_writer`). On PostgreSQL each write is a transaction on a pooled connection.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(queue) = &self.writes {
            return queued(queue, f, false).await;
        }
        let pool = self.writer.clone();
        let deliveries = self.deliveries.clone();
        let (result, statements) = web::block(move || {
            let mut pooled = match pool.get() {
                Ok(pooled) => pooled,
                Err(error) => return (Err(error.into()), 0),
            };
            let conn: &mut DbConnection = &mut pooled;
            take_wake();
            let (result, statements) = counted(|| conn.transaction(f));
            if take_wake() && result.is_ok() {
                deliveries.notify_one();
            }
            (result, statements)
        })
        .await?;
        charge_request(statements);
        result
    }

    /// Runs `f` on the writing connection with no transaction open: `f` opens its own, and it
    /// is the outermost one. For a long write made of many savepoints (an import): inside the
    /// batch's transaction and a savepoint of its own, every release of an inner savepoint
    /// made SQLite walk a sub-journal that grew with each row, and 10 000 rows took minutes.
    /// On SQLite the writer thread runs it between batches, alone.
    pub async fn write_alone<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(queue) = &self.writes {
            return queued(queue, f, true).await;
        }
        let pool = self.writer.clone();
        let deliveries = self.deliveries.clone();
        let (result, statements) = web::block(move || {
            let mut pooled = match pool.get() {
                Ok(pooled) => pooled,
                Err(error) => return (Err(error.into()), 0),
            };
            take_wake();
            let (result, statements) = counted(|| f(&mut pooled));
            if take_wake() && result.is_ok() {
                deliveries.notify_one();
            }
            (result, statements)
        })
        .await?;
        charge_request(statements);
        result
    }

    /// Copies a live SQLite database into a new file at `path`, consistently (`VACUUM INTO`
    /// reads one snapshot while writers go on). PostgreSQL has `pg_dump` for this.
    pub fn backup(&self, path: &str) -> Result<(), SetupError> {
        if self.kind != BackendKind::Sqlite {
            return Err("backup copies SQLite databases; for PostgreSQL use pg_dump".into());
        }
        if std::path::Path::new(path).exists() {
            return Err(format!("{path} exists; choose a new file").into());
        }
        let mut conn = self.readers.get()?;
        diesel::sql_query("VACUUM INTO ?")
            .bind::<diesel::sql_types::Text, _>(path)
            .execute(&mut *conn)?;
        Ok(())
    }

    /// Answers whether the database can run a query right now, waiting at most `timeout`.
    pub fn ping(&self, timeout: Duration) -> Result<(), ApiError> {
        let mut conn = self.readers.get_timeout(timeout)?;
        conn.ping()?;
        Ok(())
    }

    /// Applies pending migrations, then `load_reference_data`; returns the versions applied.
    /// What the reference data is, the application says (`app::prepare_database`).
    pub fn migrate(
        &self,
        load_reference_data: impl FnOnce(&mut DbConnection) -> QueryResult<()>,
    ) -> Result<Vec<String>, SetupError> {
        let mut conn = self.writer.get()?;
        migrate(&mut conn, load_reference_data)
    }
}

thread_local! {
    /// Whether the write running on this thread made work for a background worker (webhook
    /// deliveries): the writer wakes that worker once the write is committed.
    static WAKE_AFTER_COMMIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the write running on this thread as one whose commit wakes the background worker
/// (`Db::deliveries_written`), so that it starts now rather than at its next poll.
pub fn wake_after_commit() {
    WAKE_AFTER_COMMIT.with(|wake| wake.set(true));
}

/// Whether the writes on this thread since the last call asked to wake the worker; clears it.
fn take_wake() -> bool {
    WAKE_AFTER_COMMIT.with(|wake| wake.replace(false))
}

thread_local! {
    /// How many statements this thread has sent to the database (see [`count_statement`]).
    static STATEMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

tokio::task_local! {
    /// How many statements the request answered on this task has run, wherever they ran: each
    /// database call adds its own when it returns (see `telemetry::measure`).
    pub static REQUEST_STATEMENTS: std::cell::Cell<u64>;
}

/// Runs `f` in one read transaction that sees one snapshot throughout, so that its statements
/// agree with each other: SQLite's read transactions always do, PostgreSQL's from REPEATABLE
/// READ (each statement of a READ COMMITTED transaction sees the commits made before it).
pub fn read_snapshot<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    conn.transaction(|conn| {
        if let DbConnection::Postgres(pg) = conn {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(pg)?;
        }
        f(conn)
    })
}

/// The instrumentation of every connection: counts the statements it starts on this thread.
fn count_statement(event: diesel::connection::InstrumentationEvent<'_>) {
    if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
        STATEMENTS.with(|count| count.set(count.get() + 1));
    }
}

/// Runs `f` on this thread; with its result, how many statements it ran.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = STATEMENTS.with(std::cell::Cell::get);
    let result = f();
    (result, STATEMENTS.with(std::cell::Cell::get) - before)
}

/// Adds `statements` to the count of the request being answered, if any.
fn charge_request(statements: u64) {
    let _ = REQUEST_STATEMENTS.try_with(|count| count.set(count.get() + statements));
}

/// The most writes one SQLite commit takes.
const MAX_BATCH: usize = 64;

/// Runs `f` on a connection of `pool`, off the async workers; its statements count for the
/// request being answered, if any.
async fn read_from<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let (result, statements) = web::block(move || match pool.get() {
        Ok(mut conn) => counted(|| f(&mut conn)),
        Err(error) => (Err(error.into()), 0),
    })
    .await?;
    charge_request(statements);
    result
}

/// Hands `f` to the SQLite writer thread and waits for its answer.
async fn queued<T, F>(
    queue: &mpsc::Sender<Box<dyn WriteJob>>,
    f: F,
    alone: bool,
) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job = Box::new(BatchedWrite {
        work: Some(f),
        alone,
        result: None,
        statements: 0,
        reply,
    });
    queue
        .send(job)
        .map_err(|_| ApiError::retry_later("the SQLite writer has stopped"))?;
    let (result, statements) = answer
        .await
        .map_err(|e| ApiError::internal("the SQLite writer dropped a write", e))?;
    charge_request(statements);
    result
}

/// A write waiting for the SQLite writer thread.
trait WriteJob: Send {
    /// Runs the write inside the batch's transaction, in a savepoint of its own, so that a
    /// write that fails leaves the others of its batch alone; a write run alone opens its own
    /// transaction.
    fn run(&mut self, conn: &mut DbConnection);
    /// Whether the write runs alone, outside any batch ([`Db::write_alone`]).
    fn alone(&self) -> bool;
    /// Answers the request once the batch is committed (`Ok`) or has failed.
    fn finish(self: Box<Self>, batch: Result<(), ApiError>);
}

struct BatchedWrite<T, F> {
    work: Option<F>,
    alone: bool,
    result: Option<Result<T, ApiError>>,
    /// The statements the write ran (its share of the batch's begin and commit not counted).
    statements: u64,
    reply: oneshot::Sender<(Result<T, ApiError>, u64)>,
}

impl<T, F> WriteJob for BatchedWrite<T, F>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &mut DbConnection) {
        if let Some(work) = self.work.take() {
            let (result, statements) = counted(|| match self.alone {
                true => work(conn),
                false => conn.transaction(work),
            });
            self.result = Some(result);
            self.statements = statements;
        }
    }

    fn alone(&self) -> bool {
        self.alone
    }

    fn finish(self: Box<Self>, batch: Result<(), ApiError>) {
        let answer = match (self.result, batch) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(batch)) => Err(batch),
            (None, Ok(())) => Err(ApiError::bug("a write was not run")),
        };
        // The request may have gone away meanwhile; its write stands all the same.
        let _ = self.reply.send((answer, self.statements));
    }
}

/// Starts the thread that performs every SQLite write of this `Db`.
///
/// SQLite commits one writer at a time, and each commit appends every page it touched to the
/// WAL; with many indexes, that write-out was most of a write's cost. The thread takes all the
/// writes that are waiting (up to `MAX_BATCH`), runs each in its own savepoint inside one
/// `BEGIN IMMEDIATE` transaction, commits once, and only then answers them: a request is told
/// of success only when its write is durable, and a batch that cannot commit fails whole.
fn spawn_batch_writer(
    pool: Pool,
    deliveries: Arc<Notify>,
) -> Option<mpsc::Sender<Box<dyn WriteJob>>> {
    let (queue, waiting) = mpsc::channel::<Box<dyn WriteJob>>();
    let spawned = std::thread::Builder::new()
        .name("sqlite-writer".to_owned())
        .spawn(move || {
            // A write to run alone that arrived while a batch was being gathered.
            let mut held: Option<Box<dyn WriteJob>> = None;
            while let Some(mut first) = held.take().or_else(|| waiting.recv().ok()) {
                if first.alone() {
                    take_wake();
                    let outcome = pool.get().map_err(ApiError::from).map(|mut pooled| {
                        first.run(&mut pooled);
                    });
                    if take_wake() && outcome.is_ok() {
                        deliveries.notify_one();
                    }
                    first.finish(outcome);
                    continue;
                }
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(job) if job.alone() => {
                            held = Some(job);
                            break;
                        }
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                take_wake();
                let outcome = commit_batch(&pool, &mut batch);
                // Deliveries committed: the worker sends them now rather than at its next poll.
                if take_wake() && outcome.is_ok() {
                    deliveries.notify_one();
                }
                for job in batch {
                    job.finish(outcome.clone());
                }
            }
        });
    match spawned {
        Ok(_) => Some(queue),
        Err(error) => {
            log::warn!("no SQLite writer thread ({error}); writes will not be batched");
            None
        }
    }
}

/// Runs a batch of writes in one transaction and commits it. The write lock is taken at the
/// start (`BEGIN IMMEDIATE`): a lock held by another process is waited for up to
/// `busy_timeout`, and then the batch gives up whole, never half-way.
fn commit_batch(pool: &Pool, batch: &mut [Box<dyn WriteJob>]) -> Result<(), ApiError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let mut pooled = pool.get()?;
    let conn: &mut DbConnection = &mut pooled;
    let DbConnection::Sqlite(lite) = conn else {
        return Err(ApiError::bug("the batch writer is for SQLite"));
    };
    AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        job.run(conn);
    }
    let DbConnection::Sqlite(lite) = conn else {
        return Err(ApiError::bug("the batch writer is for SQLite"));
    };
    AnsiTransactionManager::commit_transaction(lite)?;
    Ok(())
}

/// Applies the pending migrations of the connection's backend, then `load_reference_data`.
///
/// On PostgreSQL an advisory lock makes instances that start together take turns, so each
/// migration runs once; the reference data is loaded under the same lock, so that two
/// instances never both find it missing and both insert it.
pub fn migrate(
    conn: &mut DbConnection,
    load_reference_data: impl FnOnce(&mut DbConnection) -> QueryResult<()>,
) -> Result<Vec<String>, SetupError> {
    const MIGRATION_LOCK: i64 = 0x0063_6f6f_7072_6567; // "coopreg"
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(pg)?;
    }
    let result = migrate_unlocked(conn).and_then(|applied| {
        load_reference_data(conn)?;
        Ok(applied)
    });
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(pg)?;
    }
    result
}

fn migrate_unlocked(conn: &mut DbConnection) -> Result<Vec<String>, SetupError> {
    let applied = match conn {
        DbConnection::Postgres(pg) => pg
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(versions)?,
        DbConnection::Sqlite(lite) => lite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(versions)?,
    };
    Ok(applied)
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::Integer;

    use super::*;

    #[derive(diesel::QueryableByName)]
    struct TempStore {
        #[diesel(sql_type = Integer)]
        temp_store: i32,
    }

    fn temp_store(factory: &ConnectionFactory) -> i32 {
        let DbConnection::Sqlite(mut conn) = factory.connect().expect("connects") else {
            panic!("an SQLite connection");
        };
        diesel::sql_query("PRAGMA temp_store")
            .get_result::<TempStore>(&mut conn)
            .expect("the pragma answers")
            .temp_store
    }

    /// Whether a transaction is open on `conn`: SQLite refuses a BEGIN inside one.
    fn in_transaction(conn: &mut DbConnection) -> bool {
        let DbConnection::Sqlite(lite) = conn else {
            panic!("an SQLite connection");
        };
        match lite.batch_execute("BEGIN; ROLLBACK;") {
            Ok(()) => false,
            Err(error) => {
                assert!(
                    error.to_string().contains("within a transaction"),
                    "{error}"
                );
                true
            }
        }
    }

    #[actix_web::test]
    async fn a_write_runs_in_the_batch_and_a_write_alone_outside_any_transaction() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("writes.db").display().to_string();
        let db = Db::new(&crate::config::Settings::with_database(path)).expect("a database");
        assert!(
            db.writes.is_some(),
            "SQLite writes go through the writer thread"
        );
        let batched = db.write(|conn| Ok(in_transaction(conn))).await;
        let alone = db.write_alone(|conn| Ok(in_transaction(conn))).await;
        let after = db.write(|conn| Ok(in_transaction(conn))).await;
        assert_eq!(
            (batched.ok(), alone.ok(), after.ok()),
            (Some(true), Some(false), Some(true))
        );
    }

    #[test]
    fn the_url_scheme_alone_picks_the_backend() {
        for url in [
            "postgres://u:p@h:5432/db",
            "postgresql://h/db",
            "postgres:///db?host=/run/postgresql",
        ] {
            assert_eq!(
                BackendKind::of(url).ok(),
                Some(BackendKind::Postgres),
                "{url}"
            );
        }
        for url in [
            "registry.db",
            "/var/lib/registry/registry.db",
            "sqlite://registry.db",
            "file:registry.db?mode=ro",
            ":memory:",
            "./odd://name.db",
        ] {
            assert_eq!(
                BackendKind::of(url).ok(),
                Some(BackendKind::Sqlite),
                "{url}"
            );
        }
    }

    #[test]
    fn urls_of_other_engines_are_refused_by_their_scheme() {
        for (url, scheme) in [
            ("mysql://u:secret@h/db", "mysql"),
            ("mariadb://h/db", "mariadb"),
            ("http://example.org/db", "http"),
            ("POSTGRES://h/db", "POSTGRES"),
        ] {
            let error = BackendKind::of(url).expect_err(url).to_string();
            assert!(
                error.contains(&format!("unsupported database URL scheme `{scheme}`")),
                "{error}"
            );
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[test]
    fn an_empty_database_url_is_refused() {
        for url in ["", "  "] {
            let error = BackendKind::of(url).expect_err("refused").to_string();
            assert!(error.contains("empty"), "{error}");
        }
    }

    #[test]
    fn a_postgres_url_is_named_by_host_port_and_database_without_the_password() {
        for (url, named) in [
            (
                "postgres://u:hunter2@db.example:6543/registry",
                "db.example:6543/registry",
            ),
            (
                "postgres://u:hunter2@db.example/registry",
                "db.example:5432/registry",
            ),
            (
                "postgresql://u:hunter2@[::1]:5433/r?sslmode=disable",
                "[::1]:5433/r",
            ),
            (
                "postgres:///r?host=/run/postgresql&port=5433",
                "/run/postgresql:5433/r",
            ),
            (
                "postgres://u:hunter2@h1:5432,h2:5433/r?x=1",
                "h1:5432,h2:5433/r",
            ),
            ("postgres://reader:hunter2@h", "h:5432/reader"),
        ] {
            assert_eq!(postgres_target(url), named, "{url}");
        }
    }

    #[test]
    fn a_sqlite_file_in_a_missing_directory_is_named_with_that_directory() {
        let dir = tempfile::tempdir().expect("a directory");
        let missing = dir.path().join("missing");
        let path = missing.join("registry.db").display().to_string();
        let error = ConnectionFactory::new(&path)
            .expect("an SQLite path")
            .check()
            .expect_err("cannot be opened")
            .to_string();
        assert!(error.contains(&path), "{error}");
        assert!(
            error.contains(&format!(
                "the directory {} does not exist",
                missing.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn only_the_sqlite_writer_keeps_its_sub_journal_in_memory() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("registry.db");
        let factory =
            ConnectionFactory::new(path.to_str().expect("a UTF-8 path")).expect("an SQLite path");
        // 0: the build's default (files); 2: memory.
        assert_eq!(temp_store(&factory), 0);
        assert_eq!(temp_store(&factory.clone().for_writes()), 2);
    }
}
