use reqwest::header;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, header_of, json, problem};

backend_tests!(
    every_iso_country_is_present_after_the_first_start,
    a_country_is_found_by_its_code_in_any_case_with_an_etag,
    if_none_match_with_the_current_etag_returns_304,
    an_unknown_country_returns_404_problem,
    creating_an_unassigned_code_returns_201_with_location_and_etag,
    creating_an_existing_code_or_alpha3_returns_409,
    creating_a_country_that_breaks_rules_lists_every_field_in_422,
    malformed_or_mistyped_bodies_return_400_naming_the_field,
    a_body_that_is_not_json_returns_415,
    a_body_over_one_mebibyte_returns_413,
    put_replaces_the_whole_country_and_bumps_the_version,
    patch_applies_a_merge_patch_as_json_or_merge_patch_json,
    patch_cannot_change_the_code,
    a_stale_if_match_returns_412_and_changes_nothing,
    deleting_a_country_returns_204_then_404,
    deleting_with_a_stale_if_match_returns_412,
    countries_filter_by_region_subregion_and_participant,
    q_searches_case_insensitively_in_any_script,
    every_sort_walks_all_countries_in_order_without_gaps_or_repeats,
    pages_carry_a_link_to_the_next_page,
    bad_list_parameters_return_400,
);

fn kosovo() -> Value {
    json!({"code": "xk", "alpha3": "XKX", "numeric": "983", "name": "Kosovo",
           "region": "Europe", "subregion": "Southern Europe"})
}

async fn create_kosovo(app: &TestApp) -> Value {
    json(app.post_json("/api/v1/countries", &kosovo()).await, 201).await
}

async fn every_iso_country_is_present_after_the_first_start(app: TestApp) {
    let body = json(
        app.get("/api/v1/countries?with_total=true&limit=1").await,
        200,
    )
    .await;
    assert_eq!(body["total"], 249);
    let all = app.walk("/api/v1/countries?limit=500").await;
    assert_eq!(all.len(), 249);
    let kz = all
        .iter()
        .find(|c| c["code"] == "KZ")
        .expect("Kazakhstan is there");
    assert_eq!(kz["alpha3"], "KAZ");
    assert_eq!(kz["numeric"], "398");
    assert_eq!(kz["name"], "Kazakhstan");
    assert_eq!(kz["region"], "Asia");
    assert_eq!(kz["subregion"], "Central Asia");
    assert_eq!(kz["participant"], false);
    assert_eq!(kz["version"], 1);
    let kr = all
        .iter()
        .find(|c| c["code"] == "KR")
        .expect("Korea is there");
    assert_eq!(kr["numeric"], "410");
    assert!(
        all.iter()
            .all(|c| c["code"].as_str().is_some_and(|s| s.len() == 2))
    );
}

async fn a_country_is_found_by_its_code_in_any_case_with_an_etag(app: TestApp) {
    let response = app.get("/api/v1/countries/ge").await;
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"1\""));
    let body = json(response, 200).await;
    assert_eq!(body["code"], "GE");
    assert_eq!(body["name"], "Georgia");
    assert!(
        body["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let same = json(app.get("/api/v1/countries/Ge").await, 200).await;
    assert_eq!(same, body);
}

async fn if_none_match_with_the_current_etag_returns_304(app: TestApp) {
    let url = app.url("/api/v1/countries/AM");
    let fresh = app
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, "\"1\"")
        .send()
        .await
        .expect("answered");
    assert_eq!(fresh.status(), 304);
    assert_eq!(header_of(&fresh, "etag").as_deref(), Some("\"1\""));
    let stale = app
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, "\"7\"")
        .send()
        .await
        .expect("answered");
    assert_eq!(stale.status(), 200);
}

async fn an_unknown_country_returns_404_problem(app: TestApp) {
    let body = problem(app.get("/api/v1/countries/QQ").await, 404).await;
    assert_eq!(body["code"], "not_found");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("QQ")));
    problem(app.get("/api/v1/countries/not-a-code").await, 404).await;
}

async fn creating_an_unassigned_code_returns_201_with_location_and_etag(app: TestApp) {
    let response = app.post_json("/api/v1/countries", &kosovo()).await;
    assert_eq!(
        header_of(&response, "location").as_deref(),
        Some("/api/v1/countries/XK")
    );
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"1\""));
    let created = json(response, 201).await;
    assert_eq!(created["code"], "XK");
    assert_eq!(created["participant"], false);
    assert_eq!(created["joined_on"], Value::Null);
    assert_eq!(created["version"], 1);
    let fetched = json(app.get("/api/v1/countries/xk").await, 200).await;
    assert_eq!(fetched, created);
}

