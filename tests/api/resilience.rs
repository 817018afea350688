//! Races, faults, signals and backups: the registry is a system of record.

use std::time::{Duration, Instant};

use coop_registry::auth::Role;
use coop_registry::config::Settings;
use coop_registry::db::Db;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{
    Backend, ServiceProcess, TestApp, TestDatabase, json, make_token, problem, spawn_app,
    spawn_second_instance,
};

backend_tests!(
    concurrent_patches_with_one_if_match_have_exactly_one_winner,
    two_instances_on_one_database_keep_if_match_and_unique_names,
    concurrent_writes_that_fail_leave_the_others_whole,
    concurrent_patches_without_a_version_all_land,
);

/// PATCHes without If-Match (or with `*`) from two instances at once: none is refused, each
/// lands on the version before it, and the version counts every one of them.
async fn concurrent_patches_without_a_version_all_land(app: TestApp) {
    let second = spawn_second_instance(&app).await;
    let id = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Busy", "kind": "grant", "status": "draft"}),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .expect("id");
    let url = format!("/api/v1/agreements/{id}");
    let patches = (0..20).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &second };
        let url = url.clone();
        async move {
            let if_match = (i % 4 == 1).then_some("*");
            instance
                .patch_json(
                    &url,
                    &json!({"summary": format!("writer {i}"), "country_codes": ["KZ"]}),
                    if_match,
                )
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(patches).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let stored = json(app.get(&url).await, 200).await;
    assert_eq!(stored["version"], 21, "every PATCH made a version");
    assert_eq!(stored["country_codes"], json!(["KZ"]));
}

/// Concurrent writes share commits on SQLite; one that fails (a clash, a broken rule, a stale
/// If-Match) must leave every other write, and its audit entry, in place.
async fn concurrent_writes_that_fail_leave_the_others_whole(app: TestApp) {
    let target = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Target", "kind": "other"}),
        )
        .await,
        201,
    )
    .await;
    let target_url = format!("/api/v1/partners/{}", target["id"]);
    let writes = (0..40).map(|i| {
        let app = &app;
        let target_url = target_url.clone();
        async move {
            let response = match i % 4 {
                0 => {
                    app.post_json(
                        "/api/v1/partners",
                        &json!({"name": format!("Good {i}"), "kind": "other"}),
                    )
                    .await
                }
                1 => {
                    app.post_json(
                        "/api/v1/partners",
                        &json!({"name": "Target", "kind": "other"}),
                    )
                    .await
                }
                2 => {
                    app.post_json(
                        "/api/v1/partners",
                        &json!({"name": format!("Bad {i}"), "kind": "other", "country_code": "QQ"}),
                    )
                    .await
                }
                _ => {
                    app.patch_json(
                        &target_url,
                        &json!({"acronym": format!("T{i}")}),
                        Some("\"7\""),
                    )
                    .await
                }
            };
            (i % 4, response.status().as_u16())
        }
    });
    for (kind, status) in join_all(writes).await {
        let expected = [201, 409, 422, 412][kind];
        assert_eq!(status, expected, "write of kind {kind}");
    }
    let stored = app.walk("/api/v1/partners?q=good").await;
    assert_eq!(stored.len(), 10, "every good write was committed");
    let log = json(
        app.as_admin(
            Method::GET,
            "/api/v1/audit?resource_type=partner&with_total=true",
        )
        .send()
        .await
        .expect("answered"),
        200,
    )
    .await;
    assert_eq!(
        log["total"], 11,
        "one audit entry per committed write, none for the failed ones"
    );
    assert_eq!(json(app.get(&target_url).await, 200).await["version"], 1);
}

/// 20 PATCHes of one agreement, all with `If-Match: "1"`, from one or two instances: exactly
/// one 200, the rest 412, and the stored record is the winner's.
async fn race_patches(instances: &[&TestApp]) {
    let app = instances[0];
    let id = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Race", "kind": "grant", "status": "draft"}),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .expect("id");
    let codes = [
        "KZ", "KG", "TJ", "UZ", "AZ", "AM", "GE", "KR", "US", "DE", "FR", "JP", "CN", "IN", "BR",
        "CA", "AU", "IT", "ES", "MX",
    ];
    let attempts = codes.iter().enumerate().map(|(i, code)| {
        let instance = instances[i % instances.len()];
        let body = json!({"summary": format!("writer {i}"), "country_codes": [code]});
        async move {
            instance
                .patch_json(&format!("/api/v1/agreements/{id}"), &body, Some("\"1\""))
                .await
        }
    });
    let responses = join_all(attempts).await;
    let mut winners = Vec::new();
    let mut refused = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => winners.push(response.json::<Value>().await.expect("JSON")),
            412 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one PATCH wins");
    assert_eq!(refused, 19);
    let stored = json(app.get(&format!("/api/v1/agreements/{id}")).await, 200).await;
    assert_eq!(stored, winners[0], "the stored record is the winner's");
    assert_eq!(stored["version"], 2);
    assert_eq!(stored["country_codes"].as_array().map(Vec::len), Some(1));
}

