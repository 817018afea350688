//! What an attacker or a careless client probes: spellings of a path that might slip past the
//! access rules, forged cursors, made-up methods and parameters, refused requests that must
//! still be logged, HEAD, and the headers an auditor checks.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coop_registry::auth::{self, Access, Role};
use coop_registry::config::Settings;
use coop_registry::db::Db;
use reqwest::{Method, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend_tests;
use crate::helpers::{
    Backend, TestApp, header_of, json, make_token, problem, spawn_app, spawn_app_with,
};

backend_tests!(
    no_spelling_of_a_path_gets_past_its_route_access,
    forged_cursors_are_invalid_cursors_on_every_list,
    metrics_labels_come_from_a_closed_set,
    refused_requests_are_answered_with_a_request_id_and_counted,
    head_answers_wherever_get_does_and_405_lists_the_methods,
    unknown_or_repeated_query_parameters_are_refused_after_access,
    every_answer_says_nosniff_and_authenticated_reads_are_private,
    two_authorization_headers_are_refused,
);

/// One raw HTTP/1.1 exchange, so that the path goes out exactly as written (an HTTP client
/// library would resolve `/./` and may normalise other spellings first).
async fn raw(app: &TestApp, request: &str) -> (u16, String) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

/// A request as the matrix sends it: writes carry a body and an `If-Match` that matches no
/// version, so that a caller who is let in gets a 4xx from the handler and nothing changes.
fn matrix_request(method: &str, path: &str, token: Option<&str>) -> String {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if method != "GET" {
        let body = "{}";
        request.push_str(&format!(
            "If-Match: \"999999\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    request
}

/// Other spellings of `path`: each either reaches the same route (and its gate) or nothing.
fn path_variants(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let last = segments.len() - 1;
    // The last segment made of letters: `audit`, `countries`, `healthz`.
    let word = segments
        .iter()
        .rposition(|s| s.chars().all(|c| c.is_ascii_lowercase()))
        .unwrap_or(last);
    let rebuilt = |f: &dyn Fn(usize, &str) -> String| {
        let parts: Vec<String> = segments.iter().enumerate().map(|(i, s)| f(i, s)).collect();
        format!("/{}", parts.join("/"))
    };
    let percent = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let mut variants = vec![
        // One letter percent-encoded, upper- and lower-case hex.
        rebuilt(&|i, s| {
            if i == word {
                format!("%{:02x}{}", s.as_bytes()[0], &s[1..])
            } else {
                s.to_owned()
            }
        }),
        // The last letter encoded.
        rebuilt(&|i, s| {
            if i == word {
                let cut = s.len() - 1;
                format!("{}%{:02X}", &s[..cut], s.as_bytes()[cut])
            } else {
                s.to_owned()
            }
        }),
        // Every letter of the segment encoded.
        rebuilt(&|i, s| if i == word { percent(s) } else { s.to_owned() }),
        // Every segment encoded.
        rebuilt(&|_, s| percent(s)),
        // An encoded slash in place of one between segments.
        path.replacen('/', "%2F", 2).replacen("%2F", "/", 1),
        // Doubled slashes.
        format!("/{path}"),
        path.replacen('/', "//", 2).replacen("//", "/", 1),
        rebuilt(&|i, s| {
            if i == word {
                format!("/{s}")
            } else {
                s.to_owned()
            }
        }),
        // A trailing slash.
        format!("{path}/"),
        // Dot segments.
        rebuilt(&|i, s| {
            if i == word {
                format!("./{s}")
            } else {
                s.to_owned()
            }
        }),
        rebuilt(&|i, s| {
            if i == word {
                format!("x/../{s}")
            } else {
                s.to_owned()
            }
        }),
        // Case.
        path.to_uppercase(),
        rebuilt(&|i, s| {
            if i == word {
                let mut c = s.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            } else {
                s.to_owned()
            }
        }),
    ];
    variants.retain(|v| v != path);
    variants.sort();
    variants.dedup();
    variants
}

/// Every registered route × every caller × every spelling of its path: the answer is the
/// canonical path's, or a refusal before any handler: 404, or 400 or 405 when the spelling is
/// another route's key (`/partners/Export` is the `{id}` route's, and not an id; that route may
/// not take the method). Never a success the caller's role does not allow. The routes come
/// from the service's own route table, so routes added later are covered too.
async fn no_spelling_of_a_path_gets_past_its_route_access(app: TestApp) {
    let closed = spawn_app_with(backend_of(&app), |s| s.read_requires_token = true).await;
    for (app, reads_closed) in [(&app, false), (&closed, true)] {
        let revoked = make_token(app.database.url(), "revoked", Role::Admin);
        let db = Db::new(&Settings::with_database(app.database.url())).expect("the database");
        let mut conn = db.writer().get().expect("a connection");
        assert!(auth::revoke_token(&mut conn, "revoked").expect("revoked"));
        let keys = seed_one_of_each(app).await;
        let callers: [(&str, Option<&str>, Option<Role>); 4] = [
            ("nobody", None, None),
            ("editor", Some(&app.editor_token), Some(Role::Editor)),
            ("admin", Some(&app.admin_token), Some(Role::Admin)),
            ("revoked", Some(&revoked), None),
        ];
        let routes = coop_registry::route_table();
        assert!(routes.len() >= 28, "the route table lists {}", routes.len());
        let mut checked = 0;
        for route in &routes {
            let path = fill(&route.pattern, &keys);
            for (name, token, role) in callers {
                let (canonical, _) =
                    raw(app, &matrix_request(route.method.as_str(), &path, token)).await;
                let allowed = match (route.access, role) {
                    (Access::Public, _) => true,
                    (Access::Read, Some(_)) => true,
                    (Access::Read, None) => token.is_none() && !reads_closed,
                    (Access::Role(needed), Some(has)) => has.covers(needed),
                    (Access::Role(_), None) => false,
                };
                if !allowed {
                    assert!(
                        matches!(canonical, 401 | 403),
                        "{} {path} as {name}: {canonical}, expected 401 or 403",
                        route.method
                    );
                }
                for variant in path_variants(&path) {
                    let (status, answer) =
                        raw(app, &matrix_request(route.method.as_str(), &variant, token)).await;
                    assert!(
                        status == canonical || matches!(status, 400 | 404 | 405),
                        "{} {variant} as {name}: {status}, but {path} answers {canonical}\n{answer}",
                        route.method
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 28 * 4 * 8, "only {checked} requests were checked");
    }
}

fn backend_of(app: &TestApp) -> Backend {
    if app.database.url().starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Makes a partner, an agreement and an event; the keys that fill each route's pattern.
async fn seed_one_of_each(app: &TestApp) -> BTreeMap<&'static str, String> {
    let partner = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Matrix partner", "kind": "government", "country_code": "KZ"}),
        )
        .await,
        201,
    )
    .await;
    let agreement = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Matrix agreement", "kind": "grant", "status": "draft"}),
        )
        .await,
        201,
    )
    .await;
    let event = json(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Matrix event", "kind": "meeting", "starts_on": "2024-01-01"}),
        )
        .await,
        201,
    )
    .await;
    // Inactive, on a public address: nothing is sent anywhere.
    let webhook = json(
        app.post_json(
            "/api/v1/webhooks",
            &json!({"url": "https://93.184.215.14/matrix", "active": false}),
        )
        .await,
        201,
    )
    .await;
    BTreeMap::from([
        ("webhooks", webhook["id"].to_string()),
        ("deliveries", "1".to_owned()),
        ("partners", partner["id"].to_string()),
        ("agreements", agreement["id"].to_string()),
        ("events", event["id"].to_string()),
        ("countries", "KZ".to_owned()),
        ("history", "1".to_owned()),
        ("identifier-schemes", "iati-org".to_owned()),
    ])
}

/// The route's pattern with its key filled in from the record of its resource.
/// Each `{key}` is the key of the collection named just before it (`/webhooks/{id}`,
/// `/deliveries/{delivery_id}`).
fn fill(pattern: &str, keys: &BTreeMap<&'static str, String>) -> String {
    let mut filled = Vec::new();
    let mut previous = "";
    for segment in pattern.split('/') {
        if segment.starts_with('{') {
            let key = keys
                .get(previous)
                .unwrap_or_else(|| panic!("no record to fill {pattern}"));
            filled.push(key.clone());
        } else {
            filled.push(segment.to_owned());
        }
        previous = segment;
    }
    filled.join("/")
}

/// A cursor whose position the database cannot compare is a 400 `invalid_cursor`, never a 500.
async fn forged_cursors_are_invalid_cursors_on_every_list(app: TestApp) {
    let forge = |sort: &str, key: Value| {
        URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&json!({"s": sort, "k": key, "i": 1})).expect("JSON"))
    };
    let cases = [
        ("partners", "name", json!("\u{0}")),
        ("agreements", "title", json!("a\u{0}b")),
        ("events", "title", json!("\u{0}")),
        ("events", "starts_on", json!("0000-01-01")),
        ("countries", "name", json!("\u{0}")),
        ("partners", "created_at", json!("+99999-01-01T00:00:00")),
        ("partners", "name", json!(17)),
        ("audit", "at", json!({"nested": true})),
    ];
    for (list, sort, key) in cases {
        let cursor = forge(sort, key.clone());
        let response = app
            .as_admin(
                Method::GET,
                &format!("/api/v1/{list}?sort={sort}&cursor={cursor}"),
            )
            .send()
            .await
            .expect("answered");
        let body = problem(response, 400).await;
        assert_eq!(body["code"], "invalid_cursor", "{list} {sort} {key}");
        assert_eq!(body["errors"][0]["field"], "cursor");
    }
    // A cursor made for another sort is refused the same way.
    let cursor = forge("-name", json!("A"));
    let body = problem(
        app.get(&format!("/api/v1/partners?sort=name&cursor={cursor}"))
            .await,
        400,
    )
    .await;
    assert_eq!(body["code"], "invalid_cursor");
}