async fn creating_an_existing_code_or_alpha3_returns_409(app: TestApp) {
    let mut body = kosovo();
    body["code"] = json!("KZ");
    let clash = problem(app.post_json("/api/v1/countries", &body).await, 409).await;
    assert!(clash["detail"].as_str().is_some_and(|d| d.contains("KZ")));
    body["code"] = json!("XK");
    body["alpha3"] = json!("KAZ");
    let clash = problem(app.post_json("/api/v1/countries", &body).await, 409).await;
    assert!(clash["detail"].as_str().is_some_and(|d| d.contains("KAZ")));
    problem(app.get("/api/v1/countries/XK").await, 404).await;
}

async fn creating_a_country_that_breaks_rules_lists_every_field_in_422(app: TestApp) {
    let body = json!({"code": "X1", "alpha3": "XK", "numeric": "98a", "name": " ",
                      "region": "r".repeat(201), "notes": "n".repeat(5001),
                      "joined_on": "0000-01-01"});
    let body = problem(app.post_json("/api/v1/countries", &body).await, 422).await;
    assert_eq!(body["code"], "validation_failed");
    // The schema's rules come first, then the Validator's; the order says nothing more.
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(
        fields,
        [
            "alpha3",
            "code",
            "joined_on",
            "name",
            "notes",
            "numeric",
            "region"
        ]
    );
    let missing_code = json!({"alpha3": "XKX", "numeric": "983", "name": "Kosovo"});
    let body = problem(app.post_json("/api/v1/countries", &missing_code).await, 422).await;
    assert_eq!(error_fields(&body), ["code"]);
}

async fn malformed_or_mistyped_bodies_return_400_naming_the_field(app: TestApp) {
    let raw = |text: &'static str| {
        app.client
            .post(app.url("/api/v1/countries"))
            .bearer_auth(&app.admin_token)
            .header(header::CONTENT_TYPE, "application/json")
            .body(text)
            .send()
    };
    let body = problem(raw("{\"code\": ").await.expect("answered"), 400).await;
    assert_eq!(body["code"], "bad_request");
    problem(raw("").await.expect("answered"), 400).await;
    problem(raw("[1, 2]").await.expect("answered"), 400).await;

    let mut wrong_type = kosovo();
    wrong_type["participant"] = json!("yes");
    let body = problem(app.post_json("/api/v1/countries", &wrong_type).await, 400).await;
    assert_eq!(error_fields(&body), ["participant"]);

    let mut unknown = kosovo();
    unknown["capital"] = json!("Pristina");
    let body = problem(app.post_json("/api/v1/countries", &unknown).await, 400).await;
    assert_eq!(error_fields(&body), ["capital"]);

    // A date not written YYYY-MM-DD has the right JSON type: it breaks a rule, a 422.
    let mut bad_date = kosovo();
    bad_date["joined_on"] = json!("24/06/2024");
    let body = problem(app.post_json("/api/v1/countries", &bad_date).await, 422).await;
    assert_eq!(error_fields(&body), ["joined_on"]);
}

async fn a_body_that_is_not_json_returns_415(app: TestApp) {
    let response = app
        .client
        .post(app.url("/api/v1/countries"))
        .bearer_auth(&app.admin_token)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(kosovo().to_string())
        .send()
        .await
        .expect("answered");
    problem(response, 415).await;
    let response = app
        .client
        .post(app.url("/api/v1/countries"))
        .bearer_auth(&app.admin_token)
        .body(kosovo().to_string())
        .send()
        .await
        .expect("answered");
    problem(response, 415).await;
}

async fn a_body_over_one_mebibyte_returns_413(app: TestApp) {
    let mut body = kosovo();
    body["notes"] = json!("x".repeat(1 << 20));
    problem(app.post_json("/api/v1/countries", &body).await, 413).await;
    problem(app.get("/api/v1/countries/XK").await, 404).await;
}

async fn put_replaces_the_whole_country_and_bumps_the_version(app: TestApp) {
    let created = create_kosovo(&app).await;
    let replacement = json!({"alpha3": "XKX", "numeric": "983", "name": "Republic of Kosovo",
                             "participant": true, "joined_on": "2024-06-24"});
    let response = app
        .put_json("/api/v1/countries/XK", &replacement, Some("\"1\""))
        .await;
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"2\""));
    let replaced = json(response, 200).await;
    assert_eq!(replaced["name"], "Republic of Kosovo");
    assert_eq!(replaced["participant"], true);
    assert_eq!(replaced["joined_on"], "2024-06-24");
    assert_eq!(
        replaced["region"],
        Value::Null,
        "fields left out are cleared"
    );
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_ne!(replaced["updated_at"], created["updated_at"]);
    let mut other_code = replacement.clone();
    other_code["code"] = json!("KZ");
    let body = problem(
        app.put_json("/api/v1/countries/XK", &other_code, None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&body), ["code"]);
    problem(
        app.put_json("/api/v1/countries/QQ", &replacement, None)
            .await,
        404,
    )
    .await;
}

