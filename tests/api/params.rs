//! Query and path parameters are held to their schemas in the OpenAPI document, as bodies are:
//! what a schema allows is accepted, what it refuses is a 400 naming the parameter, and a
//! rule the service keeps that a schema can state is in the document.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, json, problem};
use crate::partners::create_partner;

backend_tests!(
    an_empty_cursor_is_no_cursor,
    a_cursor_with_characters_no_cursor_has_is_a_400_the_schema_states,
    an_id_written_with_a_fraction_of_zero_is_that_id,
    an_integer_query_parameter_written_as_a_float_is_taken_and_a_fraction_refused,
    an_integer_written_with_a_fraction_of_zero_in_a_body_is_that_integer,
    a_query_value_outside_its_enum_or_format_is_a_400_naming_it,
    country_codes_of_an_agreement_must_be_two_letters_as_the_schema_says,
    an_integer_beyond_int64_is_a_400_naming_the_parameter,
    nul_in_a_text_parameter_is_a_400_the_schema_states,
);

fn schema_of_parameter(document: &Value, path: &str, name: &str) -> Value {
    document["paths"][path]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["schema"].clone())
        .expect("the parameter is documented")
}

async fn an_empty_cursor_is_no_cursor(app: TestApp) {
    create_partner(&app, "Astana Civil Service Hub", "multilateral", None).await;
    let page = json(app.get("/api/v1/partners?cursor=&limit=5").await, 200).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
}

async fn a_cursor_with_characters_no_cursor_has_is_a_400_the_schema_states(app: TestApp) {
    let document = json(app.get("/api-docs/openapi.json").await, 200).await;
    let schema = schema_of_parameter(&document, "/api/v1/partners", "cursor");
    assert_eq!(schema["pattern"], "^[A-Za-z0-9_-]*$", "{schema}");
    assert_eq!(schema["maxLength"], 4096, "{schema}");
    let refused = problem(app.get("/api/v1/partners?cursor=a%20b").await, 400).await;
    assert_eq!(error_fields(&refused), ["cursor"], "{refused}");
    let long = "A".repeat(4097);
    let refused = problem(
        app.get(&format!("/api/v1/partners?cursor={long}")).await,
        400,
    )
    .await;
    assert_eq!(error_fields(&refused), ["cursor"], "{refused}");
}

async fn an_id_written_with_a_fraction_of_zero_is_that_id(app: TestApp) {
    let id = create_partner(&app, "Astana Civil Service Hub", "multilateral", None).await;
    let partner = json(app.get(&format!("/api/v1/partners/{id}.0")).await, 200).await;
    assert_eq!(partner["id"], id);
    let patched = app
        .patch_json(
            &format!("/api/v1/partners/{id}.0"),
            &json!({"acronym": "ACSH"}),
            None,
        )
        .await;
    assert_eq!(json(patched, 200).await["acronym"], "ACSH");
    let refused = problem(app.get(&format!("/api/v1/partners/{id}.5")).await, 400).await;
    assert_eq!(error_fields(&refused), ["id"], "{refused}");
}

async fn an_integer_query_parameter_written_as_a_float_is_taken_and_a_fraction_refused(
    app: TestApp,
) {
    for name in ["One", "Two", "Three"] {
        create_partner(&app, name, "multilateral", None).await;
    }
    let page = json(app.get("/api/v1/partners?limit=2.0").await, 200).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page}");
    let page = json(app.get("/api/v1/partners?limit=2e0").await, 200).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page}");
    let refused = problem(app.get("/api/v1/partners?limit=2.5").await, 400).await;
    assert_eq!(error_fields(&refused), ["limit"], "{refused}");
    let refused = problem(app.get("/api/v1/partners?limit=501").await, 400).await;
    assert_eq!(error_fields(&refused), ["limit"], "{refused}");
}

async fn an_integer_written_with_a_fraction_of_zero_in_a_body_is_that_integer(app: TestApp) {
    let partner = create_partner(&app, "Astana Civil Service Hub", "multilateral", None).await;
    let body = json!({"title": "Forum", "kind": "forum", "starts_on": "2025-10-06",
                      "participants": [{"partner_id": partner as f64, "role": "host"}]});
    let created = json(app.post_json("/api/v1/events", &body).await, 201).await;
    assert_eq!(
        created["participants"][0]["partner_id"], partner,
        "{created}"
    );
}

async fn a_query_value_outside_its_enum_or_format_is_a_400_naming_it(app: TestApp) {
    for (query, field) in [
        ("kind=embassy", "kind"),
        ("sort=size", "sort"),
        ("with_total=yes", "with_total"),
    ] {
        let refused = problem(app.get(&format!("/api/v1/partners?{query}")).await, 400).await;
        assert_eq!(error_fields(&refused), [field], "{query}: {refused}");
    }
    let refused = problem(app.get("/api/v1/events?from=2025-02-30").await, 400).await;
    assert_eq!(error_fields(&refused), ["from"], "{refused}");
    let refused = app
        .as_admin(Method::GET, "/api/v1/audit?from=yesterday")
        .send()
        .await
        .expect("answered");
    assert_eq!(error_fields(&problem(refused, 400).await), ["from"]);
}

async fn country_codes_of_an_agreement_must_be_two_letters_as_the_schema_says(app: TestApp) {
    let document = json(app.get("/api-docs/openapi.json").await, 200).await;
    let codes = &document["components"]["schemas"]["AgreementInput"]["properties"]["country_codes"];
    assert_eq!(codes["items"]["pattern"], "^[A-Za-z]{2}$", "{codes}");
    let body = json!({"title": "MOU", "kind": "memorandum_of_understanding", "status": "draft",
                      "country_codes": ["KZ1"]});
    let refused = problem(app.post_json("/api/v1/agreements", &body).await, 422).await;
    assert_eq!(error_fields(&refused), ["country_codes[0]"], "{refused}");
}

async fn an_integer_beyond_int64_is_a_400_naming_the_parameter(app: TestApp) {
    for value in [
        "-9223372036854775809",
        "9223372036854775808",
        "-9223372036854775809.0",
    ] {
        let refused = problem(
            app.get(&format!("/api/v1/agreements?partner={value}"))
                .await,
            400,
        )
        .await;
        assert_eq!(error_fields(&refused), ["partner"], "{value}: {refused}");
        let refused = problem(app.get(&format!("/api/v1/partners/{value}")).await, 400).await;
        assert_eq!(error_fields(&refused), ["id"], "{value}: {refused}");
    }
}

async fn nul_in_a_text_parameter_is_a_400_the_schema_states(app: TestApp) {
    let document = json(app.get("/api-docs/openapi.json").await, 200).await;
    let schema = schema_of_parameter(&document, "/api/v1/events", "q");
    assert_eq!(schema["pattern"], "^[^\\x00]*$", "{schema}");
    let refused = problem(app.get("/api/v1/events?q=a%00b").await, 400).await;
    assert_eq!(error_fields(&refused), ["q"], "{refused}");
    assert_eq!(
        refused["errors"][0]["message"],
        "must not contain NUL characters"
    );
}