/// The `/metrics` text, and the lines of one counter.
async fn metrics(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

/// Made-up methods and paths cannot add series to `/metrics`.
async fn metrics_labels_come_from_a_closed_set(app: TestApp) {
    for i in 0..40 {
        let method = Method::from_bytes(format!("XRT{i:04}").as_bytes()).expect("a method");
        let response = app
            .request(method, "/api/v1/partners")
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 405);
        let response = app.get(&format!("/api/v1/no-such-thing-{i}")).await;
        assert_eq!(response.status(), 404);
    }
    let text = metrics(&app).await;
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("coop_registry_http_requests_total{"))
        .collect();
    assert!(!text.contains("XRT0"), "a made-up method became a label");
    assert!(
        !text.contains("no-such-thing"),
        "a made-up path became a label"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains("method=\"OTHER\"") && l.contains("status=\"405\"")),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains("endpoint=\"UNMATCHED\"") && l.contains("status=\"404\"")),
        "{series:#?}"
    );
    assert!(series.len() < 10, "{series:#?}");
}

/// A 401 or 403 is an answer like any other: it carries the request id, is counted under its
/// route, and (see the access log) is logged.
async fn refused_requests_are_answered_with_a_request_id_and_counted(app: TestApp) {
    let refused = app
        .request(Method::GET, "/api/v1/audit")
        .header("X-Request-Id", "probe-401")
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        header_of(&refused, "x-request-id").as_deref(),
        Some("probe-401")
    );
    let forbidden = app
        .request(Method::DELETE, "/api/v1/countries/KZ")
        .bearer_auth(&app.editor_token)
        .send()
        .await
        .expect("answered");
    assert_eq!(forbidden.status(), 403);
    let id = header_of(&forbidden, "x-request-id").expect("a generated request id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let text = metrics(&app).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("coop_registry_http_requests_total{")
                && l.contains("endpoint=\"/api/v1/audit\"")
                && l.contains("status=\"401\""))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("coop_registry_http_requests_total{")
                && l.contains("endpoint=\"/api/v1/countries/{code}\"")
                && l.contains("method=\"DELETE\"")
                && l.contains("status=\"403\""))
    );
    assert!(!text.contains("UNKNOWN"));
}

