//! `Idempotency-Key` on POST: a retry gets the first answer again, byte for byte, and writes
//! nothing; the same key with another body is a 422, one still running a 409; keys are kept in
//! the database, so that every instance sharing it knows them.

use coop_registry::db::ConnectionFactory;
use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{
    Backend, TestApp, error_fields, header_of, json, problem, spawn_app, spawn_second_instance,
};

backend_tests!(
    a_repeated_post_gets_the_first_answer_byte_for_byte_and_writes_once,
    a_key_may_be_sent_bare_or_quoted,
    the_same_key_with_another_body_is_refused,
    keys_are_kept_apart_by_token_and_path,
    a_refused_request_is_answered_the_same_again,
    a_malformed_key_is_a_400,
    a_repeat_while_the_first_runs_is_a_409_until_its_claim_expires,
    a_server_error_is_not_kept,
    expired_keys_are_deleted,
    two_instances_on_one_database_share_the_keys,
    every_post_documents_the_header,
);

/// One answer, as a client sees it.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    etag: Option<String>,
    body: Vec<u8>,
}

async fn answer(response: Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        content_type: header_of(&response, "content-type"),
        location: header_of(&response, "location"),
        etag: header_of(&response, "etag"),
        body: response.bytes().await.expect("a body").to_vec(),
    }
}

fn event(title: &str) -> Value {
    json!({"title": title, "kind": "workshop", "starts_on": "2025-04-07", "city": "Astana"})
}

/// POSTs `body` as the admin with `key` (the header's text as sent).
async fn post_keyed(app: &TestApp, path: &str, key: &str, body: &Value) -> Response {
    post_keyed_as(app, &app.admin_token, path, key, body).await
}

