//! The change feed (`/api/v1/changes`) and `updated_after` on every list.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coop_registry::db::{ConnectionFactory, DbConnection};
use coop_registry::schema::audit_log;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{
    Backend, TestApp, TestDatabase, error_fields, json, problem, spawn_app_with,
    spawn_second_instance,
};

backend_tests!(
    creates_updates_and_deletes_appear_in_order_with_versions_and_snapshots,
    the_actor_is_shown_to_admins_only,
    the_feed_filters_by_resource_type_and_action_and_pages_by_limit,
    an_empty_page_keeps_a_cursor_and_the_head_is_the_end,
    cursors_the_feed_did_not_make_are_400,
    a_cursor_further_back_than_the_feed_reaches_is_gone,
    a_cursor_reader_gets_every_later_entry_whatever_its_time,
    old_audit_entries_stay_in_the_audit_log_after_leaving_the_feed,
    the_feed_never_skips_an_entry_under_concurrent_writers,
    every_list_takes_updated_after,
);

/// A direct connection to the service's database, as another program would have.
fn connect(app: &TestApp) -> DbConnection {
    ConnectionFactory::new(app.database.url())
        .expect("a database URL")
        .connect()
        .expect("connects")
}

fn is_postgres(app: &TestApp) -> bool {
    matches!(app.database, TestDatabase::Postgres { .. })
}

/// The feed's head cursor.
async fn head(app: &TestApp) -> String {
    let body = json(app.get("/api/v1/changes/head").await, 200).await;
    body["cursor"].as_str().expect("a cursor").to_owned()
}

/// One page of the feed after `after`, with `query` added (`&limit=2`…).
async fn page(app: &TestApp, after: &str, query: &str) -> (Vec<Value>, String) {
    let body = json(
        app.get(&format!("/api/v1/changes?after={after}{query}"))
            .await,
        200,
    )
    .await;
    let cursor = body["next_cursor"]
        .as_str()
        .expect("next_cursor is always there")
        .to_owned();
    (body["items"].as_array().expect("items").clone(), cursor)
}

