//! The history of a record: `GET …/{id}/history` and `GET …/{id}/history/{version}`, who may
//! read them, and who sees the actor.

use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, header_of, json, problem};
use crate::partners::create_partner;

backend_tests!(
    a_history_lists_every_write_newest_first_with_the_record_as_it_was,
    a_history_is_paginated_and_one_version_can_be_read,
    the_history_of_a_deleted_record_is_for_admins,
    every_resource_has_a_history,
    a_history_answers_304_until_the_record_changes,
);

async fn get_as(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let request = app.request(Method::GET, path);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.expect("GET is answered")
}

fn field(items: &[Value], name: &str) -> Vec<Value> {
    items.iter().map(|item| item[name].clone()).collect()
}

/// The names of an object's members in the order of its JSON text.
fn member_order(text: &str) -> Vec<String> {
    let record: serde_json::Map<String, Value> = serde_json::from_str(text).expect("an object");
    let mut names: Vec<(usize, String)> = record
        .keys()
        .map(|name| {
            let at = text.find(&format!("\"{name}\":")).expect("the member");
            (at, name.clone())
        })
        .collect();
    names.sort();
    names.into_iter().map(|(_, name)| name).collect()
}

async fn partner_with_two_changes(app: &TestApp) -> i64 {
    let id = create_partner(
        app,
        "Ministry of Digital Development",
        "government",
        Some("KZ"),
    )
    .await;
    let path = format!("/api/v1/partners/{id}");
    for acronym in ["MDD", "MDDIAI"] {
        let patch = json!({"acronym": acronym});
        json(app.patch_json(&path, &patch, Some("*")).await, 200).await;
    }
    id
}

