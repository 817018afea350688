//! Export and import: every resource's list as CSV or NDJSON, and files of that shape stored
//! back, all or nothing. The CSV is read back by Python's own csv module, a parser that owes
//! nothing to the service's.

use reqwest::{Method, Response, header};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{
    Backend, TestApp, TestDatabase, header_of, json, problem, spawn_app, spawn_app_with,
};

backend_tests!(
    an_export_imported_into_an_empty_registry_exports_the_same_bytes,
    an_export_is_the_list_in_its_order_across_chunks,
    export_parameters_and_accept_are_checked,
    a_dry_run_reports_and_writes_nothing,
    an_import_with_a_broken_row_writes_nothing_and_reports_every_row,
    an_import_replaces_keeps_and_moves_ids_on,
    import_bodies_and_access_are_checked,
);

const RESOURCES: [&str; 4] = ["countries", "partners", "agreements", "events"];

fn backend(app: &TestApp) -> Backend {
    match app.database {
        TestDatabase::Postgres { .. } => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// An export's body, after checking its status and media type.
async fn export(app: &TestApp, path: &str) -> (String, Response) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let text = response.text().await.expect("a body");
    let again = app.get(path).await;
    (text, again)
}

async fn export_text(app: &TestApp, resource: &str, format: &str) -> String {
    let path = format!("/api/v1/{resource}/export?format={format}");
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200, "{path}");
    let media = header_of(&response, "content-type").unwrap_or_default();
    match format {
        "csv" => assert_eq!(media, "text/csv; charset=utf-8"),
        _ => assert_eq!(media, "application/x-ndjson"),
    }
    response.text().await.expect("a body")
}

/// Sends a file to `…/import` with the admin token.
async fn import(app: &TestApp, resource: &str, media: &str, body: &str, query: &str) -> Response {
    app.as_admin(Method::POST, &format!("/api/v1/{resource}/import{query}"))
        .header(header::CONTENT_TYPE, media)
        .body(body.to_owned())
        .send()
        .await
        .expect("the import is answered")
}

/// Some of everything, with gaps in the ids, changed records and text that CSV must quote.
async fn seed(app: &TestApp) {
    let kosovo = json!({"code": "XK", "alpha3": "XKX", "numeric": "983", "name": "Kosovo",
                        "region": "Europe", "subregion": "Southern Europe"});
    json(app.post_json("/api/v1/countries", &kosovo).await, 201).await;
    let patch = json!({"participant": true, "joined_on": "2021-03-01", "notes": "Line one\nline \"two\", with a comma"});
    json(
        app.patch_json("/api/v1/countries/KZ", &patch, None).await,
        200,
    )
    .await;
    let mut partners = Vec::new();
    for (name, kind, country) in [
        ("Astana Civil Service Hub", "multilateral", "KZ"),
        ("Gone partner", "other", "KR"),
        (
            "Ministry of the Interior and Safety, \"MOIS\"",
            "government",
            "KR",
        ),
        ("Université de Genève", "academic", "CH"),
    ] {
        let body = json!({"name": name, "kind": kind, "country_code": country,
                          "website": "https://example.org/a,b"});
        let created = json(app.post_json("/api/v1/partners", &body).await, 201).await;
        partners.push(created["id"].as_i64().expect("an id"));
    }
    assert_eq!(
        app.delete(&format!("/api/v1/partners/{}", partners[1]), None)
            .await
            .status(),
        204
    );
    let agreement = json!({"title": "Regional project, 2021–2023", "kind": "joint_project",
        "status": "active", "signed_on": "2021-02-01", "entered_into_force_on": "2021-03-01",
        "starts_on": "2021-02-01",
        "ends_on": "2023-12-31", "summary": "Digital government;\r\nseven countries",
        "parties": [{"partner_id": partners[0], "role": "implementing"},
                    {"partner_id": partners[2], "role": "funding", "signed_on": "2021-02-01",
                     "entered_into_force_on": "2021-03-01", "withdrew_on": "2023-06-30"}],
        "country_codes": ["KZ", "XK", "GE"],
        "documents": [{"title": "Project document, \"signed\"", "url": "https://example.org/doc.pdf?a=1,2",
                       "category": "agreement_text", "language": "ru", "published_on": "2021-02-01"},
                      {"title": "Web page", "url": "https://example.org/", "category": "web_page"}]});
    let agreement = json(app.post_json("/api/v1/agreements", &agreement).await, 201).await;
    let draft =
        json!({"title": "Draft MOU", "kind": "memorandum_of_understanding", "status": "draft"});
    json(app.post_json("/api/v1/agreements", &draft).await, 201).await;
    let mut events = Vec::new();
    for i in 0..4 {
        let body = json!({"title": format!("Workshop {i}"), "kind": "workshop",
            "starts_on": format!("2024-0{}-10", i + 1), "city": "Tbilisi", "country_code": "GE",
            "agreement_id": agreement["id"],
            "participants": [{"partner_id": partners[3 - (i % 2) * 3], "role": "host"}],
            "documents": [{"title": format!("Agenda {i}"), "url": "https://example.org/agenda.pdf",
                           "category": "agenda", "language": "ka"}]});
        let created = json(app.post_json("/api/v1/events", &body).await, 201).await;
        events.push(created["id"].as_i64().expect("an id"));
    }
    assert_eq!(
        app.delete(&format!("/api/v1/events/{}", events[2]), None)
            .await
            .status(),
        204
    );
    let patch = json!({"venue": "Rooms 1–3", "description": "Tabs\tand \"quotes\""});
    json(
        app.patch_json(&format!("/api/v1/events/{}", events[0]), &patch, None)
            .await,
        200,
    )
    .await;
}

