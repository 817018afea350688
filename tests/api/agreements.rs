use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, header_of, json, problem, sort_text};
use crate::partners::create_partner;

backend_tests!(
    an_agreement_is_stored_with_its_parties_and_countries,
    put_and_patch_replace_relations_as_a_whole,
    every_agreement_rule_is_checked_and_reported_at_once,
    agreement_writes_honour_if_match,
    agreements_filter_by_every_parameter,
    every_agreement_sort_walks_all_agreements_in_order,
    deleting_an_agreement_takes_its_links_and_frees_its_partners,
);

pub async fn create_agreement(app: &TestApp, body: &Value) -> i64 {
    let created = json(app.post_json("/api/v1/agreements", body).await, 201).await;
    created["id"].as_i64().expect("an id")
}

fn mou(parties: &[(i64, &str)], countries: &[&str]) -> Value {
    json!({
        "title": "MOU on personnel administration", "kind": "memorandum_of_understanding",
        "status": "signed", "signed_on": "2024-06-03", "starts_on": "2024-06-03",
        "parties": parties.iter().map(|(id, role)| json!({"partner_id": id, "role": role})).collect::<Vec<_>>(),
        "country_codes": countries,
    })
}

async fn an_agreement_is_stored_with_its_parties_and_countries(app: TestApp) {
    let kz = create_partner(
        &app,
        "Agency for Civil Service Affairs",
        "government",
        Some("KZ"),
    )
    .await;
    let kr = create_partner(
        &app,
        "Ministry of Personnel Management",
        "government",
        Some("KR"),
    )
    .await;
    let response = app
        .post_json(
            "/api/v1/agreements",
            &mou(&[(kz, "signatory"), (kr, "signatory")], &["kz", "KR"]),
        )
        .await;
    let location = header_of(&response, "location").expect("Location");
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"1\""));
    let created = json(response, 201).await;
    assert_eq!(
        created["parties"],
        json!([{"partner_id": kz, "role": "signatory"}, {"partner_id": kr, "role": "signatory"}])
    );
    assert_eq!(created["country_codes"], json!(["KZ", "KR"]));
    assert_eq!(created["status"], "signed");
    assert_eq!(created["ends_on"], Value::Null);
    assert_eq!(json(app.get(&location).await, 200).await, created);
    let listed = json(app.get("/api/v1/agreements").await, 200).await;
    assert_eq!(listed["items"][0], created);
}

