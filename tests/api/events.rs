use serde_json::{Value, json};

use crate::agreements::create_agreement;
use crate::backend_tests;
use crate::helpers::{
    Backend, TestApp, error_fields, header_of, json, problem, sort_text, spawn_app_with,
    spawn_second_instance_with,
};
use crate::partners::create_partner;

backend_tests!(
    an_event_is_stored_with_its_participants_and_place,
    put_and_patch_replace_participants_as_a_whole,
    every_event_rule_is_checked_and_reported_at_once,
    event_writes_honour_if_match,
    events_filter_by_every_parameter,
    a_date_range_finds_events_that_began_long_before_it,
    every_event_sort_walks_all_events_in_order,
    a_walk_through_events_of_one_day_sees_each_once,
    an_agreement_with_events_cannot_be_deleted,
    partner_agreement_and_event_can_be_created_and_found_by_filter,
    a_list_shows_each_event_as_it_is_now,
    kept_renderings_give_the_same_pages_byte_for_byte,
    a_partner_taking_part_in_an_event_cannot_be_deleted,
);

/// The same, with no renderings kept (`RENDERED_CACHE_MIB=0`): both ways give the same pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_list_shows_each_event_as_it_is_now_without_kept_renderings() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.rendered_cache_mib = 0).await;
    a_list_shows_each_event_as_it_is_now(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_a_list_shows_each_event_as_it_is_now_without_kept_renderings() {
    let app = spawn_app_with(Backend::Postgres, |s| s.rendered_cache_mib = 0).await;
    a_list_shows_each_event_as_it_is_now(app).await;
}

async fn create_event(app: &TestApp, body: &Value) -> i64 {
    let created = json(app.post_json("/api/v1/events", body).await, 201).await;
    created["id"].as_i64().expect("an id")
}

fn forum(participants: &[(i64, &str)]) -> Value {
    json!({
        "title": "United Nations Public Service Forum 2024", "kind": "forum",
        "starts_on": "2024-06-24", "ends_on": "2024-06-26", "city": "Incheon",
        "venue": "Songdo Convensia", "country_code": "kr",
        "participants": participants.iter().map(|(id, role)| json!({"partner_id": id, "role": role})).collect::<Vec<_>>(),
    })
}

async fn an_event_is_stored_with_its_participants_and_place(app: TestApp) {
    let mois = create_partner(&app, "MOIS", "government", Some("KR")).await;
    let hub = create_partner(&app, "ACSH", "multilateral", Some("KZ")).await;
    let response = app
        .post_json(
            "/api/v1/events",
            &forum(&[(mois, "host"), (hub, "speaker")]),
        )
        .await;
    let location = header_of(&response, "location").expect("Location");
    let created = json(response, 201).await;
    assert_eq!(created["country_code"], "KR");
    assert_eq!(
        created["participants"],
        json!([{"partner_id": mois, "role": "host"}, {"partner_id": hub, "role": "speaker"}])
    );
    assert_eq!(created["agreement_id"], Value::Null);
    assert_eq!(json(app.get(&location).await, 200).await, created);
    assert_eq!(app.delete(&location, None).await.status(), 204);
    problem(app.get(&location).await, 404).await;
    assert_eq!(
        app.delete(&format!("/api/v1/partners/{mois}"), None)
            .await
            .status(),
        204,
        "participant links went with the event"
    );
}

async fn put_and_patch_replace_participants_as_a_whole(app: TestApp) {
    let a = create_partner(&app, "A", "government", None).await;
    let b = create_partner(&app, "B", "academic", None).await;
    let id = create_event(&app, &forum(&[(a, "host")])).await;
    let url = format!("/api/v1/events/{id}");
    let patched = json(app.patch_json(&url, &json!({"participants": [{"partner_id": b, "role": "organizer"}, {"partner_id": a, "role": "participant"}]}), None).await, 200).await;
    assert_eq!(
        patched["participants"],
        json!([{"partner_id": b, "role": "organizer"}, {"partner_id": a, "role": "participant"}])
    );
    let patched = json(
        app.patch_json(&url, &json!({"venue": null, "ends_on": null}), None)
            .await,
        200,
    )
    .await;
    assert_eq!(patched["venue"], Value::Null);
    assert_eq!(
        patched["participants"].as_array().map(Vec::len),
        Some(2),
        "participants not in the patch stay"
    );
    let replaced = json(
        app.put_json(
            &url,
            &json!({"title": "Seminar", "kind": "seminar", "starts_on": "2024-01-01"}),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(replaced["participants"], json!([]));
    assert_eq!(replaced["city"], Value::Null);
    assert_eq!(replaced["version"], 4);
    assert_eq!(
        json(app.get(&url).await, 200).await,
        replaced,
        "the answer is what is stored"
    );
}

async fn every_event_rule_is_checked_and_reported_at_once(app: TestApp) {
    let p = create_partner(&app, "P", "government", None).await;
    let base = forum(&[(p, "host")]);
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, u16, Vec<&str>)> = vec![
        (with(json!({"title": " "})), 422, vec!["title"]),
        (with(json!({"title": "t".repeat(301)})), 422, vec!["title"]),
        (with(json!({"ends_on": "2024-06-23"})), 422, vec!["ends_on"]),
        (with(json!({"city": "c".repeat(201)})), 422, vec!["city"]),
        (with(json!({"venue": "v".repeat(201)})), 422, vec!["venue"]),
        (
            with(json!({"country_code": "QQ"})),
            422,
            vec!["country_code"],
        ),
        (
            with(json!({"agreement_id": 424_242})),
            422,
            vec!["agreement_id"],
        ),
        (
            with(json!({"description": "d".repeat(10_001)})),
            422,
            vec!["description"],
        ),
        (
            with(json!({"url": "javascript:alert(1)"})),
            422,
            vec!["url"],
        ),
        (
            with(
                json!({"participants": [{"partner_id": p, "role": "host"}, {"partner_id": p, "role": "speaker"}]}),
            ),
            422,
            vec!["participants[1].partner_id"],
        ),
        (
            with(json!({"participants": [{"partner_id": 77_777, "role": "host"}]})),
            422,
            vec!["participants[0].partner_id"],
        ),
        (
            with(
                json!({"title": "", "country_code": "QQ", "agreement_id": 5, "participants": [{"partner_id": 77_777, "role": "host"}]}),
            ),
            422,
            vec![
                "title",
                "participants[0].partner_id",
                "country_code",
                "agreement_id",
            ],
        ),
        (with(json!({"starts_on": null})), 400, vec!["starts_on"]),
        (with(json!({"kind": "party"})), 422, vec!["kind"]),
        (
            with(json!({"participants": [{"partner_id": p, "role": "guest"}]})),
            422,
            vec!["participants[0].role"],
        ),
        (
            with(json!({"agreement_id": 1.5})),
            400,
            vec!["agreement_id"],
        ),
    ];
    for (body, status, fields) in cases {
        let problem = problem(app.post_json("/api/v1/events", &body).await, status).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let mut no_start = base.clone();
    no_start
        .as_object_mut()
        .expect("object")
        .remove("starts_on");
    let body = problem(app.post_json("/api/v1/events", &no_start).await, 422).await;
    assert_eq!(error_fields(&body), ["starts_on"]);
    assert!(
        app.walk("/api/v1/events?").await.is_empty(),
        "nothing was stored"
    );
}

async fn event_writes_honour_if_match(app: TestApp) {
    let id = create_event(&app, &forum(&[])).await;
    let url = format!("/api/v1/events/{id}");
    problem(
        app.patch_json(&url, &json!({"city": "Seoul"}), Some("\"5\""))
            .await,
        412,
    )
    .await;
    problem(app.put_json(&url, &forum(&[]), Some("\"0\"")).await, 412).await;
    problem(app.delete(&url, Some("\"5\"")).await, 412).await;
    assert_eq!(json(app.get(&url).await, 200).await["city"], "Incheon");
    let response = app
        .patch_json(&url, &json!({"city": "Seoul"}), Some("\"1\""))
        .await;
    assert_eq!(header_of(&response, "etag").as_deref(), Some("\"2\""));
    assert_eq!(app.delete(&url, Some("\"2\"")).await.status(), 204);
}

async fn events_filter_by_every_parameter(app: TestApp) {
    let hub = create_partner(&app, "ACSH", "multilateral", Some("KZ")).await;
    let mois = create_partner(&app, "MOIS", "government", Some("KR")).await;
    let project = create_agreement(
        &app,
        &json!({"title": "Regional project", "kind": "joint_project", "status": "draft"}),
    )
    .await;
    let tbilisi = create_event(
        &app,
        &json!({
        "title": "Capacity-building workshop on digital government", "kind": "workshop",
        "starts_on": "2023-05-16", "ends_on": "2023-05-18", "city": "Tbilisi", "country_code": "GE",
        "agreement_id": project, "participants": [{"partner_id": hub, "role": "organizer"}]}),
    )
    .await;
    let songdo = create_event(&app, &forum(&[(mois, "host"), (hub, "participant")])).await;
    let signing = create_event(&app, &json!({
        "title": "Signing of the MOU", "kind": "signing_ceremony", "starts_on": "2024-06-03",
        "city": "Астана", "country_code": "KZ", "participants": [{"partner_id": hub, "role": "host"}]})).await;
    let ids = |items: Vec<Value>| {
        items
            .iter()
            .map(|e| e["id"].as_i64().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let cases: Vec<(String, Vec<i64>)> = vec![
        ("kind=forum".to_owned(), vec![songdo]),
        ("country=ge".to_owned(), vec![tbilisi]),
        (format!("partner={mois}"), vec![songdo]),
        (format!("partner={hub}"), vec![tbilisi, signing, songdo]),
        (format!("agreement={project}"), vec![tbilisi]),
        ("from=2024-06-25".to_owned(), vec![songdo]),
        ("from=2024-06-26".to_owned(), vec![songdo]),
        ("from=2024-06-27".to_owned(), vec![]),
        ("to=2023-05-16".to_owned(), vec![tbilisi]),
        ("to=2023-05-15".to_owned(), vec![]),
        ("from=2023-05-17&to=2023-05-17".to_owned(), vec![tbilisi]),
        (
            "from=2024-06-01&to=2024-06-24".to_owned(),
            vec![signing, songdo],
        ),
        ("from=2024-06-03&to=2024-06-03".to_owned(), vec![signing]),
        ("q=DIGITAL".to_owned(), vec![tbilisi]),
        (
            "q=%D0%B0%D1%81%D1%82%D0%B0%D0%BD%D0%B0".to_owned(),
            vec![signing],
        ),
        ("q=songdo".to_owned(), vec![songdo]),
        ("country=KR&from=2025-01-01".to_owned(), vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            ids(app.walk(&format!("/api/v1/events?{query}")).await),
            expected,
            "{query}"
        );
    }
    for bad in [
        "kind=party",
        "partner=abc",
        "from=2024-02-30",
        "to=soon",
        "agreement=1.5",
    ] {
        problem(app.get(&format!("/api/v1/events?{bad}")).await, 400).await;
    }
}

/// `from` lets the list start near it by the longest event's duration: events that began long
/// before `from` and still go on are found, however long, and dates at the ends of the
/// calendar neither fail nor lose events.
async fn a_date_range_finds_events_that_began_long_before_it(app: TestApp) {
    let event = |title: &str, starts_on: &str, ends_on: Option<&str>| {
        json!({"title": title, "kind": "training", "starts_on": starts_on, "ends_on": ends_on,
               "country_code": "KZ"})
    };
    let programme = create_event(&app, &event("Programme", "2001-03-01", Some("2030-12-31"))).await;
    let visit = create_event(&app, &event("Visit", "2024-06-03", None)).await;
    let ancient = create_event(&app, &event("Ancient", "0001-01-01", None)).await;
    let ids = |items: Vec<Value>| {
        items
            .iter()
            .map(|e| e["id"].as_i64().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("from=2024-01-01", vec![programme, visit]),
        (
            "country=KZ&from=2024-01-01&to=2024-12-31",
            vec![programme, visit],
        ),
        ("from=2024-01-01&sort=-starts_on", vec![visit, programme]),
        ("from=2030-12-31", vec![programme]),
        ("from=2031-01-01", vec![]),
        ("from=0001-01-01", vec![ancient, programme, visit]),
        ("from=9999-12-31", vec![]),
    ];
    for (query, expected) in &cases {
        let found = ids(app.walk(&format!("/api/v1/events?{query}")).await);
        assert_eq!(&found, expected, "{query}");
    }
    // The longest event now spans the whole calendar: `from` minus its length would fall
    // before year 1.
    let everything =
        create_event(&app, &event("Everything", "0001-01-02", Some("9999-12-30"))).await;
    assert_eq!(
        ids(app.walk("/api/v1/events?from=0001-01-03").await),
        vec![everything, programme, visit]
    );
    assert_eq!(
        ids(app
            .walk("/api/v1/events?from=5000-01-01&with_total=true")
            .await),
        vec![everything]
    );
}

async fn every_event_sort_walks_all_events_in_order(app: TestApp) {
    for i in 0..17 {
        let body = json!({"title": format!("Event {}", i % 4), "kind": "meeting",
                          "starts_on": format!("2024-0{}-1{}", 1 + i % 3, i % 5)});
        create_event(&app, &body).await;
    }
    for field in ["starts_on", "id", "title", "created_at", "updated_at"] {
        for sort in [field.to_owned(), format!("-{field}")] {
            let items = app
                .walk(&format!("/api/v1/events?limit=5&sort={sort}"))
                .await;
            assert_eq!(items.len(), 17, "sort={sort}");
            let keys: Vec<(String, i64)> = items
                .iter()
                .map(|e| {
                    let id = e["id"].as_i64().unwrap_or_default();
                    let key = if field == "id" {
                        format!("{id:08}")
                    } else {
                        sort_text(&e[field])
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
    let default = app.walk("/api/v1/events?limit=5").await;
    let starts: Vec<_> = default.iter().map(|e| e["starts_on"].to_string()).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "events sort by start date by default");
}

/// Pages whose cursor falls among many events of one day (on SQLite, read as the rest of that
/// day, then the days after) go on from the cursor in both directions and under a filter: each
/// event once, in (start date, id) order.
async fn a_walk_through_events_of_one_day_sees_each_once(app: TestApp) {
    let mut kazakhstan = Vec::new();
    for i in 0..23 {
        let (day, country) = match i % 7 {
            0 => ("2024-03-01", "KZ"),
            1 => ("2024-03-03", "KZ"),
            2 | 4 => ("2024-03-02", "KR"),
            _ => ("2024-03-02", "KZ"),
        };
        let body = json!({"title": format!("Session {i}"), "kind": "meeting",
                          "starts_on": day, "country_code": country});
        let id = create_event(&app, &body).await;
        if country == "KZ" {
            kazakhstan.push((day.to_owned(), id));
        }
    }
    kazakhstan.sort();
    let mut descending = kazakhstan.clone();
    descending.reverse();
    for (sort, expected) in [("starts_on", kazakhstan), ("-starts_on", descending)] {
        let items = app
            .walk(&format!("/api/v1/events?country=KZ&sort={sort}&limit=4"))
            .await;
        let walked: Vec<(String, i64)> = items
            .iter()
            .map(|e| {
                (
                    sort_text(&e["starts_on"]),
                    e["id"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(walked, expected, "sort={sort}");
    }
}

async fn an_agreement_with_events_cannot_be_deleted(app: TestApp) {
    let agreement = create_agreement(
        &app,
        &json!({"title": "Project", "kind": "grant", "status": "draft"}),
    )
    .await;
    let mut body = forum(&[]);
    body["agreement_id"] = json!(agreement);
    let event = create_event(&app, &body).await;
    let problem_body = problem(
        app.delete(&format!("/api/v1/agreements/{agreement}"), None)
            .await,
        409,
    )
    .await;
    assert!(
        problem_body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("event {event}"))),
        "{problem_body}"
    );
    json(
        app.get(&format!("/api/v1/agreements/{agreement}")).await,
        200,
    )
    .await;
    let body = problem(app.delete("/api/v1/countries/KR", None).await, 409).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("event {event}"))),
        "{body}"
    );
    json(
        app.patch_json(
            &format!("/api/v1/events/{event}"),
            &json!({"agreement_id": null}),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/agreements/{agreement}"), None)
            .await
            .status(),
        204
    );
}

/// What a person does in Swagger UI: a partner, an agreement with it as signatory, an event
/// under that agreement, then each found by a filter.
async fn partner_agreement_and_event_can_be_created_and_found_by_filter(app: TestApp) {
    let partner = create_partner(
        &app,
        "Ministry of Personnel Management",
        "government",
        Some("KR"),
    )
    .await;
    let agreement = create_agreement(
        &app,
        &json!({
        "title": "MOU on personnel administration", "kind": "memorandum_of_understanding",
        "status": "signed", "signed_on": "2024-06-03",
        "parties": [{"partner_id": partner, "role": "signatory"}], "country_codes": ["KZ", "KR"]}),
    )
    .await;
    let event = create_event(
        &app,
        &json!({
        "title": "Signing ceremony", "kind": "signing_ceremony", "starts_on": "2024-06-03",
        "city": "Astana", "country_code": "KZ", "agreement_id": agreement,
        "participants": [{"partner_id": partner, "role": "participant"}]}),
    )
    .await;
    let found = json(
        app.get("/api/v1/partners?country=KR&kind=government").await,
        200,
    )
    .await;
    assert_eq!(found["items"][0]["id"], partner);
    let found = json(
        app.get(&format!(
            "/api/v1/agreements?partner={partner}&status=signed"
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(found["items"][0]["id"], agreement);
    let found = json(
        app.get(&format!(
            "/api/v1/events?agreement={agreement}&partner={partner}"
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(found["items"][0]["id"], event);
}

/// List pages reuse the JSON of events they rendered before (see rendered.rs) only while those
/// events are unchanged: after a replace, a merge patch and a delete, every page shows each
/// event exactly as a GET does, and the cursors still walk the whole list.
async fn a_list_shows_each_event_as_it_is_now(app: TestApp) {
    let host = create_partner(&app, "MOIS", "government", Some("KR")).await;
    let guest = create_partner(&app, "ACSH", "multilateral", Some("KZ")).await;
    let mut ids = Vec::new();
    for day in 1..=7 {
        let body = json!({"title": format!("Seminar {day}"), "kind": "seminar",
                          "starts_on": format!("2024-03-{day:02}"), "country_code": "KZ",
                          "participants": [{"partner_id": host, "role": "host"}]});
        ids.push(create_event(&app, &body).await);
    }
    let pages = "/api/v1/events?sort=starts_on&limit=3&country=KZ";
    let before = app.walk(pages).await;
    assert_eq!(before.len(), 7);
    assert_eq!(
        app.walk(pages).await,
        before,
        "a second walk reads the same"
    );

    let patched = json!({"title": "Seminar 2 (moved)", "participants": [
        {"partner_id": guest, "role": "speaker"}, {"partner_id": host, "role": "host"}]});
    let path = |id: i64| format!("/api/v1/events/{id}");
    json(
        app.patch_json(&path(ids[1]), &patched, Some("\"1\"")).await,
        200,
    )
    .await;
    let mut replaced = before[4].clone();
    for field in ["id", "created_at", "updated_at", "version"] {
        replaced.as_object_mut().expect("an object").remove(field);
    }
    replaced["city"] = json!("Almaty");
    json(
        app.put_json(&path(ids[4]), &replaced, Some("\"1\"")).await,
        200,
    )
    .await;
    assert_eq!(app.delete(&path(ids[6]), None).await.status(), 204);
    // An event moved out of the filter leaves the pages too.
    let moved = json!({"country_code": "KR"});
    json(
        app.patch_json(&path(ids[5]), &moved, Some("\"1\"")).await,
        200,
    )
    .await;

    let after = app.walk(pages).await;
    let listed: Vec<i64> = after
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, [ids[0], ids[1], ids[2], ids[3], ids[4]]);
    for event in &after {
        let id = event["id"].as_i64().expect("id");
        assert_eq!(event, &json(app.get(&path(id)).await, 200).await);
    }
    assert_eq!(after[1]["title"], "Seminar 2 (moved)");
    assert_eq!(after[1]["participants"][0]["partner_id"], guest);
    assert_eq!(after[1]["version"], 2);
    assert_eq!(after[4]["city"], "Almaty");
    assert_eq!(after[4]["version"], 2);
    assert_eq!(after[0], before[0], "unchanged events read the same");
}

/// The events list's speed-up (renderings kept by id and version, `events::rendered`) answers
/// every page with the same bytes as the plain way: two instances on one database, one keeping
/// renderings and one not, walk the same lists after creates, patches and deletes.
async fn kept_renderings_give_the_same_pages_byte_for_byte(app: TestApp) {
    let plain = spawn_second_instance_with(&app, |s| s.rendered_cache_mib = 0).await;
    let hub = create_partner(&app, "Rendering Hub", "multilateral", Some("KZ")).await;
    let mut ids = Vec::new();
    for day in 1..=12 {
        let body = json!({
            "title": format!("Example: seminar {day}"), "kind": "seminar",
            "starts_on": format!("2024-03-{day:02}"), "country_code": "KZ",
            "participants": [{"partner_id": hub, "role": "host"}],
        });
        ids.push(create_event(&app, &body).await);
    }
    let lists = [
        "/api/v1/events?limit=5",
        "/api/v1/events?limit=4&sort=-title",
        "/api/v1/events?limit=3&country=KZ&from=2024-03-03&to=2024-03-10",
        "/api/v1/events?limit=7&sort=-updated_at&with_total=true",
    ];
    for round in 0..3 {
        for path in lists {
            // Twice through the keeping instance: once filling its renderings, once from them.
            let kept_first = all_pages(&app, path).await;
            let kept_again = all_pages(&app, path).await;
            let plain_pages = all_pages(&plain, path).await;
            assert_eq!(kept_first, plain_pages, "round {round}: {path}");
            assert_eq!(kept_again, plain_pages, "round {round}: {path}");
        }
        // Change some events between the rounds: renderings at old versions must not be used.
        let patched = ids[round * 2];
        app.patch_json(
            &format!("/api/v1/events/{patched}"),
            &json!({"title": format!("Example: seminar renamed in round {round}")}),
            None,
        )
        .await;
        let deleted = ids[round * 2 + 1];
        assert_eq!(
            app.delete(&format!("/api/v1/events/{deleted}"), None)
                .await
                .status(),
            204
        );
    }
}

/// The bodies of every page of a list, following `next_cursor` from `path`.
async fn all_pages(instance: &TestApp, path: &str) -> Vec<bytes::Bytes> {
    let mut bodies = Vec::new();
    let mut next = path.to_owned();
    loop {
        let response = instance.get(&next).await;
        assert_eq!(response.status(), 200, "{next}");
        let body = response.bytes().await.expect("a body");
        let page: Value = serde_json::from_slice(&body).expect("JSON");
        bodies.push(body);
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}&cursor={cursor}"),
            None => return bodies,
        }
    }
}

/// Every reference that can keep a record from being deleted is named in the 409: here a
/// partner taking part in an event (the others are in the agreements' and events' tests).
async fn a_partner_taking_part_in_an_event_cannot_be_deleted(app: TestApp) {
    let speaker = create_partner(&app, "Speaker Agency", "government", Some("KR")).await;
    let event = create_event(&app, &forum(&[(speaker, "speaker")])).await;
    let body = problem(
        app.delete(&format!("/api/v1/partners/{speaker}"), None)
            .await,
        409,
    )
    .await;
    assert_eq!(
        body["detail"],
        format!(
            "partner {speaker} is still referenced by event {event}; remove those references first"
        )
    );
    json(app.get(&format!("/api/v1/partners/{speaker}")).await, 200).await;
}
