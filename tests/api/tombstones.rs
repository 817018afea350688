//! Undo: a delete keeps a tombstone that admins can see, restore or purge; tombstones hold no
//! unique value and nothing they refer to; a restore names what clashes.

use futures_util::future::join_all;
use reqwest::{Method, Response, header};
use serde_json::{Value, json};

use crate::agreements::create_agreement;
use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, json, problem};
use crate::partners::create_partner;

backend_tests!(
    a_delete_keeps_a_tombstone_that_only_admins_see,
    a_restore_brings_the_record_back_with_its_relations,
    unique_values_hold_among_live_records_only,
    a_tombstone_holds_nothing_it_refers_to,
    a_purge_removes_for_good_and_a_restore_of_a_referrer_is_refused,
    a_deleted_country_keeps_its_code,
    writes_cannot_name_a_tombstone,
    deletes_and_restores_at_once_each_land_once,
);

async fn admin(app: &TestApp, method: Method, path: &str) -> Response {
    app.as_admin(method, path).send().await.expect("answered")
}

async fn editor(app: &TestApp, method: Method, path: &str) -> Response {
    app.request(method, path)
        .bearer_auth(&app.editor_token)
        .send()
        .await
        .expect("answered")
}

/// The actions of the record's history, newest first (an admin's read).
async fn actions(app: &TestApp, path: &str) -> Vec<String> {
    let history = json(
        admin(app, Method::GET, &format!("{path}/history")).await,
        200,
    )
    .await;
    history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|v| v["action"].as_str().expect("an action").to_owned())
        .collect()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