/// Purges every country, so that a registry is empty of records (countries are loaded at start;
/// a plain delete would keep their codes as tombstones).
async fn without_countries(app: &TestApp) {
    for country in app.walk("/api/v1/countries?limit=500").await {
        let path = format!(
            "/api/v1/countries/{}?purge=true",
            country["code"].as_str().expect("a code")
        );
        assert_eq!(app.delete(&path, None).await.status(), 204, "{path}");
    }
}

/// Reads CSV with Python's csv module: the rows as lists of cells.
async fn python_csv(text: &str) -> Vec<Vec<String>> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import csv, io, json, sys\n\
             data = sys.stdin.buffer.read().decode('utf-8')\n\
             print(json.dumps(list(csv.reader(io.StringIO(data, newline=''), strict=True))))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).await.expect("written");
    drop(stdin);
    let output = child.wait_with_output().await.expect("python3 ends");
    assert!(output.status.success(), "python's csv module read it");
    serde_json::from_slice(&output.stdout).expect("JSON rows")
}

/// A CSV cell as the export promises it: text as itself, null empty, anything else its JSON.
fn cell_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

async fn an_export_imported_into_an_empty_registry_exports_the_same_bytes(app: TestApp) {
    seed(&app).await;
    let csv_target = spawn_app(backend(&app)).await;
    let ndjson_target = spawn_app(backend(&app)).await;
    without_countries(&csv_target).await;
    without_countries(&ndjson_target).await;
    for resource in RESOURCES {
        let csv = export_text(&app, resource, "csv").await;
        let ndjson = export_text(&app, resource, "ndjson").await;
        // The CSV says what the NDJSON says, as Python reads it.
        let records: Vec<Value> = ndjson
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        let rows = python_csv(&csv).await;
        assert_eq!(
            rows.len(),
            records.len() + 1,
            "{resource}: a header and a row each"
        );
        let header = &rows[0];
        for (row, record) in rows[1..].iter().zip(&records) {
            let fields = record.as_object().expect("an object");
            assert_eq!(header.len(), fields.len(), "{resource}: a column a field");
            let cells: Vec<String> = header
                .iter()
                .map(|name| cell_of(fields.get(name).expect("a field of the header")))
                .collect();
            // A list's cell holds its JSON; compared as JSON, whose objects have no order here.
            let row: Vec<String> = row
                .iter()
                .map(|cell| match serde_json::from_str::<Value>(cell) {
                    Ok(list @ Value::Array(_)) => list.to_string(),
                    _ => cell.clone(),
                })
                .collect();
            assert_eq!(row, cells, "{resource}");
        }
        // Each line is the record as GET answers it.
        if let Some(record) = records.last() {
            let key = record.get("id").or(record.get("code")).expect("a key");
            let path = format!("/api/v1/{resource}/{}", cell_of(key));
            let one = app.get(&path).await.text().await.expect("a body");
            assert_eq!(ndjson.lines().last(), Some(one.as_str()));
        }

        let report = json(
            import(&csv_target, resource, "text/csv", &csv, "").await,
            200,
        )
        .await;
        assert_eq!(report["created"], records.len(), "{resource}: {report}");
        assert_eq!(report["errors"], json!([]));
        let batch = report["batch_id"].as_str().expect("a batch id");
        let audit = csv_target
            .as_admin(
                Method::GET,
                &format!("/api/v1/audit?batch_id={batch}&limit=500"),
            )
            .send()
            .await
            .expect("audit");
        let audit = json(audit, 200).await;
        let entries = audit["items"].as_array().expect("items");
        assert_eq!(
            entries.len(),
            records.len().min(500),
            "an audit entry per record"
        );
        assert!(
            entries
                .iter()
                .all(|e| e["action"] == "create" && e["batch_id"] == batch)
        );
        let report = json(
            import(
                &ndjson_target,
                resource,
                "application/x-ndjson",
                &ndjson,
                "",
            )
            .await,
            200,
        )
        .await;
        assert_eq!(report["created"], records.len(), "{resource}: {report}");

        assert_eq!(
            export_text(&csv_target, resource, "csv").await,
            csv,
            "{resource} CSV"
        );
        assert_eq!(
            export_text(&ndjson_target, resource, "ndjson").await,
            ndjson,
            "{resource} NDJSON"
        );
    }
    // The sequences moved past the restored ids: a new record takes the next one.
    let last = export_text(&app, "events", "ndjson").await;
    let highest = last
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["id"]
                .as_i64()
                .expect("id")
        })
        .max()
        .expect("events");
    let body = json!({"title": "After the restore", "kind": "forum", "starts_on": "2025-01-01"});
    let created = json(csv_target.post_json("/api/v1/events", &body).await, 201).await;
    assert!(created["id"].as_i64().expect("an id") > highest);
}

