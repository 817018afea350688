//! How every body is checked: wrong JSON types and unknown fields are a 400 naming each; any
//! other broken rule (enum, date, required, length, pattern, reference) is a 422 naming each.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, json, problem};
use crate::partners::create_partner;

backend_tests!(
    a_kind_outside_the_list_is_a_422_naming_it,
    a_date_that_does_not_exist_or_is_not_written_yyyy_mm_dd_is_a_422,
    an_empty_partner_is_a_422_naming_every_required_field,
    every_broken_rule_of_a_body_is_listed_at_once,
    every_wrong_json_type_and_unknown_field_is_a_400_naming_each,
    blank_optional_text_is_a_422_not_null,
    urls_with_line_breaks_or_spaces_are_refused_and_not_stored,
    single_line_text_refuses_control_characters,
    multi_line_text_keeps_line_feeds_and_tabs,
    a_merge_patch_is_checked_like_a_whole_body,
    text_patterns_in_the_schema_are_the_validators_own,
    a_merge_patch_member_that_is_no_field_is_a_400_even_when_null,
    a_country_to_create_needs_its_code_as_the_document_says,
);

/// Checks a problem's status, code and the fields its `errors` name (in any order).
async fn refused(response: reqwest::Response, status: u16, code: &str, fields: &[&str]) -> Value {
    let problem = problem(response, status).await;
    assert_eq!(problem["code"], code, "{problem}");
    let mut named = error_fields(&problem);
    named.sort();
    named.dedup();
    let mut expected: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    expected.sort();
    assert_eq!(named, expected, "{problem}");
    problem
}

fn agreement() -> Value {
    json!({"title": "MOU on digital government", "kind": "memorandum_of_understanding",
           "status": "signed", "signed_on": "2024-06-03", "starts_on": "2024-06-03"})
}

fn event() -> Value {
    json!({"title": "Forum", "kind": "forum", "starts_on": "2024-06-24"})
}

fn with(mut base: Value, changes: Value) -> Value {
    json_patch::merge(&mut base, &changes);
    base
}

async fn a_kind_outside_the_list_is_a_422_naming_it(app: TestApp) {
    let body = json!({"name": "Ministry of Digital Development", "kind": "ministry"});
    let problem = refused(
        app.post_json("/api/v1/partners", &body).await,
        422,
        "validation_failed",
        &["kind"],
    )
    .await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("government")),
        "the message lists the allowed values: {problem}"
    );
}

async fn a_date_that_does_not_exist_or_is_not_written_yyyy_mm_dd_is_a_422(app: TestApp) {
    let cases = [
        (
            "/api/v1/agreements",
            with(agreement(), json!({"signed_on": "2021-02-30"})),
            "signed_on",
        ),
        (
            "/api/v1/agreements",
            with(agreement(), json!({"ends_on": "2024-6-26"})),
            "ends_on",
        ),
        (
            "/api/v1/events",
            with(event(), json!({"ends_on": "2024-6-26"})),
            "ends_on",
        ),
        (
            "/api/v1/events",
            with(event(), json!({"starts_on": "24 June 2024"})),
            "starts_on",
        ),
    ];
    for (path, body, field) in cases {
        refused(
            app.post_json(path, &body).await,
            422,
            "validation_failed",
            &[field],
        )
        .await;
    }
    assert!(app.walk("/api/v1/agreements?").await.is_empty());
    assert!(app.walk("/api/v1/events?").await.is_empty());
}

async fn an_empty_partner_is_a_422_naming_every_required_field(app: TestApp) {
    let problem = refused(
        app.post_json("/api/v1/partners", &json!({})).await,
        422,
        "validation_failed",
        &["name", "kind"],
    )
    .await;
    assert_eq!(problem["errors"][0]["message"], "is required");
}

async fn every_broken_rule_of_a_body_is_listed_at_once(app: TestApp) {
    let body = json!({"name": "", "kind": "spaceship", "country_code": "XX", "email": "nope"});
    refused(
        app.post_json("/api/v1/partners", &body).await,
        422,
        "validation_failed",
        &["name", "kind", "country_code", "email"],
    )
    .await;
    // Schema rules, the resource's rules and references together, in a nested list too.
    let body = with(
        agreement(),
        json!({"title": " ", "status": "pending", "country_codes": ["QQ"],
               "parties": [{"partner_id": 999_999, "role": "boss"}]}),
    );
    refused(
        app.post_json("/api/v1/agreements", &body).await,
        422,
        "validation_failed",
        &[
            "title",
            "status",
            // The unknown status reads as the first one (draft) for the other rules, and a
            // draft carries no signature date.
            "signed_on",
            "country_codes[0]",
            "parties[0].role",
            "parties[0].partner_id",
        ],
    )
    .await;
    assert!(app.walk("/api/v1/partners?").await.is_empty());
}