/// 20 creates of one partner name, from one or two instances: exactly one 201, the rest 409.
async fn race_creates(instances: &[&TestApp]) {
    let attempts = (0..20).map(|i| {
        let instance = instances[i % instances.len()];
        async move {
            instance
                .post_json(
                    "/api/v1/partners",
                    &json!({"name": "Civil Service Agency", "kind": "government"}),
                )
                .await
        }
    });
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

async fn concurrent_patches_with_one_if_match_have_exactly_one_winner(app: TestApp) {
    race_patches(&[&app]).await;
}

async fn two_instances_on_one_database_keep_if_match_and_unique_names(app: TestApp) {
    let second = spawn_second_instance(&app).await;
    race_patches(&[&app, &second]).await;
    race_creates(&[&app, &second]).await;
    // What one instance wrote, the other reads.
    let from_second = json(second.get("/api/v1/partners?q=civil%20service").await, 200).await;
    assert_eq!(from_second["items"].as_array().map(Vec::len), Some(1));
}

/// SQLite: a write lock held by another process makes writes answer 503 after the busy
/// timeout — no hang, no corruption — while reads go on; once released, writes work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_write_lock_held_elsewhere_gives_503_then_recovers() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut holder = SqliteConnection::establish(app.database.url()).expect("a second connection");
    holder
        .batch_execute("PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE;")
        .expect("takes the write lock");

    let started = Instant::now();
    let blocked = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": "Blocked", "kind": "other"}),
        )
        .await;
    let waited = started.elapsed();
    let body = problem(blocked, 503).await;
    assert_eq!(body["code"], "service_unavailable");
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
    assert_eq!(
        app.get("/api/v1/countries/KZ").await.status(),
        200,
        "reads go on during the lock"
    );

    holder.batch_execute("COMMIT;").expect("releases the lock");
    json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Unblocked", "kind": "other"}),
        )
        .await,
        201,
    )
    .await;
    let names: Vec<String> = app
        .walk("/api/v1/partners?")
        .await
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        names,
        ["Unblocked"],
        "the refused write left nothing behind"
    );
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut holder)
        .expect("checks");
    assert_eq!(check[0].integrity_check, "ok");
}

fn terminate_connections(admin_url: &str, database: &str) {
    let mut admin = PgConnection::establish(admin_url).expect("admin connection");
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .expect("terminates");
}

/// PostgreSQL: connections killed under load give 503s (never 500), and the service serves
/// again within seconds, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_connections_terminated_under_load_give_503_never_500() {
    let app = spawn_app(Backend::Postgres).await;
    let TestDatabase::Postgres {
        admin_url, name, ..
    } = &app.database
    else {
        panic!("a PostgreSQL database")
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = (0..6).map(|worker| {
        let app = &app;
        let stop = stop.clone();
        async move {
            let mut statuses = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = if i % 3 == 0 {
                    app.post_json(
                        "/api/v1/partners",
                        &json!({"name": format!("Load {worker}-{i}"), "kind": "other"}),
                    )
                    .await
                } else {
                    app.get("/api/v1/countries?limit=20").await
                };
                statuses.push(response.status().as_u16());
                i += 1;
            }
            statuses
        }
    });
    let killer = async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            terminate_connections(admin_url, name);
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let (statuses, ()) = tokio::join!(join_all(load), killer);
    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    assert!(statuses.len() > 20, "the load ran: {}", statuses.len());
    let unavailable = statuses.iter().filter(|s| **s == 503).count();
    eprintln!(
        "terminated connections 3 times under {} requests: {unavailable} answered 503",
        statuses.len()
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 503)),
        "only 200, 201 or 503: {statuses:?}"
    );
    let recovered = async {
        loop {
            if app.get("/readyz").await.status() == 200
                && app
                    .post_json(
                        "/api/v1/partners",
                        &json!({"name": "After", "kind": "other"}),
                    )
                    .await
                    .status()
                    == 201
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), recovered)
        .await
        .expect("serves again within seconds");
}