async fn an_export_is_the_list_in_its_order_across_chunks(app: TestApp) {
    // 2 345 events with many equal titles, so that chunks end inside runs of one sort key;
    // 2 000 forums and seminars, two chunks exactly.
    let mut file = String::from("title,kind,starts_on\r\n");
    for i in 0..2345 {
        let kind = match i {
            2000.. => "workshop",
            _ if i % 3 == 0 => "forum",
            _ => "seminar",
        };
        file.push_str(&format!(
            "Event {},{kind},2024-{:02}-{:02}\r\n",
            i % 7,
            i % 12 + 1,
            i % 28 + 1
        ));
    }
    let report = json(import(&app, "events", "text/csv", &file, "").await, 200).await;
    assert_eq!(report["created"], 2345);
    for query in [
        "sort=title",
        "sort=-starts_on&kind=forum",
        "q=event%206&sort=-id",
        // More than a chunk within `from` and `to`, each bound giving way to the cursor's.
        "from=2024-03-01&to=2024-10-31",
        "sort=-starts_on&to=2024-10-31",
        // Timestamps written in one import, so mostly equal: the tie-breaker orders them.
        "sort=created_at",
        "sort=-updated_at&kind=forum,seminar,workshop",
        "kind=forum,seminar&sort=title",
    ] {
        let listed = app.walk(&format!("/api/v1/events?limit=500&{query}")).await;
        let ndjson = app
            .get(&format!("/api/v1/events/export?format=ndjson&{query}"))
            .await
            .text()
            .await
            .expect("a body");
        let exported: Vec<Value> = ndjson
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON"))
            .collect();
        assert_eq!(exported.len(), listed.len(), "{query}");
        assert!(exported == listed, "{query}: the export is the list");
    }
    let (csv, again) = export(&app, "/api/v1/events/export?sort=title").await;
    assert_eq!(python_csv(&csv).await.len(), 2346);
    assert_eq!(
        header_of(&again, "content-disposition").as_deref(),
        Some("attachment; filename=\"events.csv\"")
    );
}