/// A page of at least `count` changes after `after`. On PostgreSQL a change shows once every
/// transaction that began before it has ended, on the whole server (other tests' too), so a
/// change just written may take a moment to show.
async fn page_of(app: &TestApp, after: &str, query: &str, count: usize) -> (Vec<Value>, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (items, next) = page(app, after, query).await;
        if items.len() >= count || Instant::now() > deadline {
            return (items, next);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every change after `after`, page by page, until a page comes back empty.
async fn drain(app: &TestApp, after: &str, query: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut cursor = after.to_owned();
    loop {
        let (found, next) = page(app, &cursor, query).await;
        cursor = next;
        if found.is_empty() {
            return (items, cursor);
        }
        items.extend(found);
    }
}

/// A record as the feed shows it: without the keys only some readers get.
fn summary(change: &Value) -> (String, String, String, i64) {
    (
        change["resource_type"].as_str().expect("type").to_owned(),
        change["resource_id"].as_str().expect("id").to_owned(),
        change["action"].as_str().expect("action").to_owned(),
        change["version"].as_i64().expect("version"),
    )
}

async fn creates_updates_and_deletes_appear_in_order_with_versions_and_snapshots(app: TestApp) {
    let start = head(&app).await;
    let partner = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Feed Institute", "kind": "academic", "country_code": "KZ"}),
        )
        .await,
        201,
    )
    .await;
    let id = partner["id"].as_i64().expect("id");
    let url = format!("/api/v1/partners/{id}");
    let patched = json(
        app.patch_json(&url, &json!({"acronym": "FI"}), Some("\"1\""))
            .await,
        200,
    )
    .await;
    let agreement = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Short-lived", "kind": "grant", "status": "draft"}),
        )
        .await,
        201,
    )
    .await;
    let agreement_id = agreement["id"].as_i64().expect("id");
    let renamed = json(
        app.patch_json(
            &format!("/api/v1/agreements/{agreement_id}"),
            &json!({"title": "Shorter-lived"}),
            None,
        )
        .await,
        200,
    )
    .await;
    let deleted = app
        .delete(&format!("/api/v1/agreements/{agreement_id}"), None)
        .await;
    assert_eq!(deleted.status(), 204);
    let country = json(
        app.patch_json("/api/v1/countries/KZ", &json!({"participant": true}), None)
            .await,
        200,
    )
    .await;

    let (items, next) = page_of(&app, &start, "", 6).await;
    let agreement_key = agreement_id.to_string();
    assert_eq!(
        items.iter().map(summary).collect::<Vec<_>>(),
        [
            ("partner".into(), id.to_string(), "create".into(), 1),
            ("partner".into(), id.to_string(), "update".into(), 2),
            (
                "agreement".into(),
                agreement_key.clone(),
                "create".into(),
                1
            ),
            (
                "agreement".into(),
                agreement_key.clone(),
                "update".into(),
                2
            ),
            ("agreement".into(), agreement_key, "delete".into(), 3),
            (
                "country".into(),
                "KZ".into(),
                "update".into(),
                country["version"].as_i64().expect("v")
            ),
        ]
    );
    // The record as a GET answered right after each change; a delete is a tombstone.
    assert_eq!(items[0]["record"], partner);
    assert_eq!(items[1]["record"], patched);
    assert_eq!(items[2]["record"], agreement);
    assert_eq!(items[3]["record"], renamed);
    assert_eq!(items[4]["record"]["id"], renamed["id"]);
    assert_eq!(items[4]["record"]["version"], items[4]["version"]);
    assert!(items[4]["record"]["deleted_at"].is_string(), "{}", items[4]);
    assert_eq!(items[5]["record"], country);
    for item in &items {
        let keys: Vec<&str> = item
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys.iter().copied().collect::<HashSet<_>>(),
            HashSet::from([
                "seq",
                "resource_type",
                "resource_id",
                "action",
                "version",
                "changed_at",
                "record"
            ]),
            "no actor without an admin token"
        );
        assert!(
            item["changed_at"]
                .as_str()
                .is_some_and(|at| at.len() == 27 && at.ends_with('Z'))
        );
    }
    // One client writing one after the other: seq grows with the order too.
    let seqs: Vec<i64> = items
        .iter()
        .map(|i| i["seq"].as_i64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // The same entries are the audit log's.
    let audit = json(
        app.as_admin(Method::GET, "/api/v1/audit?sort=id&limit=500")
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    let audit_ids: Vec<i64> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(seqs.iter().all(|seq| audit_ids.contains(seq)));

    // Nothing new: an empty page, with a cursor to keep polling with.
    let (none, again) = page(&app, &next, "").await;
    assert!(none.is_empty());
    let later = json(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Seminar", "kind": "seminar", "starts_on": "2024-01-01"}),
        )
        .await,
        201,
    )
    .await;
    let (fresh, _) = page_of(&app, &again, "", 1).await;
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0]["record"], later);
    // Without `after`, the feed starts at its oldest entry.
    let (all, _) = drain(&app, "", "&limit=500").await;
    assert!(all.len() >= 7);
    assert_eq!(all[all.len() - 7..].to_vec(), [items, fresh].concat());
}

