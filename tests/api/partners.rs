use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, header_of, json, problem, sort_text};

backend_tests!(
    a_partner_goes_through_create_read_replace_patch_and_delete,
    partner_names_are_unique_ignoring_case_in_any_script,
    concurrent_creates_of_one_name_make_exactly_one_partner,
    every_partner_rule_is_checked_and_reported_at_once,
    partner_writes_honour_if_match,
    partners_filter_by_kind_country_and_q,
    every_partner_sort_walks_all_partners_in_order,
);

pub async fn create_partner(app: &TestApp, name: &str, kind: &str, country: Option<&str>) -> i64 {
    let body = json!({"name": name, "kind": kind, "country_code": country});
    let created = json(app.post_json("/api/v1/partners", &body).await, 201).await;
    created["id"].as_i64().expect("an id")
}

fn undp() -> Value {
    json!({"name": "United Nations Development Programme", "acronym": "UNDP", "kind": "multilateral",
           "country_code": "us", "website": "https://www.undp.org", "email": "info@undp.org",
           "description": "The UN's development agency."})
}

async fn a_partner_goes_through_create_read_replace_patch_and_delete(app: TestApp) {
    let response = app.post_json("/api/v1/partners", &undp()).await;
    let location = header_of(&response, "location").expect("Location");
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"1\""));
    let created = json(response, 201).await;
    let id = created["id"].as_i64().expect("id");
    assert_eq!(location, format!("/api/v1/partners/{id}"));
    assert_eq!(created["country_code"], "US");
    assert_eq!(created["kind"], "multilateral");
    assert_eq!(json(app.get(&location).await, 200).await, created);

    let replacement =
        json!({"name": "UNDP Kazakhstan", "kind": "multilateral", "country_code": "KZ"});
    let replaced = json(app.put_json(&location, &replacement, None).await, 200).await;
    assert_eq!(replaced["name"], "UNDP Kazakhstan");
    assert_eq!(
        replaced["acronym"],
        Value::Null,
        "fields left out are cleared"
    );
    assert_eq!(replaced["website"], Value::Null);
    assert_eq!(replaced["version"], 2);

    let patched = json(
        app.patch_json(
            &location,
            &json!({"acronym": "UNDP", "email": "kz@undp.org"}),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["acronym"], "UNDP");
    assert_eq!(patched["name"], "UNDP Kazakhstan");
    assert_eq!(patched["version"], 3);

    assert_eq!(app.delete(&location, None).await.status(), 204);
    problem(app.get(&location).await, 404).await;
    problem(app.patch_json(&location, &json!({}), None).await, 404).await;
    problem(app.get("/api/v1/partners/not-a-number").await, 400).await;
    problem(app.get("/api/v1/partners/99999999999999999999").await, 400).await;
}

async fn partner_names_are_unique_ignoring_case_in_any_script(app: TestApp) {
    create_partner(
        &app,
        "Министерство внутренних дел",
        "government",
        Some("KZ"),
    )
    .await;
    let clash = json!({"name": "  МИНИСТЕРСТВО ВНУТРЕННИХ ДЕЛ ", "kind": "government"});
    let body = problem(app.post_json("/api/v1/partners", &clash).await, 409).await;
    assert_eq!(body["code"], "conflict");
    let other = create_partner(&app, "행정안전부", "government", Some("KR")).await;
    let rename = json!({"name": "министерство внутренних дел"});
    problem(
        app.patch_json(&format!("/api/v1/partners/{other}"), &rename, None)
            .await,
        409,
    )
    .await;
    let renamed_self = json!({"name": "행정안전부 "});
    json(
        app.patch_json(&format!("/api/v1/partners/{other}"), &renamed_self, None)
            .await,
        200,
    )
    .await;
    let all = app.walk("/api/v1/partners?with_total=true").await;
    assert_eq!(all.len(), 2);
}

async fn concurrent_creates_of_one_name_make_exactly_one_partner(app: TestApp) {
    let body = json!({"name": "Astana Civil Service Hub", "kind": "multilateral"});
    let attempts = (0..20).map(|_| app.post_json("/api/v1/partners", &body));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.walk("/api/v1/partners?q=astana").await.len(), 1);
}