async fn post_keyed_as(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> Response {
    app.request(Method::POST, path)
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("POST is answered")
}

/// The events whose title is `title`.
async fn events_titled(app: &TestApp, title: &str) -> Vec<Value> {
    let query = form_urlencoded::byte_serialize(title.as_bytes()).collect::<String>();
    app.walk(&format!("/api/v1/events?q={query}"))
        .await
        .into_iter()
        .filter(|e| e["title"] == title)
        .collect()
}

/// The audit entries of event creates.
async fn event_creates_audited(app: &TestApp) -> usize {
    let page = json(
        app.as_admin(Method::GET, "/api/v1/audit?resource_type=event&limit=500")
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "create")
        .count()
}

/// Runs SQL on the service's database from outside, as another process would.
fn execute(app: &TestApp, sql: &str) {
    ConnectionFactory::new(app.database.url())
        .expect("a database URL")
        .connect()
        .expect("connects")
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn a_repeated_post_gets_the_first_answer_byte_for_byte_and_writes_once(app: TestApp) {
    let body = event("Retried workshop");
    let first = answer(post_keyed(&app, "/api/v1/events", "retry-1", &body).await).await;
    assert_eq!(first.status, 201);
    assert!(
        first.location.is_some() && first.etag.is_some(),
        "{first:?}"
    );
    for _ in 0..3 {
        let again = answer(post_keyed(&app, "/api/v1/events", "retry-1", &body).await).await;
        assert_eq!(again, first);
    }
    assert_eq!(events_titled(&app, "Retried workshop").await.len(), 1);
    assert_eq!(event_creates_audited(&app).await, 1);

    // Without a key the same body is a new event.
    let plain = app.post_json("/api/v1/events", &body).await;
    assert_eq!(plain.status(), 201);
    assert_eq!(events_titled(&app, "Retried workshop").await.len(), 2);
}

async fn a_key_may_be_sent_bare_or_quoted(app: TestApp) {
    let body = event("Quoted key");
    let bare = answer(post_keyed(&app, "/api/v1/events", "0f1e-2d3c", &body).await).await;
    assert_eq!(bare.status, 201);
    let quoted = answer(post_keyed(&app, "/api/v1/events", "\"0f1e-2d3c\"", &body).await).await;
    assert_eq!(quoted, bare);
    // Inside quotes a key may hold spaces, and `\"` and `\\` stand for `"` and `\`.
    let spaced = r#""a key \"with\" spaces \\ and escapes""#;
    let first = answer(post_keyed(&app, "/api/v1/events", spaced, &body).await).await;
    assert_eq!(first.status, 201);
    assert_ne!(first.body, bare.body);
    let again = answer(post_keyed(&app, "/api/v1/events", spaced, &body).await).await;
    assert_eq!(again, first);
    assert_eq!(events_titled(&app, "Quoted key").await.len(), 2);
}

async fn the_same_key_with_another_body_is_refused(app: TestApp) {
    let first = post_keyed(&app, "/api/v1/events", "k-1", &event("First body")).await;
    assert_eq!(first.status(), 201);
    let other = post_keyed(&app, "/api/v1/events", "k-1", &event("Second body")).await;
    let problem = problem(other, 422).await;
    assert_eq!(problem["code"], "idempotency_key_reused");
    // The same JSON written otherwise is another body.
    let respaced = app
        .request(Method::POST, "/api/v1/events")
        .bearer_auth(&app.admin_token)
        .header("Idempotency-Key", "k-1")
        .header("Content-Type", "application/json")
        .body(serde_json::to_string_pretty(&event("First body")).expect("JSON"))
        .send()
        .await
        .expect("answered");
    assert_eq!(respaced.status(), 422);
    assert!(events_titled(&app, "Second body").await.is_empty());
    assert_eq!(event_creates_audited(&app).await, 1);
}

async fn keys_are_kept_apart_by_token_and_path(app: TestApp) {
    let admin = post_keyed(&app, "/api/v1/events", "shared", &event("By the admin")).await;
    let admin = json(admin, 201).await;
    // Another token's key of the same text is its own.
    let editor = post_keyed_as(
        &app,
        &app.editor_token,
        "/api/v1/events",
        "shared",
        &event("By the editor"),
    )
    .await;
    let editor = json(editor, 201).await;
    assert_ne!(admin["id"], editor["id"]);
    // So is the same key on another path.
    let partner = json!({"name": "Keyed Institute", "kind": "academic"});
    let partner = post_keyed(&app, "/api/v1/partners", "shared", &partner).await;
    assert_eq!(partner.status(), 201);
}

async fn a_refused_request_is_answered_the_same_again(app: TestApp) {
    let broken = json!({"title": "Ends early", "kind": "workshop",
        "starts_on": "2025-04-07", "ends_on": "2025-04-01"});
    let first = answer(post_keyed(&app, "/api/v1/events", "bad-1", &broken).await).await;
    assert_eq!(first.status, 422);
    let again = answer(post_keyed(&app, "/api/v1/events", "bad-1", &broken).await).await;
    assert_eq!(again, first);
    // A conflict is kept too: the second create of a name, then its repeat.
    let partner = json!({"name": "Only Once Agency", "kind": "government"});
    assert_eq!(
        app.post_json("/api/v1/partners", &partner).await.status(),
        201
    );
    let conflict = answer(post_keyed(&app, "/api/v1/partners", "dup", &partner).await).await;
    assert_eq!(conflict.status, 409);
    let again = answer(post_keyed(&app, "/api/v1/partners", "dup", &partner).await).await;
    assert_eq!(again, conflict);
}

async fn a_malformed_key_is_a_400(app: TestApp) {
    let body = event("Never written");
    let too_long = "k".repeat(256);
    for key in [
        "",
        "two words",
        "\"unclosed",
        "a\"b",
        "\"bad \\n escape\"",
        &too_long,
    ] {
        let response = post_keyed(&app, "/api/v1/events", key, &body).await;
        let problem = problem(response, 400).await;
        assert_eq!(error_fields(&problem), ["Idempotency-Key"], "{key:?}");
    }
    let non_ascii = app
        .request(Method::POST, "/api/v1/events")
        .bearer_auth(&app.admin_token)
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes("ключ".as_bytes()).expect("obs-text"),
        )
        .json(&body)
        .send()
        .await
        .expect("answered");
    problem(non_ascii, 400).await;
    let twice = app
        .request(Method::POST, "/api/v1/events")
        .bearer_auth(&app.admin_token)
        .header("Idempotency-Key", "one")
        .header("Idempotency-Key", "two")
        .json(&body)
        .send()
        .await
        .expect("answered");
    problem(twice, 400).await;
    assert!(events_titled(&app, "Never written").await.is_empty());
    // Access is decided first: without a token the key is not looked at.
    let anonymous = app
        .request(Method::POST, "/api/v1/events")
        .header("Idempotency-Key", "")
        .json(&body)
        .send()
        .await
        .expect("answered");
    problem(anonymous, 401).await;
}

async fn a_repeat_while_the_first_runs_is_a_409_until_its_claim_expires(app: TestApp) {
    let body = event("Slow workshop");
    let first = json(post_keyed(&app, "/api/v1/events", "slow", &body).await, 201).await;
    // The row as it is while its first request runs (as another instance would leave it).
    execute(
        &app,
        &format!(
            "UPDATE idempotency_keys SET claim = 'elsewhere', status = NULL, body = NULL, \
             expires_at = '{}' WHERE idempotency_key = 'slow'",
            in_minutes(1)
        ),
    );
    let busy = post_keyed(&app, "/api/v1/events", "slow", &body).await;
    assert_eq!(header_of(&busy, "retry-after").as_deref(), Some("1"));
    let problem = problem(busy, 409).await;
    assert_eq!(problem["code"], "idempotency_key_in_flight");
    // Another body is still the wrong body.
    let other = post_keyed(&app, "/api/v1/events", "slow", &event("Other")).await;
    assert_eq!(other.status(), 422);

    // The instance that held it died: once the claim has expired, a repeat runs.
    execute(
        &app,
        &format!(
            "UPDATE idempotency_keys SET expires_at = '{}' WHERE idempotency_key = 'slow'",
            in_minutes(-1)
        ),
    );
    let rerun = json(post_keyed(&app, "/api/v1/events", "slow", &body).await, 201).await;
    assert_ne!(rerun["id"], first["id"]);
    let again = json(post_keyed(&app, "/api/v1/events", "slow", &body).await, 201).await;
    assert_eq!(again, rerun);
}

async fn a_server_error_is_not_kept(app: TestApp) {
    // The audit table goes away, so that a create fails with 500.
    execute(&app, "ALTER TABLE audit_log RENAME TO audit_log_gone");
    let body = event("After a failure");
    let failed = post_keyed(&app, "/api/v1/events", "fails-once", &body).await;
    assert_eq!(failed.status(), 500);
    execute(&app, "ALTER TABLE audit_log_gone RENAME TO audit_log");
    let retried = post_keyed(&app, "/api/v1/events", "fails-once", &body).await;
    assert_eq!(retried.status(), 201);
    assert_eq!(events_titled(&app, "After a failure").await.len(), 1);
}

async fn expired_keys_are_deleted(app: TestApp) {
    for key in ["old-1", "old-2"] {
        let response = post_keyed(&app, "/api/v1/events", key, &event(key)).await;
        assert_eq!(response.status(), 201);
    }
    // A day later.
    execute(
        &app,
        &format!(
            "UPDATE idempotency_keys SET expires_at = '{}'",
            in_minutes(-1)
        ),
    );
    let response = post_keyed(
        &app,
        "/api/v1/partners",
        "new",
        &json!({"name": "New Institute", "kind": "academic"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let left = count(&app, "SELECT COUNT(*) AS n FROM idempotency_keys");
    assert_eq!(left, 1, "only the new key is left");
    // An expired answer is not sent again: the repeat is a new request.
    let repeat = json(
        post_keyed(&app, "/api/v1/events", "old-1", &event("old-1")).await,
        201,
    )
    .await;
    assert_eq!(events_titled(&app, "old-1").await.len(), 2, "{repeat}");
}

async fn two_instances_on_one_database_share_the_keys(app: TestApp) {
    let second = spawn_second_instance(&app).await;
    let body = event("Behind a load balancer");
    let first = answer(post_keyed(&app, "/api/v1/events", "lb-1", &body).await).await;
    assert_eq!(first.status, 201);
    let elsewhere = answer(post_keyed(&second, "/api/v1/events", "lb-1", &body).await).await;
    assert_eq!(elsewhere, first);

    // Many repeats at once, on both instances: one create; every other answer is that create's
    // or a 409 while it runs.
    let body = event("Stormy retries");
    let repeats = (0..12).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &second };
        let body = body.clone();
        async move { answer(post_keyed(instance, "/api/v1/events", "storm", &body).await).await }
    });
    let answers = join_all(repeats).await;
    let created: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty(), "{answers:?}");
    assert!(created.iter().all(|a| *a == created[0]), "{answers:?}");
    assert!(
        answers.iter().all(|a| a.status == 201 || a.status == 409),
        "{answers:?}"
    );
    assert_eq!(events_titled(&app, "Stormy retries").await.len(), 1);
    let late = answer(post_keyed(&second, "/api/v1/events", "storm", &body).await).await;
    assert_eq!(&late, created[0]);
}

