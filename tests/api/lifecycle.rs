//! The lifecycle of an agreement and of each party (issue 19, part 5): legal dates beside the
//! implementation period, their order, what each status asks of them against today (only
//! when a write changes the status or a date), and the `party_active_on` filter.

use chrono::{Days, NaiveDate, Utc};
use coop_registry::db::ConnectionFactory;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, json, problem};
use crate::partners::create_partner;

backend_tests!(
    the_legal_dates_of_an_agreement_and_its_parties_are_kept,
    present_dates_must_be_in_order_and_each_clash_names_the_other_date,
    drafts_and_negotiations_carry_no_signature_or_entry_into_force,
    an_active_agreement_is_in_force_today,
    an_expired_agreement_expired_before_today,
    stored_agreements_are_checked_again_only_when_their_lifecycle_changes,
    party_active_on_finds_agreements_with_a_party_in_force_that_day,
);

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A signed memorandum between `parties` (ids), each a signatory with the dates given.
fn memorandum(parties: &[Value]) -> Value {
    json!({"title": "Memorandum on civil service training", "kind": "memorandum_of_understanding",
           "status": "signed", "signed_on": "2024-06-03", "starts_on": "2024-07-01",
           "parties": parties})
}

/// `body` with `changes` set at its top level.
fn with(body: &Value, changes: Value) -> Value {
    let mut body = body.clone();
    for (k, v) in changes.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

/// Posts each body and checks the 422 names exactly `fields`, the first with a message holding
/// `words`.
async fn refused(app: &TestApp, body: &Value, fields: &[&str], words: &str) {
    let problem = problem(app.post_json("/api/v1/agreements", body).await, 422).await;
    assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
    let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(words),
        "{body}: {message:?} should say {words:?}"
    );
}

async fn the_legal_dates_of_an_agreement_and_its_parties_are_kept(app: TestApp) {
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
    let body = with(
        &memorandum(&[
            json!({"partner_id": kz, "role": "signatory", "signed_on": "2024-06-03",
                   "entered_into_force_on": "2024-08-01", "withdrew_on": "2026-01-31"}),
            json!({"partner_id": kr, "role": "signatory", "signed_on": "2024-06-03"}),
        ]),
        json!({"entered_into_force_on": "2024-07-15", "expires_on": "2029-07-14"}),
    );
    let created = json(app.post_json("/api/v1/agreements", &body).await, 201).await;
    assert_eq!(created["entered_into_force_on"], "2024-07-15");
    assert_eq!(created["expires_on"], "2029-07-14");
    // A party's dates appear once known.
    assert_eq!(
        created["parties"],
        json!([
            {"partner_id": kz, "role": "signatory", "signed_on": "2024-06-03",
             "entered_into_force_on": "2024-08-01", "withdrew_on": "2026-01-31"},
            {"partner_id": kr, "role": "signatory", "signed_on": "2024-06-03"},
        ])
    );
    // The implementation period is its own.
    assert_eq!(created["starts_on"], "2024-07-01");
    let url = format!("/api/v1/agreements/{}", created["id"]);
    assert_eq!(json(app.get(&url).await, 200).await, created);
    // Null clears a party's date as it clears the agreement's.
    let patch = json!({"expires_on": null, "parties": [
        {"partner_id": kz, "role": "signatory", "signed_on": "2024-06-03", "withdrew_on": null},
    ]});
    let patched = json(app.patch_json(&url, &patch, Some("\"1\"")).await, 200).await;
    assert_eq!(patched["expires_on"], Value::Null);
    assert_eq!(
        patched["parties"],
        json!([{"partner_id": kz, "role": "signatory", "signed_on": "2024-06-03"}])
    );
    // Without dates, an agreement reads as before: nulls, and parties without date members.
    let bare = json!({"title": "Plain memorandum", "kind": "memorandum_of_understanding",
                      "status": "signed", "signed_on": "2024-06-03",
                      "parties": [{"partner_id": kz, "role": "signatory"}]});
    let created = json(app.post_json("/api/v1/agreements", &bare).await, 201).await;
    assert_eq!(created["entered_into_force_on"], Value::Null);
    assert_eq!(created["expires_on"], Value::Null);
    assert_eq!(
        created["parties"],
        json!([{"partner_id": kz, "role": "signatory"}])
    );
}