async fn the_actor_is_shown_to_admins_only(app: TestApp) {
    let start = head(&app).await;
    json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Seen By Whom", "kind": "other"}),
        )
        .await,
        201,
    )
    .await;
    page_of(&app, &start, "", 1).await;
    let path = format!("/api/v1/changes?after={start}");
    let as_admin = json(
        app.as_admin(Method::GET, &path)
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert_eq!(as_admin["items"][0]["actor"], "test-admin");
    let as_editor = json(
        app.request(Method::GET, &path)
            .bearer_auth(&app.editor_token)
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    let anonymous = json(app.get(&path).await, 200).await;
    for body in [&as_editor, &anonymous] {
        let item = body["items"][0].as_object().expect("an entry");
        assert!(!item.contains_key("actor"), "{item:?}");
    }
    let mut without = as_admin["items"][0].clone();
    without.as_object_mut().expect("object").remove("actor");
    assert_eq!(without, anonymous["items"][0]);
}

async fn the_feed_filters_by_resource_type_and_action_and_pages_by_limit(app: TestApp) {
    let start = head(&app).await;
    for name in ["One", "Two", "Three"] {
        let created = json(
            app.post_json(
                "/api/v1/partners",
                &json!({"name": format!("Filter {name}"), "kind": "other"}),
            )
            .await,
            201,
        )
        .await;
        let id = created["id"].as_i64().expect("id");
        json(
            app.post_json(
                "/api/v1/agreements",
                &json!({"title": format!("Agreement {name}"), "kind": "grant", "status": "draft"}),
            )
            .await,
            201,
        )
        .await;
        if name != "Two" {
            let gone = app.delete(&format!("/api/v1/partners/{id}"), None).await;
            assert_eq!(gone.status(), 204);
        }
    }
    page_of(&app, &start, "", 8).await;
    let (all, _) = drain(&app, &start, "").await;
    assert_eq!(all.len(), 8);
    let (partners, _) = drain(&app, &start, "&resource_type=partner").await;
    assert_eq!(partners.len(), 5);
    assert!(partners.iter().all(|c| c["resource_type"] == "partner"));
    let (deletes, _) = drain(&app, &start, "&action=delete").await;
    assert_eq!(deletes.len(), 2);
    assert!(
        deletes
            .iter()
            .all(|c| c["action"] == "delete" && c["record"]["deleted_at"].is_string())
    );
    let (agreement_creates, _) =
        drain(&app, &start, "&resource_type=agreement&action=create").await;
    assert_eq!(agreement_creates.len(), 3);

    // Pages of 3 give the same entries as one page, and only the last is short.
    let (first, cursor) = page(&app, &start, "&limit=3").await;
    assert_eq!(first.len(), 3);
    let (paged, _) = drain(&app, &start, "&limit=3").await;
    assert_eq!(paged, all);
    let (second, _) = page(&app, &cursor, "&limit=3").await;
    assert_eq!(second, all[3..6].to_vec());

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("resource_type=planet", "resource_type"),
        ("action=merge", "action"),
    ] {
        let refused = problem(app.get(&format!("/api/v1/changes?{query}")).await, 400).await;
        assert_eq!(error_fields(&refused), [field], "{query}");
    }
    let unknown = problem(app.get("/api/v1/changes?cursor=abc").await, 400).await;
    assert_eq!(unknown["code"], "unknown_parameter");
}

async fn an_empty_page_keeps_a_cursor_and_the_head_is_the_end(app: TestApp) {
    // A fresh registry: nothing in the feed yet, and still a cursor.
    let (items, first) = page(&app, "", "").await;
    assert!(items.is_empty(), "{items:?}");
    let now = head(&app).await;
    let (still, _) = page(&app, &now, "").await;
    assert!(still.is_empty());
    let created = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "After Head", "kind": "national_ngo"}),
        )
        .await,
        201,
    )
    .await;
    for cursor in [&first, &now] {
        let (found, next) = page_of(&app, cursor, "", 1).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["record"], created);
        let (after, _) = page(&app, &next, "").await;
        assert!(after.is_empty());
    }
    // A head taken now is past that change.
    let (none, _) = page(&app, &head(&app).await, "").await;
    assert!(none.is_empty());
    // A filter that lets nothing through still moves the cursor on.
    let (nothing, moved) = page(&app, &first, "&resource_type=event").await;
    assert!(nothing.is_empty());
    let (after_moved, _) = page(&app, &moved, "").await;
    assert!(
        after_moved.is_empty(),
        "the cursor moved past what was read"
    );
    let response = app.get("/api/v1/changes/head").await;
    assert_eq!(
        crate::helpers::header_of(&response, "cache-control").as_deref(),
        Some("no-store")
    );
}