/// PostgreSQL: with the database refusing connections, readiness and the API answer 503 in
/// bounded time; when it comes back, everything works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_down_gives_503_in_bounded_time_and_recovers() {
    let app = spawn_app(Backend::Postgres).await;
    let TestDatabase::Postgres {
        admin_url, name, ..
    } = &app.database
    else {
        panic!("a PostgreSQL database")
    };
    let mut admin = PgConnection::establish(admin_url).expect("admin connection");
    diesel::sql_query(format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
    ))
    .execute(&mut admin)
    .expect("closes");
    terminate_connections(admin_url, name);

    let started = Instant::now();
    problem(app.get("/readyz").await, 503).await;
    problem(app.get("/api/v1/countries/KZ").await, 503).await;
    problem(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Down", "kind": "other"}),
        )
        .await,
        503,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded: {:?}",
        started.elapsed()
    );

    diesel::sql_query(format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .expect("opens");
    let recovered = async {
        while app.get("/readyz").await.status() != 200 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), recovered)
        .await
        .expect("ready again");
    json(
        app.post_json("/api/v1/partners", &json!({"name": "Up", "kind": "other"}))
            .await,
        201,
    )
    .await;
    assert_eq!(
        app.walk("/api/v1/partners?").await.len(),
        1,
        "the refused write left nothing"
    );
}