async fn patch_applies_a_merge_patch_as_json_or_merge_patch_json(app: TestApp) {
    let patch =
        json!({"participant": true, "joined_on": "2021-01-01", "notes": "Regional project"});
    let patched = json(
        app.patch_json("/api/v1/countries/kz", &patch, None).await,
        200,
    )
    .await;
    assert_eq!(patched["participant"], true);
    assert_eq!(patched["notes"], "Regional project");
    assert_eq!(
        patched["name"], "Kazakhstan",
        "fields not in the patch stay"
    );
    assert_eq!(patched["version"], 2);

    let clear = app
        .client
        .patch(app.url("/api/v1/countries/KZ"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"notes": null}))
        .send()
        .await
        .expect("answered");
    let cleared = json(clear, 200).await;
    assert_eq!(cleared["notes"], Value::Null);
    assert_eq!(cleared["joined_on"], "2021-01-01");
    assert_eq!(cleared["version"], 3);

    let invalid = problem(
        app.patch_json("/api/v1/countries/KZ", &json!({"name": ""}), None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&invalid), ["name"]);
    let mistyped = problem(
        app.patch_json("/api/v1/countries/KZ", &json!({"participant": 1}), None)
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&mistyped), ["participant"]);
    problem(
        app.patch_json("/api/v1/countries/KZ", &json!([1]), None)
            .await,
        400,
    )
    .await;
    problem(
        app.patch_json("/api/v1/countries/QQ", &json!({}), None)
            .await,
        404,
    )
    .await;
    let unchanged = json(app.get("/api/v1/countries/KZ").await, 200).await;
    assert_eq!(unchanged["version"], 3);
}