async fn cursors_the_feed_did_not_make_are_400(app: TestApp) {
    json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Listed", "kind": "national_ngo"}),
        )
        .await,
        201,
    )
    .await;
    json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Listed Too", "kind": "national_ngo"}),
        )
        .await,
        201,
    )
    .await;
    let list = json(app.get("/api/v1/partners?limit=1").await, 200).await;
    let list_cursor = list["next_cursor"]
        .as_str()
        .expect("a list cursor")
        .to_owned();
    let encode = |text: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    };
    for after in [
        list_cursor,
        "bm90LWEtY3Vyc29y".to_owned(),
        "x".to_owned(),
        encode(r#"{"tx":0,"seq":-1}"#),
        encode(r#"{"tx":0}"#),
    ] {
        let refused = problem(
            app.get(&format!("/api/v1/changes?after={after}")).await,
            400,
        )
        .await;
        assert_eq!(refused["code"], "invalid_cursor", "{after}");
        assert_eq!(error_fields(&refused), ["after"]);
    }
}

/// Backdates every audit entry of partner `id` to `at`, as if it had been written then.
fn backdate_partner(app: &TestApp, id: i64, at: &str) {
    connect(app)
        .batch_execute(&format!(
            "UPDATE audit_log SET at = '{at}' WHERE resource_type = 'partner' AND resource_id = '{id}'"
        ))
        .expect("backdated");
}

/// The feed reaches back CHANGES_RETENTION_DAYS (90 here): a cursor whose next entry is older
/// is 410 `cursor_expired`, whatever the filters; a cursor after the old entries, a read
/// without a cursor (from the horizon) and the head go on working.
async fn a_cursor_further_back_than_the_feed_reaches_is_gone(app: TestApp) {
    let before = head(&app).await;
    let old = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Long Ago", "kind": "national_ngo"}),
        )
        .await,
        201,
    )
    .await;
    let old_id = old["id"].as_i64().expect("id");
    json(
        app.patch_json(
            &format!("/api/v1/partners/{old_id}"),
            &json!({"acronym": "LA"}),
            Some("\"1\""),
        )
        .await,
        200,
    )
    .await;
    let (old_entries, after_old) = page_of(&app, &before, "", 2).await;
    assert_eq!(old_entries.len(), 2, "{old_entries:?}");
    let kept = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Kept", "kind": "national_ngo"}),
        )
        .await,
        201,
    )
    .await;
    let (rest, _) = page_of(&app, &after_old, "", 1).await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["record"], kept);

    backdate_partner(&app, old_id, "2000-01-01 00:00:00");
    for query in ["", "&resource_type=agreement", "&action=delete&limit=1"] {
        let gone = app
            .get(&format!("/api/v1/changes?after={before}{query}"))
            .await;
        let body = problem(gone, 410).await;
        assert_eq!(body["code"], "cursor_expired", "{query}");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("resynchronise")),
            "{body}"
        );
    }
    // After the old entries all is well; without a cursor, only what the feed still reaches.
    let (again, _) = page(&app, &after_old, "").await;
    assert_eq!(again, rest);
    let (from_horizon, _) = drain(&app, "", "").await;
    assert_eq!(from_horizon, rest);
    let (none, _) = page(&app, &head(&app).await, "").await;
    assert!(none.is_empty());
}

/// Feed order is commit order, not time order: an entry after a cursor may be older than the
/// one before it (on PostgreSQL a transaction that began earlier can write later). Once the
/// cursor's next entry is within reach, every later entry is served whatever its time; a page
/// filtered by time would skip the out-of-order one for ever.
async fn a_cursor_reader_gets_every_later_entry_whatever_its_time(app: TestApp) {
    let before = head(&app).await;
    let mut ids = Vec::new();
    for name in ["First", "Second", "Third", "Fourth"] {
        let partner = json(
            app.post_json(
                "/api/v1/partners",
                &json!({"name": name, "kind": "academic"}),
            )
            .await,
            201,
        )
        .await;
        ids.push(partner["id"].as_i64().expect("id"));
    }
    let (first, after_first) = page_of(&app, &before, "&limit=1", 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["record"]["name"], "First");
    backdate_partner(&app, ids[2], "2000-01-01 00:00:00");
    let (rest, _) = page_of(&app, &after_first, "", 3).await;
    let names: Vec<&Value> = rest.iter().map(|c| &c["record"]["name"]).collect();
    assert_eq!(names, ["Second", "Third", "Fourth"]);
}