/// HEAD is GET without the body, everywhere; a 405 says in `Allow` what the path takes, and
/// comes before any question of tokens.
async fn head_answers_wherever_get_does_and_405_lists_the_methods(app: TestApp) {
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/countries/KZ",
        "/api/v1/countries?limit=2",
        "/api-docs/openapi.json",
        "/swagger-ui/",
    ] {
        let get = app.get(path).await;
        let head = app
            .request(Method::HEAD, path)
            .send()
            .await
            .expect("answered");
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(
            header_of(&head, "content-type"),
            header_of(&get, "content-type"),
            "HEAD {path}"
        );
        assert_eq!(
            header_of(&head, "etag"),
            header_of(&get, "etag"),
            "HEAD {path}"
        );
        assert!(head.bytes().await.expect("body").is_empty(), "HEAD {path}");
    }
    let (status, answer) = raw(
        &app,
        "HEAD /api/v1/countries/KZ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        answer.ends_with("\r\n\r\n"),
        "a HEAD answer has no body: {answer}"
    );

    let put = app
        .request(Method::PUT, "/api/v1/partners")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        put.status(),
        405,
        "a wrong method is 405 even without a token"
    );
    assert_eq!(header_of(&put, "allow").as_deref(), Some("GET, HEAD, POST"));
    assert_eq!(problem(put, 405).await["code"], "method_not_allowed");
    let post = app
        .request(Method::POST, "/api/v1/countries/KZ")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        header_of(&post, "allow").as_deref(),
        Some("GET, HEAD, PUT, PATCH, DELETE")
    );
    let post = app
        .request(Method::POST, "/healthz")
        .send()
        .await
        .expect("answered");
    assert_eq!(post.status(), 405);
    assert_eq!(header_of(&post, "allow").as_deref(), Some("GET, HEAD"));
}

