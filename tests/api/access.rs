use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::agreements::create_agreement;
use crate::backend_tests;
use crate::helpers::{
    Backend, TestApp, TestDatabase, error_fields, header_of, json, problem, spawn_app,
    spawn_app_with,
};
use crate::partners::create_partner;

backend_tests!(
    every_write_needs_the_right_role,
    a_missing_or_bad_token_gets_401_with_www_authenticate,
    a_revoked_token_stops_working_at_once,
    reads_are_open_by_default_and_tokens_are_optional,
    every_kind_of_write_leaves_one_audit_entry_with_before_and_after,
    a_rejected_write_leaves_no_audit_entry,
    the_audit_log_filters_and_pages_and_is_for_admins_only,
    tokens_are_stored_only_as_hashes,
);

/// Who sends the request in the role matrix.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Nobody,
    Stranger,
    Editor,
    Admin,
}

impl Caller {
    fn authorize(self, app: &TestApp, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Caller::Nobody => request,
            Caller::Stranger => request.bearer_auth("coop_not-a-token-anyone-made"),
            Caller::Editor => request.bearer_auth(&app.editor_token),
            Caller::Admin => request.bearer_auth(&app.admin_token),
        }
    }
}

async fn every_write_needs_the_right_role(app: TestApp) {
    let partner = create_partner(&app, "P", "government", Some("KZ")).await;
    let agreement = create_agreement(
        &app,
        &json!({"title": "A", "kind": "grant", "status": "draft"}),
    )
    .await;
    let event = json(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "E", "kind": "meeting", "starts_on": "2024-01-01"}),
        )
        .await,
        201,
    )
    .await["id"]
        .clone();
    // (method, path, body, least role: true = admin, false = editor)
    let writes: Vec<(Method, String, Value, bool)> = vec![
        (
            Method::POST,
            "/api/v1/countries".into(),
            json!({"code": "XK", "alpha3": "XKX", "numeric": "983", "name": "Kosovo"}),
            true,
        ),
        (
            Method::PUT,
            "/api/v1/countries/XK".into(),
            json!({"alpha3": "XKX", "numeric": "983", "name": "Kosovo"}),
            true,
        ),
        (
            Method::PATCH,
            "/api/v1/countries/XK".into(),
            json!({"participant": true}),
            true,
        ),
        (
            Method::DELETE,
            "/api/v1/countries/XK".into(),
            Value::Null,
            true,
        ),
        (
            Method::POST,
            "/api/v1/partners".into(),
            json!({"name": "Q", "kind": "other"}),
            false,
        ),
        (
            Method::PUT,
            format!("/api/v1/partners/{partner}"),
            json!({"name": "P", "kind": "government"}),
            false,
        ),
        (
            Method::PATCH,
            format!("/api/v1/partners/{partner}"),
            json!({"acronym": "P"}),
            false,
        ),
        (
            Method::POST,
            "/api/v1/agreements".into(),
            json!({"title": "B", "kind": "grant", "status": "draft"}),
            false,
        ),
        (
            Method::PUT,
            format!("/api/v1/agreements/{agreement}"),
            json!({"title": "A", "kind": "grant", "status": "draft"}),
            false,
        ),
        (
            Method::PATCH,
            format!("/api/v1/agreements/{agreement}"),
            json!({"summary": "s"}),
            false,
        ),
        (
            Method::POST,
            "/api/v1/events".into(),
            json!({"title": "F", "kind": "forum", "starts_on": "2024-01-02"}),
            false,
        ),
        (
            Method::PUT,
            format!("/api/v1/events/{event}"),
            json!({"title": "E", "kind": "meeting", "starts_on": "2024-01-01"}),
            false,
        ),
        (
            Method::PATCH,
            format!("/api/v1/events/{event}"),
            json!({"city": "Almaty"}),
            false,
        ),
        (
            Method::DELETE,
            format!("/api/v1/events/{event}"),
            Value::Null,
            false,
        ),
        (
            Method::DELETE,
            format!("/api/v1/agreements/{agreement}"),
            Value::Null,
            false,
        ),
        (
            Method::DELETE,
            format!("/api/v1/partners/{partner}"),
            Value::Null,
            false,
        ),
    ];
    for (method, path, body, needs_admin) in writes {
        for caller in [
            Caller::Nobody,
            Caller::Stranger,
            Caller::Editor,
            Caller::Admin,
        ] {
            let allowed = matches!(caller, Caller::Admin)
                || (matches!(caller, Caller::Editor) && !needs_admin);
            // Only the admin actually performs each write once, after every refusal was checked.
            if allowed && !matches!(caller, Caller::Admin) {
                continue;
            }
            let mut request = caller.authorize(&app, app.request(method.clone(), &path));
            if !body.is_null() {
                request = request.json(&body);
            }
            let response = request.send().await.expect("answered");
            let status = response.status().as_u16();
            let expected = match caller {
                Caller::Nobody | Caller::Stranger => 401,
                Caller::Editor if needs_admin => 403,
                _ => 0,
            };
            if expected == 0 {
                assert!(
                    response.status().is_success(),
                    "{caller:?} {method} {path}: {status} {}",
                    response.text().await.unwrap_or_default()
                );
            } else {
                problem(response, expected).await;
            }
        }
        // The editor, where allowed, can do the same kind of write: check on a fresh record.
        if !needs_admin && method == Method::POST {
            let mut unique = body.clone();
            if unique.get("name").is_some() {
                unique["name"] = json!(format!(
                    "{} by editor",
                    unique["name"].as_str().unwrap_or_default()
                ));
            }
            let response = Caller::Editor
                .authorize(&app, app.request(Method::POST, &path))
                .json(&unique)
                .send()
                .await
                .expect("answered");
            assert_eq!(response.status(), 201, "editor {path}");
        }
    }
    let edited = app
        .request(Method::PATCH, "/api/v1/partners/999999")
        .bearer_auth(&app.editor_token)
        .json(&json!({}))
        .send()
        .await
        .expect("answered");
    problem(edited, 404).await;
}

