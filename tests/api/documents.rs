//! Document links of agreements and events (issue 19, part 4): one shape and one set of rules
//! for both, kept with the record, and published in the IATI activity file.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, json, problem};
use crate::partners::create_partner;

backend_tests!(
    agreements_and_events_keep_their_documents_in_order_normalized,
    a_patch_of_another_field_keeps_the_documents_and_null_clears_none,
    every_document_rule_is_checked_on_agreements_and_events,
    joint_projects_publish_their_documents_as_iati_document_links,
);

fn agreement(documents: Value) -> Value {
    json!({"title": "Joint project on digital skills", "kind": "joint_project", "status": "negotiation",
           "starts_on": "2025-01-01", "documents": documents})
}

fn event(documents: Value) -> Value {
    json!({"title": "Seminar on merit-based recruitment", "kind": "seminar",
           "starts_on": "2024-09-17", "documents": documents})
}

/// A valid body of each resource, with `documents`.
fn bodies(documents: Value) -> [(&'static str, Value); 2] {
    [
        ("/api/v1/agreements", agreement(documents.clone())),
        ("/api/v1/events", event(documents)),
    ]
}

fn mou() -> Value {
    json!({"title": "  Memorandum, signed text ", "url": "https://example.org/mou.pdf",
           "category": "memorandum_of_understanding", "language": "KK-latn",
           "published_on": "2024-06-01"})
}

async fn agreements_and_events_keep_their_documents_in_order_normalized(app: TestApp) {
    let agenda = json!({"title": "Agenda", "url": "https://example.org/agenda?lang=ru&v=2",
                        "category": "agenda"});
    for (path, body) in bodies(json!([mou(), agenda])) {
        let created = json(app.post_json(path, &body).await, 201).await;
        assert_eq!(
            created["documents"],
            json!([
                {"title": "Memorandum, signed text", "url": "https://example.org/mou.pdf",
                 "category": "memorandum_of_understanding", "language": "kk-Latn",
                 "published_on": "2024-06-01"},
                {"title": "Agenda", "url": "https://example.org/agenda?lang=ru&v=2",
                 "category": "agenda", "language": null, "published_on": null},
            ]),
            "{path}"
        );
        let url = format!("{path}/{}", created["id"]);
        assert_eq!(json(app.get(&url).await, 200).await, created);
        let listed = json(app.get(path).await, 200).await;
        assert_eq!(listed["items"][0], created);
        let none = bodies(json!([]));
        let without = none.iter().find(|(p, _)| *p == path).expect("a body");
        let created = json(app.post_json(path, &without.1).await, 201).await;
        assert_eq!(created["documents"], json!([]));
    }
    // Left out, the list is empty.
    let mut bare = agreement(json!([]));
    bare.as_object_mut().expect("object").remove("documents");
    let created = json(app.post_json("/api/v1/agreements", &bare).await, 201).await;
    assert_eq!(created["documents"], json!([]));
}

async fn a_patch_of_another_field_keeps_the_documents_and_null_clears_none(app: TestApp) {
    for (path, body) in bodies(json!([mou()])) {
        let created = json(app.post_json(path, &body).await, 201).await;
        let url = format!("{path}/{}", created["id"]);
        let patched = json(
            app.patch_json(&url, &json!({"title": "Renamed"}), Some("\"1\""))
                .await,
            200,
        )
        .await;
        assert_eq!(patched["documents"], created["documents"], "{path}");
        let report = json!({"title": "Report", "url": "https://example.org/report.pdf",
                            "category": "report", "language": "en", "published_on": "2025-01-31"});
        let replaced = json(
            app.patch_json(&url, &json!({"documents": [report]}), Some("\"2\""))
                .await,
            200,
        )
        .await;
        assert_eq!(replaced["documents"], json!([report]));
        let cleared = json(
            app.patch_json(&url, &json!({"documents": []}), Some("\"3\""))
                .await,
            200,
        )
        .await;
        assert_eq!(cleared["documents"], json!([]));
        assert_eq!(cleared["version"], 4);
    }
}

async fn every_document_rule_is_checked_on_agreements_and_events(app: TestApp) {
    let with = |changes: Value| {
        let mut document = mou();
        for (k, v) in changes.as_object().expect("object") {
            document[k] = v.clone();
        }
        json!([document])
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            with(json!({"title": ""})),
            422,
            "documents[0].title",
            "at least 1",
        ),
        (
            with(json!({"title": "   "})),
            422,
            "documents[0].title",
            "must not be blank",
        ),
        (
            with(json!({"title": "t".repeat(301)})),
            422,
            "documents[0].title",
            "at most 300",
        ),
        (
            with(json!({"title": "two\nlines"})),
            422,
            "documents[0].title",
            "one line",
        ),
        (
            with(json!({"url": "ftp://example.org/mou.pdf"})),
            422,
            "documents[0].url",
            "http or https",
        ),
        (
            with(json!({"url": "/relative/mou.pdf"})),
            422,
            "documents[0].url",
            "http or https",
        ),
        (
            with(json!({"url": "https://example.org/a b"})),
            422,
            "documents[0].url",
            "http or https",
        ),
        (
            with(json!({"url": ""})),
            422,
            "documents[0].url",
            "http or https",
        ),
        (
            with(json!({"url": format!("https://example.org/{}", "a".repeat(2000))})),
            422,
            "documents[0].url",
            "at most 2000",
        ),
        (
            with(json!({"category": "minutes"})),
            422,
            "documents[0].category",
            "one of",
        ),
        (
            with(json!({"language": "not a tag"})),
            422,
            "documents[0].language",
            "BCP 47",
        ),
        (
            with(json!({"language": "english"})),
            422,
            "documents[0].language",
            "registered subtags",
        ),
        (
            with(json!({"language": "en-"})),
            422,
            "documents[0].language",
            "BCP 47",
        ),
        (
            with(json!({"language": ""})),
            422,
            "documents[0].language",
            "BCP 47",
        ),
        (
            with(json!({"published_on": "2024-13-01"})),
            422,
            "documents[0].published_on",
            "date",
        ),
        (
            with(json!({"published_on": "10000-01-01"})),
            422,
            "documents[0].published_on",
            "date",
        ),
        (json!(vec![mou(); 51]), 422, "documents", "at most 50 items"),
        (
            with(json!({"url": null})),
            400,
            "documents[0].url",
            "JSON type string",
        ),
        (
            with(json!({"pages": 3})),
            400,
            "documents[0].pages",
            "not a field",
        ),
        (
            with(json!({"title": 7})),
            400,
            "documents[0].title",
            "JSON type string",
        ),
        (
            json!({"title": "Not a list"}),
            400,
            "documents",
            "JSON type array",
        ),
    ];
    for (documents, status, field, words) in cases {
        for (path, body) in bodies(documents.clone()) {
            let response = app.post_json(path, &body).await;
            let problem = problem(response, status).await;
            assert_eq!(
                error_fields(&problem),
                [field],
                "{path} {documents}: {problem}"
            );
            let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(words),
                "{path} {documents}: {message:?} should say {words:?}"
            );
        }
    }
    // A missing required member of a document.
    let mut untitled = mou();
    untitled.as_object_mut().expect("object").remove("title");
    for (path, body) in bodies(json!([untitled])) {
        let problem = problem(app.post_json(path, &body).await, 422).await;
        assert_eq!(error_fields(&problem), ["documents[0].title"], "{problem}");
    }
    // Nothing was stored.
    for path in ["/api/v1/agreements", "/api/v1/events"] {
        assert_eq!(json(app.get(path).await, 200).await["items"], json!([]));
    }
}

