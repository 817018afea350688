//! A failure on the server's side is logged once, naming the request's id and every cause,
//! while the client is told nothing of the internals.

use coop_registry::db::ConnectionFactory;
use diesel::connection::SimpleConnection;

use crate::helpers::{Backend, ServiceProcess, TestDatabase, problem};

async fn a_500_is_logged_with_its_request_id_and_its_cause(backend: Backend) {
    let database = TestDatabase::create(backend);
    let service = ServiceProcess::start(database.url()).await;
    // The countries table goes away under the running service, so listing countries fails.
    ConnectionFactory::new(database.url())
        .expect("a database URL")
        .connect()
        .expect("connects")
        .batch_execute("ALTER TABLE countries RENAME TO countries_gone")
        .expect("renames the table");

    let request_id = format!("broken-countries-{backend:?}");
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/countries", service.address))
        .header("X-Request-Id", &request_id)
        .send()
        .await
        .expect("answered");
    let body = problem(response, 500).await;
    assert!(!body.to_string().contains("countries"), "{body}");

    let cause = match backend {
        Backend::Sqlite => "no such table: countries",
        Backend::Postgres => "relation \"countries\" does not exist",
    };
    let line = service
        .logged_line(&[&format!("request_id={request_id} internal error: "), cause])
        .await;
    assert!(
        line.is_some(),
        "no line with the request id and `{cause}` in {:#?}",
        service.log()
    );
    let logged = service
        .log()
        .iter()
        .filter(|line| line.contains("internal error"))
        .count();
    assert_eq!(logged, 1, "logged once: {:#?}", service.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_500_is_logged_with_its_request_id_and_its_cause() {
    a_500_is_logged_with_its_request_id_and_its_cause(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_a_500_is_logged_with_its_request_id_and_its_cause() {
    a_500_is_logged_with_its_request_id_and_its_cause(Backend::Postgres).await;
}

/// A request refused before its handler (401, 403, 404, 405) is logged once in the access log,
/// with the request id it was answered with.
async fn refused_requests_are_logged_once_with_their_request_id(backend: Backend) {
    let database = TestDatabase::create(backend);
    let service = ServiceProcess::start(database.url()).await;
    let client = reqwest::Client::new();
    let probes = [
        ("GET", "/api/v1/audit", "probe-401"),
        ("PUT", "/api/v1/partners", "probe-405"),
        ("GET", "/api/v1/no-such-thing", "probe-404"),
    ];
    for (method, path, id) in probes {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let response = client
            .request(method, format!("{}{path}", service.address))
            .header("X-Request-Id", id)
            .send()
            .await
            .expect("answered");
        assert_eq!(
            response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(id)
        );
        let status = &id["probe-".len()..];
        let line = service
            .logged_line(&[path, &format!("\" {status} "), &format!("request_id={id}")])
            .await;
        assert!(
            line.is_some(),
            "no access log line for {id} in {:#?}",
            service.log()
        );
        let lines = service
            .log()
            .iter()
            .filter(|line| line.contains(&format!("request_id={id}")))
            .count();
        assert_eq!(lines, 1, "logged once: {:#?}", service.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refused_requests_are_logged_once_with_their_request_id() {
    refused_requests_are_logged_once_with_their_request_id(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set"
)]
async fn postgres_refused_requests_are_logged_once_with_their_request_id() {
    refused_requests_are_logged_once_with_their_request_id(Backend::Postgres).await;
}
