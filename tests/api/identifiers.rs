//! Partners' external identifiers: their rules, one holder per identifier, the `identifier=`
//! filter, and the schemes admins extend.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, json, problem};

backend_tests!(
    a_partner_keeps_its_identifiers_and_is_found_by_one,
    every_identifier_rule_is_checked_and_reported_at_once,
    an_identifier_belongs_to_one_partner,
    admins_add_change_and_remove_schemes,
);

fn undp(identifiers: Value) -> Value {
    json!({"name": "United Nations Development Programme", "kind": "multilateral",
           "identifiers": identifiers})
}

async fn a_partner_keeps_its_identifiers_and_is_found_by_one(app: TestApp) {
    let identifiers = json!([
        {"scheme": "iati-org", "value": " XM-DAC-41114 "},
        {"scheme": "xm-dac", "value": "41114"}
    ]);
    let created = json(
        app.post_json("/api/v1/partners", &undp(identifiers)).await,
        201,
    )
    .await;
    let id = created["id"].as_i64().expect("an id");
    let expected = json!([
        {"scheme": "iati-org", "value": "XM-DAC-41114"},
        {"scheme": "xm-dac", "value": "41114"}
    ]);
    assert_eq!(created["identifiers"], expected);
    let path = format!("/api/v1/partners/{id}");
    assert_eq!(
        json(app.get(&path).await, 200).await["identifiers"],
        expected
    );
    let other = json!({"name": "UNICEF", "kind": "multilateral"});
    let unicef = json(app.post_json("/api/v1/partners", &other).await, 201).await;
    assert_eq!(unicef["identifiers"], json!([]));

    for (query, found) in [
        ("iati-org:XM-DAC-41114", vec![id]),
        ("iati-org%3AXM-DAC-41114", vec![id]),
        ("xm-dac:41114", vec![id]),
        ("xm-dac:41122", vec![]),
        ("wikidata:41114", vec![]),
    ] {
        let page = json(
            app.get(&format!("/api/v1/partners?identifier={query}"))
                .await,
            200,
        )
        .await;
        let ids: Vec<i64> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["id"].as_i64().expect("an id"))
            .collect();
        assert_eq!(ids, found, "identifier={query}");
    }
    for bad in ["XM-DAC-41114", "iati-org:", ":x", "wikidata:%02%00%20"] {
        let refused = problem(
            app.get(&format!("/api/v1/partners?identifier={bad}")).await,
            400,
        )
        .await;
        assert_eq!(error_fields(&refused), ["identifier"], "{bad}: {refused}");
    }

    // A patch of another field keeps them; replacing the list changes it; null is refused.
    let patched = json(
        app.patch_json(&path, &json!({"acronym": "UNDP"}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(patched["identifiers"], expected);
    let one = json!([{"scheme": "wikidata", "value": "Q1"}]);
    let replaced = json(
        app.patch_json(&path, &json!({"identifiers": one}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(replaced["identifiers"], one);
    let page = json(
        app.get("/api/v1/partners?identifier=xm-dac:41114").await,
        200,
    )
    .await;
    assert_eq!(page["items"], json!([]));
    let cleared = json(
        app.patch_json(&path, &json!({"identifiers": []}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(cleared["identifiers"], json!([]));
}

async fn every_identifier_rule_is_checked_and_reported_at_once(app: TestApp) {
    let body = undp(json!([
        {"scheme": "no-such-scheme", "value": "1"},
        {"scheme": "wikidata", "value": "X42"},
        {"scheme": "kz-bin", "value": "12345"},
        {"scheme": "wikidata", "value": "  "},
        {"scheme": "ror", "value": "052gg0110"},
        {"scheme": "ror", "value": "052gg0110"}
    ]));
    let refused = problem(app.post_json("/api/v1/partners", &body).await, 422).await;
    let mut fields = error_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "identifiers[0].scheme",
            "identifiers[1].value",
            "identifiers[2].value",
            "identifiers[3].value",
            "identifiers[5]"
        ],
        "{refused}"
    );
    let message = |field: &str| {
        refused["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .find(|e| e["field"] == field)
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert!(message("identifiers[1].value").contains("Wikidata item"));
    assert!(message("identifiers[0].scheme").contains("no-such-scheme"));

    let many: Vec<Value> = (1..=21)
        .map(|i| json!({"scheme": "wikidata", "value": format!("Q{i}")}))
        .collect();
    let refused = problem(
        app.post_json("/api/v1/partners", &undp(json!(many))).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&refused), ["identifiers"]);

    // What the schema says: a missing value or a bad scheme code is a 422, a member the body
    // does not have or a wrong JSON type a 400, as for every body.
    for (identifiers, status, field) in [
        (json!([{"scheme": "wikidata"}]), 422, "identifiers[0].value"),
        (
            json!([{"scheme": "Wikidata", "value": "Q1"}]),
            422,
            "identifiers[0].scheme",
        ),
        (
            json!([{"scheme": "wikidata", "value": "Q1", "x": 1}]),
            400,
            "identifiers[0].x",
        ),
        (
            json!({"scheme": "wikidata", "value": "Q1"}),
            400,
            "identifiers",
        ),
    ] {
        let body = undp(identifiers.clone());
        let refused = problem(app.post_json("/api/v1/partners", &body).await, status).await;
        assert_eq!(error_fields(&refused), [field], "{identifiers}: {refused}");
    }
    assert_eq!(
        json(app.get("/api/v1/partners").await, 200).await["items"],
        json!([]),
        "nothing was written"
    );
}

async fn an_identifier_belongs_to_one_partner(app: TestApp) {
    let held = json!([{"scheme": "wikidata", "value": "Q7817"}]);
    let first = json(
        app.post_json("/api/v1/partners", &undp(held.clone())).await,
        201,
    )
    .await;
    let first_id = first["id"].as_i64().expect("an id");
    let second = json!({"name": "World Health Organization", "kind": "multilateral",
                        "identifiers": held});
    let refused = problem(app.post_json("/api/v1/partners", &second).await, 409).await;
    assert_eq!(
        refused["detail"],
        format!("partner {first_id} already holds the identifier wikidata:Q7817")
    );
    // Its own holder may keep it through a replace.
    let path = format!("/api/v1/partners/{first_id}");
    json(app.put_json(&path, &undp(held.clone()), None).await, 200).await;
    // Once the first lets it go (here: deleted), another may take it.
    assert_eq!(app.delete(&path, None).await.status(), 204);
    let taken = json(app.post_json("/api/v1/partners", &second).await, 201).await;
    assert_eq!(taken["identifiers"], held);
}

async fn admins_add_change_and_remove_schemes(app: TestApp) {
    let listed = json(app.get("/api/v1/identifier-schemes").await, 200).await;
    let codes: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["code"].as_str())
        .collect();
    for code in [
        "iati-org", "xm-dac", "wikidata", "ror", "lei", "kz-bin", "kg-inn", "uz-inn", "kr-brn",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(codes, sorted);

    let path = "/api/v1/identifier-schemes/tj-inn";
    let scheme = json!({"name": "Tajikistan taxpayer number", "pattern": "^[0-9]{9}$"});
    let as_editor = app
        .request(Method::PUT, path)
        .bearer_auth(&app.editor_token)
        .json(&scheme)
        .send()
        .await
        .expect("answered");
    problem(as_editor, 403).await;
    let created = json(app.put_json(path, &scheme, None).await, 201).await;
    assert_eq!(
        created,
        json!({"code": "tj-inn", "name": "Tajikistan taxpayer number",
               "pattern": "^[0-9]{9}$", "description": null})
    );
    let body = undp(json!([{"scheme": "tj-inn", "value": "12345"}]));
    let refused = problem(app.post_json("/api/v1/partners", &body).await, 422).await;
    assert_eq!(error_fields(&refused), ["identifiers[0].value"]);
    let partner = json(
        app.post_json(
            "/api/v1/partners",
            &undp(json!([{"scheme": "tj-inn", "value": "123456789"}])),
        )
        .await,
        201,
    )
    .await;

    let changed = json!({"name": "Tajikistan INN", "description": "Any value."});
    let replaced = json(app.put_json(path, &changed, None).await, 200).await;
    assert_eq!(replaced["pattern"], Value::Null);
    assert_eq!(replaced["description"], "Any value.");
    for (bad, status, field) in [
        (json!({"name": "X", "pattern": "("}), 422, "pattern"),
        (json!({"name": " "}), 422, "name"),
        (json!({"name": "X", "other": 1}), 400, "other"),
    ] {
        let refused = problem(app.put_json(path, &bad, None).await, status).await;
        assert!(
            error_fields(&refused).iter().any(|f| f.contains(field)),
            "{bad}: {refused}"
        );
    }
    let bad_code = problem(
        app.put_json("/api/v1/identifier-schemes/Bad_Code", &scheme, None)
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&bad_code), ["code"]);

    let in_use = problem(app.delete(path, None).await, 409).await;
    assert_eq!(
        in_use["detail"],
        format!(
            "partner {} holds an identifier of the scheme \"tj-inn\"",
            partner["id"]
        )
    );
    let partner_path = format!("/api/v1/partners/{}", partner["id"]);
    json(
        app.patch_json(&partner_path, &json!({"identifiers": []}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(app.delete(path, None).await.status(), 204);
    problem(app.delete(path, None).await, 404).await;
    let gone = undp(json!([{"scheme": "tj-inn", "value": "123456789"}]));
    let refused = problem(app.put_json(&partner_path, &gone, None).await, 422).await;
    assert_eq!(error_fields(&refused), ["identifiers[0].scheme"]);
}
