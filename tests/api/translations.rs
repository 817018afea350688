//! Names in the hub's languages: `translations` on every resource, their rules, the `display`
//! that `lang=` or `Accept-Language` chooses, search in any script, and the countries' names
//! from the ISO data.

use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, error_fields, header_of, json, problem};

backend_tests!(
    every_resource_keeps_its_translations_in_one_shape,
    every_translation_rule_is_checked_and_reported_at_once,
    lang_and_accept_language_choose_the_display,
    search_finds_records_by_any_translation,
    countries_come_with_names_in_the_hubs_languages_and_an_admins_name_wins,
);

fn mia() -> Value {
    json!({"name": "Ministry of Internal Affairs of the Republic of Kazakhstan", "acronym": "MIA",
    "kind": "government", "country_code": "KZ",
    "translations": {
        "RU": {"name": "Министерство внутренних дел Республики Казахстан", "acronym": "МВД"},
        "kk": {"name": "Қазақстан Республикасы Ішкі істер министрлігі"},
        "KK-latn": {"name": " Qazaqstan Respublikasy Ishki ister ministrligi "}
    }})
}

async fn get_with(app: &TestApp, path: &str, language: &str) -> reqwest::Response {
    app.request(Method::GET, path)
        .header(header::ACCEPT_LANGUAGE, language)
        .send()
        .await
        .expect("answered")
}