async fn present_dates_must_be_in_order_and_each_clash_names_the_other_date(app: TestApp) {
    let p = create_partner(&app, "P", "government", None).await;
    let base = memorandum(&[json!({"partner_id": p, "role": "signatory"})]);
    let party = |dates: Value| {
        let mut party = json!({"partner_id": p, "role": "signatory"});
        for (k, v) in dates.as_object().expect("object") {
            party[k] = v.clone();
        }
        json!({"parties": [party]})
    };
    let cases: Vec<(Value, Vec<&str>, &str)> = vec![
        (
            json!({"entered_into_force_on": "2024-06-02"}),
            vec!["entered_into_force_on"],
            "must not be before signed_on (2024-06-03)",
        ),
        (
            json!({"entered_into_force_on": "2024-07-01", "expires_on": "2024-06-30"}),
            vec!["expires_on"],
            "must not be before entered_into_force_on (2024-07-01)",
        ),
        (
            json!({"expires_on": "2024-06-01"}),
            vec!["expires_on"],
            "must not be before signed_on (2024-06-03)",
        ),
        (
            json!({"entered_into_force_on": "2024-06-01", "expires_on": "2024-06-02"}),
            vec!["entered_into_force_on", "expires_on"],
            "must not be before signed_on",
        ),
        (
            party(json!({"signed_on": "2024-06-05", "entered_into_force_on": "2024-06-04"})),
            vec!["parties[0].entered_into_force_on"],
            "must not be before signed_on (2024-06-05)",
        ),
        (
            party(json!({"entered_into_force_on": "2024-07-01", "withdrew_on": "2024-06-30"})),
            vec!["parties[0].withdrew_on"],
            "must not be before entered_into_force_on (2024-07-01)",
        ),
        (
            party(json!({"signed_on": "2024-06-05", "withdrew_on": "2024-06-04"})),
            vec!["parties[0].withdrew_on"],
            "must not be before signed_on (2024-06-05)",
        ),
        (
            party(json!({"signed_on": "10000-01-01"})),
            vec!["parties[0].signed_on"],
            "date",
        ),
        (
            json!({"expires_on": "2024-02-30"}),
            vec!["expires_on"],
            "date",
        ),
    ];
    for (changes, fields, words) in cases {
        refused(&app, &with(&base, changes), &fields, words).await;
    }
    // Equal dates are in order.
    let same = with(
        &base,
        json!({"entered_into_force_on": "2024-06-03", "expires_on": "2024-06-03",
               "parties": [{"partner_id": p, "role": "signatory", "signed_on": "2024-06-03",
                            "entered_into_force_on": "2024-06-03", "withdrew_on": "2024-06-03"}]}),
    );
    json(app.post_json("/api/v1/agreements", &same).await, 201).await;
    // A party's date of a wrong type, or a member that is no date of a party.
    for (parties, field) in [
        (
            json!([{"partner_id": p, "role": "signatory", "signed_on": 20240603}]),
            "parties[0].signed_on",
        ),
        (
            json!([{"partner_id": p, "role": "signatory", "ratified_on": "2024-06-03"}]),
            "parties[0].ratified_on",
        ),
    ] {
        let body = with(&base, json!({"parties": parties}));
        let problem = problem(app.post_json("/api/v1/agreements", &body).await, 400).await;
        assert_eq!(error_fields(&problem), [field]);
    }
}

async fn drafts_and_negotiations_carry_no_signature_or_entry_into_force(app: TestApp) {
    let p = create_partner(&app, "P", "government", None).await;
    for status in ["draft", "negotiation"] {
        let base = json!({"title": "Draft framework", "kind": "framework_agreement",
                          "status": status, "parties": [{"partner_id": p, "role": "signatory"}]});
        let message = format!("must be null while the status is {status}");
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({"signed_on": "2024-06-03"}), vec!["signed_on"]),
            (
                json!({"entered_into_force_on": "2024-06-03"}),
                vec!["entered_into_force_on"],
            ),
            (
                json!({"signed_on": "2024-06-03", "entered_into_force_on": "2024-06-04"}),
                vec!["signed_on", "entered_into_force_on"],
            ),
            (
                json!({"parties": [{"partner_id": p, "role": "signatory", "signed_on": "2024-06-03"}]}),
                vec!["parties[0].signed_on"],
            ),
            (
                json!({"parties": [{"partner_id": p, "role": "signatory", "entered_into_force_on": "2024-06-03"}]}),
                vec!["parties[0].entered_into_force_on"],
            ),
        ];
        for (changes, fields) in cases {
            refused(&app, &with(&base, changes), &fields, &message).await;
        }
        // An expiry foreseen, and a partner that left the talks, are allowed.
        let allowed = with(
            &base,
            json!({"expires_on": "2030-12-31", "parties": [
                {"partner_id": p, "role": "signatory", "withdrew_on": "2024-05-01"}]}),
        );
        json(app.post_json("/api/v1/agreements", &allowed).await, 201).await;
    }
}

