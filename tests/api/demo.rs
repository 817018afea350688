use coop_registry::config::Settings;
use coop_registry::db::Db;
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{TestApp, json};

backend_tests!(seed_demo_loads_the_example_records_once);

async fn seed_demo_loads_the_example_records_once(app: TestApp) {
    let db = Db::new(&Settings::with_database(app.database.url())).expect("the database opens");
    let (first, second) = {
        let mut conn = db.writer().get().expect("connection");
        let first = coop_registry::demo::seed(&mut conn).expect("seeds");
        let second = coop_registry::demo::seed(&mut conn).expect("seeds again");
        (first, second)
    };
    assert_eq!(
        (
            first.countries_marked,
            first.partners,
            first.agreements,
            first.events
        ),
        (8, 6, 2, 3)
    );
    assert_eq!(
        (
            second.countries_marked,
            second.partners,
            second.agreements,
            second.events
        ),
        (0, 0, 0, 0)
    );

    let codes = |items: Vec<Value>, key: &str| {
        items
            .iter()
            .map(|i| i[key].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let participants = app.walk("/api/v1/countries?participant=true").await;
    assert_eq!(
        codes(participants, "code"),
        ["AM", "AZ", "GE", "KG", "KR", "KZ", "TJ", "UZ"]
    );

    let partners = codes(app.walk("/api/v1/partners?").await, "acronym");
    for acronym in ["ACSH", "UNDP", "MOIS", "NIA", "MIA", "MPM"] {
        assert!(
            partners.contains(&acronym.to_owned()),
            "{acronym} in {partners:?}"
        );
    }
    let project = app
        .walk("/api/v1/agreements?country=GE&kind=joint_project")
        .await;
    assert_eq!(project.len(), 1);
    assert_eq!(project[0]["starts_on"], "2021-01-01");
    assert_eq!(project[0]["ends_on"], "2023-12-31");
    assert_eq!(
        project[0]["country_codes"].as_array().map(Vec::len),
        Some(7)
    );
    assert_eq!(project[0]["parties"].as_array().map(Vec::len), Some(4));

    let forum = app.walk("/api/v1/events?country=KR&kind=forum").await;
    assert_eq!(forum.len(), 1);
    assert_eq!(forum[0]["city"], "Incheon");
    assert_eq!(
        (forum[0]["starts_on"].as_str(), forum[0]["ends_on"].as_str()),
        (Some("2024-06-24"), Some("2024-06-26"))
    );
    let tbilisi = app.walk("/api/v1/events?q=tbilisi").await;
    assert_eq!(tbilisi[0]["agreement_id"], project[0]["id"]);
    let mou = app
        .walk("/api/v1/agreements?kind=memorandum_of_understanding&country=KR")
        .await;
    assert_eq!(mou.len(), 1);
    let signing = json(
        app.get(&format!("/api/v1/events?agreement={}", mou[0]["id"]))
            .await,
        200,
    )
    .await;
    assert_eq!(signing["items"][0]["city"], "Astana");

    let audit = json(
        app.as_admin(
            reqwest::Method::GET,
            "/api/v1/audit?actor=seed-demo&with_total=true",
        )
        .send()
        .await
        .expect("answered"),
        200,
    )
    .await;
    assert_eq!(
        audit["total"],
        8 + 6 + 2 + 3,
        "every seeded write is audited once"
    );
}
