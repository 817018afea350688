use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{TestApp, json};

backend_tests!(the_served_document_is_the_committed_one);

const REGENERATE: &str = "cargo run -- openapi > openapi/openapi.json";

/// The committed OpenAPI document must be what the code generates.
#[test]
fn committed_openapi_document_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = coop_registry::openapi::to_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale or missing; regenerate it with `{REGENERATE}` and commit it"
    );
}

/// What utoipa generates keeps the promises the document makes about every operation.
#[test]
fn every_operation_has_an_id_a_tag_a_summary_and_its_error_responses() {
    let doc: Value = serde_json::from_str(&coop_registry::openapi::to_json()).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            ids.push(id.to_owned());
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id} has no tag"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id} has no summary"
            );
            let responses = op["responses"].as_object().expect("responses");
            if path.starts_with("/api/v1") {
                assert!(responses.contains_key("503"), "{id} does not list 503");
            }
            if matches!(method.as_str(), "post" | "put" | "patch")
                && op.get("requestBody").is_some()
            {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{id} does not list {status}"
                    );
                }
            }
            // A path names a record that may not exist, unless the operation creates it there.
            if path.contains('{') && !responses.contains_key("201") {
                assert!(responses.contains_key("404"), "{id} does not list 404");
            }
        }
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "operationIds are unique");
}

/// The document says which operations need a token as the routes decide it: a read of the
/// registry takes one but needs none (unless READ_REQUIRES_TOKEN), so its security lists `{}`
/// beside the bearer scheme; a write or the audit log needs one; health checks take none.
#[test]
fn each_operations_security_is_what_its_route_admits() {
    use coop_registry::auth::Access;
    let doc: Value = serde_json::from_str(&coop_registry::openapi::to_json()).expect("JSON");
    let bearer = serde_json::json!([{"bearer": []}]);
    for route in coop_registry::app::route_table() {
        let method = route.method.as_str().to_ascii_lowercase();
        let op = &doc["paths"][&route.pattern][&method];
        let security = op.get("security").unwrap_or(&doc["security"]);
        let expected = match route.access {
            Access::Public => serde_json::json!([]),
            Access::Read => serde_json::json!([{}, {"bearer": []}]),
            Access::Role(_) => bearer.clone(),
        };
        assert_eq!(security, &expected, "{method} {}", route.pattern);
    }
}

async fn the_served_document_is_the_committed_one(app: TestApp) {
    let served = json(app.get("/api-docs/openapi.json").await, 200).await;
    let generated: Value = serde_json::from_str(&coop_registry::openapi::to_json()).expect("JSON");
    assert_eq!(served, generated);
}

/// The repository stands alone: README.md, docs/ and src/ point at nothing outside it (no path
/// into the folder beside the clone where the original contract was kept), and every relative
/// markdown link in them names a file in the repository.
#[test]
fn documentation_links_stay_inside_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut folders = vec![root.join("docs"), root.join("src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("readable folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let mut broken = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        // Spelled in two pieces, so that this test does not name the path it looks for.
        let outside = concat!("..", "/", "shared");
        if text.contains(outside) {
            broken.push(format!(
                "{shown} refers to {outside}, which is not in the repository"
            ));
        }
        // In Rust sources only comments hold markdown (a regular expression may hold `](`).
        let markdown: String = if file.extension().is_some_and(|e| e == "rs") {
            text.lines()
                .filter(|line| line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text.clone()
        };
        for target in markdown_link_targets(&markdown) {
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            let resolved = file.parent().unwrap_or(root).join(path);
            let inside = resolved
                .canonicalize()
                .is_ok_and(|p| p.starts_with(root.canonicalize().expect("root")));
            if !inside {
                broken.push(format!(
                    "{shown} links to {target}, which is not in the repository"
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The targets of `[text](target)` links in `text`.
fn markdown_link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let end = rest.find(')')?;
            let target = &rest[..end];
            (!target.is_empty() && !target.contains(char::is_whitespace)).then_some(target)
        })
        .collect()
}