async fn export_parameters_and_accept_are_checked(app: TestApp) {
    let accept = |value: &'static str| {
        app.request(Method::GET, "/api/v1/partners/export")
            .header(header::ACCEPT, value)
            .send()
    };
    let ndjson = accept("application/x-ndjson").await.expect("answered");
    assert_eq!(
        header_of(&ndjson, "content-type").as_deref(),
        Some("application/x-ndjson")
    );
    let csv = accept("text/csv;q=0.9, application/json")
        .await
        .expect("answered");
    assert_eq!(
        header_of(&csv, "content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        csv.text().await.expect("text"),
        "id,name,acronym,kind,country_code,website,email,description,identifiers,translations,created_at,updated_at,version\r\n"
    );
    let refused = problem(accept("application/json").await.expect("answered"), 406).await;
    assert_eq!(refused["code"], "not_acceptable");
    let bom = app
        .get("/api/v1/countries/export?bom=true&participant=true")
        .await;
    let bytes = bom.bytes().await.expect("bytes");
    assert!(bytes.starts_with("\u{feff}code,alpha3".as_bytes()));
    for (path, field) in [
        ("/api/v1/events/export?format=xlsx", "format"),
        ("/api/v1/events/export?kind=party", "kind"),
        ("/api/v1/events/export?sort=colour", "sort"),
        ("/api/v1/events/export?bom=maybe", "bom"),
        ("/api/v1/events/export?limit=5", "limit"),
        ("/api/v1/events/export?cursor=abc", "cursor"),
        ("/api/v1/partners/export?with_total=true", "with_total"),
    ] {
        let body = problem(app.get(path).await, 400).await;
        assert_eq!(body["errors"][0]["field"], field, "{path}");
    }
    // HEAD answers the headers of an export.
    let head = app
        .request(Method::HEAD, "/api/v1/events/export")
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 200);
    assert_eq!(
        problem(
            app.request(Method::POST, "/api/v1/events/export")
                .send()
                .await
                .expect("answered"),
            405
        )
        .await["code"],
        "method_not_allowed"
    );
}

const PARTNERS: &str = "name,kind,country_code\r\nFirst,government,KZ\r\nSecond,academic,KR\r\n";

async fn a_dry_run_reports_and_writes_nothing(app: TestApp) {
    let audit_before = app
        .as_admin(Method::GET, "/api/v1/audit?with_total=true")
        .send()
        .await
        .expect("audit");
    let audit_before = json(audit_before, 200).await["total"].clone();
    let report = json(
        import(&app, "partners", "text/csv", PARTNERS, "?dry_run=true").await,
        200,
    )
    .await;
    assert_eq!(
        report,
        json!({"dry_run": true, "batch_id": null, "rows": 2, "created": 2, "updated": 0,
               "unchanged": 0, "errors": []})
    );
    assert!(app.walk("/api/v1/partners?").await.is_empty());
    let audit_after = app
        .as_admin(Method::GET, "/api/v1/audit?with_total=true")
        .send()
        .await
        .expect("audit");
    assert_eq!(json(audit_after, 200).await["total"], audit_before);
    // Rows with ids, too: the sequence is where it was.
    let events = "id,title,kind,starts_on,created_at,updated_at,version\r\n\
                  7,Seven,forum,2024-01-01,2024-01-01T00:00:00.000000Z,2024-01-02T00:00:00.000000Z,3\r\n";
    let report = json(
        import(&app, "events", "text/csv", events, "?dry_run=true").await,
        200,
    )
    .await;
    assert_eq!(report["created"], 1);
    assert!(app.walk("/api/v1/events?").await.is_empty());
    let body = json!({"title": "First", "kind": "forum", "starts_on": "2025-01-01"});
    let created = json(app.post_json("/api/v1/events", &body).await, 201).await;
    assert!(created["id"].as_i64().expect("an id") < 7);
    // Then for real.
    let report = json(
        import(&app, "partners", "text/csv", PARTNERS, "").await,
        200,
    )
    .await;
    assert_eq!(report["created"], 2);
    assert_eq!(app.walk("/api/v1/partners?").await.len(), 2);
}