async fn a_delete_keeps_a_tombstone_that_only_admins_see(app: TestApp) {
    let kept = create_partner(&app, "Kept partner", "government", Some("KZ")).await;
    let gone = create_partner(&app, "Gone partner", "national_ngo", Some("KZ")).await;
    let path = format!("/api/v1/partners/{gone}");
    assert_eq!(app.delete(&path, Some("\"1\"")).await.status(), 204);

    // Gone from reads, lists and writes.
    let missing = problem(app.get(&path).await, 404).await;
    assert_eq!(missing["code"], "not_found");
    let listed = json(app.get("/api/v1/partners").await, 200).await;
    assert_eq!(ids(&listed), vec![kept]);
    problem(
        app.patch_json(&path, &json!({"acronym": "X"}), None).await,
        404,
    )
    .await;
    problem(app.delete(&path, None).await, 404).await;

    // An admin sees it with include_deleted=true, at a version one higher.
    let tombstone = json(
        admin(&app, Method::GET, &format!("{path}?include_deleted=true")).await,
        200,
    )
    .await;
    assert_eq!(tombstone["name"], "Gone partner");
    assert_eq!(tombstone["version"], 2);
    assert!(tombstone["deleted_at"].as_str().is_some(), "{tombstone}");
    let all = json(
        admin(
            &app,
            Method::GET,
            "/api/v1/partners?include_deleted=true&sort=id",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ids(&all), vec![kept, gone]);
    assert!(
        all["items"][0].get("deleted_at").is_none(),
        "a live one has none"
    );
    assert_eq!(all["items"][1]["deleted_at"], tombstone["deleted_at"]);
    // include_deleted=false is the plain list.
    let plain = json(app.get("/api/v1/partners?include_deleted=false").await, 200).await;
    assert_eq!(ids(&plain), vec![kept]);

    // Anyone else asking for tombstones gets 403, on reads and lists.
    for query in [
        format!("{path}?include_deleted=true"),
        "/api/v1/partners?include_deleted=true".to_owned(),
    ] {
        let refused = problem(app.get(&query).await, 403).await;
        assert_eq!(refused["code"], "forbidden");
        problem(editor(&app, Method::GET, &query).await, 403).await;
    }
    // An export holds live records only.
    let export = problem(
        admin(
            &app,
            Method::GET,
            "/api/v1/partners/export?include_deleted=true",
        )
        .await,
        400,
    )
    .await;
    assert!(
        export["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("include_deleted")
    );

    // The delete's audit entry has the tombstone as `after`.
    let audit = json(
        admin(
            &app,
            Method::GET,
            &format!("/api/v1/audit?resource_type=partner&resource_id={gone}&action=delete"),
        )
        .await,
        200,
    )
    .await;
    let entry = &audit["items"][0];
    assert_eq!(entry["after"]["version"], 2);
    assert_eq!(entry["after"]["deleted_at"], tombstone["deleted_at"]);
    assert_eq!(entry["before"]["version"], 1);
}

async fn a_restore_brings_the_record_back_with_its_relations(app: TestApp) {
    let partner = create_partner(&app, "Ministry of Justice", "government", Some("KZ")).await;
    let agreement = create_agreement(
        &app,
        &json!({"title": "Training programme", "kind": "memorandum_of_understanding",
                "status": "draft", "parties": [{"partner_id": partner, "role": "signatory"}],
                "country_codes": ["KZ", "KG"]}),
    )
    .await;
    let event = json(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Study visit", "kind": "study_visit", "starts_on": "2025-03-01",
                    "agreement_id": agreement,
                    "participants": [{"partner_id": partner, "role": "host"}]}),
        )
        .await,
        201,
    )
    .await;
    let event_path = format!("/api/v1/events/{}", event["id"]);
    let agreement_path = format!("/api/v1/agreements/{agreement}");
    assert_eq!(app.delete(&event_path, None).await.status(), 204);
    assert_eq!(app.delete(&agreement_path, None).await.status(), 204);

    // Their relation rows are gone with them: the filters no longer find them.
    let by_partner = json(
        app.get(&format!("/api/v1/agreements?partner={partner}"))
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&by_partner), Vec::<i64>::new());
    let by_country = json(app.get("/api/v1/agreements?country=KG").await, 200).await;
    assert_eq!(ids(&by_country), Vec::<i64>::new());

    // Only admins restore; a wrong If-Match is a 412; a live record is not restored.
    let restore = format!("{agreement_path}/restore");
    problem(editor(&app, Method::POST, &restore).await, 403).await;
    problem(
        app.request(Method::POST, &restore)
            .send()
            .await
            .expect("a value"),
        401,
    )
    .await;
    let stale = app
        .as_admin(Method::POST, &restore)
        .header(header::IF_MATCH, "\"1\"")
        .send()
        .await
        .expect("a value");
    problem(stale, 412).await;
    let restored = app
        .as_admin(Method::POST, &restore)
        .header(header::IF_MATCH, "\"2\"")
        .send()
        .await
        .expect("a value");
    assert_eq!(
        restored
            .headers()
            .get(header::ETAG)
            .expect("a value")
            .to_str()
            .expect("a value"),
        "\"3\""
    );
    let restored = json(restored, 200).await;
    assert_eq!(restored["version"], 3);
    assert!(restored.get("deleted_at").is_none(), "{restored}");
    assert_eq!(restored["parties"][0]["partner_id"], partner);
    assert_eq!(restored["country_codes"], json!(["KZ", "KG"]));
    let again = problem(admin(&app, Method::POST, &restore).await, 409).await;
    assert!(
        again["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not deleted"),
        "{again}"
    );
    problem(
        admin(&app, Method::POST, "/api/v1/agreements/99999/restore").await,
        404,
    )
    .await;

    // Back in reads and in the relation filters.
    let read = json(app.get(&agreement_path).await, 200).await;
    assert_eq!(read, restored);
    let by_partner = json(
        app.get(&format!("/api/v1/agreements?partner={partner}"))
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&by_partner), vec![agreement]);
    let by_country = json(app.get("/api/v1/agreements?country=KG").await, 200).await;
    assert_eq!(ids(&by_country), vec![agreement]);

    // The event, whose agreement is back, comes back with its participants.
    let event = json(
        admin(&app, Method::POST, &format!("{event_path}/restore")).await,
        200,
    )
    .await;
    assert_eq!(event["participants"][0]["partner_id"], partner);
    let by_partner = json(
        app.get(&format!("/api/v1/events?partner={partner}")).await,
        200,
    )
    .await;
    assert_eq!(by_partner["items"].as_array().map(Vec::len), Some(1));

    // History: create, delete, restore, newest first.
    assert_eq!(
        actions(&app, &agreement_path).await,
        vec!["restore", "delete", "create"]
    );
}

