use coop_registry::config::Settings;
use coop_registry::db::Db;

use diesel_migrations::{FileBasedMigrations, MigrationHarness};

use crate::helpers::{Backend, TestDatabase};

/// Both migration chains apply on an empty database, load the countries once, and a second
/// run finds nothing to do.
fn migrations_apply_on_an_empty_database_once(backend: Backend) {
    let database = TestDatabase::create(backend);
    let db = Db::new(&Settings::with_database(database.url())).expect("the database opens");
    let applied = coop_registry::app::prepare_database(&db).expect("migrations apply");
    assert!(!applied.is_empty(), "a fresh database gets every migration");
    let again = coop_registry::app::prepare_database(&db).expect("migrating again works");
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

/// The migration that keeps relations beside their rows as JSON copies what a database
/// already holds, in each relation's order, and leaves rows without relations with `[]`; after
/// the migrations that follow, each list is in the compact form the service itself writes
/// (reads write it into responses as stored).
fn existing_relations_are_copied_into_their_rows(backend: Backend) {
    use coop_registry::agreements::queries as agreements;
    use coop_registry::db::ConnectionFactory;
    use coop_registry::events::queries as events;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    let database = TestDatabase::create(backend);
    coop_registry::app::prepare_database(
        &Db::new(&Settings::with_database(database.url())).expect("the database opens"),
    )
    .expect("migrations apply");
    let mut conn = ConnectionFactory::new(database.url())
        .expect("a database URL")
        .connect()
        .expect("connects");
    // Back to before the migration that keeps relations beside their rows.
    let chain = revert_through(&mut conn, backend, "20261124000005");
    // Data written before the migration: positions deliberately not in key order.
    conn.batch_execute(
        "INSERT INTO partners (id, name, name_key, kind, search_text, created_at, updated_at, version)
             VALUES (1, 'One', 'one', 'government', 'one', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1),
                    (2, 'Two', 'two', 'government', 'two', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1);
         INSERT INTO agreements (id, title, kind, status, search_text, created_at, updated_at, version)
             VALUES (1, 'A', 'joint_project', 'draft', 'a', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1),
                    (2, 'B', 'joint_project', 'draft', 'b', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1);
         INSERT INTO agreement_parties (agreement_id, partner_id, role, position)
             VALUES (1, 1, 'implementing', 1), (1, 2, 'signatory', 0);
         INSERT INTO agreement_countries (agreement_id, country_code, position)
             VALUES (1, 'FR', 1), (1, 'KZ', 0);
         INSERT INTO events (id, title, kind, starts_on, search_text, created_at, updated_at, version)
             VALUES (1, 'E', 'forum', '2024-06-24', 'e', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1),
                    (2, 'F', 'forum', '2024-06-25', 'f', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1);
         INSERT INTO event_participants (event_id, partner_id, role, position)
             VALUES (1, 1, 'speaker', 1), (1, 2, 'host', 0);",
    )
    .expect("rows written before the migration");
    conn.run_pending_migrations(chain)
        .expect("the migration applies again");

    let event = events::find(&mut conn, 1).expect("reads").expect("event 1");
    assert_eq!(
        serde_json::to_string(&event.participants).expect("JSON"),
        r#"[{"partner_id":2,"role":"host"},{"partner_id":1,"role":"speaker"}]"#
    );
    let bare = events::find(&mut conn, 2).expect("reads").expect("event 2");
    assert!(bare.participants.is_empty());

    let agreement = agreements::find(&mut conn, 1)
        .expect("reads")
        .expect("agreement 1");
    assert_eq!(
        serde_json::to_string(&agreement.parties).expect("JSON"),
        r#"[{"partner_id":2,"role":"signatory"},{"partner_id":1,"role":"implementing"}]"#
    );
    assert_eq!(agreement.country_codes, ["KZ", "FR"]);
    let bare = agreements::find(&mut conn, 2)
        .expect("reads")
        .expect("agreement 2");
    assert!(bare.parties.is_empty() && bare.country_codes.is_empty());

    // Documents (migration 22): none yet, on every record that was there.
    assert!(agreement.documents.is_empty() && bare.documents.is_empty());
    assert!(event.documents.is_empty());
    // The lifecycle (migration 23): no dates yet, the agreement's nor its parties'; the
    // parties are as they were, and none is in force on any day.
    assert_eq!(
        (agreement.entered_into_force_on, agreement.expires_on),
        (None, None)
    );
    assert!(agreement.parties.iter().all(|p| p.signed_on.is_none()
        && p.entered_into_force_on.is_none()
        && p.withdrew_on.is_none()));
    let in_force = coop_registry::agreements::AgreementFilter {
        party_active_on: chrono::NaiveDate::from_ymd_opt(2024, 6, 1),
        ..Default::default()
    };
    let found: Vec<i64> = agreements::matching(&in_force)
        .select(coop_registry::schema::agreements::id)
        .load(&mut conn)
        .expect("filters");
    assert!(found.is_empty());
    let rows: i64 = coop_registry::schema::agreement_parties::table
        .filter(coop_registry::schema::agreement_parties::signed_on.is_null())
        .count()
        .get_result(&mut conn)
        .expect("counts");
    assert_eq!(rows, 2, "both party rows kept, without dates");

    // Partners written before identifiers have none, and keep everything else.
    let partner = coop_registry::partners::queries::find(&mut conn, 2)
        .expect("reads")
        .expect("partner 2");
    assert_eq!((partner.name.as_str(), partner.version), ("Two", 1));
    assert!(partner.identifiers.is_empty());
    // Translations (migration 25): none yet, on every resource.
    assert!(partner.translations.0.is_empty() && event.translations.0.is_empty());
    assert!(agreement.translations.0.is_empty());

    // The search indexes hold the rows that were there before them, at every length of `q`.
    for (q, expected) in [
        ("t", vec![2]),
        ("tw", vec![2]),
        ("two", vec![2]),
        ("o", vec![1, 2]),
    ] {
        let filter = coop_registry::partners::model::PartnerFilter {
            q: Some(q.to_owned().into()),
            ..Default::default()
        };
        let mut found: Vec<i64> = coop_registry::partners::queries::matching(&filter)
            .select(coop_registry::schema::partners::id)
            .load(&mut conn)
            .expect("searches");
        found.sort_unstable();
        assert_eq!(found, expected, "q={q}");
    }
}

#[test]
fn sqlite_existing_relations_are_copied_into_their_rows() {
    existing_relations_are_copied_into_their_rows(Backend::Sqlite);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
fn postgres_existing_relations_are_copied_into_their_rows() {
    existing_relations_are_copied_into_their_rows(Backend::Postgres);
}

/// Reverting the lifecycle migration (23) takes the party dates out of the parties' JSON too,
/// so that the service before it reads every agreement again; the documents migration (22)
/// reverts after it.
fn the_lifecycle_migration_reverts_with_dates_stored(backend: Backend) {
    use coop_registry::db::ConnectionFactory;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct Parties {
        #[diesel(sql_type = Text)]
        parties: String,
    }

    let database = TestDatabase::create(backend);
    coop_registry::app::prepare_database(
        &Db::new(&Settings::with_database(database.url())).expect("the database opens"),
    )
    .expect("migrations apply");
    let mut conn = ConnectionFactory::new(database.url())
        .expect("a database URL")
        .connect()
        .expect("connects");
    conn.batch_execute(
        r#"INSERT INTO partners (id, name, name_key, kind, search_text, created_at, updated_at, version)
             VALUES (1, 'One', 'one', 'government', 'one', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1),
                    (2, 'Two', 'two', 'government', 'two', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1);
         INSERT INTO agreements (id, title, kind, status, signed_on, entered_into_force_on, search_text,
                                 created_at, updated_at, version, parties, documents)
             VALUES (1, 'A', 'joint_project', 'signed', '2024-01-01', '2024-02-01', 'a',
                     '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1,
                     '[{"partner_id":2,"role":"signatory","signed_on":"2024-01-01","entered_into_force_on":"2024-02-01"},{"partner_id":1,"role":"funding"}]',
                     '[{"title":"T","url":"https://example.org/t.pdf","category":"report","language":null,"published_on":null}]'),
                    (2, 'B', 'joint_project', 'draft', NULL, NULL, 'b',
                     '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1, '[{"partner_id":1,"role":"observer"}]', '[]');
         INSERT INTO agreement_parties (agreement_id, partner_id, role, position, signed_on, entered_into_force_on)
             VALUES (1, 2, 'signatory', 0, '2024-01-01', '2024-02-01'), (1, 1, 'funding', 1, NULL, NULL),
                    (2, 1, 'observer', 0, NULL, NULL);"#,
    )
    .expect("rows with dates");
    // Back to before the documents migration, the lifecycle's with it.
    let chain = revert_through(&mut conn, backend, "20261130000022");
    let lists: Vec<Parties> = diesel::sql_query("SELECT parties FROM agreements ORDER BY id")
        .load(&mut conn)
        .expect("reads");
    let lists: Vec<&str> = lists.iter().map(|l| l.parties.as_str()).collect();
    assert_eq!(
        lists,
        [
            r#"[{"partner_id":2,"role":"signatory"},{"partner_id":1,"role":"funding"}]"#,
            r#"[{"partner_id":1,"role":"observer"}]"#
        ]
    );
    conn.run_pending_migrations(chain)
        .expect("the migrations apply again");
}

#[test]
fn sqlite_the_lifecycle_migration_reverts_with_dates_stored() {
    the_lifecycle_migration_reverts_with_dates_stored(Backend::Sqlite);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
fn postgres_the_lifecycle_migration_reverts_with_dates_stored() {
    the_lifecycle_migration_reverts_with_dates_stored(Backend::Postgres);
}

/// Reverts the newest migrations of `conn`'s chain, newest first, down to and including
/// `version`: the database as it was before `version`, whatever came after it. Each step must
/// revert an older version than the one before, and none older than `version`. Answers the
/// chain, to apply it again.
fn revert_through<C>(conn: &mut C, backend: Backend, version: &str) -> FileBasedMigrations
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
{
    let directory = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let chain = FileBasedMigrations::from_path(directory).expect("migrations directory");
    let mut previous: Option<String> = None;
    loop {
        let reverted = conn
            .revert_last_migration(chain.clone())
            .expect("the last migration reverts")
            .to_string();
        assert!(
            reverted.as_str() >= version,
            "reverted {reverted}, past {version}"
        );
        if let Some(previous) = &previous {
            assert!(reverted < *previous, "reverted {reverted} after {previous}");
        }
        if reverted == version {
            return chain;
        }
        previous = Some(reverted);
    }
}