async fn a_missing_or_bad_token_gets_401_with_www_authenticate(app: TestApp) {
    let body = json!({"name": "P", "kind": "other"});
    for authorization in [
        None,
        Some("Bearer"),
        Some("Bearer "),
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer coop_wrong"),
        Some("coop_wrong"),
    ] {
        let mut request = app.request(Method::POST, "/api/v1/partners").json(&body);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = request.send().await.expect("answered");
        let challenge = header_of(&response, "www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "{authorization:?}: {challenge}"
        );
        let problem = problem(response, 401).await;
        assert_eq!(problem["code"], "unauthorized");
        assert!(
            !problem.to_string().contains("coop_wrong"),
            "the token is not echoed"
        );
    }
    // An invalid body without a token is still a 401: access is checked first.
    let response = app
        .request(Method::POST, "/api/v1/partners")
        .header(header::CONTENT_TYPE, "application/json")
        .body("{")
        .send()
        .await
        .expect("answered");
    problem(response, 401).await;
    assert!(app.walk("/api/v1/partners?").await.is_empty());
}

async fn a_revoked_token_stops_working_at_once(app: TestApp) {
    let db = coop_registry::db::Db::new(&coop_registry::config::Settings::with_database(
        app.database.url(),
    ))
    .expect("the database opens");
    let token = {
        let mut conn = db.writer().get().expect("connection");
        coop_registry::auth::create_token(&mut conn, "temporary", coop_registry::auth::Role::Editor)
            .expect("token")
    };
    let body = json!({"name": "Before revocation", "kind": "other"});
    let ok = app
        .request(Method::POST, "/api/v1/partners")
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("answered");
    assert_eq!(ok.status(), 201);
    {
        let mut conn = db.writer().get().expect("connection");
        assert!(coop_registry::auth::revoke_token(&mut conn, "temporary").expect("revoke"));
    }
    let body = json!({"name": "After revocation", "kind": "other"});
    let refused = app
        .request(Method::POST, "/api/v1/partners")
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("answered");
    problem(refused, 401).await;
    let read = app
        .request(Method::GET, "/api/v1/partners")
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    problem(read, 401).await;
}

