//! The lists' richer filters: several values for one parameter (comma-separated or repeated),
//! `has_agreement` on events, `partner_kind` on agreements, and `updated_before` on every list.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, json, problem};
use crate::partners::create_partner;

backend_tests!(
    several_values_are_given_comma_separated_or_repeated,
    events_with_or_without_an_agreement,
    agreements_by_the_kind_of_their_parties,
    every_list_takes_updated_before,
    a_malformed_filter_value_is_a_400_naming_the_parameter,
);

/// The `key` of every record a (fully walked) list gives, in list order.
async fn keys(app: &TestApp, path: &str, key: &str) -> Vec<Value> {
    app.walk(path)
        .await
        .iter()
        .map(|r| r[key].clone())
        .collect()
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    json(app.post_json(path, &body).await, 201).await
}

async fn several_values_are_given_comma_separated_or_repeated(app: TestApp) {
    let kz = create_partner(&app, "Kazakh Agency", "government", Some("KZ")).await;
    let kg = create_partner(&app, "Kyrgyz Agency", "government", Some("KG")).await;
    let tj = create_partner(&app, "Tajik Academy", "academic", Some("TJ")).await;
    create_partner(&app, "Uzbek Agency", "government", Some("UZ")).await;
    let path = "/api/v1/partners?sort=id&limit=500";
    assert_eq!(
        keys(&app, &format!("{path}&country=KZ,kg,TJ"), "id").await,
        [json!(kz), json!(kg), json!(tj)]
    );
    assert_eq!(
        keys(&app, &format!("{path}&country=kz&country=KG"), "id").await,
        [json!(kz), json!(kg)]
    );
    // Filters still combine: any of these countries and any of these kinds.
    assert_eq!(
        keys(
            &app,
            &format!("{path}&country=KZ,TJ&kind=academic,foundation"),
            "id"
        )
        .await,
        [json!(tj)]
    );
    // One value is a list of one; a value given twice counts once.
    assert_eq!(
        keys(&app, &format!("{path}&kind=academic&kind=academic"), "id").await,
        [json!(tj)]
    );

    for (kind, day) in [
        ("forum", "2024-01-01"),
        ("workshop", "2024-02-01"),
        ("seminar", "2024-03-01"),
    ] {
        created(
            &app,
            "/api/v1/events",
            json!({"title": kind, "kind": kind, "starts_on": day}),
        )
        .await;
    }
    assert_eq!(
        keys(
            &app,
            "/api/v1/events?kind=forum,workshop&limit=500",
            "title"
        )
        .await,
        [json!("forum"), json!("workshop")]
    );
    assert_eq!(
        keys(
            &app,
            "/api/v1/events?kind=seminar&kind=forum&limit=500",
            "title"
        )
        .await,
        [json!("forum"), json!("seminar")]
    );

    for (title, status, signed) in [
        ("Signed", "signed", Some("2024-06-03")),
        ("Active", "active", Some("2023-01-10")),
        ("Draft", "draft", None),
    ] {
        created(
            &app,
            "/api/v1/agreements",
            json!({"title": title, "kind": "grant", "status": status, "signed_on": signed,
                   "entered_into_force_on": (status == "active").then_some(signed)}),
        )
        .await;
    }
    assert_eq!(
        keys(
            &app,
            "/api/v1/agreements?status=signed,active&sort=title&limit=500",
            "title"
        )
        .await,
        [json!("Active"), json!("Signed")]
    );
}

async fn events_with_or_without_an_agreement(app: TestApp) {
    let agreement = created(
        &app,
        "/api/v1/agreements",
        json!({"title": "Framework", "kind": "framework_agreement", "status": "draft"}),
    )
    .await;
    created(
        &app,
        "/api/v1/events",
        json!({"title": "Under it", "kind": "forum", "starts_on": "2024-05-01",
               "agreement_id": agreement["id"]}),
    )
    .await;
    created(
        &app,
        "/api/v1/events",
        json!({"title": "On its own", "kind": "forum", "starts_on": "2024-05-02"}),
    )
    .await;
    let path = "/api/v1/events?limit=500&has_agreement";
    assert_eq!(
        keys(&app, &format!("{path}=true"), "title").await,
        [json!("Under it")]
    );
    assert_eq!(
        keys(&app, &format!("{path}=false"), "title").await,
        [json!("On its own")]
    );
    assert_eq!(
        keys(&app, "/api/v1/events?limit=500", "title").await.len(),
        2
    );
}

