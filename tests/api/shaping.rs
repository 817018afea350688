//! Shaped representations and cheap polling: `fields=` and `include=` on reads and lists, their
//! weak ETags, the statements a page with includes runs, and the lists' own weak ETags.

use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, error_fields, header_of, json, problem, spawn_app};
use crate::partners::create_partner;

backend_tests!(
    fields_keep_only_the_named_fields_and_the_key,
    include_embeds_the_records_referred_to,
    a_shaped_read_has_a_weak_etag_that_follows_what_it_embeds,
    unknown_fields_and_include_paths_are_400s_naming_the_valid_ones,
    a_page_with_includes_runs_the_same_statements_whatever_its_size,
    a_list_answers_304_until_something_changes,
);

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    json(app.post_json(path, &body).await, 201).await
}

async fn get_with_etag(app: &TestApp, path: &str) -> (Value, String) {
    let response = app.get(path).await;
    let tag = header_of(&response, "etag").expect("an ETag");
    (json(response, 200).await, tag)
}

async fn get_if_none_match(app: &TestApp, path: &str, tag: &str) -> reqwest::Response {
    app.request(Method::GET, path)
        .header(header::IF_NONE_MATCH, tag)
        .send()
        .await
        .expect("GET is answered")
}

/// A list's tag once the client's copy is current: the tag may move without a change (on
/// PostgreSQL when an entry committed just before becomes part of the change feed), never the
/// other way, so this reads until the tag it read is answered 304.
async fn current_list_tag(app: &TestApp, path: &str) -> String {
    for _ in 0..50 {
        let (_, tag) = get_with_etag(app, path).await;
        let again = get_if_none_match(app, path, &tag).await;
        if again.status() == 304 {
            assert_eq!(header_of(&again, "etag").as_deref(), Some(tag.as_str()));
            assert!(again.bytes().await.expect("a body").is_empty());
            return tag;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{path}: a tag read back is never answered 304");
}

fn member_names(record: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = record
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

/// Two partners, an agreement between them covering KZ and KG, and an event under it in KR.
struct Registry {
    partners: [i64; 2],
    agreement: i64,
    event: i64,
}

async fn registry(app: &TestApp) -> Registry {
    let first = create_partner(
        app,
        "Agency for Civil Service Affairs",
        "government",
        Some("KZ"),
    )
    .await;
    let second = create_partner(
        app,
        "Korea Institute of Public Administration",
        "academic",
        None,
    )
    .await;
    let agreement = created(
        app,
        "/api/v1/agreements",
        json!({"title": "Memorandum on civil service training", "kind": "memorandum_of_understanding",
               "status": "draft", "parties": [{"partner_id": first, "role": "signatory"},
                                               {"partner_id": second, "role": "implementing"}],
               "country_codes": ["KZ", "KG"]}),
    )
    .await;
    let event = created(
        app,
        "/api/v1/events",
        json!({"title": "Study visit to Seoul", "kind": "study_visit", "starts_on": "2025-05-12",
               "country_code": "KR", "agreement_id": agreement["id"],
               "participants": [{"partner_id": second, "role": "host"},
                                {"partner_id": first, "role": "participant"}]}),
    )
    .await;
    Registry {
        partners: [first, second],
        agreement: agreement["id"].as_i64().expect("an id"),
        event: event["id"].as_i64().expect("an id"),
    }
}

async fn fields_keep_only_the_named_fields_and_the_key(app: TestApp) {
    let Registry { partners, .. } = registry(&app).await;
    let (partner, tag) = get_with_etag(
        &app,
        &format!("/api/v1/partners/{}?fields=name", partners[0]),
    )
    .await;
    assert_eq!(
        partner,
        json!({"id": partners[0], "name": "Agency for Civil Service Affairs"})
    );
    assert!(tag.starts_with("W/\"1-"), "a weak tag of version 1: {tag}");

    let page = json(
        app.get("/api/v1/partners?sort=id&fields=country_code,name&fields=kind")
            .await,
        200,
    )
    .await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(member_names(item), ["country_code", "id", "kind", "name"]);
    }
    assert_eq!(items[0]["country_code"], "KZ");

    // A country's key is its code.
    let kz = json(app.get("/api/v1/countries/kz?fields=name").await, 200).await;
    assert_eq!(kz, json!({"code": "KZ", "name": "Kazakhstan"}));
    // The key alone, when named alone.
    let page = json(app.get("/api/v1/events?fields=id").await, 200).await;
    assert_eq!(member_names(&page["items"][0]), ["id"]);
}

async fn include_embeds_the_records_referred_to(app: TestApp) {
    let registry = registry(&app).await;
    let record = |path: String| {
        let app = &app;
        async move { json(app.get(&path).await, 200).await }
    };
    let partner = |i: usize| record(format!("/api/v1/partners/{}", registry.partners[i]));
    let country = |code: &str| record(format!("/api/v1/countries/{code}"));

    let agreement = record(format!(
        "/api/v1/agreements/{}?include=parties.partner,countries",
        registry.agreement
    ))
    .await;
    assert_eq!(agreement["parties"][0]["partner"], partner(0).await);
    assert_eq!(agreement["parties"][1]["partner"], partner(1).await);
    assert_eq!(agreement["parties"][1]["role"], "implementing");
    assert_eq!(
        agreement["countries"],
        json!([country("KZ").await, country("KG").await])
    );
    // Everything else is as a plain read has it.
    let plain = record(format!("/api/v1/agreements/{}", registry.agreement)).await;
    assert_eq!(agreement["title"], plain["title"]);
    assert_eq!(agreement["country_codes"], plain["country_codes"]);

    let events = json(
        app.get("/api/v1/events?include=participants.partner,agreement,country")
            .await,
        200,
    )
    .await;
    let event = &events["items"][0];
    assert_eq!(event["id"], registry.event);
    assert_eq!(event["agreement"], plain);
    assert_eq!(event["country"], country("KR").await);
    assert_eq!(event["participants"][0]["partner"], partner(1).await);
    assert_eq!(event["participants"][1]["partner"], partner(0).await);

    // A reference that is null embeds null.
    created(
        &app,
        "/api/v1/events",
        json!({"title": "Open webinar", "kind": "training", "starts_on": "2025-06-01"}),
    )
    .await;
    let page = json(
        app.get("/api/v1/events?q=webinar&include=agreement,country&fields=title")
            .await,
        200,
    )
    .await;
    let webinar = &page["items"][0];
    assert_eq!(webinar["agreement"], Value::Null);
    assert_eq!(webinar["country"], Value::Null);
    assert_eq!(
        member_names(webinar),
        ["agreement", "country", "id", "title"]
    );

    let partners = json(
        app.get("/api/v1/partners?sort=id&include=country").await,
        200,
    )
    .await;
    assert_eq!(partners["items"][0]["country"], country("KZ").await);
    assert_eq!(partners["items"][1]["country"], Value::Null);
}

async fn a_shaped_read_has_a_weak_etag_that_follows_what_it_embeds(app: TestApp) {
    let registry = registry(&app).await;
    let path = format!(
        "/api/v1/events/{}?include=participants.partner",
        registry.event
    );
    let (_, tag) = get_with_etag(&app, &path).await;
    assert!(tag.starts_with("W/\"1-"), "{tag}");
    let fresh = get_if_none_match(&app, &path, &tag).await;
    assert_eq!(fresh.status(), 304);
    assert_eq!(header_of(&fresh, "etag").as_deref(), Some(tag.as_str()));

    // Another shape of the same record is another representation, with another tag.
    let (_, other) = get_with_etag(&app, &format!("{path}&fields=title")).await;
    assert_ne!(other, tag);

    // An embedded partner changes: the event's version does not, its shaped tag does.
    let partner = format!("/api/v1/partners/{}", registry.partners[0]);
    let patched = app
        .patch_json(&partner, &json!({"acronym": "ACSA"}), None)
        .await;
    assert_eq!(patched.status(), 200);
    let stale = get_if_none_match(&app, &path, &tag).await;
    assert_eq!(stale.status(), 200);
    let (event, new_tag) = get_with_etag(&app, &path).await;
    assert_eq!(event["version"], 1);
    assert_eq!(event["participants"][1]["partner"]["acronym"], "ACSA");
    assert!(new_tag.starts_with("W/\"1-") && new_tag != tag, "{new_tag}");

    // If-Match checks the record's version: a shaped tag is not one.
    let event_path = format!("/api/v1/events/{}", registry.event);
    let refused = app
        .patch_json(&event_path, &json!({"city": "Seoul"}), Some(&new_tag))
        .await;
    problem(refused, 412).await;
    let accepted = app
        .patch_json(&event_path, &json!({"city": "Seoul"}), Some("\"1\""))
        .await;
    assert_eq!(accepted.status(), 200);
}

async fn unknown_fields_and_include_paths_are_400s_naming_the_valid_ones(app: TestApp) {
    registry(&app).await;
    for (path, parameter, valid) in [
        ("/api/v1/partners?fields=name,colour", "fields", "website"),
        ("/api/v1/partners/1?fields=colour", "fields", "website"),
        (
            "/api/v1/agreements?include=parties",
            "include",
            "parties.partner",
        ),
        (
            "/api/v1/events/1?include=partner",
            "include",
            "participants.partner",
        ),
        ("/api/v1/countries?include=partners", "include", ""),
        ("/api/v1/events?fields=", "fields", ""),
        ("/api/v1/events?fields=title,,id", "fields", ""),
    ] {
        let body = problem(app.get(path).await, 400).await;
        assert_eq!(error_fields(&body), [parameter], "{path}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(valid), "{path}: {detail}");
    }
}

/// The sum of `coop_registry_db_statements_per_request` for GETs of `endpoint` so far.
async fn statements_so_far(app: &TestApp, endpoint: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("the metrics");
    let series = format!(
        "coop_registry_db_statements_per_request_sum{{endpoint=\"{endpoint}\",method=\"GET\"}} "
    );
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |sum| sum.trim().parse().expect("a count"))
}

/// How many statements a GET of `path` ran.
async fn statements_of(app: &TestApp, endpoint: &str, path: &str) -> u64 {
    let before = statements_so_far(app, endpoint).await;
    let page = json(app.get(path).await, 200).await;
    assert!(
        page["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty())
    );
    statements_so_far(app, endpoint).await - before
}

async fn a_page_with_includes_runs_the_same_statements_whatever_its_size(app: TestApp) {
    let codes = ["KZ", "KG", "TJ", "UZ", "AZ", "AM", "GE", "KR"];
    let mut partners = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let name = format!("Civil service agency {i}");
        partners.push(create_partner(&app, &name, "government", Some(code)).await);
    }
    for i in 0..60 {
        let (a, b) = (partners[i % 8], partners[(i + 3) % 8]);
        let agreement = created(
            &app,
            "/api/v1/agreements",
            json!({"title": format!("Agreement {i}"), "kind": "joint_project", "status": "draft",
                   "parties": [{"partner_id": a, "role": "signatory"}, {"partner_id": b, "role": "funding"}],
                   "country_codes": [codes[i % 8], codes[(i + 5) % 8]]}),
        )
        .await;
        created(
            &app,
            "/api/v1/events",
            json!({"title": format!("Seminar {i}"), "kind": "seminar", "starts_on": "2025-03-01",
                   "country_code": codes[(i + 1) % 8], "agreement_id": agreement["id"],
                   "participants": [{"partner_id": b, "role": "host"}, {"partner_id": a, "role": "participant"}]}),
        )
        .await;
    }
    for (endpoint, includes) in [
        ("/api/v1/agreements", "parties.partner,countries"),
        ("/api/v1/events", "participants.partner,agreement,country"),
        ("/api/v1/partners", "country"),
    ] {
        // Twice: events keep renderings, so the second plain read is the one to compare with.
        statements_of(&app, endpoint, &format!("{endpoint}?limit=50")).await;
        let plain = statements_of(&app, endpoint, &format!("{endpoint}?limit=50")).await;
        let paths = includes.split(',').count() as u64;
        for limit in [50, 5, 1] {
            let path = format!("{endpoint}?limit={limit}&include={includes}");
            let shaped = statements_of(&app, endpoint, &path).await;
            assert_eq!(
                shaped,
                plain + paths,
                "{path}: one statement per include path"
            );
        }
    }
}

async fn a_list_answers_304_until_something_changes(app: TestApp) {
    let Registry { partners, .. } = registry(&app).await;
    let path = "/api/v1/partners?sort=id&include=country";
    let tag = current_list_tag(&app, path).await;
    assert!(tag.starts_with("W/\""), "a weak tag: {tag}");
    let (page, _) = get_with_etag(&app, path).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));

    // A change to a record on the page.
    let patched = app
        .patch_json(
            &format!("/api/v1/partners/{}", partners[1]),
            &json!({"acronym": "KIPA"}),
            None,
        )
        .await;
    assert_eq!(patched.status(), 200);
    let stale = get_if_none_match(&app, path, &tag).await;
    assert_eq!(stale.status(), 200);
    let new_tag = header_of(&stale, "etag").expect("an ETag");
    assert_ne!(new_tag, tag);
    let page = json(stale, 200).await;
    assert_eq!(page["items"][1]["acronym"], "KIPA");

    // A change to an embedded record (a country) moves it too.
    let country = app
        .patch_json(
            "/api/v1/countries/KZ",
            &json!({"notes": "Host of the hub"}),
            None,
        )
        .await;
    assert_eq!(country.status(), 200);
    let moved = get_if_none_match(&app, path, &new_tag).await;
    assert_eq!(moved.status(), 200);
    let page = json(moved, 200).await;
    assert_eq!(page["items"][0]["country"]["notes"], "Host of the hub");
}

