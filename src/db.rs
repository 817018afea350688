//! The database: one connection type for both backends, the pools, pragmas and migrations.

use std::time::Duration;

use actix_web::web;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{
    Connection, PgConnection, RunQueryDsl, SqliteConnection, connection::SimpleConnection,
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

/// Which database engine a `DATABASE_URL` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl BackendKind {
    /// Decided by the URL's scheme alone: SQLite would accept any string as a file name, so
    /// trying one backend after the other could silently create a stray file.
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }
}

/// Opens connections of the right backend and prepares every SQLite connection the same way.
#[derive(Clone, Debug)]
pub struct ConnectionFactory {
    url: String,
    kind: BackendKind,
}

impl ConnectionFactory {
    pub fn new(url: &str) -> Self {
        let kind = BackendKind::of(url);
        let url = match kind {
            BackendKind::Sqlite => url.strip_prefix("sqlite://").unwrap_or(url).to_owned(),
            BackendKind::Postgres => url.to_owned(),
        };
        Self { url, kind }
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Opens one connection.
    pub fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.kind {
            BackendKind::Postgres => {
                let mut conn =
                    PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // No statement may hold a request (and a pooled connection) for long; a lock
                // waited on past this answers 503 instead of hanging.
                conn.batch_execute("SET statement_timeout = '15s'; SET lock_timeout = '10s'")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
            BackendKind::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first: switching to WAL needs the lock another process may hold.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
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
    kind: BackendKind,
}

/// An error while preparing the database at start.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

impl Db {
    /// Builds the pools. Connections are opened lazily, so this does not fail when the database
    /// is down; the first request (or `/readyz`) finds out.
    pub fn new(settings: &Settings) -> Self {
        let factory = ConnectionFactory::new(&settings.database_url);
        let kind = factory.kind();
        let timeout = Duration::from_secs(settings.db_timeout_secs.max(1));
        let build = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(0))
                .connection_timeout(timeout)
                .test_on_check_out(false)
                .build_unchecked(factory.clone())
        };
        let readers = build(settings.pool_size);
        let writer = match kind {
            BackendKind::Sqlite => build(1),
            BackendKind::Postgres => readers.clone(),
        };
        Self {
            readers,
            writer,
            kind,
        }
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
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
        let pool = self.readers.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
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
        if self.kind == BackendKind::Sqlite
            && let Some(mut conn) = self.readers.try_get()
        {
            return f(&mut conn);
        }
        self.read(f).await
    }

    /// Runs `f` in one transaction on the writing connection, off the async workers: either all
    /// of its changes land or none does.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.writer.clone();
        web::block(move || {
            let mut pooled = pool.get()?;
            write_transaction(&mut pooled, f)
        })
        .await?
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

    /// Applies pending migrations and loads reference data; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, SetupError> {
        let mut conn = self.writer.get()?;
        migrate(&mut conn)
    }
}

/// Runs `f` in one transaction. On SQLite the transaction takes the write lock at its start
/// (`BEGIN IMMEDIATE`), so a write never fails half-way for want of a lock another process took
/// after it read: it waits for the lock up to `busy_timeout` instead, and then gives up whole.
pub fn write_transaction<T, F>(conn: &mut DbConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Sqlite(lite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConnection::Sqlite(lite) = conn else {
        return Err(ApiError::Internal(
            "the connection changed backend mid-transaction".to_owned(),
        ));
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(lite)?;
            Ok(value)
        }
        Err(error) => {
            AnsiTransactionManager::rollback_transaction(lite)?;
            Err(error)
        }
    }
}

/// Applies the pending migrations of the connection's backend and loads reference data.
///
/// On PostgreSQL an advisory lock makes instances that start together take turns, so each
/// migration runs once.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, SetupError> {
    const MIGRATION_LOCK: i64 = 0x0063_6f6f_7072_6567; // "coopreg"
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(pg)?;
    }
    let result = migrate_unlocked(conn);
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
    crate::countries::queries::load_iso_countries(conn)?;
    Ok(applied)
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