async fn joint_projects_publish_their_documents_as_iati_document_links(app: TestApp) {
    let hub = create_partner(&app, "Astana Civil Service Hub", "multilateral", Some("KZ")).await;
    let mut body = agreement(json!([
        mou(),
        {"title": "Project page", "url": "https://example.org/project", "category": "web_page",
         "language": "ru"},
    ]));
    body["parties"] = json!([{"partner_id": hub, "role": "coordinating"}]);
    let created = json(app.post_json("/api/v1/agreements", &body).await, 201).await;
    let response = app.get("/api/v1/iati/activities.xml").await;
    assert_eq!(response.status().as_u16(), 200);
    let xml = response.text().await.expect("text");
    let expected = [
        r#"<document-link url="https://example.org/mou.pdf" format="application/pdf">"#,
        r#"<narrative xml:lang="en">Memorandum, signed text</narrative>"#,
        r#"<category code="A09"/>"#,
        r#"<language code="kk"/>"#,
        r#"<document-date iso-date="2024-06-01"/>"#,
        r#"<document-link url="https://example.org/project" format="text/html">"#,
        r#"<category code="A12"/>"#,
        r#"<language code="ru"/>"#,
    ];
    let mut at = 0;
    for part in expected {
        let found = xml[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part} in order in {xml}"));
        at += found + part.len();
    }
    // The file takes the agreements list's `party_active_on`: no party is in force yet.
    let path = "/api/v1/iati/activities.xml?party_active_on=2025-06-01";
    problem(app.get(path).await, 404).await;
    let url = format!("/api/v1/agreements/{}", created["id"]);
    let signed = json!({"status": "signed", "signed_on": "2025-01-10", "parties": [
        {"partner_id": hub, "role": "coordinating", "signed_on": "2025-01-10",
         "entered_into_force_on": "2025-02-01"}]});
    json(app.patch_json(&url, &signed, None).await, 200).await;
    let response = app.get(path).await;
    assert_eq!(response.status().as_u16(), 200);
    let xml = response.text().await.expect("text");
    assert_eq!(xml.matches("<iati-activity ").count(), 1);
}