async fn unique_values_hold_among_live_records_only(app: TestApp) {
    let first = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "UNDP", "kind": "multilateral",
                    "identifiers": [{"scheme": "wikidata", "value": "Q194108"}]}),
        )
        .await,
        201,
    )
    .await;
    let first_path = format!("/api/v1/partners/{}", first["id"]);
    assert_eq!(app.delete(&first_path, None).await.status(), 204);

    // The name and the identifier are free for another partner.
    let second = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "undp", "kind": "multilateral",
                    "identifiers": [{"scheme": "wikidata", "value": "Q194108"}]}),
        )
        .await,
        201,
    )
    .await;
    let found = json(
        app.get("/api/v1/partners?identifier=wikidata:Q194108")
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&found), vec![second["id"].as_i64().expect("a value")]);

    // So the first cannot come back while the second has them.
    let clash = problem(
        admin(&app, Method::POST, &format!("{first_path}/restore")).await,
        409,
    )
    .await;
    let detail = clash["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("partner {}", second["id"])),
        "{detail}"
    );
    assert!(detail.contains("name"), "{detail}");

    // Renamed, the second still holds the identifier.
    let second_path = format!("/api/v1/partners/{}", second["id"]);
    json(
        app.patch_json(&second_path, &json!({"name": "UNDP Kazakhstan"}), None)
            .await,
        200,
    )
    .await;
    let clash = problem(
        admin(&app, Method::POST, &format!("{first_path}/restore")).await,
        409,
    )
    .await;
    let detail = clash["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("wikidata:Q194108"), "{detail}");

    // Once it lets go, the first comes back with its name and identifier.
    json(
        app.patch_json(&second_path, &json!({"identifiers": []}), None)
            .await,
        200,
    )
    .await;
    let back = json(
        admin(&app, Method::POST, &format!("{first_path}/restore")).await,
        200,
    )
    .await;
    assert_eq!(back["name"], "UNDP");
    let found = json(
        app.get("/api/v1/partners?identifier=wikidata:Q194108")
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&found), vec![first["id"].as_i64().expect("a value")]);
    // Its name is unique again.
    let taken = problem(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Undp", "kind": "national_ngo"}),
        )
        .await,
        409,
    )
    .await;
    assert!(
        taken["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("name")
    );
}

async fn a_tombstone_holds_nothing_it_refers_to(app: TestApp) {
    let partner = create_partner(&app, "Civil Service Agency", "government", Some("KG")).await;
    let partner_path = format!("/api/v1/partners/{partner}");
    let agreement = create_agreement(
        &app,
        &json!({"title": "Exchange", "kind": "memorandum_of_understanding", "status": "draft",
                "parties": [{"partner_id": partner, "role": "signatory"}]}),
    )
    .await;
    let agreement_path = format!("/api/v1/agreements/{agreement}");

    // A live agreement still holds its party.
    let held = problem(app.delete(&partner_path, None).await, 409).await;
    assert!(
        held["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("agreement {agreement}")),
        "{held}"
    );
    // Its tombstone does not.
    assert_eq!(app.delete(&agreement_path, None).await.status(), 204);
    assert_eq!(app.delete(&partner_path, None).await.status(), 204);

    // The agreement cannot come back to a deleted party: the 409 names it.
    let refused = problem(
        admin(&app, Method::POST, &format!("{agreement_path}/restore")).await,
        409,
    )
    .await;
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!(
            "parties[0].partner_id: partner {partner} is deleted"
        )),
        "{detail}"
    );
    // Once the partner is back, it can.
    json(
        admin(&app, Method::POST, &format!("{partner_path}/restore")).await,
        200,
    )
    .await;
    let back = json(
        admin(&app, Method::POST, &format!("{agreement_path}/restore")).await,
        200,
    )
    .await;
    assert_eq!(back["parties"][0]["partner_id"], partner);
    // And the partner is held again.
    problem(app.delete(&partner_path, None).await, 409).await;
}