async fn reads_are_open_by_default_and_tokens_are_optional(app: TestApp) {
    assert_eq!(
        app.request(Method::GET, "/api/v1/countries/KZ")
            .send()
            .await
            .expect("answered")
            .status(),
        200
    );
    let with_token = app
        .request(Method::GET, "/api/v1/countries/KZ")
        .bearer_auth(&app.editor_token)
        .send()
        .await
        .expect("answered");
    assert_eq!(with_token.status(), 200);
}

async fn every_kind_of_write_leaves_one_audit_entry_with_before_and_after(app: TestApp) {
    let created = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "UNDP", "kind": "multilateral"}),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_i64().expect("id");
    let url = format!("/api/v1/partners/{id}");
    let patched = json(
        app.patch_json(&url, &json!({"acronym": "UNDP"}), None)
            .await,
        200,
    )
    .await;
    let replaced = json(
        app.put_json(
            &url,
            &json!({"name": "UNDP", "kind": "multilateral", "country_code": "US"}),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(app.delete(&url, None).await.status(), 204);
    json(
        app.patch_json("/api/v1/countries/KZ", &json!({"participant": true}), None)
            .await,
        200,
    )
    .await;

    let log = json(
        app.as_admin(Method::GET, "/api/v1/audit?resource_type=partner&sort=id")
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    let entries = log["items"].as_array().expect("items").clone();
    assert_eq!(entries.len(), 4, "{log}");
    let expect = [
        ("create", Value::Null, created.clone()),
        ("update", created.clone(), patched.clone()),
        ("update", patched.clone(), replaced.clone()),
        ("delete", replaced.clone(), Value::Null),
    ];
    for (entry, (action, before, after)) in entries.iter().zip(expect) {
        assert_eq!(entry["action"], action);
        assert_eq!(entry["actor"], "test-admin");
        assert_eq!(entry["resource_type"], "partner");
        assert_eq!(entry["resource_id"], id.to_string());
        assert_eq!(entry["before"], before, "{action}");
        if action == "delete" {
            // The tombstone: the record as it was, one version on, with when it was deleted.
            let tombstone = &entry["after"];
            assert_eq!(tombstone["name"], before["name"]);
            assert_eq!(
                tombstone["version"],
                before["version"].as_i64().expect("a version") + 1
            );
            assert!(tombstone["deleted_at"].is_string(), "{tombstone}");
        } else {
            assert_eq!(entry["after"], after, "{action}");
        }
        assert!(entry["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    let country = json(
        app.as_admin(
            Method::GET,
            "/api/v1/audit?resource_type=country&resource_id=KZ",
        )
        .send()
        .await
        .expect("answered"),
        200,
    )
    .await;
    assert_eq!(country["items"][0]["before"]["participant"], false);
    assert_eq!(country["items"][0]["after"]["participant"], true);

    let editor_write = app
        .request(Method::POST, "/api/v1/events")
        .bearer_auth(&app.editor_token)
        .json(&json!({"title": "E", "kind": "meeting", "starts_on": "2024-01-01"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(editor_write.status(), 201);
    let by_editor = json(
        app.as_admin(Method::GET, "/api/v1/audit?actor=test-editor")
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert_eq!(by_editor["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_editor["items"][0]["resource_type"], "event");
}

async fn a_rejected_write_leaves_no_audit_entry(app: TestApp) {
    let id = create_partner(&app, "P", "government", Some("KZ")).await;
    let url = format!("/api/v1/partners/{id}");
    problem(
        app.post_json("/api/v1/partners", &json!({"name": "", "kind": "other"}))
            .await,
        422,
    )
    .await;
    problem(
        app.post_json("/api/v1/partners", &json!({"name": "p", "kind": "other"}))
            .await,
        409,
    )
    .await;
    problem(
        app.patch_json(&url, &json!({"acronym": "X"}), Some("\"7\""))
            .await,
        412,
    )
    .await;
    problem(
        app.patch_json(&url, &json!({"country_code": "QQ"}), None)
            .await,
        422,
    )
    .await;
    problem(app.delete("/api/v1/countries/KZ", None).await, 409).await;
    let editor = app
        .request(Method::PATCH, "/api/v1/countries/KZ")
        .bearer_auth(&app.editor_token)
        .json(&json!({"participant": true}))
        .send()
        .await
        .expect("answered");
    problem(editor, 403).await;
    let log = json(
        app.as_admin(Method::GET, "/api/v1/audit?with_total=true")
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert_eq!(log["total"], 1, "only the successful create: {log}");
    assert_eq!(log["items"][0]["action"], "create");
}

async fn the_audit_log_filters_and_pages_and_is_for_admins_only(app: TestApp) {
    for i in 0..7 {
        create_partner(&app, &format!("Partner {i}"), "other", None).await;
    }
    json(
        app.patch_json("/api/v1/countries/GE", &json!({"participant": true}), None)
            .await,
        200,
    )
    .await;
    problem(app.get("/api/v1/audit").await, 401).await;
    let as_editor = app
        .request(Method::GET, "/api/v1/audit")
        .bearer_auth(&app.editor_token)
        .send()
        .await
        .expect("answered");
    problem(as_editor, 403).await;

    let mut ids = Vec::new();
    let mut next = "/api/v1/audit?limit=3".to_owned();
    loop {
        let page = json(
            app.as_admin(Method::GET, &next)
                .send()
                .await
                .expect("answered"),
            200,
        )
        .await;
        ids.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|e| e["id"].as_i64().unwrap_or_default()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("/api/v1/audit?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 8);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let get = |query: &str| {
        let request = app.as_admin(Method::GET, &format!("/api/v1/audit?{query}"));
        async move {
            json(request.send().await.expect("answered"), 200).await["items"]
                .as_array()
                .map(Vec::len)
                .unwrap_or_default()
        }
    };
    assert_eq!(get("action=create").await, 7);
    assert_eq!(get("action=update").await, 1);
    assert_eq!(get("action=delete").await, 0);
    assert_eq!(get("resource_type=country").await, 1);
    assert_eq!(get("actor=test-admin").await, 8);
    assert_eq!(get("actor=someone-else").await, 0);
    assert_eq!(
        get("from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z").await,
        8
    );
    assert_eq!(get("from=2999-01-01T00:00:00Z").await, 0);
    assert_eq!(get("to=2000-01-01T00:00:00Z").await, 0);
    let bad = app
        .as_admin(Method::GET, "/api/v1/audit?action=rename")
        .send()
        .await
        .expect("answered");
    assert_eq!(error_fields(&problem(bad, 400).await), ["action"]);
    let bad = app
        .as_admin(Method::GET, "/api/v1/audit?from=yesterday")
        .send()
        .await
        .expect("answered");
    assert_eq!(error_fields(&problem(bad, 400).await), ["from"]);
}

async fn tokens_are_stored_only_as_hashes(app: TestApp) {
    let db = coop_registry::db::Db::new(&coop_registry::config::Settings::with_database(
        app.database.url(),
    ))
    .expect("the database opens");
    let mut conn = db.writer().get().expect("connection");
    let tokens = coop_registry::auth::list_tokens(&mut conn).expect("tokens");
    let names: Vec<_> = tokens.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["admin", "test-admin", "test-editor"],
        "the first start made an admin token"
    );
    for token in [&app.admin_token, &app.editor_token] {
        assert!(token.len() >= 43, "256 bits or more, base64: {token}");
        for record in &tokens {
            assert_ne!(&record.token_hash, token);
            assert!(!record.token_hash.contains(token.as_str()));
        }
    }
    drop(conn);
    if let TestDatabase::Sqlite { url, .. } = &app.database {
        // The whole database, including its write-ahead log, never holds a token's text.
        for suffix in ["", "-wal"] {
            let bytes = std::fs::read(format!("{url}{suffix}")).unwrap_or_default();
            for token in [&app.admin_token, &app.editor_token] {
                assert!(
                    !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                    "token found in {url}{suffix}"
                );
            }
        }
    }
}

/// With READ_REQUIRES_TOKEN, reads need a valid token of any role.
async fn reads_can_require_a_token(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.read_requires_token = true).await;
    problem(app.get("/api/v1/countries").await, 401).await;
    problem(app.get("/api/v1/partners/1").await, 401).await;
    let read = app
        .request(Method::GET, "/api/v1/countries/KZ")
        .bearer_auth(&app.editor_token)
        .send()
        .await
        .expect("answered");
    assert_eq!(read.status(), 200);
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "operations endpoints stay open"
    );
    assert_eq!(app.get("/api-docs/openapi.json").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_can_require_a_token() {
    reads_can_require_a_token(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_reads_can_require_a_token() {
    reads_can_require_a_token(Backend::Postgres).await;
}

/// CORS answers only for the configured origins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_configured_origins() {
    let closed = spawn_app(Backend::Sqlite).await;
    let preflight = |app: &TestApp, origin: &str| {
        app.request(Method::OPTIONS, "/api/v1/partners")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            )
            .send()
    };
    let response = preflight(&closed, "https://app.example.org")
        .await
        .expect("answered");
    assert!(header_of(&response, "access-control-allow-origin").is_none());

    let open = spawn_app_with(Backend::Sqlite, |s| {
        s.cors_allowed_origins = vec!["https://app.example.org".into()]
    })
    .await;
    let response = preflight(&open, "https://app.example.org")
        .await
        .expect("answered");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        header_of(&response, "access-control-allow-origin").as_deref(),
        Some("https://app.example.org")
    );
    let other = preflight(&open, "https://evil.example.com")
        .await
        .expect("answered");
    assert!(header_of(&other, "access-control-allow-origin").is_none());
    let get = open
        .request(Method::GET, "/api/v1/countries/KZ")
        .header(header::ORIGIN, "https://app.example.org")
        .send()
        .await
        .expect("answered");
    let exposed = header_of(&get, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("link"),
        "{exposed}"
    );
}

/// `coop-registry token …` prints the token alone on stdout, lists without it, and revokes.
#[test]
fn the_token_commands_create_list_and_revoke() {
    let database = TestDatabase::create(Backend::Sqlite);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_coop-registry"))
            .args(["--database-url", database.url()])
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("the binary runs")
    };
    let created = run(&["token", "create", "--name", "ci", "--role", "editor"]);
    assert!(created.status.success());
    let stdout = String::from_utf8(created.stdout).expect("utf-8");
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the token: {stdout:?}");
    let token = lines[0];
    assert!(token.starts_with("coop_") && token.len() >= 48, "{token}");
    assert!(
        !run(&["token", "create", "--name", "ci", "--role", "admin"])
            .status
            .success(),
        "names are unique"
    );
    assert!(
        !run(&["token", "create", "--name", "x", "--role", "owner"])
            .status
            .success(),
        "roles are checked"
    );
    let listed = String::from_utf8(run(&["token", "list"]).stdout).expect("utf-8");
    assert!(
        listed.contains("ci") && listed.contains("editor"),
        "{listed}"
    );
    assert!(!listed.contains(token), "the list never shows the token");
    assert!(run(&["token", "revoke", "--name", "ci"]).status.success());
    assert!(
        !run(&["token", "revoke", "--name", "ci"]).status.success(),
        "already revoked"
    );
    let listed = String::from_utf8(run(&["token", "list"]).stdout).expect("utf-8");
    assert!(!listed.contains("ci "), "{listed}");
}
