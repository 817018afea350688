use coop_registry::config::Settings;
use coop_registry::db::Db;
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{TestApp, json};

backend_tests!(seed_demo_loads_the_hubs_public_record_and_marked_examples_once);

async fn seed_demo_loads_the_hubs_public_record_and_marked_examples_once(app: TestApp) {
    let db = Db::new(&Settings::with_database(app.database.url())).expect("the database opens");
    let (first, second) = {
        let mut conn = db.writer().get().expect("connection");
        let first = coop_registry::cli::demo::seed(&mut conn).expect("seeds");
        let second = coop_registry::cli::demo::seed(&mut conn).expect("seeds again");
        (first, second)
    };
    assert_eq!(
        (
            first.countries_marked,
            first.partners,
            first.agreements,
            first.events
        ),
        (8, 28, 11, 24)
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

    let texts = |items: &[Value], key: &str| {
        items
            .iter()
            .map(|i| i[key].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let participants = app.walk("/api/v1/countries?participant=true").await;
    assert_eq!(
        texts(&participants, "code"),
        ["AM", "AZ", "GE", "KG", "KR", "KZ", "TJ", "UZ"]
    );
    assert!(
        participants.iter().all(|c| c["joined_on"].is_null()),
        "no date of joining is known: {participants:?}"
    );

    let partners = app.walk("/api/v1/partners?limit=5").await;
    assert_eq!(partners.len(), 28, "every partner, over several pages");
    let acronyms = texts(&partners, "acronym");
    for acronym in [
        "ACSH", "UNDP", "MOIS", "NIA", "MIA", "MPM", "UN DESA", "SIGMA",
    ] {
        assert!(
            acronyms.contains(&acronym.to_owned()),
            "{acronym} in {acronyms:?}"
        );
    }
    let in_georgia = app.walk("/api/v1/partners?country=GE").await;
    assert_eq!(
        texts(&in_georgia, "name"),
        [
            "Civil Service Bureau of Georgia",
            "United Nations Development Programme in Georgia"
        ]
    );

    let project = app
        .walk("/api/v1/agreements?country=TJ&kind=joint_project")
        .await;
    assert_eq!(project.len(), 1);
    assert_eq!(project[0]["status"], "expired");
    assert_eq!(project[0]["starts_on"], "2021-08-24");
    assert_eq!(project[0]["ends_on"], "2023-12-31");
    assert_eq!(project[0]["expires_on"], "2023-12-31");
    // Examples link to documents, and carry party lifecycles.
    let skills = app.walk("/api/v1/agreements?q=digital%20skills").await;
    assert_eq!(skills.len(), 1);
    assert_eq!(skills[0]["documents"].as_array().map(Vec::len), Some(2));
    assert!(
        skills[0]["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|d| d["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://example.org/")))
    );
    let in_force = app
        .walk("/api/v1/agreements?party_active_on=2025-06-01")
        .await;
    let titles: Vec<&str> = in_force
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Example: grant for case studies on public-service innovation",
            "Example: joint project on digital skills for civil servants"
        ]
    );
    assert_eq!(
        project[0]["country_codes"].as_array().map(Vec::len),
        Some(7)
    );
    assert_eq!(project[0]["parties"].as_array().map(Vec::len), Some(4));
    let under_project = app
        .walk(&format!("/api/v1/events?agreement={}", project[0]["id"]))
        .await;
    assert_eq!(under_project.len(), 4, "{under_project:?}");

    let forum = app.walk("/api/v1/events?country=KR&kind=forum").await;
    assert_eq!(
        texts(&forum, "title"),
        ["United Nations Public Service Forum 2024"]
    );
    assert_eq!(forum[0]["city"], "Incheon");
    assert_eq!(
        (forum[0]["starts_on"].as_str(), forum[0]["ends_on"].as_str()),
        (Some("2024-06-24"), Some("2024-06-26"))
    );
    let songdo = app.walk("/api/v1/events?q=Songdo").await;
    assert_eq!(songdo.len(), 1);
    assert_eq!(songdo[0]["id"], forum[0]["id"]);
    let tbilisi = app.walk("/api/v1/events?q=tbilisi").await;
    assert_eq!(
        tbilisi.len(),
        2,
        "the real event and an example: {tbilisi:?}"
    );

    let mou = app
        .walk("/api/v1/agreements?kind=memorandum_of_understanding&country=KR")
        .await;
    assert_eq!(mou.len(), 1);
    assert_eq!(mou[0]["status"], "signed");
    assert_eq!(mou[0]["signed_on"], "2024-06-01");
    let signing = json(
        app.get(&format!("/api/v1/events?agreement={}", mou[0]["id"]))
            .await,
        200,
    )
    .await;
    assert_eq!(signing["items"][0]["city"], "Astana");
    assert_eq!(signing["items"][0]["starts_on"], "2024-06-01");

    let readmission = app
        .walk("/api/v1/agreements?kind=intergovernmental_agreement&q=readmission")
        .await;
    assert_eq!(readmission.len(), 1);
    assert_eq!(readmission[0]["status"], "draft");
    assert!(readmission[0]["signed_on"].is_null());

    // Whatever is not a public fact says so in its title, and nothing is a placeholder.
    let agreements = app.walk("/api/v1/agreements?limit=4").await;
    let events = app.walk("/api/v1/events?limit=5").await;
    assert_eq!((agreements.len(), events.len()), (11, 24));
    let mut examples = 0;
    for (record, text) in agreements
        .iter()
        .map(|a| (a, &a["summary"]))
        .chain(events.iter().map(|e| (e, &e["description"])))
    {
        let title = record["title"].as_str().unwrap_or_default();
        let text = text.as_str().unwrap_or_default();
        assert_eq!(
            title.starts_with("Example: "),
            text.starts_with("An example record, not a real"),
            "{title}: {text}"
        );
        examples += usize::from(title.starts_with("Example: "));
        assert!(
            !text.contains("placeholder") && !text.contains("Demo data"),
            "{text}"
        );
    }
    assert_eq!(examples, 5 + 12);

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
        8 + 28 + 11 + 24,
        "every seeded write is audited once"
    );
}
