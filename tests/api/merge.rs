//! Merging duplicate partners: what moves, how a clash is resolved, the redirect the merged
//! partner leaves, and every refusal.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, header_of, json, problem};
use crate::partners::create_partner;

backend_tests!(
    a_merge_moves_parties_participants_and_identifiers_to_the_target,
    a_merged_partner_redirects_reads_and_refuses_writes,
    merges_that_cannot_be_are_refused,
);

async fn merge(app: &TestApp, source: i64, into: Value) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/partners/{source}/merge"),
        &json!({ "into": into }),
    )
    .await
}

async fn a_merge_moves_parties_participants_and_identifiers_to_the_target(app: TestApp) {
    let duplicate = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "MOIS", "kind": "government",
                    "identifiers": [{"scheme": "wikidata", "value": "Q16172958"}]}),
        )
        .await,
        201,
    )
    .await;
    let source = duplicate["id"].as_i64().expect("an id");
    let target = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Ministry of the Interior and Safety", "kind": "government",
                    "identifiers": [{"scheme": "kr-brn", "value": "1234567890"}]}),
        )
        .await,
        201,
    )
    .await;
    let target_id = target["id"].as_i64().expect("an id");
    let undp = create_partner(&app, "UNDP", "multilateral", None).await;

    // Both parties of one agreement: one entry stays, in the target's place, with the stronger
    // role and the earlier signature.
    let both = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Grant arrangement", "kind": "grant", "status": "signed",
            "signed_on": "2021-07-01",
            "parties": [
                {"partner_id": source, "role": "signatory", "signed_on": "2021-07-01"},
                {"partner_id": undp, "role": "funding"},
                {"partner_id": target_id, "role": "implementing", "signed_on": "2021-07-15"}
            ]}),
        )
        .await,
        201,
    )
    .await;
    let only_source = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "MOU", "kind": "memorandum_of_understanding", "status": "draft",
                    "parties": [{"partner_id": source, "role": "observer"}]}),
        )
        .await,
        201,
    )
    .await;
    let untouched = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Other", "kind": "other", "status": "draft",
                    "parties": [{"partner_id": undp, "role": "funding"}]}),
        )
        .await,
        201,
    )
    .await;
    let event = json(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Forum", "kind": "forum", "starts_on": "2025-06-24",
            "participants": [
                {"partner_id": target_id, "role": "participant"},
                {"partner_id": source, "role": "host"}
            ]}),
        )
        .await,
        201,
    )
    .await;

    let report = json(merge(&app, source, json!(target_id)).await, 200).await;
    assert_eq!(report["merged"], source);
    assert_eq!(report["agreements"], json!([both["id"], only_source["id"]]));
    assert_eq!(report["events"], json!([event["id"]]));
    let into = &report["into"];
    assert_eq!(into["version"], 2);
    assert_eq!(
        into["identifiers"],
        json!([{"scheme": "kr-brn", "value": "1234567890"},
               {"scheme": "wikidata", "value": "Q16172958"}])
    );
    assert_eq!(
        &json(app.get(&format!("/api/v1/partners/{target_id}")).await, 200).await,
        into
    );

    let merged = json(
        app.get(&format!("/api/v1/agreements/{}", both["id"])).await,
        200,
    )
    .await;
    assert_eq!(
        merged["parties"],
        json!([{"partner_id": undp, "role": "funding"},
               {"partner_id": target_id, "role": "signatory", "signed_on": "2021-07-01"}])
    );
    assert_eq!(merged["version"], 2);
    let moved = json(
        app.get(&format!("/api/v1/agreements/{}", only_source["id"]))
            .await,
        200,
    )
    .await;
    assert_eq!(
        moved["parties"],
        json!([{"partner_id": target_id, "role": "observer"}])
    );
    let kept = json(
        app.get(&format!("/api/v1/agreements/{}", untouched["id"]))
            .await,
        200,
    )
    .await;
    assert_eq!(kept["version"], 1);
    let forum = json(
        app.get(&format!("/api/v1/events/{}", event["id"])).await,
        200,
    )
    .await;
    assert_eq!(
        forum["participants"],
        json!([{"partner_id": target_id, "role": "host"}])
    );

    // Filters and identifiers now find the target.
    let by_partner = json(
        app.get(&format!("/api/v1/agreements?partner={target_id}&sort=id"))
            .await,
        200,
    )
    .await;
    let ids: Vec<Value> = by_partner["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, [both["id"].clone(), only_source["id"].clone()]);
    let by_identifier = json(
        app.get("/api/v1/partners?identifier=wikidata:Q16172958")
            .await,
        200,
    )
    .await;
    assert_eq!(by_identifier["items"][0]["id"], target_id);

    // Every change is audited: the agreements, the event, the target, and the source's end.
    let audit = json(
        app.as_admin(Method::GET, "/api/v1/audit?resource_type=partner&sort=id")
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    let last: Vec<(Value, Value)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .rev()
        .take(2)
        .map(|e| (e["resource_id"].clone(), e["action"].clone()))
        .collect();
    assert!(
        last.contains(&(json!(source.to_string()), json!("delete")))
            && last.contains(&(json!(target_id.to_string()), json!("update"))),
        "{last:?}"
    );
}

async fn a_merged_partner_redirects_reads_and_refuses_writes(app: TestApp) {
    let source = create_partner(&app, "Civil Service Agency", "government", Some("KZ")).await;
    let target = create_partner(&app, "Agency for Civil Service Affairs", "government", None).await;
    json(merge(&app, source, json!(target)).await, 200).await;
    let path = format!("/api/v1/partners/{source}");

    for method in [Method::GET, Method::HEAD] {
        let response = app
            .request(method.clone(), &path)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 308, "{method}");
        assert_eq!(
            header_of(&response, "location"),
            Some(format!("/api/v1/partners/{target}"))
        );
    }
    let body = json!({"name": "Civil Service Agency", "kind": "government"});
    for response in [
        app.patch_json(&path, &json!({"acronym": "CSA"}), None)
            .await,
        app.put_json(&path, &body, None).await,
        app.delete(&path, None).await,
    ] {
        let refused = problem(response, 409).await;
        assert_eq!(refused["code"], "merged_into");
        assert!(
            refused["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&format!("/api/v1/partners/{target}"))),
            "{refused}"
        );
    }
    let again = problem(merge(&app, source, json!(target)).await, 409).await;
    assert_eq!(again["code"], "merged_into");

    // It is in no list, and nothing new can refer to it.
    let names: Vec<Value> = app
        .walk("/api/v1/partners?limit=10")
        .await
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(names, [json!(target)]);
    let refused = problem(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Seminar", "kind": "seminar", "starts_on": "2025-01-01",
                    "participants": [{"partner_id": source, "role": "host"}]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&refused), ["participants[0].partner_id"]);
    // Its name is free again.
    let reused = json(app.post_json("/api/v1/partners", &body).await, 201).await;
    assert_eq!(reused["name"], "Civil Service Agency");
    // Its history is for admins.
    problem(app.get(&format!("{path}/history")).await, 404).await;
    let history = json(
        app.as_admin(Method::GET, &format!("{path}/history"))
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert_eq!(history["items"][0]["action"], "delete");
}

async fn merges_that_cannot_be_are_refused(app: TestApp) {
    let one = create_partner(&app, "One", "government", None).await;
    let two = create_partner(&app, "Two", "government", None).await;
    let path = format!("/api/v1/partners/{one}/merge");
    let as_editor = app
        .request(Method::POST, &path)
        .bearer_auth(&app.editor_token)
        .json(&json!({"into": two}))
        .send()
        .await
        .expect("answered");
    problem(as_editor, 403).await;
    let into_itself = problem(merge(&app, one, json!(one)).await, 422).await;
    assert_eq!(error_fields(&into_itself), ["into"]);
    let into_nothing = problem(merge(&app, one, json!(424242)).await, 422).await;
    assert_eq!(error_fields(&into_nothing), ["into"]);
    problem(merge(&app, 424242, json!(two)).await, 404).await;
    let no_target = problem(app.post_json(&path, &json!({})).await, 422).await;
    assert_eq!(error_fields(&no_target), ["into"]);
    let wrong_type = problem(merge(&app, one, json!("two")).await, 400).await;
    assert_eq!(error_fields(&wrong_type), ["into"]);
    // Into a partner that was itself merged: it names no partner any more.
    let three = create_partner(&app, "Three", "government", None).await;
    json(merge(&app, two, json!(three)).await, 200).await;
    let into_merged = problem(merge(&app, one, json!(two)).await, 422).await;
    assert_eq!(error_fields(&into_merged), ["into"]);
    // Nothing moved for the refused ones.
    assert_eq!(
        json(app.get(&format!("/api/v1/partners/{one}")).await, 200).await["version"],
        1
    );
}