async fn every_post_documents_the_header(app: TestApp) {
    let document = json(app.get("/api-docs/openapi.json").await, 200).await;
    let mut posts = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        let Some(post) = item.get("post") else {
            continue;
        };
        posts += 1;
        let header = post["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
        assert!(header.is_some(), "POST {path} does not document the header");
        // Answers that carry a secret refuse the header (400) rather than keep it.
        let refused = header.is_some_and(|h| {
            h["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Not taken"))
        });
        let statuses: &[&str] = if refused { &["400"] } else { &["409", "422"] };
        for status in statuses {
            assert!(
                post["responses"].get(*status).is_some(),
                "POST {path}: {status}"
            );
        }
    }
    assert!(posts >= 4, "{posts} POST operations");
}

/// A repeat that waits on a lock the first request's write waits on is answered 409, and the
/// first request's answer is then kept as usual (PostgreSQL: a table lock taken from outside).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_a_repeat_while_the_first_waits_on_a_lock_is_a_409() {
    use diesel::Connection;
    let app = spawn_app(Backend::Postgres).await;
    let mut holder = diesel::PgConnection::establish(app.database.url()).expect("connects");
    holder
        .batch_execute("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE;")
        .expect("locks the events");
    let body = event("Held up");
    let first = {
        let (client, url, token, body) = (
            app.client.clone(),
            app.url("/api/v1/events"),
            app.admin_token.clone(),
            body.clone(),
        );
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "held")
                .json(&body)
                .send()
                .await
                .expect("answered");
            answer(response).await
        })
    };
    // Until the first request has claimed its key, a repeat would claim it itself (and wait on
    // the lock too), so the repeat is sent once the claim is in the table.
    let claimed = "SELECT COUNT(*) AS n FROM idempotency_keys \
                   WHERE idempotency_key = 'held' AND claim IS NOT NULL";
    let mut waited = 0;
    while count(&app, claimed) == 0 {
        assert!(
            waited < 600,
            "the first request claimed its key within a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let busy = post_keyed(&app, "/api/v1/events", "held", &body).await;
    assert_eq!(
        problem(busy, 409).await["code"],
        "idempotency_key_in_flight"
    );
    holder.batch_execute("COMMIT;").expect("unlocks");
    let first = first.await.expect("the first request ends");
    assert_eq!(first.status, 201);
    let again = answer(post_keyed(&app, "/api/v1/events", "held", &body).await).await;
    assert_eq!(again, first);
}

/// A timestamp `minutes` from now, as both backends read it in SQL.
fn in_minutes(minutes: i64) -> String {
    (chrono::Utc::now().naive_utc() + chrono::Duration::minutes(minutes))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The number a `SELECT COUNT(*) AS n` answers.
fn count(app: &TestApp, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = ConnectionFactory::new(app.database.url())
        .expect("a database URL")
        .connect()
        .expect("connects");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .expect("counts")
        .n
}
