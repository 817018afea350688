use coop_registry::config::Settings;
use coop_registry::db::Db;

use crate::helpers::{Backend, TestDatabase};

/// Both migration chains apply on an empty database, load the countries once, and a second
/// run finds nothing to do.
fn migrations_apply_on_an_empty_database_once(backend: Backend) {
    let database = TestDatabase::create(backend);
    let db = Db::new(&Settings::with_database(database.url()));
    let applied = db.migrate().expect("migrations apply");
    assert!(!applied.is_empty(), "a fresh database gets every migration");
    let again = db.migrate().expect("migrating again works");
    assert!(again.is_empty(), "nothing is left to apply: {again:?}");
}

#[test]
fn sqlite_migrations_apply_on_an_empty_database_once() {
    migrations_apply_on_an_empty_database_once(Backend::Sqlite);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
fn postgres_migrations_apply_on_an_empty_database_once() {
    migrations_apply_on_an_empty_database_once(Backend::Postgres);
}