async fn every_partner_rule_is_checked_and_reported_at_once(app: TestApp) {
    // (body, status, fields reported)
    let cases: Vec<(Value, u16, Vec<&str>)> = vec![
        (json!({"name": "", "kind": "government"}), 422, vec!["name"]),
        (
            json!({"name": "n".repeat(201), "kind": "government"}),
            422,
            vec!["name"],
        ),
        (
            json!({"name": "A", "kind": "government", "acronym": "A".repeat(21)}),
            422,
            vec!["acronym"],
        ),
        (
            json!({"name": "A", "kind": "government", "country_code": "QQ"}),
            422,
            vec!["country_code"],
        ),
        (
            json!({"name": "A", "kind": "government", "country_code": "KAZ"}),
            422,
            vec!["country_code"],
        ),
        (
            json!({"name": "A", "kind": "government", "website": "ftp://x.org"}),
            422,
            vec!["website"],
        ),
        (
            json!({"name": "A", "kind": "government", "website": "undp.org"}),
            422,
            vec!["website"],
        ),
        (
            json!({"name": "A", "kind": "government", "email": "no-at-sign"}),
            422,
            vec!["email"],
        ),
        (
            json!({"name": "A", "kind": "government", "description": "d".repeat(5001)}),
            422,
            vec!["description"],
        ),
        (
            json!({"name": "A\u{0}B", "kind": "government"}),
            422,
            vec!["name"],
        ),
        (
            json!({"name": "", "kind": "government", "country_code": "QQ", "email": "x", "website": "y"}),
            422,
            vec!["name", "country_code", "website", "email"],
        ),
        (json!({"name": "A", "kind": "ministry"}), 422, vec!["kind"]),
        (json!({"name": "A"}), 422, vec!["kind"]),
        (json!({"name": 7, "kind": "government"}), 400, vec!["name"]),
        (
            json!({"name": "A", "kind": "government", "id": 4}),
            400,
            vec!["id"],
        ),
    ];
    for (body, status, fields) in cases {
        let problem = problem(app.post_json("/api/v1/partners", &body).await, status).await;
        let mut reported = error_fields(&problem);
        reported.sort();
        let mut expected: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        expected.sort();
        assert_eq!(reported, expected, "{body}");
    }
    assert!(
        app.walk("/api/v1/partners?").await.is_empty(),
        "nothing was stored"
    );
}

async fn partner_writes_honour_if_match(app: TestApp) {
    let id = create_partner(&app, "NIA", "public_sector", Some("KR")).await;
    let url = format!("/api/v1/partners/{id}");
    problem(
        app.patch_json(&url, &json!({"acronym": "NIA"}), Some("\"2\""))
            .await,
        412,
    )
    .await;
    problem(
        app.put_json(&url, &json!({"name": "X", "kind": "other"}), Some("\"0\""))
            .await,
        412,
    )
    .await;
    problem(app.delete(&url, Some("\"3\"")).await, 412).await;
    let unchanged = json(app.get(&url).await, 200).await;
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["name"], "NIA");
    let response = app
        .patch_json(&url, &json!({"acronym": "NIA"}), Some("\"1\""))
        .await;
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"2\""));
    let fresh = app
        .client
        .get(app.url(&url))
        .header("If-None-Match", "\"2\"")
        .send()
        .await
        .expect("answered");
    assert_eq!(fresh.status(), 304);
    assert_eq!(app.delete(&url, Some("\"2\"")).await.status(), 204);
}

async fn partners_filter_by_kind_country_and_q(app: TestApp) {
    let mois = create_partner(
        &app,
        "Ministry of the Interior and Safety",
        "government",
        Some("KR"),
    )
    .await;
    let nia = create_partner(
        &app,
        "National Information Society Agency",
        "public_sector",
        Some("KR"),
    )
    .await;
    let hub = create_partner(&app, "Astana Civil Service Hub", "multilateral", Some("KZ")).await;
    let ids = |items: Vec<Value>| {
        items
            .iter()
            .map(|p| p["id"].as_i64().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app.walk("/api/v1/partners?kind=government").await),
        [mois]
    );
    assert_eq!(
        ids(app.walk("/api/v1/partners?country=kr&sort=id").await),
        [mois, nia]
    );
    assert_eq!(
        ids(app
            .walk("/api/v1/partners?country=KR&kind=public_sector")
            .await),
        [nia]
    );
    assert_eq!(ids(app.walk("/api/v1/partners?q=SERVICE").await), [hub]);
    assert_eq!(
        ids(app.walk("/api/v1/partners?q=agency&country=KZ").await),
        Vec::<i64>::new()
    );
    json(
        app.patch_json(
            &format!("/api/v1/partners/{hub}"),
            &json!({"acronym": "ACSH", "description": "Хаб государственной службы"}),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ids(app.walk("/api/v1/partners?q=acsh").await), [hub]);
    assert_eq!(
        ids(app.walk("/api/v1/partners?q=%D0%A5%D0%90%D0%91").await),
        [hub],
        "ХАБ, upper-case Cyrillic"
    );
    problem(app.get("/api/v1/partners?kind=ministry").await, 400).await;
    problem(app.get("/api/v1/partners?sort=acronym").await, 400).await;
}

async fn every_partner_sort_walks_all_partners_in_order(app: TestApp) {
    for i in 0..23 {
        // Every third name repeats, so the tie-breaker matters.
        let name = format!("Partner {:02} {}", i % 8, "x".repeat(i / 8));
        create_partner(&app, &name, "other", None).await;
    }
    for field in ["name", "id", "created_at", "updated_at"] {
        for sort in [field.to_owned(), format!("-{field}")] {
            let items = app
                .walk(&format!("/api/v1/partners?limit=4&sort={sort}"))
                .await;
            assert_eq!(items.len(), 23, "sort={sort}");
            let keys: Vec<(String, i64)> = items
                .iter()
                .map(|p| (sort_text(&p[field]), p["id"].as_i64().unwrap_or_default()))
                .collect();
            let mut expected = keys.clone();
            expected.sort_by(|a, b| {
                if field == "id" {
                    a.1.cmp(&b.1)
                } else {
                    a.cmp(b)
                }
            });
            if sort.starts_with('-') {
                expected.reverse();
            }
            assert_eq!(keys, expected, "sort={sort}");
        }
    }
}