async fn an_active_agreement_is_in_force_today(app: TestApp) {
    let base = with(&memorandum(&[]), json!({"status": "active"}));
    let (yesterday, tomorrow) = (today() - Days::new(1), today() + Days::new(1));
    refused(
        &app,
        &base,
        &["entered_into_force_on"],
        "is required when the status is active",
    )
    .await;
    refused(
        &app,
        &with(&base, json!({"entered_into_force_on": text(tomorrow)})),
        &["entered_into_force_on"],
        &format!("must not be after today ({})", text(today())),
    )
    .await;
    refused(
        &app,
        &with(
            &base,
            json!({"entered_into_force_on": "2024-07-01", "expires_on": text(yesterday)}),
        ),
        &["expires_on"],
        &format!("must not be before today ({})", text(today())),
    )
    .await;
    // The signature stays required.
    refused(
        &app,
        &with(
            &base,
            json!({"signed_on": null, "entered_into_force_on": "2024-07-01"}),
        ),
        &["signed_on"],
        "is required when the status is active",
    )
    .await;
    // In force from today, and up to and including its last day.
    let today_only = with(
        &base,
        json!({"signed_on": text(today()), "entered_into_force_on": text(today()), "expires_on": text(today())}),
    );
    json(app.post_json("/api/v1/agreements", &today_only).await, 201).await;
    let open = with(&base, json!({"entered_into_force_on": "2024-07-01"}));
    json(app.post_json("/api/v1/agreements", &open).await, 201).await;
}

async fn an_expired_agreement_expired_before_today(app: TestApp) {
    let base = with(
        &memorandum(&[]),
        json!({"status": "expired", "entered_into_force_on": "2024-07-01"}),
    );
    let message = format!(
        "must be before today ({}) when the status is expired",
        text(today())
    );
    refused(
        &app,
        &base,
        &["expires_on"],
        "is required when the status is expired",
    )
    .await;
    for expires in [today(), today() + Days::new(30)] {
        refused(
            &app,
            &with(&base, json!({"expires_on": text(expires)})),
            &["expires_on"],
            &message,
        )
        .await;
    }
    let body = with(&base, json!({"expires_on": text(today() - Days::new(1))}));
    let created = json(app.post_json("/api/v1/agreements", &body).await, 201).await;
    assert_eq!(created["status"], "expired");
}

/// Sets columns of agreement `id` behind the service's back, as data stored before the
/// lifecycle rules, or by time passing, would be.
fn store_directly(app: &TestApp, id: i64, set: &str) {
    let mut conn = ConnectionFactory::new(app.database.url())
        .expect("a database URL")
        .connect()
        .expect("connects");
    conn.batch_execute(&format!("UPDATE agreements SET {set} WHERE id = {id}"))
        .expect("updated");
}

