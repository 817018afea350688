//! The README's "Using it" examples, run as a reader would run them: in order, with bash,
//! against a running service, once on an empty registry and once on one loaded with
//! `seed-demo`. `REGISTRY` points them at the test's service; `coop-registry` on `PATH` is the
//! built binary with the test's database; `curl` on `PATH` is the real one, which also writes
//! each answer's status line to a log the test reads.

use std::path::{Path, PathBuf};

use crate::backend_tests;
use crate::helpers::TestApp;

backend_tests!(
    the_readme_examples_work_on_an_empty_registry,
    the_readme_examples_work_on_a_registry_with_the_demo_data,
);

async fn the_readme_examples_work_on_an_empty_registry(app: TestApp) {
    run_readme_examples(&app).await;
}

async fn the_readme_examples_work_on_a_registry_with_the_demo_data(app: TestApp) {
    let seeded = tokio::process::Command::new(env!("CARGO_BIN_EXE_coop-registry"))
        .args(["--database-url", app.database.url(), "seed-demo"])
        .output()
        .await
        .expect("seed-demo runs");
    assert!(
        seeded.status.success(),
        "seed-demo: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    run_readme_examples(&app).await;
}

/// The fenced `sh` blocks of the README's "Using it" section, joined.
fn using_it_examples() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let section = readme
        .split("\n## Using it\n")
        .nth(1)
        .expect("the README has a \"Using it\" section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + "```sh\n".len()..];
        let end = body.find("\n```").expect("the sh block is closed");
        blocks.push(&body[..end]);
        rest = &body[end..];
    }
    assert!(!blocks.is_empty(), "\"Using it\" has a sh block");
    blocks.join("\n")
}

/// The curl calls of the examples, in order, each with the status it is marked to answer
/// (a line ending in `# 304` marks the call that line belongs to) or `None` for any 2xx.
fn expected_statuses(script: &str) -> Vec<Option<u16>> {
    let mut calls = Vec::new();
    for line in script.lines() {
        let (code, comment) = line.split_once(" # ").unwrap_or((line, ""));
        if code.trim_start().starts_with('#') {
            continue;
        }
        calls.extend(std::iter::repeat_n(None, code.matches("curl ").count()));
        let comment = comment.trim();
        if comment.len() == 3
            && let Ok(status) = comment.parse()
        {
            *calls.last_mut().expect("a marked line holds a curl call") = Some(status);
        }
    }
    calls
}

/// The real curl, found on `PATH` before the test puts its own in front.
fn real_curl() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("curl"))
        .find(|path| path.is_file())
        .expect("curl is installed (the README's examples use it)")
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write a wrapper");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

async fn run_readme_examples(app: &TestApp) {
    let script = using_it_examples();
    let jq = tokio::process::Command::new("jq")
        .arg("--version")
        .output()
        .await;
    assert!(
        jq.is_ok_and(|o| o.status.success()),
        "jq is installed (the README's examples use it)"
    );

    let bin = tempfile::tempdir().expect("temp dir");
    let log = bin.path().join("statuses");
    write_script(
        &bin.path().join("coop-registry"),
        &format!(
            "#!/bin/sh\nexec '{}' --database-url '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_coop-registry"),
            app.database.url()
        ),
    );
    // Each answer's headers go to a file besides wherever the example sends them; the last
    // status line among them is the answer's.
    write_script(
        &bin.path().join("curl"),
        &format!(
            "#!/bin/sh\nheaders=$(mktemp)\n'{}' -D \"$headers\" \"$@\"\nstatus=$?\n\
             grep '^HTTP/' \"$headers\" | tail -n 1 | tr -d '\\r' >> '{}'\n\
             rm -f \"$headers\"\nexit $status\n",
            real_curl().display(),
            log.display()
        ),
    );
    let path = std::env::join_paths(std::iter::once(bin.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("a PATH");

    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("PATH", path)
        .env("REGISTRY", &app.address)
        .env_remove("DATABASE_URL")
        .current_dir(bin.path())
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the examples run to the end\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );

    let statuses: Vec<u16> = std::fs::read_to_string(&log)
        .expect("curl logged its answers")
        .lines()
        .map(|line| {
            line.split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("a status line: {line:?}"))
        })
        .collect();
    let expected = expected_statuses(&script);
    assert_eq!(
        statuses.len(),
        expected.len(),
        "every curl of the examples was answered: {statuses:?}\n{stdout}"
    );
    for (call, (status, expected)) in statuses.iter().zip(&expected).enumerate() {
        match expected {
            Some(marked) => assert_eq!(status, marked, "curl call {call} of the examples"),
            None => assert!(
                (200..300).contains(status),
                "curl call {call} of the examples answers {status}, not 2xx: {statuses:?}\n{stdout}"
            ),
        }
    }
    assert!(
        stdout.contains("\"title\":\"Example: first joint course\""),
        "the event was made and listed under its agreement:\n{stdout}"
    );
}
