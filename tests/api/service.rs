use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, header_of, json, problem, spawn_app};

backend_tests!(
    healthz_answers_ok,
    readyz_answers_ready_while_the_database_answers,
    metrics_count_requests_by_route_and_status_and_report_the_pool,
    swagger_ui_is_served_from_the_binary_and_the_root_redirects_there,
    an_unknown_route_returns_404_problem,
    a_wrong_method_returns_405_problem,
    request_ids_are_echoed_or_generated,
    nul_characters_in_parameters_get_4xx_never_500,
);

/// Found by schemathesis: PostgreSQL refuses text with NUL, which once surfaced as a 500.
async fn nul_characters_in_parameters_get_4xx_never_500(app: TestApp) {
    for path in [
        "/api/v1/countries?q=a%00b",
        "/api/v1/partners?country=%C2%95%00",
        "/api/v1/agreements?country=%00&active_on=2024-06-24",
        "/api/v1/events?q=%00",
    ] {
        let body = problem(app.get(path).await, 400).await;
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{path}");
    }
    problem(app.get("/api/v1/countries/%00").await, 404).await;
    problem(app.get("/api/v1/countries/K%00").await, 404).await;
    problem(
        app.patch_json("/api/v1/countries/%00Z", &json!({}), None)
            .await,
        404,
    )
    .await;
}

async fn healthz_answers_ok(app: TestApp) {
    assert_eq!(
        json(app.get("/healthz").await, 200).await,
        json!({"status": "ok"})
    );
}

async fn readyz_answers_ready_while_the_database_answers(app: TestApp) {
    assert_eq!(
        json(app.get("/readyz").await, 200).await,
        json!({"status": "ready"})
    );
}

async fn metrics_count_requests_by_route_and_status_and_report_the_pool(app: TestApp) {
    json(app.get("/api/v1/countries/KZ").await, 200).await;
    problem(app.get("/api/v1/countries/QQ").await, 404).await;
    problem(app.get("/no/such/page").await, 404).await;
    let refused = app
        .request(Method::POST, "/api/v1/events")
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    problem(refused, 401).await;
    app.get("/swagger-ui/").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    let line = |needle: &str| {
        text.lines()
            .any(|l| l.starts_with("coop_registry_http_requests_total") && l.contains(needle))
    };
    assert!(
        line(r#"endpoint="/api/v1/countries/{code}""#) && line(r#"status="200""#),
        "{text}"
    );
    assert!(line(r#"status="404""#), "{text}");
    // Paths no route matches share one label, so that clients cannot grow the label set; a
    // refused request is counted under the route it was refused on. Swagger UI's files are
    // not counted.
    assert!(
        line(r#"endpoint="UNMATCHED",method="GET",status="404""#),
        "{text}"
    );
    assert!(
        line(r#"endpoint="/api/v1/events",method="POST",status="401""#),
        "{text}"
    );
    assert!(!text.contains("swagger-ui"), "{text}");
    assert!(
        text.contains("coop_registry_http_requests_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"coop_registry_db_pool_connections{pool="read",state="max"} 4"#),
        "{text}"
    );
}

async fn swagger_ui_is_served_from_the_binary_and_the_root_redirects_there(app: TestApp) {
    let root = app.get("/").await;
    assert_eq!(root.status(), 302);
    assert_eq!(
        header_of(&root, "location").as_deref(),
        Some("/swagger-ui/")
    );
    let page = app.get("/swagger-ui/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("swagger-ui"));
    let config = app.get("/swagger-ui/swagger-initializer.js").await;
    assert_eq!(config.status(), 200);
    assert!(
        config
            .text()
            .await
            .expect("js")
            .contains("/api-docs/openapi.json")
    );
    let doc = json(app.get("/api-docs/openapi.json").await, 200).await;
    assert!(doc["paths"]["/api/v1/countries"]["get"].is_object());
}

async fn an_unknown_route_returns_404_problem(app: TestApp) {
    problem(app.get("/api/v1/nothing-here").await, 404).await;
    problem(app.get("/api/v2/countries").await, 404).await;
}

async fn a_wrong_method_returns_405_problem(app: TestApp) {
    let body = problem(
        app.as_admin(Method::DELETE, "/api/v1/countries")
            .send()
            .await
            .expect("answered"),
        405,
    )
    .await;
    assert_eq!(body["code"], "method_not_allowed");
    problem(
        app.as_admin(Method::POST, "/api/v1/countries/KZ")
            .send()
            .await
            .expect("answered"),
        405,
    )
    .await;
    problem(
        app.request(Method::POST, "/healthz")
            .send()
            .await
            .expect("answered"),
        405,
    )
    .await;
}

async fn request_ids_are_echoed_or_generated(app: TestApp) {
    let echoed = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        header_of(&echoed, "x-request-id").as_deref(),
        Some("abc-123")
    );
    let generated = app.get("/healthz").await;
    let id = header_of(&generated, "x-request-id").expect("an id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let unsafe_id = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "a b\tc")
        .send()
        .await
        .expect("answered");
    assert_ne!(
        header_of(&unsafe_id, "x-request-id").as_deref(),
        Some("a b\tc")
    );
}

/// With the database gone, readiness fails with 503 problem+json within bounded time, and API
/// calls answer 503 too, not 500 and not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn readyz_answers_503_when_the_database_is_gone() {
    let app = spawn_app(Backend::Postgres).await;
    json(app.get("/readyz").await, 200).await;
    app.database.drop_now();
    let started = std::time::Instant::now();
    let body: Value = problem(app.get("/readyz").await, 503).await;
    assert_eq!(body["code"], "service_unavailable");
    problem(app.get("/api/v1/countries/KZ").await, 503).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