async fn an_import_with_a_broken_row_writes_nothing_and_reports_every_row(app: TestApp) {
    let existing = json(
        import(&app, "partners", "text/csv", PARTNERS, "").await,
        200,
    )
    .await;
    assert_eq!(existing["created"], 2);
    let gone = json!({"name": "Gone", "kind": "other"});
    let gone = json(app.post_json("/api/v1/partners", &gone).await, 201).await["id"].clone();
    assert_eq!(
        app.delete(&format!("/api/v1/partners/{gone}"), None)
            .await
            .status(),
        204
    );
    let file = format!(
        "id,name,kind,country_code,version\r\n\
         ,Fine,other,KZ,\r\n\
         ,,government,KZ,\r\n\
         ,Nowhere,party,QQ,\r\n\
         ,Twice,other,,\r\n\
         ,twice,other,,\r\n\
         1,First,government,KZ,9\r\n\
         {gone},Again,other,,\r\n\
         1,Dup,other,,\r\n\
         x,Bad id,other,,\r\n\
         ,Short\r\n"
    );
    let body = problem(import(&app, "partners", "text/csv", &file, "").await, 422).await;
    assert_eq!(body["code"], "validation_failed");
    let report = &body["report"];
    let errors: Vec<(u64, String, String)> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().expect("a line"),
                e["field"].as_str().unwrap_or("").to_owned(),
                e["code"].as_str().expect("a code").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, &str, &str)> = vec![
        (3, "name", "validation_failed"),
        (4, "kind", "validation_failed"),
        (4, "country_code", "validation_failed"),
        (6, "", "conflict"),
        (7, "version", "precondition_failed"),
        (8, "id", "conflict"),
        (9, "id", "conflict"),
        (10, "id", "bad_request"),
        (11, "", "bad_request"),
    ];
    let expected: Vec<(u64, String, String)> = expected
        .into_iter()
        .map(|(l, f, c)| (l, f.to_owned(), c.to_owned()))
        .collect();
    assert_eq!(errors, expected, "{report}");
    assert_eq!(report["rows"], 10);
    assert_eq!(report["batch_id"], Value::Null);
    assert_eq!(
        app.walk("/api/v1/partners?").await.len(),
        2,
        "nothing was written"
    );
    // NDJSON lines are numbered as lines; blank ones are skipped.
    let lines = "{\"name\": \"Fine\", \"kind\": \"other\"}\n\n[1]\n{\"name\": \"Odd\", \"kind\": \"other\", \"colour\": \"red\"}\nnot json\n";
    let body = problem(
        import(&app, "partners", "application/x-ndjson", lines, "").await,
        422,
    )
    .await;
    let lines: Vec<(Value, Value)> = body["report"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["line"].clone(), e["field"].clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (json!(3), Value::Null),
            (json!(4), json!("colour")),
            (json!(5), Value::Null)
        ]
    );
}

async fn an_import_replaces_keeps_and_moves_ids_on(app: TestApp) {
    json(
        import(&app, "partners", "text/csv", PARTNERS, "").await,
        200,
    )
    .await;
    let partners = app.walk("/api/v1/partners?sort=id").await;
    let first = &partners[0];
    // The export back as it is: unchanged; one row changed: updated, at the next version;
    // a code in another case stores the same record: unchanged.
    let csv = export_text(&app, "partners", "csv").await;
    let report = json(import(&app, "partners", "text/csv", &csv, "").await, 200).await;
    assert_eq!(
        (report["unchanged"].clone(), report["updated"].clone()),
        (json!(2), json!(0))
    );
    let changed = format!(
        "id,name,kind,country_code,version\r\n{},First,multilateral,KZ,1\r\n{},Second,academic,kr,\r\n",
        first["id"], partners[1]["id"]
    );
    let report = json(
        import(&app, "partners", "text/csv", &changed, "").await,
        200,
    )
    .await;
    assert_eq!(
        (report["updated"].clone(), report["unchanged"].clone()),
        (json!(1), json!(1))
    );
    let one = json(
        app.get(&format!("/api/v1/partners/{}", first["id"])).await,
        200,
    )
    .await;
    assert_eq!(
        (one["kind"].clone(), one["version"].clone()),
        (json!("multilateral"), json!(2))
    );
    assert_eq!(one["created_at"], first["created_at"]);
    // Ids above every id given are made as asked, out of order; the next create follows them.
    let events = "{\"id\": 9, \"title\": \"Nine\", \"kind\": \"forum\", \"starts_on\": \"2024-01-09\", \"version\": 4}\n\
                  {\"id\": 5, \"title\": \"Five\", \"kind\": \"forum\", \"starts_on\": \"2024-01-05\", \"created_at\": \"2020-01-01T10:00:00Z\"}\n\
                  {\"title\": \"New\", \"kind\": \"forum\", \"starts_on\": \"2024-01-10\"}\n";
    let report = json(
        import(&app, "events", "application/x-ndjson", events, "").await,
        200,
    )
    .await;
    assert_eq!(report["created"], 3, "{report}");
    let listed = app.walk("/api/v1/events?sort=id").await;
    let summary: Vec<(Value, Value, Value)> = listed
        .iter()
        .map(|e| (e["id"].clone(), e["title"].clone(), e["version"].clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(5), json!("Five"), json!(1)),
            (json!(9), json!("Nine"), json!(4)),
            (json!(10), json!("New"), json!(1)),
        ]
    );
    assert_eq!(listed[0]["created_at"], "2020-01-01T10:00:00.000000Z");
    let body = json!({"title": "Next", "kind": "forum", "starts_on": "2025-01-01"});
    let created = json(app.post_json("/api/v1/events", &body).await, 201).await;
    assert_eq!(created["id"], 11);
}