/// SIGTERM while a write is in flight: the write finishes (201) and the process exits cleanly.
async fn sigterm_lets_in_flight_requests_finish(backend: Backend) {
    let database = TestDatabase::create(backend);
    coop_registry::app::prepare_database(
        &Db::new(&Settings::with_database(database.url())).expect("the database opens"),
    )
    .expect("migrates");
    let token = make_token(database.url(), "signals", Role::Admin);
    let mut service = ServiceProcess::start(database.url()).await;

    // Hold the partners table so that the write below stays in flight.
    let release: Box<dyn FnOnce() + Send> = match backend {
        Backend::Sqlite => {
            let mut holder = SqliteConnection::establish(database.url()).expect("connection");
            holder.batch_execute("BEGIN IMMEDIATE;").expect("lock");
            Box::new(move || holder.batch_execute("COMMIT;").expect("unlock"))
        }
        Backend::Postgres => {
            let mut holder = PgConnection::establish(database.url()).expect("connection");
            holder
                .batch_execute("BEGIN; LOCK TABLE partners IN EXCLUSIVE MODE;")
                .expect("lock");
            Box::new(move || holder.batch_execute("COMMIT;").expect("unlock"))
        }
    };
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/partners", service.address);
    let in_flight = tokio::spawn(
        client
            .post(url)
            .bearer_auth(&token)
            .json(&json!({"name": "In flight", "kind": "other"}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    service.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    release();

    let response = in_flight.await.expect("joins").expect("answered");
    assert_eq!(response.status(), 201, "the in-flight write finished");
    let exited = (0..100).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        service.child.try_wait().expect("waits")
    });
    assert!(
        exited.is_some_and(|status| status.success()),
        "the process exits cleanly: {exited:?}"
    );

    let app_db = Db::new(&Settings::with_database(database.url())).expect("the database opens");
    let mut conn = app_db.writer().get().expect("connection");
    let names =
        coop_registry::partners::queries::name_owner(&mut conn, "in flight", None).expect("query");
    assert!(names.is_some(), "the write is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sigterm_lets_in_flight_requests_finish() {
    sigterm_lets_in_flight_requests_finish(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_sigterm_lets_in_flight_requests_finish() {
    sigterm_lets_in_flight_requests_finish(Backend::Postgres).await;
}

/// SIGKILL in the middle of many multi-table writes: every agreement that exists has all its
/// parties, countries and its audit entry, and every acknowledged one exists.
async fn sigkill_never_leaves_half_written_agreements(backend: Backend) {
    let database = TestDatabase::create(backend);
    coop_registry::app::prepare_database(
        &Db::new(&Settings::with_database(database.url())).expect("the database opens"),
    )
    .expect("migrates");
    let token = make_token(database.url(), "killer", Role::Admin);
    let service = ServiceProcess::start(database.url()).await;
    let client = reqwest::Client::new();
    let mut partners = Vec::new();
    for name in ["A", "B", "C"] {
        let created: Value = client
            .post(format!("{}/api/v1/partners", service.address))
            .bearer_auth(&token)
            .json(&json!({"name": name, "kind": "other"}))
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("JSON");
        partners.push(created["id"].as_i64().expect("id"));
    }
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (client, token, address, acknowledged, partners) =
                (client.clone(), token.clone(), service.address.clone(), acknowledged.clone(), partners.clone());
            tokio::spawn(async move {
                loop {
                    let body = json!({
                        "title": "Kill test", "kind": "grant", "status": "draft",
                        "parties": partners.iter().map(|p| json!({"partner_id": p, "role": "funding"})).collect::<Vec<_>>(),
                        "country_codes": ["KZ", "KR"],
                    });
                    let Ok(response) = client.post(format!("{address}/api/v1/agreements")).bearer_auth(&token).json(&body).send().await else {
                        return;
                    };
                    if response.status() == 201
                        && let Ok(created) = response.json::<Value>().await
                    {
                        acknowledged.lock().expect("lock").push(created["id"].as_i64().unwrap_or_default());
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    service.signal("KILL");
    for writer in writers {
        let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    }
    drop(service);

    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 5,
        "the load ran: {}",
        acknowledged.len()
    );
    let db = Db::new(&Settings::with_database(database.url())).expect("the database opens");
    let mut conn = db.writer().get().expect("connection");
    #[derive(diesel::QueryableByName, Debug)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        parties: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        countries: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        audits: i64,
    }
    let counts: Vec<Counts> = diesel::sql_query(
        "SELECT a.id AS id,
                (SELECT COUNT(*) FROM agreement_parties p WHERE p.agreement_id = a.id) AS parties,
                (SELECT COUNT(*) FROM agreement_countries c WHERE c.agreement_id = a.id) AS countries,
                (SELECT COUNT(*) FROM audit_log l WHERE l.resource_type = 'agreement'
                    AND l.resource_id = CAST(a.id AS TEXT) AND l.action = 'create') AS audits
         FROM agreements a",
    )
    .load(&mut *conn)
    .expect("counts");
    for row in &counts {
        assert_eq!(
            (row.parties, row.countries, row.audits),
            (3, 2, 1),
            "agreement {} is whole",
            row.id
        );
    }
    let stored: std::collections::BTreeSet<i64> = counts.iter().map(|r| r.id).collect();
    eprintln!(
        "killed mid-load: {} agreements stored, all whole; {} acknowledged",
        counts.len(),
        acknowledged.len()
    );
    for id in acknowledged {
        assert!(
            stored.contains(&id),
            "acknowledged agreement {id} survived the kill"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sigkill_never_leaves_half_written_agreements() {
    sigkill_never_leaves_half_written_agreements(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_sigkill_never_leaves_half_written_agreements() {
    sigkill_never_leaves_half_written_agreements(Backend::Postgres).await;
}

/// `coop-registry backup` under write load: the copy, restored, holds every write that was
/// acknowledged before the backup began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_holds_every_acknowledged_write() {
    let app = spawn_app(Backend::Sqlite).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Instant, i64)>::new()));
    let load = (0..3).map(|worker| {
        let (app, stop, acknowledged) = (&app, stop.clone(), acknowledged.clone());
        async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = app
                    .post_json(
                        "/api/v1/partners",
                        &json!({"name": format!("W{worker}-{i}"), "kind": "other"}),
                    )
                    .await;
                if response.status() == 201 {
                    let id = response.json::<Value>().await.expect("JSON")["id"]
                        .as_i64()
                        .unwrap_or_default();
                    acknowledged
                        .lock()
                        .expect("lock")
                        .push((Instant::now(), id));
                }
                i += 1;
            }
        }
    });
    let backup_dir = tempfile::tempdir().expect("temp dir");
    let backup_path = backup_dir.path().join("backup.db").display().to_string();
    let backup = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let began = Instant::now();
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_coop-registry"))
            .args(["--database-url", app.database.url(), "backup", &backup_path])
            .output()
            .await
            .expect("backup runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        began
    };
    let (_, began) = tokio::join!(join_all(load), backup);
    let before: Vec<i64> = acknowledged
        .lock()
        .expect("lock")
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, id)| *id)
        .collect();
    assert!(
        !before.is_empty(),
        "writes were acknowledged before the backup"
    );

    // Restore: a service started on the backup file.
    let restored = crate::helpers::spawn_app_on_file(&backup_path).await;
    for id in &before {
        assert_eq!(
            restored
                .get(&format!("/api/v1/partners/{id}"))
                .await
                .status(),
            200,
            "partner {id}"
        );
    }
    let answer = restored
        .request(Method::GET, "/readyz")
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200);
}