async fn patch_cannot_change_the_code(app: TestApp) {
    let body = problem(
        app.patch_json("/api/v1/countries/KZ", &json!({"code": "KX"}), None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&body), ["code"]);
    let same = json(
        app.patch_json("/api/v1/countries/KZ", &json!({"code": "kz"}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(same["code"], "KZ");
}

async fn a_stale_if_match_returns_412_and_changes_nothing(app: TestApp) {
    let patch = json!({"participant": true});
    let body = problem(
        app.patch_json("/api/v1/countries/UZ", &patch, Some("\"2\""))
            .await,
        412,
    )
    .await;
    assert_eq!(body["code"], "precondition_failed");
    let full = json!({"alpha3": "UZB", "numeric": "860", "name": "Changed"});
    problem(
        app.put_json("/api/v1/countries/UZ", &full, Some("\"9\""))
            .await,
        412,
    )
    .await;
    let unchanged = json(app.get("/api/v1/countries/UZ").await, 200).await;
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["participant"], false);
    assert_eq!(unchanged["name"], "Uzbekistan");
    let ok = json(
        app.patch_json("/api/v1/countries/UZ", &patch, Some("\"1\""))
            .await,
        200,
    )
    .await;
    assert_eq!(ok["version"], 2);
    let any = json(
        app.patch_json("/api/v1/countries/UZ", &json!({"notes": "x"}), Some("*"))
            .await,
        200,
    )
    .await;
    assert_eq!(any["version"], 3);
}

async fn deleting_a_country_returns_204_then_404(app: TestApp) {
    create_kosovo(&app).await;
    let response = app.delete("/api/v1/countries/xk", None).await;
    assert_eq!(response.status(), 204);
    problem(app.get("/api/v1/countries/XK").await, 404).await;
    problem(app.delete("/api/v1/countries/XK", None).await, 404).await;
}

async fn deleting_with_a_stale_if_match_returns_412(app: TestApp) {
    create_kosovo(&app).await;
    problem(app.delete("/api/v1/countries/XK", Some("\"5\"")).await, 412).await;
    json(app.get("/api/v1/countries/XK").await, 200).await;
    assert_eq!(
        app.delete("/api/v1/countries/XK", Some("\"1\""))
            .await
            .status(),
        204
    );
}

fn codes(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|c| c["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn countries_filter_by_region_subregion_and_participant(app: TestApp) {
    let central_asia = app.walk("/api/v1/countries?subregion=Central%20Asia").await;
    assert_eq!(codes(&central_asia), ["KG", "KZ", "TJ", "TM", "UZ"]);
    let asia = app.walk("/api/v1/countries?region=Asia&limit=500").await;
    assert!(asia.iter().all(|c| c["region"] == "Asia"));
    assert!(codes(&asia).contains(&"KR".to_owned()));
    assert!(!codes(&asia).contains(&"DE".to_owned()));
    for code in ["KZ", "KR"] {
        json(
            app.patch_json(
                &format!("/api/v1/countries/{code}"),
                &json!({"participant": true}),
                None,
            )
            .await,
            200,
        )
        .await;
    }
    let participants = app.walk("/api/v1/countries?participant=true").await;
    assert_eq!(codes(&participants), ["KR", "KZ"]);
    let others = app
        .walk("/api/v1/countries?participant=false&limit=500")
        .await;
    assert_eq!(others.len(), 247);
    let both = app
        .walk("/api/v1/countries?participant=true&region=Asia&subregion=Eastern%20Asia")
        .await;
    assert_eq!(codes(&both), ["KR"]);
}

async fn q_searches_case_insensitively_in_any_script(app: TestApp) {
    let found = app.walk("/api/v1/countries?q=KAZAKH").await;
    assert_eq!(codes(&found), ["KZ"]);
    // The notes' words are in no country's name in any language it comes with.
    let patch = json!({"notes": "Хабтың құрылтайшысы; 협력 허브 창립국"});
    json(
        app.patch_json("/api/v1/countries/KZ", &patch, None).await,
        200,
    )
    .await;
    for q in [
        "қазақстан",
        "ҚАЗАҚСТАН",
        "ХАБТЫҢ",
        "құрылтайшысы",
        "허브 창립",
    ] {
        let url = format!("/api/v1/countries?q={}", urlencode(q));
        assert_eq!(codes(&app.walk(&url).await), ["KZ"], "q={q}");
    }
    let none = app.walk("/api/v1/countries?q=%25%25").await;
    assert!(none.is_empty(), "LIKE wildcards in q are literal");
    let by_alpha3 = app.walk("/api/v1/countries?q=kor").await;
    assert!(codes(&by_alpha3).contains(&"KR".to_owned()));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn every_sort_walks_all_countries_in_order_without_gaps_or_repeats(app: TestApp) {
    // Make ties on the sort key so that the tie-breaker is exercised.
    create_kosovo(&app).await;
    let mut twin = kosovo();
    twin["code"] = json!("XZ");
    twin["alpha3"] = json!("XZZ");
    json(app.post_json("/api/v1/countries", &twin).await, 201).await;
    for field in [
        "code",
        "name",
        "alpha3",
        "numeric",
        "created_at",
        "updated_at",
    ] {
        for sort in [field.to_owned(), format!("-{field}")] {
            let items = app
                .walk(&format!("/api/v1/countries?limit=17&sort={sort}"))
                .await;
            assert_eq!(items.len(), 251, "sort={sort}");
            let mut seen = codes(&items);
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 251, "no repeats under sort={sort}");
            let key = |c: &Value| {
                (
                    c[field].as_str().unwrap_or_default().to_owned(),
                    c["code"].as_str().unwrap_or_default().to_owned(),
                )
            };
            let keys: Vec<_> = items.iter().map(key).collect();
            let mut expected = keys.clone();
            expected.sort();
            if sort.starts_with('-') {
                expected.reverse();
            }
            assert_eq!(keys, expected, "order under sort={sort}");
        }
    }
}

async fn pages_carry_a_link_to_the_next_page(app: TestApp) {
    let response = app
        .get("/api/v1/countries?limit=2&sort=-name&region=Asia")
        .await;
    let link = header_of(&response, "link").expect("a Link header");
    let body = json(response, 200).await;
    let cursor = body["next_cursor"].as_str().expect("a next cursor");
    assert!(link.starts_with("</api/v1/countries?"), "{link}");
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    assert!(
        link.contains("sort=-name") && link.contains("region=Asia") && link.contains(cursor),
        "{link}"
    );
    let next_path = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .expect("a URL");
    let next = json(app.get(next_path).await, 200).await;
    assert_eq!(next["items"].as_array().map(Vec::len), Some(2));
    assert_ne!(next["items"][0]["code"], body["items"][0]["code"]);
    assert!(body.get("total").is_none(), "total only when asked for");

    let last = app
        .get("/api/v1/countries?subregion=Central%20Asia&limit=10")
        .await;
    assert!(header_of(&last, "link").is_none());
    assert_eq!(json(last, 200).await["next_cursor"], Value::Null);
}

async fn bad_list_parameters_return_400(app: TestApp) {
    for query in [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=ten",
        "sort=capital",
        "sort=--name",
        "participant=maybe",
        "with_total=often",
        "cursor=%21%21",
    ] {
        let body = problem(app.get(&format!("/api/v1/countries?{query}")).await, 400).await;
        let name = query.split('=').next().unwrap_or_default();
        assert_eq!(error_fields(&body), [name], "{query}");
    }
    let page = json(app.get("/api/v1/countries?limit=1&sort=name").await, 200).await;
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let body = problem(
        app.get(&format!("/api/v1/countries?sort=code&cursor={cursor}"))
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&body), ["cursor"]);
}
