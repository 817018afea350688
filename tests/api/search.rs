//! `q` answered from the search indexes (src/search.rs): the same meaning as a case-insensitive
//! substring, at every length of needle, in every script, every character literal; and the
//! indexes follow creates, updates and deletes.

use serde_json::{Value, json};

use crate::agreements::create_agreement;
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TestDatabase, json, spawn_app_on};
use crate::partners::create_partner;

backend_tests!(
    q_finds_substrings_of_every_length_in_every_script_taken_literally,
    the_search_indexes_follow_creates_updates_and_deletes,
);

/// pg_trgm takes no trigrams from non-ASCII text in a database whose character type is C; the
/// search text is lower-cased in Rust and the `LIKE` checks it, so `q` means the same there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_in_the_c_locale_q_finds_the_same() {
    let database = TestDatabase::create_with(
        Backend::Postgres,
        "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
    );
    let app = spawn_app_on(database, |_| {}).await;
    q_finds_substrings_of_every_length_in_every_script_taken_literally(app).await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The ids `q` finds in `list` (e.g. `events`), in ascending order.
async fn found(app: &TestApp, list: &str, q: &str) -> Vec<i64> {
    let items = app
        .walk(&format!("/api/v1/{list}?q={}&limit=2", urlencode(q)))
        .await;
    let mut ids: Vec<i64> = items.iter().filter_map(|i| i["id"].as_i64()).collect();
    ids.sort_unstable();
    ids
}

async fn create_event(app: &TestApp, partner: i64, title: &str, city: Option<&str>) -> i64 {
    let body = json!({
        "title": title, "kind": "meeting", "starts_on": "2025-05-05", "city": city,
        "participants": [{"partner_id": partner, "role": "host"}],
    });
    let created: Value = json(app.post_json("/api/v1/events", &body).await, 201).await;
    created["id"].as_i64().expect("an id")
}