async fn every_resource_keeps_its_translations_in_one_shape(app: TestApp) {
    let partner = json(app.post_json("/api/v1/partners", &mia()).await, 201).await;
    assert_eq!(
        partner["translations"],
        json!({
            "kk": {"name": "Қазақстан Республикасы Ішкі істер министрлігі"},
            "kk-Latn": {"name": "Qazaqstan Respublikasy Ishki ister ministrligi"},
            "ru": {"name": "Министерство внутренних дел Республики Казахстан", "acronym": "МВД"}
        }),
        "tags in canonical case, texts trimmed"
    );
    let path = format!("/api/v1/partners/{}", partner["id"]);
    assert_eq!(json(app.get(&path).await, 200).await, partner);

    let agreement = json(
        app.post_json(
            "/api/v1/agreements",
            &json!({"title": "Memorandum on digital government", "kind": "memorandum_of_understanding",
                    "status": "draft",
                    "translations": {"ko": {"title": "디지털 정부 양해각서", "summary": "협력 분야:\n- 교육"}}}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        agreement["translations"]["ko"]["summary"],
        "협력 분야:\n- 교육"
    );
    let event = json(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Civil service forum", "kind": "forum", "starts_on": "2025-06-24",
                    "translations": {"hy": {"title": "Քաղաքացիական ծառայության ֆորում"}}}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        event["translations"]["hy"]["title"],
        "Քաղաքացիական ծառայության ֆորում"
    );

    // A patch merges into the map (RFC 7396): a text or a language is replaced, null removes
    // one, the rest stays. A replace (PUT) sets the whole map; left out, none.
    let patched = json(
        app.patch_json(&path, &json!({"acronym": "MVD"}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(patched["translations"], partner["translations"]);
    let merge = json!({"translations": {"ru": {"name": "МВД Казахстана", "acronym": null},
                                        "kk": null, "kk-Latn": null}});
    let merged = json(app.patch_json(&path, &merge, None).await, 200).await;
    assert_eq!(
        merged["translations"],
        json!({"ru": {"name": "МВД Казахстана"}})
    );
    let mut replacement = mia();
    replacement
        .as_object_mut()
        .expect("an object")
        .remove("translations");
    let replaced = json(app.put_json(&path, &replacement, None).await, 200).await;
    assert_eq!(replaced["translations"], json!({}));
    let without = json!({"name": "UNDP", "kind": "multilateral"});
    let plain = json(app.post_json("/api/v1/partners", &without).await, 201).await;
    assert_eq!(plain["translations"], json!({}));
}

async fn every_translation_rule_is_checked_and_reported_at_once(app: TestApp) {
    let body = json!({"name": "Ministry", "kind": "government", "translations": {
        "not a tag": {"name": "x"},
        "kk-Latn": {"name": "a"},
        "kk-latn": {"name": "b"},
        "ko": {"name": "  "},
        "ka": {"acronym": "ა".repeat(21)},
        "hy": {}
    }});
    let refused = problem(app.post_json("/api/v1/partners", &body).await, 422).await;
    let mut fields = error_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "translations",
            "translations.hy",
            "translations.ka.acronym",
            "translations.kk-latn",
            "translations.ko.name",
            "translations.not a tag"
        ],
        "{refused}"
    );
    let duplicate = refused["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .find(|e| e["field"] == "translations.kk-latn")
        .expect("the duplicate");
    assert!(
        duplicate["message"]
            .as_str()
            .is_some_and(|m| m.contains("only in case"))
    );

    // What the schema refuses as for every body, with a 400: a text that is not a string, a
    // field the resource does not translate (a member the body cannot have), a map that is
    // not an object.
    for (translations, status) in [
        (json!({"ru": {"name": 5}}), 400),
        (json!({"ru": "Министерство"}), 400),
        (json!({"ru": {"summary": "not a partner's field"}}), 400),
        (json!(["ru"]), 400),
    ] {
        let body = json!({"name": "Ministry", "kind": "government", "translations": translations});
        let refused = problem(app.post_json("/api/v1/partners", &body).await, status).await;
        assert!(
            error_fields(&refused)
                .iter()
                .all(|f| f.starts_with("translations")),
            "{translations}: {refused}"
        );
    }
    assert_eq!(
        json(app.get("/api/v1/partners").await, 200).await["items"],
        json!([]),
        "nothing was written"
    );
}

async fn lang_and_accept_language_choose_the_display(app: TestApp) {
    let partner = json(app.post_json("/api/v1/partners", &mia()).await, 201).await;
    let path = format!("/api/v1/partners/{}", partner["id"]);

    let plain = app.get(&path).await;
    assert_eq!(header_of(&plain, "etag").as_deref(), Some("\"1\""));
    assert_eq!(
        header_of(&plain, "vary").as_deref(),
        Some("Accept-Language")
    );
    assert!(json(plain, 200).await.get("display").is_none());

    let russian = app.get(&format!("{path}?lang=ru")).await;
    assert_eq!(
        header_of(&russian, "content-language").as_deref(),
        Some("ru")
    );
    assert_eq!(
        header_of(&russian, "vary").as_deref(),
        Some("Accept-Language")
    );
    let russian_tag = header_of(&russian, "etag").expect("an ETag");
    assert!(russian_tag.starts_with("W/\"1-"), "{russian_tag}");
    let body = russian.text().await.expect("a body");
    assert!(
        body.ends_with(r#""display":{"lang":"ru","name":"Министерство внутренних дел Республики Казахстан","acronym":"МВД"}}"#),
        "{body}"
    );

    // Field by field: Kazakh has a name but no acronym, which stays the canonical one.
    let kazakh = get_with(&app, &path, "kk;q=0.9, ru;q=0.5, *;q=0.1").await;
    assert_eq!(
        header_of(&kazakh, "content-language").as_deref(),
        Some("kk")
    );
    let kazakh_tag = header_of(&kazakh, "etag").expect("an ETag");
    assert_ne!(kazakh_tag, russian_tag);
    let display = json(kazakh, 200).await["display"].clone();
    assert_eq!(
        display,
        json!({"lang": "kk", "name": "Қазақстан Республикасы Ішкі істер министрлігі", "acronym": "MIA"})
    );
    let latin = json(get_with(&app, &path, "kk-Latn-KZ").await, 200).await;
    assert_eq!(latin["display"]["lang"], "kk-Latn");
    // lang= wins over the header; a language the record lacks shows the canonical texts.
    let response = app
        .request(Method::GET, &format!("{path}?lang=fr,de"))
        .header(header::ACCEPT_LANGUAGE, "ru")
        .send()
        .await
        .expect("answered");
    assert_eq!(header_of(&response, "content-language"), None);
    let shown = json(response, 200).await;
    assert_eq!(
        shown["display"],
        json!({"lang": null, "name": partner["name"], "acronym": "MIA"})
    );
    // The shaped tag is asked for again: 304.
    let again = app
        .request(Method::GET, &format!("{path}?lang=ru"))
        .header(header::IF_NONE_MATCH, &russian_tag)
        .send()
        .await
        .expect("answered");
    assert_eq!(again.status(), 304);

    // Lists: every item gets its display, and the page's tag names the languages.
    let page = app.get("/api/v1/partners?lang=ru&fields=name").await;
    assert_eq!(header_of(&page, "content-language").as_deref(), Some("ru"));
    let page_tag = header_of(&page, "etag").expect("an ETag");
    let plain_page = app.get("/api/v1/partners?fields=name").await;
    assert_ne!(header_of(&plain_page, "etag"), Some(page_tag.clone()));
    let items = json(page, 200).await["items"].clone();
    assert_eq!(items[0]["display"]["acronym"], "МВД");
    assert_eq!(items[0].as_object().map(|o| o.len()), Some(3), "{items}");

    for bad in ["x_y", "ru,,kk", "123"] {
        let refused = problem(app.get(&format!("{path}?lang={bad}")).await, 400).await;
        assert_eq!(error_fields(&refused), ["lang"], "{bad}");
    }
    // An Accept-Language the service cannot read is no preference at all.
    let ignored = get_with(&app, &path, "*;q=0.5, 12;q=1").await;
    assert_eq!(header_of(&ignored, "etag").as_deref(), Some("\"1\""));
}

async fn search_finds_records_by_any_translation(app: TestApp) {
    let partner = json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Ministry of Internal Affairs of Georgia", "kind": "government",
            "translations": {
                "ru": {"name": "МВД Грузии"},
                "ka": {"name": "ᲨᲘᲜᲐᲒᲐᲜ ᲡᲐᲥᲛᲔᲗᲐ ᲡᲐᲛᲘᲜᲘᲡᲢᲠᲝ"},
                "hy": {"name": "Ներքին գործերի նախարարություն"},
                "ko": {"name": "조지아 내무부"}
            }}),
        )
        .await,
        201,
    )
    .await;
    json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": "Other body", "kind": "other"}),
        )
        .await,
        201,
    )
    .await;
    for q in [
        "мвд",
        "МВД",
        "შინაგან",
        "ՆԵՐՔԻՆ",
        "내무",
        "무",
        "조지아 내무부",
    ] {
        let page = json(
            app.request(Method::GET, "/api/v1/partners")
                .query(&[("q", q)])
                .send()
                .await
                .expect("answered"),
            200,
        )
        .await;
        let ids: Vec<Value> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["id"].clone())
            .collect();
        assert_eq!(ids, [partner["id"].clone()], "q={q}");
    }
    // A translation that is gone is no longer found.
    let path = format!("/api/v1/partners/{}", partner["id"]);
    let without_russian = json!({"translations": {"ru": null}});
    json(app.patch_json(&path, &without_russian, None).await, 200).await;
    let page = json(
        app.request(Method::GET, "/api/v1/partners")
            .query(&[("q", "мвд")])
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert_eq!(page["items"], json!([]));
}