/// A typo in a parameter name is a 400 naming it, not a silently unfiltered list; but only for
/// a caller who may use the operation at all.
async fn unknown_or_repeated_query_parameters_are_refused_after_access(app: TestApp) {
    let body = problem(app.get("/api/v1/agreements?partner_id=999").await, 400).await;
    assert_eq!(body["code"], "unknown_parameter");
    assert_eq!(body["errors"][0]["field"], "partner_id");
    let message = body["errors"][0]["message"].as_str().expect("a message");
    for accepted in ["`partner`", "`limit`", "`cursor`", "`sort`"] {
        assert!(message.contains(accepted), "{message}");
    }
    let body = problem(app.get("/api/v1/partners/1?verbose=true").await, 400).await;
    assert_eq!(body["code"], "unknown_parameter");
    let body = problem(app.get("/api/v1/partners?limit=2&limit=3").await, 400).await;
    assert_eq!(body["errors"][0]["field"], "limit");
    // Without a token, the audit log says 401 whatever the parameters.
    problem(app.get("/api/v1/audit?no_such=1").await, 401).await;
    let write = app
        .request(Method::POST, "/api/v1/partners?dry_run=true")
        .json(&json!({"name": "Typo Agency", "kind": "government"}))
        .send()
        .await
        .expect("answered");
    problem(write, 401).await;
    let write = app
        .as_admin(Method::POST, "/api/v1/partners?dry_run=true")
        .json(&json!({"name": "Typo Agency", "kind": "government"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(problem(write, 400).await["code"], "unknown_parameter");
    let listed = json(app.get("/api/v1/partners?q=Typo").await, 200).await;
    assert_eq!(
        listed["items"],
        json!([]),
        "the refused create stored nothing"
    );
    // The operations endpoints take no parameters either.
    problem(app.get("/healthz?verbose=1").await, 400).await;
}

/// Every answer carries `nosniff`; an authenticated read is private to the client, the audit
/// log is not kept at all.
async fn every_answer_says_nosniff_and_authenticated_reads_are_private(app: TestApp) {
    let answers = [
        app.get("/api/v1/countries/KZ").await,
        app.get("/api/v1/no-such").await,
        app.get("/api/v1/audit").await,
        app.get("/healthz").await,
        app.request(Method::PUT, "/healthz")
            .send()
            .await
            .expect("answered"),
    ];
    for answer in &answers {
        assert_eq!(
            header_of(answer, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{}",
            answer.url()
        );
    }
    assert_eq!(header_of(&answers[0], "cache-control"), None);
    let private = app
        .as_admin(Method::GET, "/api/v1/countries/KZ")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        header_of(&private, "cache-control").as_deref(),
        Some("private, no-cache")
    );
    let etag = header_of(&private, "etag").expect("an ETag");
    let revalidated = app
        .as_admin(Method::GET, "/api/v1/countries/KZ")
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("answered");
    assert_eq!(revalidated.status(), 304, "revalidation still works");
    let audit = app
        .as_admin(Method::GET, "/api/v1/audit")
        .send()
        .await
        .expect("answered");
    assert_eq!(audit.status(), 200);
    assert_eq!(
        header_of(&audit, "cache-control").as_deref(),
        Some("no-store")
    );
}

/// With two `Authorization` headers nobody can say which one was meant: 400.
async fn two_authorization_headers_are_refused(app: TestApp) {
    let request = format!(
        "GET /api/v1/audit HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nAuthorization: Bearer {}\r\n\r\n",
        app.admin_token, app.editor_token
    );
    let (status, answer) = raw(&app, &request).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("Authorization"), "{answer}");
    let request = format!(
        "DELETE /api/v1/countries/KZ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nAuthorization: Bearer {}\r\n\r\n",
        app.editor_token, app.admin_token
    );
    assert_eq!(raw(&app, &request).await.0, 400);
    assert_eq!(app.get("/api/v1/countries/KZ").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_route_table_and_document_agree() {
    let app = spawn_app(Backend::Sqlite).await;
    let document: Value = json(app.get("/api-docs/openapi.json").await, 200).await;
    let mut documented = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    let mut registered: Vec<String> = coop_registry::route_table()
        .iter()
        .map(|r| format!("{} {}", r.method, r.pattern))
        .collect();
    documented.sort();
    registered.sort();
    assert_eq!(
        registered, documented,
        "every route is documented, and only those"
    );
}

/// A body that does not arrive within `BODY_TIMEOUT_SECS` is answered 408 and nothing is stored.
async fn a_body_that_arrives_too_slowly_is_cut_off(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.body_timeout_secs = 1).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let head = format!(
        "POST /api/v1/partners HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\": \"Slow",
        app.editor_token
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "the service closed the connection after answering"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(answer.to_lowercase().contains("x-request-id:"), "{answer}");
    let listed = json(app.get("/api/v1/partners?q=Slow").await, 200).await;
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_body_that_arrives_too_slowly_is_cut_off() {
    a_body_that_arrives_too_slowly_is_cut_off(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_a_body_that_arrives_too_slowly_is_cut_off() {
    a_body_that_arrives_too_slowly_is_cut_off(Backend::Postgres).await;
}