async fn import_bodies_and_access_are_checked(app: TestApp) {
    let wrong_type = problem(
        import(&app, "partners", "application/json", "{}", "").await,
        415,
    )
    .await;
    assert_eq!(wrong_type["code"], "unsupported_media_type");
    problem(
        import(&app, "partners", "text/csv; charset=latin1", PARTNERS, "").await,
        415,
    )
    .await;
    let unknown = problem(
        import(&app, "partners", "text/csv", "name,kind,colour\r\n", "").await,
        400,
    )
    .await;
    assert_eq!(unknown["errors"][0]["field"], "colour");
    let missing = problem(
        import(&app, "events", "text/csv", "title,starts_on\r\n", "").await,
        400,
    )
    .await;
    assert_eq!(missing["errors"][0]["field"], "kind");
    problem(import(&app, "events", "text/csv", "", "").await, 400).await;
    let unknown_parameter = problem(
        import(&app, "partners", "text/csv", PARTNERS, "?dry=1").await,
        400,
    )
    .await;
    assert_eq!(unknown_parameter["code"], "unknown_parameter");
    // Access: a token, and the role that writes the resource.
    let anonymous = app
        .request(Method::POST, "/api/v1/partners/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(PARTNERS)
        .send()
        .await
        .expect("answered");
    problem(anonymous, 401).await;
    let as_editor = |resource: &str| {
        app.request(Method::POST, &format!("/api/v1/{resource}/import"))
            .bearer_auth(&app.editor_token)
            .header(header::CONTENT_TYPE, "text/csv")
    };
    problem(
        as_editor("countries")
            .body("code,alpha3,numeric,name\r\n")
            .send()
            .await
            .expect("answered"),
        403,
    )
    .await;
    json(
        as_editor("partners")
            .body(PARTNERS)
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    // Limits, set small.
    let limited = spawn_app_with(backend(&app), |s| {
        s.import_max_bytes = 100;
        s.import_max_rows = 2;
    })
    .await;
    let big = format!("name,kind\r\n{}", "A long partner name,other\r\n".repeat(5));
    problem(
        import(&limited, "partners", "text/csv", &big, "").await,
        413,
    )
    .await;
    let rows = "{\"name\":\"a\",\"kind\":\"other\"}\n{\"name\":\"b\",\"kind\":\"other\"}\n{\"name\":\"c\",\"kind\":\"other\"}\n";
    let too_many = problem(
        import(&limited, "partners", "application/x-ndjson", rows, "").await,
        413,
    )
    .await;
    assert_eq!(too_many["code"], "payload_too_large");
    assert!(limited.walk("/api/v1/partners?").await.is_empty());
    // A CSV with a BOM, as spreadsheet programs save it, is read as without.
    let with_bom = format!(
        "\u{feff}{}",
        PARTNERS
            .replace("First", "Third")
            .replace("Second", "Fourth")
    );
    json(
        import(&app, "partners", "text/csv", &with_bom, "").await,
        200,
    )
    .await;
}

/// A client that goes away stops the export: the service says so, well before the last row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_stops_the_export() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("registry.db").display().to_string();
    let seeded = std::process::Command::new(env!("CARGO_BIN_EXE_coop-registry"))
        .args([
            "--database-url",
            &path,
            "seed-bench",
            "--partners",
            "20",
            "--agreements",
            "20",
        ])
        .args(["--events", "30000"])
        .output()
        .expect("seed-bench runs");
    assert!(seeded.status.success());
    let service = crate::helpers::ServiceProcess::start(&path).await;
    let address = service.address.trim_start_matches("http://").to_owned();
    // A small receive buffer that the kernel does not grow: otherwise loopback buffers (tens
    // of MiB) can take the whole export before the client goes away.
    let client = tokio::net::TcpSocket::new_v4().expect("a socket");
    client.set_recv_buffer_size(4096).expect("a small buffer");
    let mut socket = client
        .connect(address.parse().expect("an address"))
        .await
        .expect("connects");
    socket
        .write_all(b"GET /api/v1/events/export?format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("sent");
    let mut start = vec![0; 4096];
    let read = socket.read(&mut start).await.expect("the first bytes");
    assert!(String::from_utf8_lossy(&start[..read]).starts_with("HTTP/1.1 200"));
    drop(socket);
    let line = service
        .logged_line(&[
            "an export of Event records stopped after",
            "the client went away",
        ])
        .await
        .unwrap_or_else(|| panic!("the export stopped; the log: {:#?}", service.log()));
    let sent: usize = line
        .split("stopped after ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .expect("a count");
    assert!(sent < 30_000, "{line}");
}