async fn a_history_lists_every_write_newest_first_with_the_record_as_it_was(app: TestApp) {
    let id = partner_with_two_changes(&app).await;
    let path = format!("/api/v1/partners/{id}/history");

    let page = json(app.get(&path).await, 200).await;
    let items = page["items"].as_array().expect("items").clone();
    assert_eq!(field(&items, "version"), [json!(3), json!(2), json!(1)]);
    assert_eq!(
        field(&items, "action"),
        [json!("update"), json!("update"), json!("create")]
    );
    let acronyms: Vec<Value> = items
        .iter()
        .map(|v| v["record"]["acronym"].clone())
        .collect();
    assert_eq!(acronyms, [json!("MDDIAI"), json!("MDD"), Value::Null]);
    for item in &items {
        assert_eq!(item["record"]["version"], item["version"]);
        assert_eq!(item["record"]["id"], json!(id));
        assert!(item["at"].as_str().is_some_and(|at| at.ends_with('Z')));
        assert!(
            item.get("actor").is_none(),
            "no actor without a token: {item}"
        );
    }
    let audit_ids: Vec<i64> = items
        .iter()
        .map(|v| v["audit_id"].as_i64().expect("an id"))
        .collect();
    assert!(audit_ids.windows(2).all(|w| w[0] > w[1]), "{audit_ids:?}");
    assert_eq!(page["next_cursor"], Value::Null);

    // The newest version is the record as a read answers it, member for member, in order.
    let current = app
        .get(&format!("/api/v1/partners/{id}"))
        .await
        .text()
        .await
        .expect("a body");
    let history = app.get(&path).await.text().await.expect("a body");
    let newest = &history[history.find("\"record\":").expect("a record") + 9..];
    let newest = &newest[..newest.find(",\"audit_id\"").expect("the audit id")];
    assert_eq!(newest, current);
    assert_eq!(member_order(newest), member_order(&current));

    // Who made each write: admins see it, editors do not.
    let as_admin = json(get_as(&app, &path, Some(&app.admin_token)).await, 200).await;
    let actors = field(as_admin["items"].as_array().expect("items"), "actor");
    assert_eq!(actors, vec![json!("test-admin"); 3]);
    let as_editor = json(get_as(&app, &path, Some(&app.editor_token)).await, 200).await;
    assert!(
        as_editor["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|v| v.get("actor").is_none()),
        "{as_editor}"
    );
}

async fn a_history_is_paginated_and_one_version_can_be_read(app: TestApp) {
    let id = partner_with_two_changes(&app).await;
    let path = format!("/api/v1/partners/{id}/history");

    let first = app.get(&format!("{path}?limit=1")).await;
    let link = header_of(&first, "link").expect("a Link to the next page");
    assert!(link.contains("rel=\"next\""), "{link}");
    let first = json(first, 200).await;
    assert_eq!(first["items"][0]["version"], 3);
    assert!(first["next_cursor"].is_string());
    let walked = app.walk(&format!("{path}?limit=1")).await;
    assert_eq!(field(&walked, "version"), [json!(3), json!(2), json!(1)]);
    let counted = json(app.get(&format!("{path}?with_total=true")).await, 200).await;
    assert_eq!(counted["total"], 3);

    let second = json(app.get(&format!("{path}/2")).await, 200).await;
    assert_eq!(second["version"], 2);
    assert_eq!(second["action"], "update");
    assert_eq!(second["record"]["acronym"], "MDD");
    assert!(second.get("actor").is_none());
    let as_admin = json(
        get_as(&app, &format!("{path}/1"), Some(&app.admin_token)).await,
        200,
    )
    .await;
    assert_eq!(as_admin["action"], "create");
    assert_eq!(as_admin["actor"], "test-admin");

    let missing = problem(app.get(&format!("{path}/4")).await, 404).await;
    assert_eq!(missing["detail"], format!("partner {id} has no version 4"));
    for bad in ["0", "x", "1.5", "99999999999999999999"] {
        let refused = problem(app.get(&format!("{path}/{bad}")).await, 400).await;
        assert_eq!(refused["errors"][0]["field"], "version", "{bad}: {refused}");
    }
    let bad_cursor = problem(
        app.get(&format!("{path}?cursor=bm90LWEtY3Vyc29y")).await,
        400,
    )
    .await;
    assert_eq!(bad_cursor["code"], "invalid_cursor");
    problem(app.get("/api/v1/partners/424242/history").await, 404).await;
    problem(app.get("/api/v1/partners/424242/history/1").await, 404).await;
    problem(app.get("/api/v1/partners/abc/history").await, 400).await;
}

async fn the_history_of_a_deleted_record_is_for_admins(app: TestApp) {
    let id = partner_with_two_changes(&app).await;
    let record = format!("/api/v1/partners/{id}");
    assert_eq!(app.delete(&record, Some("\"3\"")).await.status(), 204);
    let path = format!("{record}/history");

    for token in [None, Some(app.editor_token.as_str())] {
        let hidden = problem(get_as(&app, &path, token).await, 404).await;
        assert_eq!(hidden["detail"], format!("no partner with id {id}"));
        problem(get_as(&app, &format!("{path}/1"), token).await, 404).await;
    }
    let page = json(get_as(&app, &path, Some(&app.admin_token)).await, 200).await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(
        field(items, "version"),
        [json!(4), json!(3), json!(2), json!(1)]
    );
    assert_eq!(items[0]["action"], "delete");
    assert_eq!(items[0]["record"]["version"], 4);
    assert!(items[0]["record"]["deleted_at"].is_string());
    assert_eq!(items[0]["actor"], "test-admin");
    let deleted = json(
        get_as(&app, &format!("{path}/4"), Some(&app.admin_token)).await,
        200,
    )
    .await;
    assert_eq!(deleted["action"], "delete");
    let last = json(
        get_as(&app, &format!("{path}/3"), Some(&app.admin_token)).await,
        200,
    )
    .await;
    assert_eq!(last["record"]["acronym"], "MDDIAI");
    // An id that never was has no history, even for admins.
    problem(
        get_as(
            &app,
            "/api/v1/partners/424242/history",
            Some(&app.admin_token),
        )
        .await,
        404,
    )
    .await;
}

async fn every_resource_has_a_history(app: TestApp) {
    let partner = create_partner(&app, "UNDP", "multilateral", None).await;
    let agreement = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Joint project", "kind": "joint_project", "status": "draft",
                    "parties": [{"partner_id": partner, "role": "implementing"}]}),
        )
        .await,
        201,
    )
    .await;
    let event = json(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Seminar", "kind": "seminar", "starts_on": "2024-01-01",
                    "participants": [{"partner_id": partner, "role": "host"}]}),
        )
        .await,
        201,
    )
    .await;
    for (path, created) in [
        (format!("/api/v1/agreements/{}", agreement["id"]), agreement),
        (format!("/api/v1/events/{}", event["id"]), event),
    ] {
        let page = json(app.get(&format!("{path}/history")).await, 200).await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{path}");
        assert_eq!(page["items"][0]["record"], created, "{path}");
        let one = json(app.get(&format!("{path}/history/1")).await, 200).await;
        assert_eq!(one["record"], created, "{path}");
    }

    // Countries are keyed by their code, in any case. Those loaded with the service's ISO
    // list have no write before their first change.
    let before = json(app.get("/api/v1/countries/kz/history").await, 200).await;
    assert_eq!(before["items"], json!([]));
    let patched = json(
        app.patch_json(
            "/api/v1/countries/KZ",
            &json!({"participant": true}),
            Some("*"),
        )
        .await,
        200,
    )
    .await;
    let after = json(app.get("/api/v1/countries/kz/history").await, 200).await;
    assert_eq!(after["items"][0]["record"], patched);
    assert_eq!(after["items"][0]["version"], patched["version"]);
    problem(app.get("/api/v1/countries/QQ/history").await, 404).await;
}

async fn a_history_answers_304_until_the_record_changes(app: TestApp) {
    let id = create_partner(&app, "UNICEF", "multilateral", None).await;
    let path = format!("/api/v1/partners/{id}/history");
    let (mut tag, mut steady) = (String::new(), false);
    // The tag may move once without a change on PostgreSQL (see shaping.rs); read until steady.
    for _ in 0..50 {
        let response = app.get(&path).await;
        tag = header_of(&response, "etag").expect("an ETag");
        let again = app
            .request(Method::GET, &path)
            .header(header::IF_NONE_MATCH, &tag)
            .send()
            .await
            .expect("answered");
        if again.status() == 304 {
            steady = true;
            break;
        }
    }
    assert!(steady && tag.starts_with("W/"), "{tag}");
    let patch = json!({"acronym": "UNICEF"});
    json(
        app.patch_json(&format!("/api/v1/partners/{id}"), &patch, Some("*"))
            .await,
        200,
    )
    .await;
    let changed = app
        .request(Method::GET, &path)
        .header(header::IF_NONE_MATCH, &tag)
        .send()
        .await
        .expect("answered");
    let page = json(changed, 200).await;
    assert_eq!(page["items"][0]["version"], 2);
}