async fn countries_come_with_names_in_the_hubs_languages_and_an_admins_name_wins(app: TestApp) {
    let kz = json(app.get("/api/v1/countries/KZ").await, 200).await;
    let names = &kz["translations"];
    assert_eq!(names["ru"]["name"], "Казахстан");
    assert_eq!(names["kk"]["name"], "Қазақстан");
    assert_eq!(names["ko"]["name"], "카자흐스탄");
    for tag in ["en", "ka", "hy", "az", "ky", "tg", "uz"] {
        assert!(names[tag]["name"].is_string(), "{tag}: {names}");
    }
    assert!(
        names.get("fr").is_none(),
        "only the hub's languages: {names}"
    );
    let korea = json(app.get("/api/v1/countries/KR?lang=ko").await, 200).await;
    assert_eq!(korea["display"]["lang"], "ko");

    // An admin's name wins over the data's and is kept when a new release of the service
    // starts (an upgrade); a language the country has no name in gets the data's then. A
    // restart of the same release adds nothing.
    let own = json!({"translations": {"ru": {"name": "Республика Казахстан"}, "kk": null}});
    let patched = json(
        app.patch_json("/api/v1/countries/KZ", &own, None).await,
        200,
    )
    .await;
    assert_eq!(
        patched["translations"]["ru"]["name"],
        "Республика Казахстан"
    );
    assert!(patched["translations"].get("kk").is_none());
    let db = coop_registry::db::Db::new(&coop_registry::config::Settings::with_database(
        app.database.url(),
    ))
    .expect("the database opens");
    coop_registry::app::prepare_database(&db).expect("starts again");
    let restarted = json(app.get("/api/v1/countries/KZ").await, 200).await;
    assert_eq!(restarted, patched);
    {
        use diesel::RunQueryDsl;
        let mut conn = db.writer().get().expect("a connection");
        diesel::sql_query("UPDATE reference_data SET version = '0.0.0'")
            .execute(&mut *conn)
            .expect("as if the last start was an older release");
    }
    coop_registry::app::prepare_database(&db).expect("a new release starts");
    let after = json(app.get("/api/v1/countries/KZ").await, 200).await;
    assert_eq!(after["translations"]["ru"]["name"], "Республика Казахстан");
    assert_eq!(after["translations"]["kk"]["name"], "Қазақстан");
    assert_eq!(
        after["version"],
        patched["version"].as_i64().expect("a version") + 1
    );
    let audit = json(
        app.as_admin(
            Method::GET,
            "/api/v1/audit?resource_type=country&resource_id=KZ",
        )
        .send()
        .await
        .expect("answered"),
        200,
    )
    .await;
    assert_eq!(audit["items"][0]["actor"], "coop-registry");
    // Nothing left to add: a second start changes nothing.
    coop_registry::app::prepare_database(&db).expect("starts again");
    let again = json(app.get("/api/v1/countries/KZ").await, 200).await;
    assert_eq!(again["version"], after["version"]);
}