/// Entries the feed no longer reaches stay in the audit log, as they were: it is the record of
/// who changed what, and nothing deletes from it.
async fn old_audit_entries_stay_in_the_audit_log_after_leaving_the_feed(app: TestApp) {
    let partner = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Archived Alliance", "kind": "academic"}),
        )
        .await,
        201,
    )
    .await;
    let id = partner["id"].as_i64().expect("id");
    let key = json!(id.to_string());
    let (all, _) = page_of(&app, "", "", 1).await;
    assert!(all.iter().any(|c| c["resource_id"] == key));

    backdate_partner(&app, id, "2001-02-03 04:05:06");
    let (all, _) = drain(&app, "", "").await;
    assert!(
        !all.iter().any(|c| c["resource_id"] == key),
        "left the feed: {all:?}"
    );
    // A second instance starts (an instance once pruned at start): the entry is still there.
    let _second = spawn_second_instance(&app).await;
    let audit = json(
        app.as_admin(
            Method::GET,
            &format!("/api/v1/audit?resource_type=partner&resource_id={id}"),
        )
        .send()
        .await
        .expect("answered"),
        200,
    )
    .await;
    let items = audit["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{audit}");
    assert_eq!(items[0]["action"], "create");
    assert_eq!(items[0]["at"], "2001-02-03T04:05:06.000000Z");
    assert_eq!(items[0]["after"], partner);
}

/// Writes a change straight into the database in a transaction that stays open for a while
/// and then commits or rolls back: on PostgreSQL its entry's id is lower than those of
/// transactions that commit meanwhile.
fn slow_direct_write(url: &str, sqlite: bool, hold: Duration, commit: bool) {
    let mut conn = ConnectionFactory::new(url)
        .expect("a database URL")
        .connect()
        .expect("connects");
    let begin = if sqlite { "BEGIN IMMEDIATE;" } else { "BEGIN;" };
    conn.batch_execute(&format!(
        "{begin} INSERT INTO audit_log (at, actor, action, resource_type, resource_id, before_state, after_state)
         VALUES (CURRENT_TIMESTAMP, 'direct', 'update', 'partner', '0', NULL, '{{\"id\":0,\"version\":1}}')"
    ))
    .expect("an entry in an open transaction");
    std::thread::sleep(hold);
    conn.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
        .expect("ends");
}

/// Every committed entry's seq, in feed order, read straight from the database.
fn committed_in_feed_order(app: &TestApp) -> Vec<i64> {
    let mut conn = connect(app);
    coop_registry::on_backend!(&mut conn, |c| audit_log::table
        .order((audit_log::txid.asc(), audit_log::id.asc()))
        .select(audit_log::id)
        .load::<i64>(c))
    .expect("the audit log")
}

