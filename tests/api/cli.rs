//! The command line as an operator meets it: start-up errors and each command's `--help`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the built binary with `args`, with no database or server settings from the environment.
fn run(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_coop-registry"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("BIND")
        .output()
        .expect("the binary runs");
    (output, started.elapsed())
}

/// Runs a command that must fail at start; returns its standard error.
fn failing_start(args: &[&str]) -> String {
    let (output, elapsed) = run(args);
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(!output.status.success(), "{args:?} fails: {stderr}");
    // The pools used to retry for their 5 s connection timeout first; one direct attempt
    // takes milliseconds, so 4 s leaves a loaded machine plenty of room.
    assert!(
        elapsed < Duration::from_secs(4),
        "{args:?} fails at once, not after the pool's timeout: {elapsed:?}"
    );
    stderr
}

fn occurrences(text: &str, part: &str) -> usize {
    text.matches(part).count()
}

#[test]
fn a_sqlite_file_in_a_missing_directory_is_named_once_and_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("no-such-dir").join("registry.db");
    let path = path.to_str().expect("a UTF-8 path");
    let stderr = failing_start(&["--database-url", path, "migrate"]);
    assert_eq!(occurrences(&stderr, path), 1, "named once: {stderr}");
    assert_eq!(
        occurrences(&stderr, "Unable to open the database file"),
        1,
        "said once: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_url_of_another_database_engine_is_refused_by_its_scheme() {
    for (url, scheme) in [
        ("mysql://u:secret@h/db", "mysql"),
        ("mariadb://u:secret@h/db", "mariadb"),
    ] {
        let stderr = failing_start(&["--database-url", url, "migrate"]);
        assert!(
            stderr.contains(&format!("unsupported database URL scheme `{scheme}`")),
            "{stderr}"
        );
        assert!(!stderr.contains("secret"), "no password: {stderr}");
    }
}

#[test]
fn an_empty_database_url_is_refused() {
    let stderr = failing_start(&["--database-url", "", "token", "list"]);
    assert!(stderr.contains("database URL is empty"), "{stderr}");
}

#[test]
fn a_postgres_server_that_does_not_answer_is_named_once_without_the_password() {
    let stderr = failing_start(&[
        "--database-url",
        "postgres://postgres:hunter2@127.0.0.1:1/x",
        "migrate",
    ]);
    assert!(!stderr.contains("hunter2"), "no password: {stderr}");
    assert_eq!(
        occurrences(&stderr, "127.0.0.1:1/x"),
        1,
        "named once: {stderr}"
    );
    assert_eq!(
        occurrences(&stderr, "coop-registry:"),
        1,
        "one message: {stderr}"
    );
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
fn a_postgres_database_that_does_not_exist_is_named_once() {
    let mut url = url::Url::parse(
        &std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL must point at PostgreSQL"),
    )
    .expect("TEST_DATABASE_URL is a URL");
    let name = format!("coop_missing_{}", uuid::Uuid::new_v4().simple());
    url.set_path(&name);
    let stderr = failing_start(&["--database-url", url.as_str(), "serve"]);
    assert_eq!(
        occurrences(&stderr, &format!("/{name}:")),
        1,
        "named once: {stderr}"
    );
    assert_eq!(
        occurrences(&stderr, "coop-registry:"),
        1,
        "one message: {stderr}"
    );
    if let Some(password) = url.password() {
        assert!(!stderr.contains(password), "no password: {stderr}");
    }
}

/// The `--help` of the command that `args` names.
fn help(args: &[&str]) -> String {
    let args: Vec<&str> = args.iter().copied().chain(["--help"]).collect();
    let (output, _) = run(&args);
    assert!(output.status.success(), "{args:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

const SERVER_FLAGS: [&str; 3] = ["--bind", "--workers", "--cors-allowed-origins"];

#[test]
fn the_maintenance_commands_list_only_their_own_options() {
    for command in [
        &["token", "create"][..],
        &["token", "revoke"],
        &["token", "list"],
        &["seed-bench"],
        &["migrate"],
        &["backup"],
    ] {
        let text = help(command);
        assert!(text.contains("--database-url"), "{command:?}: {text}");
        for flag in SERVER_FLAGS {
            assert!(!text.contains(flag), "{command:?} lists {flag}: {text}");
        }
    }
}

#[test]
fn serve_and_the_bare_command_list_the_server_options() {
    for command in [&["serve"][..], &[]] {
        let text = help(command);
        for flag in SERVER_FLAGS.iter().chain(&["--database-url"]) {
            assert!(text.contains(flag), "{command:?} lacks {flag}: {text}");
        }
    }
}