/// On PostgreSQL an audit entry's id is taken when it is written, not when its transaction
/// commits: a tag read while a slower transaction with a lower id is open must still change
/// when that transaction commits. (SQLite commits one writer at a time, in id order.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn a_change_committed_out_of_id_order_still_moves_a_list_etag_on_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};
    let app = spawn_app(Backend::Postgres).await;
    let url = app.database.url().to_owned();
    let Registry { partners, .. } = registry(&app).await;
    let path = "/api/v1/partners";
    let mut slow = PgConnection::establish(&url).expect("a connection");
    slow.batch_execute(
        "BEGIN; INSERT INTO audit_log (at, actor, action, resource_type, resource_id) \
         VALUES (now(), 'slow-writer', 'update', 'partner', '1')",
    )
    .expect("an audit entry, not yet committed");
    let patched = app
        .patch_json(
            &format!("/api/v1/partners/{}", partners[0]),
            &json!({"acronym": "ACSA"}),
            None,
        )
        .await;
    assert_eq!(patched.status(), 200);
    let before_commit = current_list_tag(&app, path).await;
    slow.batch_execute("COMMIT").expect("committed");
    let after_commit = get_if_none_match(&app, path, &before_commit).await;
    assert_eq!(after_commit.status(), 200);
    assert_ne!(
        header_of(&after_commit, "etag").as_deref(),
        Some(before_commit.as_str())
    );
}