async fn every_wrong_json_type_and_unknown_field_is_a_400_naming_each(app: TestApp) {
    let cases = [
        (json!({"name": 5, "kind": true}), vec!["name", "kind"]),
        (
            json!({"name": "A", "kind": "government", "id": 4, "colour": "red"}),
            vec!["id", "colour"],
        ),
        // Types first: the unknown kind is not reported until the types are right.
        (json!({"name": ["A"], "kind": "ministry"}), vec!["name"]),
    ];
    for (body, fields) in cases {
        refused(
            app.post_json("/api/v1/partners", &body).await,
            400,
            "bad_request",
            &fields,
        )
        .await;
    }
    let body = with(
        agreement(),
        json!({"parties": [{"partner_id": "one", "role": 1}], "country_codes": "KZ"}),
    );
    refused(
        app.post_json("/api/v1/agreements", &body).await,
        400,
        "bad_request",
        &["parties[0].partner_id", "parties[0].role", "country_codes"],
    )
    .await;
}

async fn blank_optional_text_is_a_422_not_null(app: TestApp) {
    for field in ["website", "email", "acronym", "description"] {
        let mut body = json!({"name": "Astana Civil Service Hub", "kind": "multilateral"});
        body[field] = json!("  ");
        refused(
            app.post_json("/api/v1/partners", &body).await,
            422,
            "validation_failed",
            &[field],
        )
        .await;
        body[field] = json!("");
        refused(
            app.post_json("/api/v1/partners", &body).await,
            422,
            "validation_failed",
            &[field],
        )
        .await;
    }
    // null is how a field is cleared.
    let body = json!({"name": "Astana Civil Service Hub", "kind": "multilateral",
                      "website": null, "email": null});
    json(app.post_json("/api/v1/partners", &body).await, 201).await;
}

async fn urls_with_line_breaks_or_spaces_are_refused_and_not_stored(app: TestApp) {
    for website in [
        "https://example.org/a\r\nSet-Cookie: x=1",
        "https://example.org/a b",
        "https://example.org/\u{1b}[31m",
        " https://example.org/ ",
        "ftp://example.org/",
    ] {
        let body = json!({"name": "Example", "kind": "other", "website": website});
        refused(
            app.post_json("/api/v1/partners", &body).await,
            422,
            "validation_failed",
            &["website"],
        )
        .await;
    }
    assert!(
        app.walk("/api/v1/partners?").await.is_empty(),
        "nothing stored"
    );
    let body = with(event(), json!({"url": "https://example.org/\nx"}));
    refused(
        app.post_json("/api/v1/events", &body).await,
        422,
        "validation_failed",
        &["url"],
    )
    .await;
    let body = with(
        agreement(),
        json!({"document_url": "https://example.org/ x"}),
    );
    refused(
        app.post_json("/api/v1/agreements", &body).await,
        422,
        "validation_failed",
        &["document_url"],
    )
    .await;
    assert!(app.walk("/api/v1/events?").await.is_empty());
    assert!(app.walk("/api/v1/agreements?").await.is_empty());
}

async fn single_line_text_refuses_control_characters(app: TestApp) {
    for name in [
        "Astana\tHub",
        "Astana\nHub",
        "Astana\u{1b}Hub",
        "Astana\u{85}Hub",
    ] {
        let body = json!({"name": name, "kind": "multilateral", "acronym": "AC\rSH"});
        refused(
            app.post_json("/api/v1/partners", &body).await,
            422,
            "validation_failed",
            &["name", "acronym"],
        )
        .await;
    }
    let body = with(
        event(),
        json!({"title": "A\nB", "city": "Astana\t", "venue": "Hall\u{7}"}),
    );
    refused(
        app.post_json("/api/v1/events", &body).await,
        422,
        "validation_failed",
        &["title", "city", "venue"],
    )
    .await;
    let country = json!({"code": "XK", "alpha3": "XKX", "numeric": "983", "name": "Kosovo",
                         "region": "Europe\r\n", "subregion": "Southern\u{0}Europe"});
    refused(
        app.post_json("/api/v1/countries", &country).await,
        422,
        "validation_failed",
        &["region", "subregion"],
    )
    .await;
}

