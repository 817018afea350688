//! Turns the PostgreSQL half of the test suite on when `TEST_DATABASE_URL` is set at build time,
//! so that without it `cargo test` lists those tests as ignored with the reason, instead of
//! letting them pass silently.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    // The migrations are embedded in the binary (`embed_migrations!`), which notices edits to
    // the files it read but not a new migration's directory; this rebuilds for both.
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