async fn agreements_by_the_kind_of_their_parties(app: TestApp) {
    let ministry = create_partner(&app, "Ministry", "government", Some("KZ")).await;
    let university = create_partner(&app, "University", "academic", Some("KZ")).await;
    let fund = create_partner(&app, "Fund", "foundation", None).await;
    for (title, parties) in [
        ("State", vec![ministry]),
        ("Research", vec![university, ministry]),
        ("Grant", vec![fund]),
        ("Nobody", vec![]),
    ] {
        let parties: Vec<Value> = parties
            .into_iter()
            .map(|id| json!({"partner_id": id, "role": "signatory"}))
            .collect();
        created(
            &app,
            "/api/v1/agreements",
            json!({"title": title, "kind": "grant", "status": "draft", "parties": parties}),
        )
        .await;
    }
    let path = "/api/v1/agreements?sort=title&limit=500&partner_kind";
    assert_eq!(
        keys(&app, &format!("{path}=government"), "title").await,
        [json!("Research"), json!("State")]
    );
    assert_eq!(
        keys(&app, &format!("{path}=academic,foundation"), "title").await,
        [json!("Grant"), json!("Research")]
    );
    assert!(
        keys(&app, &format!("{path}=multilateral"), "title")
            .await
            .is_empty()
    );
}

/// `updated_before` on every list: strictly before the instant, and with `updated_after` a
/// range.
async fn every_list_takes_updated_before(app: TestApp) {
    let encode = |at: &Value| at.as_str().expect("updated_at").replace('+', "%2B");
    let mut made: Vec<(&str, &str, Vec<Value>)> = Vec::new();
    let mut partners = Vec::new();
    for i in 0..3 {
        let body = json!({"name": format!("Before {i}"), "kind": "academic"});
        partners.push(created(&app, "/api/v1/partners", body).await);
    }
    made.push(("partners", "id", partners));
    let mut events = Vec::new();
    for i in 0..3 {
        let body =
            json!({"title": format!("Before {i}"), "kind": "forum", "starts_on": "2024-01-01"});
        events.push(created(&app, "/api/v1/events", body).await);
    }
    made.push(("events", "id", events));
    let mut agreements = Vec::new();
    for i in 0..3 {
        let body = json!({"title": format!("Before {i}"), "kind": "grant", "status": "draft"});
        agreements.push(created(&app, "/api/v1/agreements", body).await);
    }
    made.push(("agreements", "id", agreements));
    let mut countries = Vec::new();
    for code in ["KZ", "UZ", "KG"] {
        let path = format!("/api/v1/countries/{code}");
        let body = json!({"participant": true});
        countries.push(json(app.patch_json(&path, &body, None).await, 200).await);
    }
    made.push(("countries", "code", countries));

    for (list, key, records) in made {
        let mine = |found: Vec<Value>| -> Vec<Value> {
            let wanted: Vec<&Value> = records.iter().map(|r| &r[key]).collect();
            found.into_iter().filter(|k| wanted.contains(&k)).collect()
        };
        let before_last = encode(&records[2]["updated_at"]);
        let found = keys(
            &app,
            &format!("/api/v1/{list}?updated_before={before_last}&limit=500"),
            key,
        )
        .await;
        let mut expected = vec![records[0][key].clone(), records[1][key].clone()];
        let mut got = mine(found);
        got.sort_by_key(Value::to_string);
        expected.sort_by_key(Value::to_string);
        assert_eq!(
            got, expected,
            "{list}: strictly before the third's updated_at"
        );
        let first = encode(&records[0]["updated_at"]);
        let between = keys(
            &app,
            &format!("/api/v1/{list}?updated_after={first}&updated_before={before_last}&limit=500"),
            key,
        )
        .await;
        assert_eq!(
            mine(between),
            [records[1][key].clone()],
            "{list}: the range"
        );
    }
}

async fn a_malformed_filter_value_is_a_400_naming_the_parameter(app: TestApp) {
    for (query, field) in [
        ("/api/v1/events?kind=forum,party", "kind"),
        ("/api/v1/events?kind=forum&kind=party", "kind"),
        ("/api/v1/events?kind=forum,", "kind"),
        ("/api/v1/events?has_agreement=maybe", "has_agreement"),
        ("/api/v1/agreements?status=signed,sealed", "status"),
        ("/api/v1/agreements?partner_kind=guild", "partner_kind"),
        ("/api/v1/partners?kind=", "kind"),
        ("/api/v1/partners?country=KZ,Kazakhstan", "country"),
        ("/api/v1/events?country=KZ&country=K", "country"),
        (
            "/api/v1/countries?updated_before=yesterday",
            "updated_before",
        ),
        ("/api/v1/events?updated_before=2024-06-24", "updated_before"),
        // A parameter that takes one value still takes one.
        ("/api/v1/events?partner=1&partner=2", "partner"),
    ] {
        let refused = problem(app.get(query).await, 400).await;
        assert_eq!(error_fields(&refused), [field], "{query}: {refused}");
    }
}