async fn q_finds_substrings_of_every_length_in_every_script_taken_literally(app: TestApp) {
    let host = create_partner(&app, "Host", "government", None).await;
    let mvd = create_event(&app, host, "Meeting with the МВД", Some("Астана")).await;
    let korea = create_event(&app, host, "한국 정부 워크숍", Some("서울")).await;
    // Georgian in Mtavruli (capitals), which lower-case to Mkhedruli.
    let georgia = create_event(&app, host, "ᲡᲐᲥᲐᲠᲗᲕᲔᲚᲝ forum", Some("Tbilisi")).await;
    let armenia = create_event(&app, host, "Հայաստան summit", Some("Yerevan")).await;
    let syntax = create_event(&app, host, r#"50%_off "quoted" \back* NEAR AND"#, None).await;
    let plain = create_event(&app, host, "Plain workshop", Some("Bonn")).await;
    let all = vec![mvd, korea, georgia, armenia, syntax, plain];
    let cases: Vec<(&str, Vec<i64>)> = vec![
        // Cyrillic: SQLite's own LIKE and FTS5 fold only ASCII; the index must not.
        ("мвд", vec![mvd]),
        ("МВД", vec![mvd]),
        ("Мв", vec![mvd]),
        ("д", vec![mvd]),
        ("the мвд", vec![mvd]),
        ("АСТАНА", vec![mvd]),
        // Hangul: most words are two syllables.
        ("한국", vec![korea]),
        ("한", vec![korea]),
        ("울", vec![korea]),
        ("서울", vec![korea]),
        ("국 정", vec![korea]),
        ("한국 정부 워크숍", vec![korea]),
        ("국정", vec![]),
        // Georgian: Mtavruli and Mkhedruli are one letter in two cases.
        ("Ქ", vec![georgia]),
        ("ქ", vec![georgia]),
        ("ᲡᲐ", vec![georgia]),
        ("სა", vec![georgia]),
        ("ᲡᲐᲥ", vec![georgia]),
        ("საქ", vec![georgia]),
        ("ᲡᲐᲥᲐᲠᲗᲕᲔᲚᲝ FORUM", vec![georgia]),
        // Armenian, with its capitals.
        ("հ", vec![armenia]),
        ("Հա", vec![armenia]),
        ("ՀԱՅ", vec![armenia]),
        ("Հայաստան", vec![armenia]),
        ("աստան summit", vec![armenia]),
        // LIKE's wildcards and escape, FTS5's quotes, stars and operators: all literal.
        ("%", vec![syntax]),
        ("_", vec![syntax]),
        ("%_", vec![syntax]),
        ("0%", vec![syntax]),
        ("50%_off", vec![syntax]),
        ("5_%", vec![]),
        ("%%", vec![]),
        ("\\", vec![syntax]),
        ("\\b", vec![syntax]),
        ("\\back*", vec![syntax]),
        ("*", vec![syntax]),
        ("k*", vec![syntax]),
        ("x*", vec![]),
        ("\"", vec![syntax]),
        ("\"\"", vec![]),
        ("\"quoted\"", vec![syntax]),
        ("\" \\", vec![syntax]),
        ("near", vec![syntax]),
        ("AND", vec![syntax]),
        ("\"quoted\" NEAR", vec![]),
        ("quoted NEAR", vec![]),
        ("(", vec![]),
        ("NEAR(", vec![]),
        // ASCII, any case, at each length.
        ("w", vec![mvd, plain]),
        ("Pl", vec![plain]),
        ("pla", vec![plain]),
        ("WORKSHOP", vec![plain]),
        ("  workshop  ", vec![plain]),
        ("zz", vec![]),
        ("zzzzqqq", vec![]),
        ("   ", all.clone()),
    ];
    for (q, expected) in cases {
        assert_eq!(found(&app, "events", q).await, expected, "q={q:?}");
    }
}

async fn the_search_indexes_follow_creates_updates_and_deletes(app: TestApp) {
    let ministry = create_partner(&app, "Министерство юстиции", "government", Some("KZ")).await;
    let other = create_partner(&app, "Other", "government", None).await;
    for q in ["юс", "мин", "Министерство Юстиции"] {
        assert_eq!(found(&app, "partners", q).await, [ministry], "{q}");
    }
    let url = format!("/api/v1/partners/{ministry}");
    json(
        app.patch_json(&url, &json!({"name": "법무부"}), None).await,
        200,
    )
    .await;
    for q in ["юс", "мин", "Министерство"] {
        assert_eq!(found(&app, "partners", q).await, [] as [i64; 0], "{q}");
    }
    for q in ["법", "법무", "법무부"] {
        assert_eq!(found(&app, "partners", q).await, [ministry], "{q}");
    }

    let agreement = create_agreement(
        &app,
        &json!({"title": "Agreement on e-procurement", "kind": "memorandum_of_understanding",
                "status": "draft", "summary": "Ցանցային ծառայություններ",
                "parties": [{"partner_id": other, "role": "signatory"}], "country_codes": ["AM"]}),
    )
    .await;
    for q in ["ծ", "ցա", "ծառայ", "e-PROC"] {
        assert_eq!(found(&app, "agreements", q).await, [agreement], "{q}");
    }
    let url = format!("/api/v1/agreements/{agreement}");
    json(
        app.patch_json(&url, &json!({"summary": null}), None).await,
        200,
    )
    .await;
    for q in ["ծ", "ցա", "ծառայ"] {
        assert_eq!(found(&app, "agreements", q).await, [] as [i64; 0], "{q}");
    }
    assert_eq!(found(&app, "agreements", "e-proc").await, [agreement]);

    let event = create_event(&app, other, "Seminar in Seoul", Some("서울")).await;
    assert_eq!(found(&app, "events", "서울").await, [event]);
    let url = format!("/api/v1/events/{event}");
    let deleted = app.delete(&url, None).await;
    assert_eq!(deleted.status(), 204);
    for q in ["서", "서울", "seminar"] {
        assert_eq!(found(&app, "events", q).await, [] as [i64; 0], "{q}");
    }
    let agreement_url = format!("/api/v1/agreements/{agreement}");
    assert_eq!(app.delete(&agreement_url, None).await.status(), 204);
    assert_eq!(found(&app, "agreements", "e-proc").await, [] as [i64; 0]);
    let partner_url = format!("/api/v1/partners/{other}");
    assert_eq!(app.delete(&partner_url, None).await.status(), 204);
    assert_eq!(found(&app, "partners", "othe").await, [] as [i64; 0]);
    assert_eq!(found(&app, "partners", "ot").await, [] as [i64; 0]);
}