async fn a_purge_removes_for_good_and_a_restore_of_a_referrer_is_refused(app: TestApp) {
    let country = json!({"code": "XK", "alpha3": "XKX", "numeric": "983", "name": "Kosovo"});
    json(app.post_json("/api/v1/countries", &country).await, 201).await;
    let partner = create_partner(&app, "Kosovo Institute", "academic", Some("XK")).await;
    let partner_path = format!("/api/v1/partners/{partner}");

    // Only admins purge.
    let refused = problem(
        editor(&app, Method::DELETE, &format!("{partner_path}?purge=true")).await,
        403,
    )
    .await;
    assert_eq!(refused["code"], "forbidden");
    // A live referrer still prevents a purge.
    problem(
        admin(&app, Method::DELETE, "/api/v1/countries/XK?purge=true").await,
        409,
    )
    .await;

    // The partner is deleted; its tombstone lets the country be purged.
    assert_eq!(app.delete(&partner_path, None).await.status(), 204);
    assert_eq!(
        admin(&app, Method::DELETE, "/api/v1/countries/XK?purge=true")
            .await
            .status(),
        204
    );
    problem(
        admin(
            &app,
            Method::GET,
            "/api/v1/countries/XK?include_deleted=true",
        )
        .await,
        404,
    )
    .await;
    problem(
        admin(&app, Method::GET, "/api/v1/countries/XK/history").await,
        404,
    )
    .await;
    problem(
        admin(&app, Method::POST, "/api/v1/countries/XK/restore").await,
        404,
    )
    .await;
    // The purge is audited; its entries stay.
    let audit = json(
        admin(
            &app,
            Method::GET,
            "/api/v1/audit?resource_type=country&resource_id=XK",
        )
        .await,
        200,
    )
    .await;
    let logged: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().expect("a value"))
        .collect();
    assert!(
        logged.contains(&"purge") && logged.contains(&"create"),
        "{logged:?}"
    );

    // The partner's tombstone no longer refers to it, and cannot come back without it.
    let tombstone = json(
        admin(
            &app,
            Method::GET,
            &format!("{partner_path}?include_deleted=true"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(tombstone["country_code"], Value::Null);
    let refused = problem(
        admin(&app, Method::POST, &format!("{partner_path}/restore")).await,
        409,
    )
    .await;
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("country XK does not exist"), "{detail}");

    // Purged, the partner is gone for good, and its id is never given again.
    assert_eq!(
        admin(&app, Method::DELETE, &format!("{partner_path}?purge=true"))
            .await
            .status(),
        204
    );
    problem(
        admin(
            &app,
            Method::GET,
            &format!("{partner_path}?include_deleted=true"),
        )
        .await,
        404,
    )
    .await;
    problem(
        admin(&app, Method::GET, &format!("{partner_path}/history")).await,
        404,
    )
    .await;
    let next = create_partner(&app, "Kosovo Institute", "academic", None).await;
    assert!(next > partner, "{next} after {partner}");
    // A live record is purged directly too.
    assert_eq!(
        admin(
            &app,
            Method::DELETE,
            &format!("/api/v1/partners/{next}?purge=true")
        )
        .await
        .status(),
        204
    );
    problem(app.get(&format!("/api/v1/partners/{next}")).await, 404).await;
}

async fn a_deleted_country_keeps_its_code(app: TestApp) {
    let country = json!({"code": "XK", "alpha3": "XKX", "numeric": "983", "name": "Kosovo"});
    json(app.post_json("/api/v1/countries", &country).await, 201).await;
    assert_eq!(app.delete("/api/v1/countries/XK", None).await.status(), 204);
    problem(app.get("/api/v1/countries/XK").await, 404).await;
    let again = problem(app.post_json("/api/v1/countries", &country).await, 409).await;
    let detail = again["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("restore") && detail.contains("purge"),
        "{detail}"
    );
    let back = json(
        admin(&app, Method::POST, "/api/v1/countries/XK/restore").await,
        200,
    )
    .await;
    assert_eq!(back["name"], "Kosovo");
    assert_eq!(back["version"], 3);
    json(app.get("/api/v1/countries/XK").await, 200).await;
}

async fn writes_cannot_name_a_tombstone(app: TestApp) {
    let partner = create_partner(&app, "Deleted partner", "national_ngo", None).await;
    let agreement = create_agreement(
        &app,
        &json!({"title": "Deleted agreement", "kind": "other", "status": "draft"}),
    )
    .await;
    let country = json!({"code": "XK", "alpha3": "XKX", "numeric": "983", "name": "Kosovo"});
    json(app.post_json("/api/v1/countries", &country).await, 201).await;
    for path in [
        format!("/api/v1/partners/{partner}"),
        format!("/api/v1/agreements/{agreement}"),
        "/api/v1/countries/XK".to_owned(),
    ] {
        assert_eq!(app.delete(&path, None).await.status(), 204, "{path}");
    }

    // An event (whose create leaves missing references to the foreign keys) and an agreement
    // (checked in full) both refuse each, naming the field.
    let event = problem(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Forum", "kind": "forum", "starts_on": "2025-05-01",
                    "country_code": "XK", "agreement_id": agreement,
                    "participants": [{"partner_id": partner, "role": "host"}]}),
        )
        .await,
        422,
    )
    .await;
    let mut fields = error_fields(&event);
    fields.sort();
    assert_eq!(
        fields,
        vec!["agreement_id", "country_code", "participants[0].partner_id"]
    );
    let refused = problem(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "New", "kind": "other", "status": "draft",
                    "country_codes": ["XK"],
                    "parties": [{"partner_id": partner, "role": "signatory"}]}),
        )
        .await,
        422,
    )
    .await;
    let mut fields = error_fields(&refused);
    fields.sort();
    assert_eq!(fields, vec!["country_codes[0]", "parties[0].partner_id"]);

    // An import row naming a tombstone is an error of that row.
    let file = format!("{{\"id\":{partner},\"name\":\"Back\",\"kind\":\"ngo\"}}\n");
    let refused = problem(
        app.as_admin(Method::POST, "/api/v1/partners/import")
            .header(header::CONTENT_TYPE, "application/x-ndjson")
            .body(file)
            .send()
            .await
            .expect("a value"),
        422,
    )
    .await;
    let error = &refused["report"]["errors"][0];
    assert_eq!(error["line"], 1);
    assert_eq!(error["field"], "id");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("restore it or purge it"),
        "{error}"
    );
}

async fn deletes_and_restores_at_once_each_land_once(app: TestApp) {
    let partner = create_partner(&app, "Raced partner", "national_ngo", None).await;
    let path = format!("/api/v1/partners/{partner}");
    let statuses = |responses: Vec<Response>| {
        let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        statuses.sort_unstable();
        statuses
    };
    // Eight deletes at once: one keeps the tombstone, the others find nothing left to delete.
    let deletes = (0..8).map(|_| app.delete(&path, None));
    assert_eq!(
        statuses(join_all(deletes).await),
        [vec![204], vec![404; 7]].concat()
    );
    // Eight restores at once: one brings it back, the others find it is not deleted.
    let restore = format!("{path}/restore");
    let restores = (0..8).map(|_| admin(&app, Method::POST, &restore));
    assert_eq!(
        statuses(join_all(restores).await),
        [vec![200], vec![409; 7]].concat()
    );
    let partner = json(app.get(&path).await, 200).await;
    assert_eq!(
        partner["version"], 3,
        "one delete and one restore: {partner}"
    );
    assert_eq!(
        actions(&app, &path).await,
        vec!["restore", "delete", "create"]
    );
}