async fn put_and_patch_replace_relations_as_a_whole(app: TestApp) {
    let a = create_partner(&app, "A", "government", None).await;
    let b = create_partner(&app, "B", "government", None).await;
    let c = create_partner(&app, "C", "foundation", None).await;
    let id = create_agreement(
        &app,
        &mou(&[(a, "signatory"), (b, "signatory")], &["KZ", "KG", "TJ"]),
    )
    .await;
    let url = format!("/api/v1/agreements/{id}");

    let patch = json!({"parties": [{"partner_id": c, "role": "funding"}], "status": "active",
                       "entered_into_force_on": "2024-07-01"});
    let patched = json(app.patch_json(&url, &patch, Some("\"1\"")).await, 200).await;
    assert_eq!(
        patched["parties"],
        json!([{"partner_id": c, "role": "funding"}])
    );
    assert_eq!(
        patched["country_codes"],
        json!(["KZ", "KG", "TJ"]),
        "lists not in the patch stay"
    );
    assert_eq!(patched["version"], 2);

    let patched = json(
        app.patch_json(&url, &json!({"country_codes": ["UZ"]}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(patched["country_codes"], json!(["UZ"]));
    let patched = json(
        app.patch_json(&url, &json!({"country_codes": null, "parties": []}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(patched["country_codes"], json!([]));
    assert_eq!(patched["parties"], json!([]));

    let mut full = mou(&[(b, "implementing"), (a, "observer")], &["GE", "AM"]);
    full["title"] = json!("Renewed MOU");
    let replaced = json(app.put_json(&url, &full, None).await, 200).await;
    assert_eq!(
        replaced["parties"],
        json!([{"partner_id": b, "role": "implementing"}, {"partner_id": a, "role": "observer"}])
    );
    assert_eq!(replaced["country_codes"], json!(["GE", "AM"]));
    assert_eq!(replaced["version"], 5);
    assert_eq!(
        json(app.get(&url).await, 200).await,
        replaced,
        "the answer is what is stored"
    );
    // Partner a is no longer only in an old link: the list filter sees the new relations.
    let by_partner = app.walk(&format!("/api/v1/agreements?partner={c}")).await;
    assert!(by_partner.is_empty(), "replaced parties are gone");
}

async fn every_agreement_rule_is_checked_and_reported_at_once(app: TestApp) {
    let p = create_partner(&app, "P", "government", None).await;
    let base = mou(&[(p, "signatory")], &["KZ"]);
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, u16, Vec<&str>)> = vec![
        (with(json!({"title": ""})), 422, vec!["title"]),
        (with(json!({"title": "t".repeat(301)})), 422, vec!["title"]),
        (with(json!({"signed_on": null})), 422, vec!["signed_on"]),
        (
            with(
                json!({"status": "active", "signed_on": null, "entered_into_force_on": "2024-07-01"}),
            ),
            422,
            vec!["signed_on"],
        ),
        (
            with(json!({"status": "expired", "signed_on": null, "expires_on": "2024-07-01"})),
            422,
            vec!["signed_on"],
        ),
        (
            with(json!({"status": "terminated", "signed_on": null})),
            422,
            vec!["signed_on"],
        ),
        (
            with(json!({"starts_on": "2024-06-03", "ends_on": "2024-06-02"})),
            422,
            vec!["ends_on"],
        ),
        (
            with(json!({"summary": "s".repeat(10_001)})),
            422,
            vec!["summary"],
        ),
        (
            with(json!({"document_url": "file:///etc/passwd"})),
            422,
            vec!["document_url"],
        ),
        (
            with(
                json!({"parties": [{"partner_id": p, "role": "signatory"}, {"partner_id": p, "role": "funding"}]}),
            ),
            422,
            vec!["parties[1].partner_id"],
        ),
        (
            with(json!({"parties": [{"partner_id": 999_999, "role": "signatory"}]})),
            422,
            vec!["parties[0].partner_id"],
        ),
        (
            with(json!({"country_codes": ["KZ", "kz"]})),
            422,
            vec!["country_codes[1]"],
        ),
        (
            with(json!({"country_codes": ["QQ"]})),
            422,
            vec!["country_codes[0]"],
        ),
        (
            with(json!({"country_codes": ["KAZ"]})),
            422,
            vec!["country_codes[0]"],
        ),
        (
            with(
                json!({"title": "", "signed_on": null, "country_codes": ["QQ"], "parties": [{"partner_id": 999_999, "role": "funding"}]}),
            ),
            422,
            vec![
                "title",
                "signed_on",
                "parties[0].partner_id",
                "country_codes[0]",
            ],
        ),
        (with(json!({"kind": "treaty"})), 422, vec!["kind"]),
        // An unknown status reads as the first one (draft) for the other rules, and a draft
        // carries no signature date.
        (
            with(json!({"status": "pending"})),
            422,
            vec!["status", "signed_on"],
        ),
        (
            with(json!({"status": "pending", "signed_on": null})),
            422,
            vec!["status"],
        ),
        (
            with(json!({"parties": [{"partner_id": p, "role": "boss"}]})),
            422,
            vec!["parties[0].role"],
        ),
        (
            with(json!({"parties": [{"partner_id": "one", "role": "funding"}]})),
            400,
            vec!["parties[0].partner_id"],
        ),
        (
            with(json!({"parties": [{"partner_id": p, "role": "funding", "share": 1}]})),
            400,
            vec!["parties[0].share"],
        ),
        (
            with(json!({"country_codes": "KZ"})),
            400,
            vec!["country_codes"],
        ),
        (
            with(json!({"signed_on": "2024-13-01"})),
            422,
            vec!["signed_on"],
        ),
    ];
    for (body, status, fields) in cases {
        let problem = problem(app.post_json("/api/v1/agreements", &body).await, status).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    assert!(
        app.walk("/api/v1/agreements?").await.is_empty(),
        "nothing was stored"
    );
    let draft = with(json!({"status": "draft", "signed_on": null}));
    create_agreement(&app, &draft).await;
}

async fn agreement_writes_honour_if_match(app: TestApp) {
    let id = create_agreement(&app, &mou(&[], &["KZ"])).await;
    let url = format!("/api/v1/agreements/{id}");
    problem(
        app.patch_json(&url, &json!({"country_codes": ["KR"]}), Some("\"9\""))
            .await,
        412,
    )
    .await;
    problem(
        app.put_json(&url, &mou(&[], &["KR"]), Some("\"2\"")).await,
        412,
    )
    .await;
    problem(app.delete(&url, Some("\"2\"")).await, 412).await;
    let unchanged = json(app.get(&url).await, 200).await;
    assert_eq!(unchanged["country_codes"], json!(["KZ"]));
    assert_eq!(unchanged["version"], 1);
    let response = app.put_json(&url, &mou(&[], &["KR"]), Some("\"1\"")).await;
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"2\""));
    let fresh = app
        .client
        .get(app.url(&url))
        .header("If-None-Match", "W/\"2\"")
        .send()
        .await
        .expect("answered");
    assert_eq!(fresh.status(), 304);
}

async fn agreements_filter_by_every_parameter(app: TestApp) {
    let hub = create_partner(&app, "Astana Civil Service Hub", "multilateral", Some("KZ")).await;
    let undp = create_partner(&app, "UNDP", "multilateral", Some("US")).await;
    let project = create_agreement(&app, &json!({
        "title": "Regional project on digital government", "kind": "joint_project", "status": "expired",
        "signed_on": "2021-03-01", "starts_on": "2021-03-01", "ends_on": "2023-12-31", "expires_on": "2023-12-31",
        "summary": "Цифровое правительство для семи стран",
        "parties": [{"partner_id": hub, "role": "coordinating"}, {"partner_id": undp, "role": "implementing"}],
        "country_codes": ["KZ", "KG", "TJ", "UZ", "AZ", "AM", "GE"]})).await;
    let mou = create_agreement(&app, &json!({
        "title": "MOU on personnel administration", "kind": "memorandum_of_understanding", "status": "active",
        "signed_on": "2024-06-03", "starts_on": "2024-06-03", "entered_into_force_on": "2024-06-03",
        "parties": [{"partner_id": hub, "role": "observer"}], "country_codes": ["KZ", "KR"]})).await;
    let draft = create_agreement(
        &app,
        &json!({
        "title": "Framework on e-learning", "kind": "framework_agreement", "status": "draft",
        "country_codes": ["KR"]}),
    )
    .await;
    let ids = |items: Vec<Value>| {
        items
            .iter()
            .map(|a| a["id"].as_i64().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let cases: Vec<(String, Vec<i64>)> = vec![
        ("status=expired".to_owned(), vec![project]),
        ("status=draft".to_owned(), vec![draft]),
        ("kind=memorandum_of_understanding".to_owned(), vec![mou]),
        (format!("partner={undp}"), vec![project]),
        (format!("partner={hub}"), vec![project, mou]),
        ("partner=999999".to_owned(), vec![]),
        ("country=kr".to_owned(), vec![mou, draft]),
        ("country=GE".to_owned(), vec![project]),
        ("signed_from=2022-01-01".to_owned(), vec![mou]),
        ("signed_to=2022-01-01".to_owned(), vec![project]),
        (
            "signed_from=2021-03-01&signed_to=2024-06-03".to_owned(),
            vec![project, mou],
        ),
        ("active_on=2022-07-01".to_owned(), vec![project]),
        ("active_on=2023-12-31".to_owned(), vec![project]),
        ("active_on=2024-01-01".to_owned(), vec![]),
        ("active_on=2030-01-01".to_owned(), vec![mou]),
        ("q=PERSONNEL".to_owned(), vec![mou]),
        (
            "q=%D1%86%D0%B8%D1%84%D1%80%D0%BE%D0%B2%D0%BE%D0%B5".to_owned(),
            vec![project],
        ),
        ("q=e-learning&status=draft".to_owned(), vec![draft]),
        ("q=e-learning&status=active".to_owned(), vec![]),
        ("country=KZ&status=active".to_owned(), vec![mou]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            ids(app
                .walk(&format!("/api/v1/agreements?sort=id&{query}"))
                .await),
            expected,
            "{query}"
        );
    }
    for bad in [
        "status=pending",
        "kind=treaty",
        "partner=x",
        "signed_from=2024-02-30",
        "active_on=today",
    ] {
        problem(app.get(&format!("/api/v1/agreements?{bad}")).await, 400).await;
    }
}

async fn every_agreement_sort_walks_all_agreements_in_order(app: TestApp) {
    for i in 0..13 {
        let mut body = mou(&[], &["KZ"]);
        body["title"] = json!(format!("Agreement {}", i % 5));
        create_agreement(&app, &body).await;
    }
    for field in ["id", "title", "created_at", "updated_at"] {
        for sort in [field.to_owned(), format!("-{field}")] {
            let items = app
                .walk(&format!("/api/v1/agreements?limit=3&sort={sort}"))
                .await;
            assert_eq!(items.len(), 13, "sort={sort}");
            let keys: Vec<(String, i64)> = items
                .iter()
                .map(|a| {
                    let id = a["id"].as_i64().unwrap_or_default();
                    let key = if field == "id" {
                        format!("{id:08}")
                    } else {
                        sort_text(&a[field])
                    };
                    (key, id)
                })
                .collect();
            let mut expected = keys.clone();
            expected.sort();
            if sort.starts_with('-') {
                expected.reverse();
            }
            assert_eq!(keys, expected, "sort={sort}");
        }
    }
}

async fn deleting_an_agreement_takes_its_links_and_frees_its_partners(app: TestApp) {
    let p = create_partner(&app, "P", "government", Some("KZ")).await;
    let id = create_agreement(&app, &mou(&[(p, "signatory")], &["UZ"])).await;
    let body = problem(
        app.delete(&format!("/api/v1/partners/{p}"), None).await,
        409,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("agreement {id}"))),
        "{body}"
    );
    let body = problem(app.delete("/api/v1/countries/UZ", None).await, 409).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("agreement {id}"))),
        "{body}"
    );
    json(app.get(&format!("/api/v1/partners/{p}")).await, 200).await;

    assert_eq!(
        app.delete(&format!("/api/v1/agreements/{id}"), None)
            .await
            .status(),
        204
    );
    problem(app.get(&format!("/api/v1/agreements/{id}")).await, 404).await;
    assert_eq!(
        app.delete("/api/v1/countries/UZ", None).await.status(),
        204,
        "the country link went with it"
    );
    let body = problem(app.delete("/api/v1/countries/KZ", None).await, 409).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("partner {p}"))),
        "{body}"
    );
    assert_eq!(
        app.delete(&format!("/api/v1/partners/{p}"), None)
            .await
            .status(),
        204,
        "the party link went with it"
    );
}