async fn stored_agreements_are_checked_again_only_when_their_lifecycle_changes(app: TestApp) {
    let p = create_partner(&app, "P", "government", None).await;
    let body = with(
        &memorandum(&[json!({"partner_id": p, "role": "signatory", "signed_on": "2024-06-03"})]),
        json!({"status": "active", "entered_into_force_on": "2024-07-01"}),
    );
    let created = json(app.post_json("/api/v1/agreements", &body).await, 201).await;
    let id = created["id"].as_i64().expect("an id");
    let url = format!("/api/v1/agreements/{id}");

    // An active agreement stored before the rules: no entry into force.
    store_directly(&app, id, "entered_into_force_on = NULL");
    let renamed = json(
        app.patch_json(&url, &json!({"title": "Renamed"}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(renamed["entered_into_force_on"], Value::Null);
    json(
        app.patch_json(&url, &json!({"summary": "Training."}), None)
            .await,
        200,
    )
    .await;
    // A PUT of the same lifecycle is no change either.
    let mut same = renamed.clone();
    for field in ["id", "created_at", "updated_at", "version"] {
        same.as_object_mut().expect("object").remove(field);
    }
    json(app.put_json(&url, &same, None).await, 200).await;
    // A change of a date, or of a party's date, is checked whole.
    let refusal = problem(
        app.patch_json(&url, &json!({"expires_on": "2030-01-01"}), None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&refusal), ["entered_into_force_on"]);
    let parties =
        json!({"parties": [{"partner_id": p, "role": "signatory", "signed_on": "2024-06-04"}]});
    let refusal = problem(app.patch_json(&url, &parties, None).await, 422).await;
    assert_eq!(error_fields(&refusal), ["entered_into_force_on"]);
    // A party added without dates leaves the lifecycle as it was.
    let q = create_partner(&app, "Q", "government", None).await;
    let parties = json!({"parties": [{"partner_id": p, "role": "signatory", "signed_on": "2024-06-03"},
                                     {"partner_id": q, "role": "observer"}]});
    json(app.patch_json(&url, &parties, None).await, 200).await;
    // Nor does putting the parties in another order.
    let parties = json!({"parties": [{"partner_id": q, "role": "observer"},
                                     {"partner_id": p, "role": "signatory", "signed_on": "2024-06-03"}]});
    json(app.patch_json(&url, &parties, None).await, 200).await;
    // Giving the date makes it whole again.
    let fixed = json!({"entered_into_force_on": "2024-07-01", "expires_on": "2030-01-01"});
    json(app.patch_json(&url, &fixed, None).await, 200).await;

    // Time passed: its expiry is now in the past. Still readable and editable, but a change of
    // the lifecycle must say what happened.
    store_directly(&app, id, "expires_on = '2025-01-31'");
    json(
        app.patch_json(&url, &json!({"title": "Renamed again"}), None)
            .await,
        200,
    )
    .await;
    let refusal = problem(
        app.patch_json(&url, &json!({"expires_on": "2025-01-30"}), None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&refusal), ["expires_on"]);
    let expired = json(
        app.patch_json(&url, &json!({"status": "expired"}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(expired["status"], "expired");
    // The ordering rules hold always: stored data never had these dates out of order.
    let refusal = problem(
        app.patch_json(
            &url,
            &json!({"title": "Again", "entered_into_force_on": "2026-01-01"}),
            None,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&refusal), ["expires_on"]);
}

async fn party_active_on_finds_agreements_with_a_party_in_force_that_day(app: TestApp) {
    let p1 = create_partner(&app, "P1", "government", None).await;
    let p2 = create_partner(&app, "P2", "government", None).await;
    let party = |id: i64, entered: Option<&str>, withdrew: Option<&str>| {
        json!({"partner_id": id, "role": "signatory", "signed_on": "2023-01-01",
               "entered_into_force_on": entered, "withdrew_on": withdrew})
    };
    let agreement = |title: &str, parties: Vec<Value>, expires: Option<&str>| {
        json!({"title": title, "kind": "intergovernmental_agreement", "status": "signed",
               "signed_on": "2023-01-01", "expires_on": expires, "parties": parties})
    };
    let a = json(
        app.post_json(
            "/api/v1/agreements",
            &agreement(
                "A",
                vec![
                    party(p1, Some("2024-01-01"), Some("2025-01-01")),
                    party(p2, Some("2024-06-01"), None),
                ],
                None,
            ),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .expect("an id");
    let b = json(
        app.post_json(
            "/api/v1/agreements",
            &agreement(
                "B",
                vec![party(p1, Some("2023-01-01"), None)],
                Some("2023-12-31"),
            ),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .expect("an id");
    // Parties without an entry into force are never in force.
    json(
        app.post_json(
            "/api/v1/agreements",
            &agreement("C", vec![party(p2, None, None)], None),
        )
        .await,
        201,
    )
    .await;
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("party_active_on=2022-12-31", vec![]),
        ("party_active_on=2023-01-01", vec![b]),
        ("party_active_on=2023-12-31", vec![b]),
        ("party_active_on=2024-01-01", vec![a]),
        ("party_active_on=2025-01-01", vec![a]),
        ("party_active_on=2030-01-01", vec![a]),
    ];
    let ids =
        |items: Vec<Value>| -> Vec<i64> { items.iter().filter_map(|i| i["id"].as_i64()).collect() };
    for (query, expected) in cases {
        assert_eq!(
            ids(app
                .walk(&format!("/api/v1/agreements?sort=id&{query}"))
                .await),
            expected,
            "{query}"
        );
    }
    // With a partner: that partner is the party in force.
    for (query, expected) in [
        (format!("party_active_on=2024-12-31&partner={p1}"), vec![a]),
        (format!("party_active_on=2025-01-01&partner={p1}"), vec![]),
        (format!("party_active_on=2025-01-01&partner={p2}"), vec![a]),
        (format!("party_active_on=2023-06-01&partner={p2}"), vec![]),
        (format!("party_active_on=2023-06-01&partner={p1}"), vec![b]),
    ] {
        assert_eq!(
            ids(app
                .walk(&format!("/api/v1/agreements?sort=id&{query}"))
                .await),
            expected,
            "{query}"
        );
    }
    // A party's withdrawal written later moves the answer.
    let url = format!("/api/v1/agreements/{a}");
    let patch = json!({"parties": [party(p1, Some("2024-01-01"), Some("2025-01-01")),
                                   party(p2, Some("2024-06-01"), Some("2024-09-01"))]});
    json(app.patch_json(&url, &patch, None).await, 200).await;
    assert!(
        app.walk("/api/v1/agreements?party_active_on=2025-01-01")
            .await
            .is_empty()
    );
    for bad in [
        "party_active_on=2024-02-30",
        "party_active_on=today",
        "party_active_on=",
    ] {
        problem(app.get(&format!("/api/v1/agreements?{bad}")).await, 400).await;
    }
}