async fn multi_line_text_keeps_line_feeds_and_tabs(app: TestApp) {
    let description = "Lines:\n\t- one\r\n\t- two";
    let body = json!({"name": "Astana Civil Service Hub", "kind": "multilateral",
                      "description": description});
    let created = json(app.post_json("/api/v1/partners", &body).await, 201).await;
    assert_eq!(created["description"], description);
    let id = created["id"].as_i64().expect("id");
    let read = json(app.get(&format!("/api/v1/partners/{id}")).await, 200).await;
    assert_eq!(read["description"], description);
    for bad in ["bell\u{7}", "lone\rreturn", "escape\u{1b}[0m"] {
        let body = json!({"name": "Another", "kind": "other", "description": bad});
        refused(
            app.post_json("/api/v1/partners", &body).await,
            422,
            "validation_failed",
            &["description"],
        )
        .await;
    }
}

async fn a_merge_patch_is_checked_like_a_whole_body(app: TestApp) {
    let id = create_partner(&app, "NIA", "public_sector", Some("KR")).await;
    let path = format!("/api/v1/partners/{id}");
    let cases = [
        (
            json!({"kind": "ministry"}),
            422,
            "validation_failed",
            vec!["kind"],
        ),
        (json!({"kind": 5}), 400, "bad_request", vec!["kind"]),
        (
            json!({"name": null}),
            422,
            "validation_failed",
            vec!["name"],
        ),
        (
            json!({"website": ""}),
            422,
            "validation_failed",
            vec!["website"],
        ),
        (
            json!({"name": "N\tIA", "country_code": "XX"}),
            422,
            "validation_failed",
            vec!["name", "country_code"],
        ),
        (json!({"colour": "red"}), 400, "bad_request", vec!["colour"]),
    ];
    for (patch, status, code, fields) in cases {
        refused(
            app.patch_json(&path, &patch, None).await,
            status,
            code,
            &fields,
        )
        .await;
    }
    let unchanged = json(app.get(&path).await, 200).await;
    assert_eq!(unchanged["version"], 1, "nothing was changed");
    let patched = json(
        app.patch_json(&path, &json!({"website": null}), None).await,
        200,
    )
    .await;
    assert_eq!(patched["website"], Value::Null);
}

/// Every text field of every input schema uses one of the Validator's patterns, so that the
/// document says what the service enforces.
async fn text_patterns_in_the_schema_are_the_validators_own(app: TestApp) {
    use coop_registry::validation::{HTTP_URL, MULTI_LINE, SINGLE_LINE};
    let document = json(app.get("/api-docs/openapi.json").await, 200).await;
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let mut text_fields = 0;
    for (name, schema) in schemas.iter().filter(|(name, _)| name.ends_with("Input")) {
        for (field, property) in schema["properties"].as_object().expect("properties") {
            let is_text = property["type"] == "string"
                || property["type"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("string")));
            if !is_text {
                continue;
            }
            text_fields += 1;
            let pattern = property["pattern"].as_str().unwrap_or_default();
            let is_code = pattern.starts_with("^[A-Za-z]{") || pattern.starts_with("^[0-9]{");
            let is_date = property["format"] == "date";
            assert!(
                is_code || is_date || [SINGLE_LINE, MULTI_LINE, HTTP_URL].contains(&pattern),
                "{name}.{field} has no text pattern: {property}"
            );
        }
    }
    assert!(text_fields > 15, "{text_fields} text fields");
}

async fn a_merge_patch_member_that_is_no_field_is_a_400_even_when_null(app: TestApp) {
    let id = create_partner(&app, "Astana Civil Service Hub", "multilateral", None).await;
    let path = format!("/api/v1/partners/{id}");
    for patch in [
        json!({"": null}),
        json!({"nickname": "hub", "acronym": "ACSH"}),
    ] {
        let response = app.patch_json(&path, &patch, None).await;
        let fields = if patch.get("").is_some() {
            vec![""]
        } else {
            vec!["nickname"]
        };
        refused(response, 400, "bad_request", &fields).await;
    }
    let partner = json(app.get(&path).await, 200).await;
    assert_eq!(partner["acronym"], Value::Null, "{partner}");
}

async fn a_country_to_create_needs_its_code_as_the_document_says(app: TestApp) {
    let document = json(app.get("/api-docs/openapi.json").await, 200).await;
    let create = &document["components"]["schemas"]["CountryCreate"];
    assert!(
        create["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("code"))),
        "{create}"
    );
    assert_eq!(create["properties"]["code"]["type"], "string", "{create}");
    let kosovo = json!({"alpha3": "XKX", "numeric": "983", "name": "Kosovo"});
    for code in [None, Some(Value::Null)] {
        let mut body = kosovo.clone();
        if let Some(code) = code {
            body["code"] = code;
        }
        let response = app.post_json("/api/v1/countries", &body).await;
        refused(response, 422, "validation_failed", &["code"]).await;
    }
}