/// 8 writers at once (on PostgreSQL through two instances), some of whose transactions roll
/// back and some of which stay open while others commit, while a reader polls the feed with
/// its cursor: what the reader collected is exactly every committed change, in feed order,
/// once each.
async fn the_feed_never_skips_an_entry_under_concurrent_writers(app: TestApp) {
    let postgres = is_postgres(&app);
    let second = if postgres {
        Some(spawn_second_instance(&app).await)
    } else {
        None
    };
    let instances: Vec<&TestApp> = std::iter::once(&app).chain(second.as_ref()).collect();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let client = app.client.clone();
        let base = app.url("/api/v1/changes");
        let done = done.clone();
        async move {
            let mut seen: Vec<i64> = Vec::new();
            let mut cursor = String::new();
            let mut empty_after_done = false;
            let deadline = Instant::now() + Duration::from_secs(120);
            while !empty_after_done && Instant::now() < deadline {
                let finished = done.load(Ordering::SeqCst);
                let body: Value = client
                    .get(format!("{base}?limit=7&after={cursor}"))
                    .send()
                    .await
                    .expect("answered")
                    .json()
                    .await
                    .expect("a page");
                let items = body["items"].as_array().expect("items");
                seen.extend(items.iter().map(|i| i["seq"].as_i64().expect("seq")));
                cursor = body["next_cursor"].as_str().expect("cursor").to_owned();
                empty_after_done = finished && items.is_empty();
                if items.is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            (seen, cursor)
        }
    };

    let writers = (0..8).map(|writer| {
        let instance = instances[writer % instances.len()];
        let url = instance.database.url().to_owned();
        async move {
            let mut committed = 0;
            for round in 0..12 {
                if writer % 4 == 3 {
                    // Straight into the database: a transaction held open, then ended.
                    let commit = round % 2 == 0;
                    let hold = Duration::from_millis(if postgres { 40 } else { 10 });
                    let url = url.clone();
                    tokio::task::spawn_blocking(move || {
                        slow_direct_write(&url, !postgres, hold, commit)
                    })
                    .await
                    .expect("the direct write ran");
                    committed += usize::from(commit);
                    continue;
                }
                let name = format!("Writer {writer} round {round}");
                let created = instance
                    .post_json("/api/v1/partners", &json!({"name": name, "kind": "other"}))
                    .await;
                assert_eq!(created.status(), 201);
                let id = created.json::<Value>().await.expect("JSON")["id"]
                    .as_i64()
                    .expect("id");
                committed += 1;
                let url = format!("/api/v1/partners/{id}");
                // Refused writes: a stale If-Match, a broken rule, a taken name.
                let stale = instance
                    .patch_json(&url, &json!({"acronym": "S"}), Some("\"7\""))
                    .await;
                assert_eq!(stale.status(), 412);
                let broken = instance
                    .patch_json(&url, &json!({"kind": "planet"}), None)
                    .await;
                assert_eq!(broken.status(), 422);
                let taken = instance
                    .post_json("/api/v1/partners", &json!({"name": name, "kind": "other"}))
                    .await;
                assert_eq!(taken.status(), 409);
                let patched = instance
                    .patch_json(&url, &json!({"acronym": format!("W{writer}")}), None)
                    .await;
                assert_eq!(patched.status(), 200);
                committed += 1;
                if round % 3 == 0 {
                    assert_eq!(instance.delete(&url, None).await.status(), 204);
                    committed += 1;
                }
            }
            committed
        }
    });
    let writing = async {
        let committed: usize = join_all(writers).await.into_iter().sum();
        done.store(true, Ordering::SeqCst);
        committed
    };
    let (committed, (mut seen, mut cursor)) = tokio::join!(writing, reader);

    let expected = committed_in_feed_order(&app);
    assert_eq!(
        expected.len(),
        committed,
        "every committed write has one entry"
    );
    // On PostgreSQL the last entries show once transactions elsewhere on the server (other
    // tests') have ended: go on polling until as many have come, then once more.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < expected.len() && Instant::now() < deadline {
        let (items, next) = page(&app, &cursor, "&limit=7").await;
        seen.extend(items.iter().map(|i| i["seq"].as_i64().expect("seq")));
        cursor = next;
        if items.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (extra, _) = page(&app, &cursor, "").await;
    assert!(
        extra.is_empty(),
        "nothing beyond the committed entries: {extra:?}"
    );
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice");
    assert_eq!(seen, expected, "every committed entry, in feed order");
}

