//! Starts the real application on port 0 with a fresh database per test, and speaks HTTP to it.

use coop_registry::Application;
use coop_registry::auth::{self, Role};
use coop_registry::config::Settings;
use coop_registry::db::Db;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, Response, header};
use serde_json::Value;

/// The database engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test body once per backend: `sqlite::name` always, `postgres::name` when
/// `TEST_DATABASE_URL` was set at build time (otherwise listed as ignored, with the reason).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(postgres_tests), ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set")]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await
                }
            )+
        }
    };
}

/// A running service and a client for it. Dropping it drops its database.
///
/// The write helpers send `admin_token`; `request` sends none, for tests about access.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub editor_token: String,
    pub database: TestDatabase,
}

/// A database made for one test.
pub enum TestDatabase {
    /// The directory goes, with the file, when the value is dropped.
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
    /// Another instance's database: used, never dropped.
    Shared { url: String },
}

impl TestDatabase {
    /// A new, empty database on `backend`.
    pub fn create(backend: Backend) -> Self {
        Self::create_with(backend, "")
    }

    /// A new, empty database on `backend`; on PostgreSQL, `CREATE DATABASE` ends with
    /// `options` (a locale, say).
    pub fn create_with(backend: Backend, options: &str) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("registry.db").display().to_string();
                TestDatabase::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL")
                    .expect("TEST_DATABASE_URL must point at a PostgreSQL server");
                let name = format!("coop_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin =
                    PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE {name} {options}"))
                    .execute(&mut admin)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                TestDatabase::Postgres {
                    admin_url,
                    name,
                    url: url.to_string(),
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. }
            | TestDatabase::Postgres { url, .. }
            | TestDatabase::Shared { url } => url,
        }
    }

    /// Drops a PostgreSQL test database now, even while the service still holds connections.
    pub fn drop_now(&self) {
        if let TestDatabase::Postgres {
            admin_url, name, ..
        } = self
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// A second service instance on `app`'s database, as when several instances share one
/// PostgreSQL behind a load balancer. It uses `app`'s tokens.
pub async fn spawn_second_instance(app: &TestApp) -> TestApp {
    spawn_second_instance_with(app, |_| {}).await
}

/// Like `spawn_second_instance`, with settings changed by `configure` first.
pub async fn spawn_second_instance_with(
    app: &TestApp,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let database = TestDatabase::Shared {
        url: app.database.url().to_owned(),
    };
    let mut settings = Settings::with_database(database.url());
    settings.bind = "127.0.0.1:0".to_owned();
    settings.workers = Some(2);
    settings.pool_size = 4;
    configure(&mut settings);
    let instance = Application::build(&settings).expect("the second instance builds");
    let address = format!("http://127.0.0.1:{}", instance.port());
    tokio::spawn(instance.run_until_stopped());
    TestApp {
        address,
        client: app.client.clone(),
        admin_token: app.admin_token.clone(),
        editor_token: app.editor_token.clone(),
        database,
    }
}

/// The application started on an existing SQLite file (a restored backup, say).
pub async fn spawn_app_on_file(path: &str) -> TestApp {
    let database = TestDatabase::Shared {
        url: path.to_owned(),
    };
    let mut settings = Settings::with_database(path);
    settings.bind = "127.0.0.1:0".to_owned();
    settings.workers = Some(2);
    let app = Application::build(&settings).expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let admin_token = make_token(path, "restored-admin", Role::Admin);
    TestApp {
        address,
        client: reqwest::Client::new(),
        editor_token: admin_token.clone(),
        admin_token,
        database,
    }
}

/// The service as a separate process (`coop-registry serve`), for tests that signal or kill it.
pub struct ServiceProcess {
    pub child: std::process::Child,
    pub address: String,
    /// The lines it has logged to stderr since it started listening.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts the binary on `database_url` and waits until it answers `/readyz`.
    pub async fn start(database_url: &str) -> ServiceProcess {
        Self::start_with_env(database_url, &[]).await
    }

    /// Like `start`, with these environment variables set (settings, say).
    pub async fn start_with_env(
        database_url: &str,
        environment: &[(&str, &str)],
    ) -> ServiceProcess {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_coop-registry"))
            .args([
                "--database-url",
                database_url,
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "2",
                "serve",
            ])
            .env("RUST_LOG", "info")
            .envs(environment.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (found, port) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sent {
                    kept.lock().expect("the log lock").push(line);
                } else if let Some(rest) = line.split("listening on ").nth(1) {
                    let port = rest
                        .rsplit(':')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    let _ = found.send(port);
                    sent = true;
                }
            }
        });
        let port = port
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the service says where it listens");
        let address = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(format!("{address}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        ServiceProcess {
            child,
            address,
            log,
        }
    }

    /// The lines it has logged since it started listening.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("the log lock").clone()
    }

    /// Waits up to thirty seconds (a busy machine is slow to log) for a logged line that
    /// contains every one of `parts`.
    pub async fn logged_line(&self, parts: &[&str]) -> Option<String> {
        for _ in 0..600 {
            let found = self
                .log()
                .into_iter()
                .find(|line| parts.iter().all(|part| line.contains(part)));
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    /// Sends a signal (`TERM`, `KILL`) to the process.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes a token on `database_url` with the library, as `coop-registry token create` does.
pub fn make_token(database_url: &str, name: &str, role: Role) -> String {
    let db = Db::new(&Settings::with_database(database_url)).expect("the database opens");
    let mut conn = db.writer().get().expect("a connection");
    auth::create_token(&mut conn, name, role).expect("a token")
}

/// Starts the application, exactly as `coop-registry serve` builds it, on a fresh database.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like `spawn_app`, with settings changed by `configure` first.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(TestDatabase::create(backend), configure).await
}

/// Like `spawn_app_with`, on a database made for the test.
pub async fn spawn_app_on(
    database: TestDatabase,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings::with_database(database.url());
    settings.bind = "127.0.0.1:0".to_owned();
    settings.workers = Some(2);
    settings.pool_size = 4;
    configure(&mut settings);
    let app = Application::build(&settings).expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (admin_token, editor_token) = {
        let db = Db::new(&settings).expect("the database opens");
        let mut conn = db.writer().get().expect("a connection");
        (
            auth::create_token(&mut conn, "test-admin", Role::Admin).expect("admin token"),
            auth::create_token(&mut conn, "test-editor", Role::Editor).expect("editor token"),
        )
    };
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    TestApp {
        address,
        client,
        admin_token,
        editor_token,
        database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request carrying the admin token.
    pub fn as_admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(&self.admin_token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("GET is answered")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.as_admin(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("POST is answered")
    }

    pub async fn put_json(&self, path: &str, body: &Value, if_match: Option<&str>) -> Response {
        with_if_match(self.as_admin(Method::PUT, path).json(body), if_match)
            .send()
            .await
            .expect("PUT is answered")
    }

    /// A JSON Merge Patch, sent as `application/merge-patch+json`.
    pub async fn patch_json(&self, path: &str, body: &Value, if_match: Option<&str>) -> Response {
        let request = self
            .as_admin(Method::PATCH, path)
            .header(header::CONTENT_TYPE, "application/merge-patch+json")
            .body(body.to_string());
        with_if_match(request, if_match)
            .send()
            .await
            .expect("PATCH is answered")
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> Response {
        with_if_match(self.as_admin(Method::DELETE, path), if_match)
            .send()
            .await
            .expect("DELETE is answered")
    }

    /// Every item of a list, following `next_cursor` from `path` (which must carry a `?`).
    pub async fn walk(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = path.to_owned();
        loop {
            let page = self.get(&next).await;
            assert_eq!(page.status(), 200, "listing {next}");
            let body: Value = page.json().await.expect("JSON page");
            items.extend(body["items"].as_array().expect("items").iter().cloned());
            match body["next_cursor"].as_str() {
                Some(cursor) => next = format!("{path}&cursor={cursor}"),
                None => return items,
            }
            assert!(items.len() < 100_000, "the walk does not end");
        }
    }
}

fn with_if_match(request: RequestBuilder, if_match: Option<&str>) -> RequestBuilder {
    match if_match {
        Some(tag) => request.header(header::IF_MATCH, tag),
        None => request,
    }
}

/// Reads a problem+json error response and checks its envelope.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:coop-registry:problem:"))
    );
    assert!(body["title"].is_string() && body["detail"].is_string() && body["errors"].is_array());
    body
}

/// The fields named in a problem's `errors`, in order.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A response's JSON body, after checking its status.
pub async fn json(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    response.json().await.expect("JSON body")
}

/// A response header as text.
pub fn header_of(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A JSON value as text to sort by: strings as they are, other values as JSON.
pub fn sort_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}