/// `updated_after` on each list: only records changed strictly after that instant.
async fn every_list_takes_updated_after(app: TestApp) {
    use chrono::{DateTime, FixedOffset};

    let encode = |at: &str| at.replace('+', "%2B");
    // Three records of each resource, made (or changed) one after the other.
    let mut made: Vec<(&str, Vec<Value>)> = Vec::new();
    let mut partners = Vec::new();
    for i in 0..3 {
        partners.push(
            json(
                app.post_json(
                    "/api/v1/partners",
                    &json!({"name": format!("Since {i}"), "kind": "national_ngo"}),
                )
                .await,
                201,
            )
            .await,
        );
    }
    made.push(("partners", partners));
    let mut agreements = Vec::new();
    for i in 0..3 {
        agreements.push(
            json(
                app.post_json(
                    "/api/v1/agreements",
                    &json!({"title": format!("Since {i}"), "kind": "grant", "status": "draft"}),
                )
                .await,
                201,
            )
            .await,
        );
    }
    made.push(("agreements", agreements));
    let mut events = Vec::new();
    for i in 0..3 {
        events.push(
            json(
                app.post_json(
                    "/api/v1/events",
                    &json!({"title": format!("Since {i}"), "kind": "seminar", "starts_on": "2024-01-01"}),
                )
                .await,
                201,
            )
            .await,
        );
    }
    made.push(("events", events));
    let mut countries = Vec::new();
    for code in ["KZ", "UZ", "KG"] {
        countries.push(
            json(
                app.patch_json(
                    &format!("/api/v1/countries/{code}"),
                    &json!({"participant": true}),
                    None,
                )
                .await,
                200,
            )
            .await,
        );
    }
    made.push(("countries", countries));

    for (list, records) in made {
        let key = if list == "countries" { "code" } else { "id" };
        let at = records[1]["updated_at"].as_str().expect("updated_at");
        let found = app
            .walk(&format!(
                "/api/v1/{list}?updated_after={}&limit=500",
                encode(at)
            ))
            .await;
        assert_eq!(
            found.iter().map(|r| r[key].clone()).collect::<Vec<_>>(),
            [records[2][key].clone()],
            "{list}: strictly after the second record's updated_at"
        );
        // The same instant in another zone is the same instant.
        let instant: DateTime<FixedOffset> = at.parse().expect("RFC 3339");
        let east = instant
            .with_timezone(&FixedOffset::east_opt(5 * 3600).expect("an offset"))
            .to_rfc3339();
        let again = app
            .walk(&format!(
                "/api/v1/{list}?updated_after={}&limit=500",
                encode(&east)
            ))
            .await;
        assert_eq!(again, found, "{list} with {east}");
        let before_all = records[0]["updated_at"].as_str().expect("updated_at");
        let two = app
            .walk(&format!(
                "/api/v1/{list}?updated_after={}&limit=500",
                encode(before_all)
            ))
            .await;
        assert_eq!(two.len(), 2, "{list}");
        // With another filter, and a cursor: both still apply.
        let paged = app
            .walk(&format!(
                "/api/v1/{list}?updated_after={}&limit=1",
                encode(before_all)
            ))
            .await;
        assert_eq!(paged, two);
        for bad in ["yesterday", "2024-13-01T00:00:00Z", "2024-06-24"] {
            let refused = problem(
                app.get(&format!("/api/v1/{list}?updated_after={bad}"))
                    .await,
                400,
            )
            .await;
            assert_eq!(error_fields(&refused), ["updated_after"], "{list} {bad}");
        }
    }
}

/// With READ_REQUIRES_TOKEN the feed, like every read, needs a valid token of any role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_feed_needs_a_token_when_reads_do() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.read_requires_token = true).await;
    for path in ["/api/v1/changes", "/api/v1/changes/head"] {
        problem(app.get(path).await, 401).await;
        let allowed = app
            .request(Method::GET, path)
            .bearer_auth(&app.editor_token)
            .send()
            .await
            .expect("answered");
        assert_eq!(allowed.status(), 200, "{path}");
    }
}

/// With CHANGES_RETENTION_DAYS=0 the feed has no horizon: it serves every entry, however old,
/// and no cursor is too old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_retention_zero_keeps_every_entry() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.changes_retention_days = 0).await;
    let before = head(&app).await;
    connect(&app)
        .batch_execute(
            "INSERT INTO audit_log (at, actor, action, resource_type, resource_id, before_state, after_state)
             VALUES ('2000-01-01 00:00:00', 'someone', 'create', 'partner', '999', NULL, '{\"id\":999,\"version\":1}')",
        )
        .expect("an old entry");
    let (all, _) = drain(&app, "", "").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["changed_at"], "2000-01-01T00:00:00.000000Z");
    let (after_before, _) = drain(&app, &before, "").await;
    assert_eq!(after_before, all);
}
