//! Webhooks (`/api/v1/webhooks`): managed by admins, delivered to a real HTTP receiver started
//! by the test, signed (checked with the `standardwebhooks` crate, an independent
//! implementation), retried in order, and durable across a SIGKILL of the service.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use coop_registry::auth::Role;
use coop_registry::config::RetrySchedule;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, ServiceProcess, TestApp, TestDatabase, error_fields, header_of, json, make_token,
    problem, spawn_app, spawn_app_with, spawn_second_instance_with,
};

/// Runs each test once per backend, handing it the backend.
macro_rules! per_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(postgres_tests), ignore = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set")]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )+
        }
    };
}

per_backend!(
    webhooks_are_for_admins_and_show_their_secret_only_on_create_and_rotate,
    deliveries_are_signed_as_standard_webhooks_and_rotation_changes_the_key,
    a_failing_delivery_is_retried_with_the_same_id_and_holds_back_later_ones,
    retry_after_is_honoured_410_disables_and_the_retry_endpoint_sends_again,
    no_delivery_is_lost_when_the_service_is_killed,
    two_instances_share_a_webhook_sending_one_at_a_time_and_never_twice,
    a_backlog_longer_than_a_run_goes_out_once_each_in_order_and_is_recorded,
    no_attempt_of_a_run_starts_after_its_webhook_is_made_inactive,
    no_attempt_of_a_run_is_signed_with_a_secret_rotated_during_it,
);

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: http::HeaderMap,
    body: String,
    at: Instant,
}

impl Received {
    fn id(&self) -> String {
        self.header("webhook-id")
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    /// The answers to give, in turn (status, Retry-After); 200 once they run out.
    script: Mutex<VecDeque<(u16, Option<String>)>>,
    /// How long each answer takes, in milliseconds.
    delay_ms: AtomicU64,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: AtomicUsize,
    most_at_once: AtomicUsize,
    /// Requests that have come, counted as they arrive (before a hold).
    arrived: AtomicUsize,
    /// The arrivals held (1 for the first request) until the test lets each go on.
    held: Mutex<HashSet<usize>>,
    gate: tokio::sync::Notify,
}

/// A real HTTP server that records what it is sent.
struct Receiver {
    port: u16,
    inbox: Arc<Inbox>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, inbox: web::Data<Inbox>) -> HttpResponse {
    let now = inbox.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    inbox.most_at_once.fetch_max(now, Ordering::SeqCst);
    let number = inbox.arrived.fetch_add(1, Ordering::SeqCst) + 1;
    if inbox.held.lock().expect("lock").remove(&number) {
        inbox.gate.notified().await;
    }
    let delay = inbox.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    inbox.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    inbox.received.lock().expect("lock").push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    });
    let answer = inbox.script.lock().expect("lock").pop_front();
    let (status, retry_after) = answer.unwrap_or((200, None));
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a status"));
    if let Some(retry_after) = retry_after {
        response.insert_header(("Retry-After", retry_after));
    }
    response.finish()
}

impl Receiver {
    fn start() -> Self {
        Self::start_on(0)
    }

    fn start_on(port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        let port = listener.local_addr().expect("an address").port();
        let inbox = Arc::new(Inbox::default());
        let data = web::Data::from(inbox.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .listen(listener)
        .expect("listens")
        .workers(1)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            port,
            inbox,
            handle,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn answer(&self, status: u16, retry_after: Option<&str>) {
        self.inbox
            .script
            .lock()
            .expect("lock")
            .push_back((status, retry_after.map(str::to_owned)));
    }

    /// Holds the `number`th request to come (1 for the first) until [`Receiver::let_go`].
    fn hold(&self, number: usize) {
        self.inbox.held.lock().expect("lock").insert(number);
    }

    /// Lets the request being held go on to its answer.
    fn let_go(&self) {
        self.inbox.gate.notify_one();
    }

    /// Waits (up to a minute) until `count` requests have arrived, held ones included.
    async fn wait_for_arrivals(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.inbox.arrived.load(Ordering::SeqCst) < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} requests arrived",
                self.inbox.arrived.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().expect("lock").clone()
    }

    /// Waits (up to a minute: on PostgreSQL deliveries wait for older transactions, like the
    /// feed) until at least `count` requests have come.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                assert!(
                    received.len() >= count,
                    "only {} of {count} deliveries arrived",
                    received.len()
                );
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

/// An app that may send to the test's receiver on 127.0.0.1, retrying after `schedule`.
async fn hooked_app(backend: Backend, schedule: Vec<u64>) -> TestApp {
    spawn_app_with(backend, move |s| {
        s.webhooks.webhook_allow_private_targets = true;
        s.webhooks.webhook_retry_schedule = RetrySchedule(schedule);
    })
    .await
}

/// Registers a webhook; answers its id and secret.
async fn register(app: &TestApp, url: &str, event_types: Value) -> (i64, String) {
    let created = json(
        app.post_json(
            "/api/v1/webhooks",
            &json!({"url": url, "event_types": event_types}),
        )
        .await,
        201,
    )
    .await;
    (
        created["id"].as_i64().expect("an id"),
        created["secret"].as_str().expect("a secret").to_owned(),
    )
}

async fn create_partner(app: &TestApp, name: &str) -> i64 {
    json(
        app.post_json(
            "/api/v1/partners",
            &json!({"name": name, "kind": "government"}),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .expect("an id")
}

async fn deliveries(app: &TestApp, webhook: i64) -> Vec<Value> {
    let page = json(
        app.as_admin(
            Method::GET,
            &format!("/api/v1/webhooks/{webhook}/deliveries?limit=500"),
        )
        .send()
        .await
        .expect("answered"),
        200,
    )
    .await;
    page["items"].as_array().expect("items").clone()
}

/// Rotates `webhook`'s secret; the new one.
async fn rotate_secret(app: &TestApp, webhook: i64) -> String {
    let rotated = json(
        app.as_admin(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/rotate-secret"),
        )
        .send()
        .await
        .expect("answered"),
        200,
    )
    .await;
    rotated["secret"].as_str().expect("a secret").to_owned()
}

/// Waits until every delivery of `webhook` satisfies `done`.
async fn deliveries_when(
    app: &TestApp,
    webhook: i64,
    count: usize,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let items = deliveries(app, webhook).await;
        if (items.len() == count && items.iter().all(&done)) || Instant::now() > deadline {
            assert_eq!(items.len(), count, "{items:?}");
            assert!(items.iter().all(&done), "{items:#?}");
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verifies(secret: &str, received: &Received) -> bool {
    standardwebhooks::Webhook::new(secret)
        .expect("a Standard Webhooks secret")
        .verify(received.body.as_bytes(), &received.headers)
        .is_ok()
}

async fn webhooks_are_for_admins_and_show_their_secret_only_on_create_and_rotate(backend: Backend) {
    let app = spawn_app(backend).await;
    // A public address; inactive, so that nothing is sent anywhere.
    let body = json!({
        "url": "https://93.184.215.14/hooks/registry",
        "event_types": ["partner.created", "partner.created", "event.deleted"],
        "active": false,
        "description": "  The portal  "
    });
    // Admins only.
    let as_editor = app
        .request(Method::POST, "/api/v1/webhooks")
        .bearer_auth(&app.editor_token)
        .json(&body)
        .send()
        .await
        .expect("answered");
    problem(as_editor, 403).await;
    let anonymous = app
        .request(Method::GET, "/api/v1/webhooks")
        .send()
        .await
        .expect("answered");
    problem(anonymous, 401).await;
    let as_editor = app
        .request(Method::GET, "/api/v1/webhooks")
        .bearer_auth(&app.editor_token)
        .send()
        .await
        .expect("answered");
    problem(as_editor, 403).await;

    // Targets that are not public, not http(s), unknown event types.
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.20/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://localhost:8080/hook",
    ] {
        let refused = problem(
            app.post_json("/api/v1/webhooks", &json!({"url": url}))
                .await,
            422,
        )
        .await;
        assert_eq!(error_fields(&refused), ["url"], "{url}: {refused}");
    }
    for url in ["ftp://example.org/hook", "not a url", "https://"] {
        let refused = problem(
            app.post_json("/api/v1/webhooks", &json!({"url": url}))
                .await,
            422,
        )
        .await;
        assert_eq!(error_fields(&refused), ["url"], "{url}: {refused}");
    }
    let refused = problem(
        app.post_json(
            "/api/v1/webhooks",
            &json!({"url": "https://93.184.215.14/", "event_types": ["partner.exploded"]}),
        )
        .await,
        422,
    )
    .await;
    assert!(
        error_fields(&refused)
            .iter()
            .all(|f| f.starts_with("event_types")),
        "{refused}"
    );
    problem(
        app.post_json(
            "/api/v1/webhooks",
            &json!({"url": "https://93.184.215.14/", "event_types": []}),
        )
        .await,
        422,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/webhooks",
            &json!({"url": "https://93.184.215.14/", "secret": "mine"}),
        )
        .await,
        400,
    )
    .await;

    // Idempotency-Key is refused where the answer carries a secret.
    let keyed = app
        .as_admin(Method::POST, "/api/v1/webhooks")
        .header("Idempotency-Key", "k-1")
        .json(&body)
        .send()
        .await
        .expect("answered");
    let refused = problem(keyed, 400).await;
    assert_eq!(error_fields(&refused), ["Idempotency-Key"]);

    // Created: the secret is shown this once.
    let created = app.post_json("/api/v1/webhooks", &body).await;
    let location = header_of(&created, "location").expect("a Location");
    assert_eq!(header_of(&created, "etag").as_deref(), Some("\"1\""));
    let created = json(created, 201).await;
    let id = created["id"].as_i64().expect("an id");
    assert_eq!(location, format!("/api/v1/webhooks/{id}"));
    let secret = created["secret"].as_str().expect("a secret").to_owned();
    let key = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("base64")
            .len(),
        32
    );
    assert_eq!(
        created["event_types"],
        json!(["partner.created", "event.deleted"])
    );
    assert_eq!(created["description"], "The portal");
    assert_eq!(created["active"], false);
    assert_eq!(created["version"], 1);

    let got = json(
        app.as_admin(Method::GET, &location)
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["url"], "https://93.184.215.14/hooks/registry");
    let listed = json(
        app.as_admin(Method::GET, "/api/v1/webhooks")
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert!(listed["items"][0].get("secret").is_none());
    assert!(!listed.to_string().contains(key));
    assert_eq!(listed["next_cursor"], Value::Null);

    // Merge patch, with the address rule and If-Match.
    let patched = json(
        app.patch_json(&location, &json!({"event_types": ["*"]}), Some("\"1\""))
            .await,
        200,
    )
    .await;
    assert_eq!(patched["event_types"], json!(["*"]));
    assert_eq!(patched["version"], 2);
    assert!(patched.get("secret").is_none());
    problem(
        app.patch_json(&location, &json!({"description": "x"}), Some("\"1\""))
            .await,
        412,
    )
    .await;
    let refused = problem(
        app.patch_json(&location, &json!({"url": "http://127.0.0.1/"}), None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&refused), ["url"]);

    // Rotate: a new secret, shown once; not with an Idempotency-Key.
    let rotate = format!("{location}/rotate-secret");
    let keyed = app
        .as_admin(Method::POST, &rotate)
        .header("Idempotency-Key", "k-2")
        .send()
        .await
        .expect("answered");
    problem(keyed, 400).await;
    let as_editor = app
        .request(Method::POST, &rotate)
        .bearer_auth(&app.editor_token)
        .send()
        .await
        .expect("answered");
    problem(as_editor, 403).await;
    let rotated = json(
        app.as_admin(Method::POST, &rotate)
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    let new_secret = rotated["secret"].as_str().expect("a secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert_eq!(rotated["version"], 3);

    // Deliveries of a webhook that does not exist; delete.
    problem(
        app.as_admin(Method::GET, "/api/v1/webhooks/999999/deliveries")
            .send()
            .await
            .expect("answered"),
        404,
    )
    .await;
    assert_eq!(deliveries(&app, id).await, Vec::<Value>::new());
    assert_eq!(app.delete(&location, None).await.status(), 204);
    problem(
        app.as_admin(Method::GET, &location)
            .send()
            .await
            .expect("answered"),
        404,
    )
    .await;
}

async fn deliveries_are_signed_as_standard_webhooks_and_rotation_changes_the_key(backend: Backend) {
    let app = hooked_app(backend, vec![1, 1, 1]).await;
    let receiver = Receiver::start();
    let (webhook, secret) = register(
        &app,
        &receiver.url(),
        json!(["partner.created", "partner.updated"]),
    )
    .await;
    let partner = create_partner(&app, "Signed partner").await;
    let first = receiver.wait_for(1).await.remove(0);
    assert!(verifies(&secret, &first), "the signature verifies");
    assert!(first.id().starts_with("msg_"));
    let now = chrono::Utc::now().timestamp();
    let timestamp: i64 = first.header("webhook-timestamp").parse().expect("seconds");
    assert!((now - timestamp).abs() < 60);
    assert!(first.header("webhook-signature").starts_with("v1,"));
    assert_eq!(first.header("content-type"), "application/json");
    let body = first.json();
    assert_eq!(body["type"], "partner.created");
    assert!(body["timestamp"].is_string());
    assert_eq!(body["data"]["resource_type"], "partner");
    assert_eq!(body["data"]["resource_id"], partner.to_string());
    assert_eq!(body["data"]["action"], "create");
    assert_eq!(body["data"]["version"], 1);
    assert_eq!(body["data"]["record"]["name"], "Signed partner");
    assert!(body["data"].get("actor").is_none());
    // `data` is the feed's entry of that change.
    let seq = body["data"]["seq"].as_i64().expect("a seq");
    let deadline = Instant::now() + Duration::from_secs(30);
    let entry = loop {
        let feed = json(app.get("/api/v1/changes?limit=500").await, 200).await;
        let found = feed["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["seq"] == seq)
            .cloned();
        if let Some(entry) = found {
            break entry;
        }
        assert!(Instant::now() < deadline, "the change is in the feed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["data"], entry);

    // A new secret: later deliveries verify with it, not with the old one.
    let new_secret = rotate_secret(&app, webhook).await;
    assert_eq!(
        app.patch_json(
            &format!("/api/v1/partners/{partner}"),
            &json!({"acronym": "SP"}),
            None
        )
        .await
        .status(),
        200
    );
    // Not wanted: not sent.
    assert_eq!(
        app.post_json(
            "/api/v1/events",
            &json!({"title": "Unwanted", "kind": "meeting", "starts_on": "2024-01-01"})
        )
        .await
        .status(),
        201
    );
    let second = receiver.wait_for(2).await.remove(1);
    assert_eq!(second.json()["type"], "partner.updated");
    assert!(verifies(&new_secret, &second));
    assert!(!verifies(&secret, &second));
    assert_ne!(second.id(), first.id());
    let items = deliveries_when(&app, webhook, 2, |d| d["status"] == "delivered").await;
    assert_eq!(items[0]["event_type"], "partner.updated");
    assert_eq!(items[1]["event_type"], "partner.created");
    assert_eq!(items[1]["message_id"], first.id());
    assert_eq!(items[1]["seq"], seq);
    assert_eq!(items[1]["attempts"], 1);
    assert_eq!(items[1]["last_status_code"], 200);
    assert_eq!(items[1]["next_attempt_at"], Value::Null);
    assert_eq!(items[1]["payload"], body, "the body sent, as listed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2, "the event was not sent");
}

async fn a_failing_delivery_is_retried_with_the_same_id_and_holds_back_later_ones(
    backend: Backend,
) {
    let app = hooked_app(backend, vec![1, 1, 1, 1]).await;
    let receiver = Receiver::start();
    receiver.answer(500, None);
    receiver.answer(500, None);
    let (webhook, secret) = register(&app, &receiver.url(), json!(["*"])).await;
    let first = create_partner(&app, "Held partner").await;
    let second = create_partner(&app, "Later partner").await;
    let received = receiver.wait_for(4).await;
    let ids: Vec<String> = received.iter().map(Received::id).collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    assert_ne!(ids[2], ids[3]);
    let of = |r: &Received| r.json()["data"]["resource_id"].clone();
    for held in &received[..3] {
        assert_eq!(of(held), first.to_string());
        assert!(verifies(&secret, held), "each attempt is signed afresh");
    }
    assert_eq!(of(&received[3]), second.to_string(), "order is kept");
    assert!(received[1].at - received[0].at >= Duration::from_millis(700));
    let items = deliveries_when(&app, webhook, 2, |d| d["status"] == "delivered").await;
    assert_eq!(items[1]["attempts"], 3);
    assert_eq!(items[1]["message_id"], ids[0]);
    assert_eq!(items[1]["last_status_code"], 200);
    assert_eq!(items[0]["attempts"], 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 4);

    // Out of attempts: failed, and the next one goes.
    for _ in 0..5 {
        receiver.answer(503, None);
    }
    create_partner(&app, "Failing partner").await;
    create_partner(&app, "After the failure").await;
    let received = receiver.wait_for(4 + 5 + 1).await;
    assert_eq!(
        received[9].json()["data"]["record"]["name"],
        "After the failure"
    );
    let items = deliveries_when(&app, webhook, 4, |d| d["status"] != "pending").await;
    assert_eq!(items[1]["status"], "failed");
    assert_eq!(items[1]["attempts"], 5);
    assert_eq!(items[1]["last_status_code"], 503);
    assert_eq!(items[1]["last_error"], "the receiver answered 503");
    assert_eq!(items[0]["status"], "delivered");
}

async fn retry_after_is_honoured_410_disables_and_the_retry_endpoint_sends_again(backend: Backend) {
    // Without Retry-After the next attempt would wait half a minute.
    let app = hooked_app(backend, vec![30, 30]).await;
    let receiver = Receiver::start();
    receiver.answer(503, Some("1"));
    let (webhook, _) = register(&app, &receiver.url(), json!(["partner.created"])).await;
    create_partner(&app, "Patient partner").await;
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].id(), received[1].id());
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(20),
        "waited {waited:?}"
    );

    // 410: the delivery fails and the webhook is made inactive.
    receiver.answer(410, None);
    create_partner(&app, "Gone partner").await;
    receiver.wait_for(3).await;
    let items = deliveries_when(&app, webhook, 2, |d| d["status"] != "pending").await;
    assert_eq!(items[0]["status"], "failed");
    assert_eq!(items[0]["last_status_code"], 410);
    let hook = json(
        app.as_admin(Method::GET, &format!("/api/v1/webhooks/{webhook}"))
            .send()
            .await
            .expect("answered"),
        200,
    )
    .await;
    assert_eq!(hook["active"], false);
    // Nothing more is recorded for an inactive webhook.
    create_partner(&app, "Unsent partner").await;
    assert_eq!(deliveries(&app, webhook).await.len(), 2);

    // Retry: refused while inactive; then sent at once, with the same webhook-id.
    let gone = items[0]["id"].as_i64().expect("an id");
    let retry = format!("/api/v1/webhooks/{webhook}/deliveries/{gone}/retry");
    problem(
        app.as_admin(Method::POST, &retry)
            .send()
            .await
            .expect("answered"),
        409,
    )
    .await;
    assert_eq!(
        app.patch_json(
            &format!("/api/v1/webhooks/{webhook}"),
            &json!({"active": true}),
            None
        )
        .await
        .status(),
        200
    );
    let accepted = json(
        app.as_admin(Method::POST, &retry)
            .send()
            .await
            .expect("answered"),
        202,
    )
    .await;
    assert_eq!(accepted["status"], "pending");
    let received = receiver.wait_for(4).await;
    assert_eq!(received[3].id(), received[2].id());
    assert_eq!(received[3].id(), format!("msg_{gone}"));
    let items = deliveries_when(&app, webhook, 2, |d| d["status"] == "delivered").await;
    assert_eq!(items[0]["attempts"], 2);

    // A delivered one is sent again too.
    let done = items[1]["id"].as_i64().expect("an id");
    assert_eq!(
        app.as_admin(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/deliveries/{done}/retry")
        )
        .send()
        .await
        .expect("answered")
        .status(),
        202
    );
    let received = receiver.wait_for(5).await;
    assert_eq!(received[4].id(), format!("msg_{done}"));

    // A delivery held back behind a failing one (next attempt in half a minute): retrying it
    // sends both at once, in feed order.
    receiver.answer(503, None);
    create_partner(&app, "Held partner").await;
    receiver.wait_for(6).await;
    create_partner(&app, "Behind it").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let behind = loop {
        let items = deliveries(&app, webhook).await;
        if items.len() == 4 && items[1]["attempts"] == 1 {
            assert_eq!(items[0]["status"], "pending");
            assert_eq!(items[0]["attempts"], 0, "held back");
            break items[0]["id"].as_i64().expect("an id");
        }
        assert!(Instant::now() < deadline, "{items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let asked = Instant::now();
    assert_eq!(
        app.as_admin(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/deliveries/{behind}/retry")
        )
        .send()
        .await
        .expect("answered")
        .status(),
        202
    );
    let received = receiver.wait_for(8).await;
    assert_eq!(received[6].id(), received[5].id(), "the held one first");
    assert_eq!(received[7].id(), format!("msg_{behind}"));
    assert!(received[7].at - asked < Duration::from_secs(15));
    problem(
        app.as_admin(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/deliveries/999999/retry"),
        )
        .send()
        .await
        .expect("answered"),
        404,
    )
    .await;
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a port")
        .local_addr()
        .expect("an address")
        .port()
}

/// Two instances on one database: each sends its own writes' deliveries at once (nudged), the
/// other polls; the lease lets one of them send to the webhook at a time, so the receiver gets
/// every change once, in order, never two requests at once.
async fn two_instances_share_a_webhook_sending_one_at_a_time_and_never_twice(backend: Backend) {
    let app = hooked_app(backend, vec![1, 1, 1]).await;
    let second = spawn_second_instance_with(&app, |s| {
        s.webhooks.webhook_allow_private_targets = true;
        s.webhooks.webhook_retry_schedule = RetrySchedule(vec![1, 1, 1]);
    })
    .await;
    let receiver = Receiver::start();
    receiver.inbox.delay_ms.store(20, Ordering::SeqCst);
    let (webhook, _) = register(&app, &receiver.url(), json!(["partner.created"])).await;
    let mut expected = Vec::new();
    for i in 0..20 {
        let instance = if i % 2 == 0 { &app } else { &second };
        expected.push(
            create_partner(instance, &format!("Shared partner {i}"))
                .await
                .to_string(),
        );
    }
    receiver.wait_for(20).await;
    deliveries_when(&app, webhook, 20, |d| d["status"] == "delivered").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    let ids: Vec<String> = received.iter().map(Received::id).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 20, "each delivery sent once: {ids:?}");
    assert_eq!(ids.len(), 20, "each delivery sent once: {ids:?}");
    let order: Vec<String> = received
        .iter()
        .map(|r| {
            r.json()["data"]["resource_id"]
                .as_str()
                .expect("an id")
                .to_owned()
        })
        .collect();
    assert_eq!(order, expected, "in feed order");
    assert_eq!(
        receiver.inbox.most_at_once.load(Ordering::SeqCst),
        1,
        "one at a time"
    );
}

/// The worker sends a webhook's deliveries in runs (up to 64, their outcomes recorded in one
/// write): a backlog of several runs, queued behind a delivery that failed once, goes out once
/// each, in feed order, signed, and every outcome is recorded.
async fn a_backlog_longer_than_a_run_goes_out_once_each_in_order_and_is_recorded(backend: Backend) {
    const CHANGES: usize = 150;
    let app = hooked_app(backend, vec![1, 1, 1]).await;
    let receiver = Receiver::start();
    receiver.answer(503, None);
    let (webhook, secret) = register(&app, &receiver.url(), json!(["partner.created"])).await;
    let mut expected = Vec::new();
    for i in 0..CHANGES {
        let id = create_partner(&app, &format!("Backlog partner {i}")).await;
        expected.push(id.to_string());
    }
    receiver.wait_for(CHANGES + 1).await;
    let items = deliveries_when(&app, webhook, CHANGES, |d| d["status"] == "delivered").await;
    for (n, item) in items.iter().rev().enumerate() {
        assert_eq!(item["status"], "delivered", "{item}");
        assert_eq!(item["attempts"], if n == 0 { 2 } else { 1 }, "{item}");
        assert_eq!(item["last_status_code"], 200, "{item}");
        assert_eq!(item["next_attempt_at"], Value::Null, "{item}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    assert_eq!(
        received.len(),
        CHANGES + 1,
        "each sent once, the first twice"
    );
    let order: Vec<String> = received[1..]
        .iter()
        .map(|r| {
            assert!(verifies(&secret, r), "signed");
            resource_of(r)
        })
        .collect();
    assert_eq!(order, expected, "in feed order");
    assert_eq!(received[0].id(), received[1].id(), "the failed one first");
}

/// Brings the worker to the middle of a run: six deliveries pending, the run that sends them
/// begun, and its first attempt held by the receiver. (The first delivery fails once while
/// the other five are written, so that its retry's run takes all six.) Answers the webhook's
/// id and secret, and the partners in feed order.
async fn held_in_a_run(app: &TestApp, receiver: &Receiver) -> (i64, String, Vec<String>) {
    receiver.answer(503, None);
    receiver.hold(1);
    receiver.hold(2);
    let (webhook, secret) = register(app, &receiver.url(), json!(["partner.created"])).await;
    let mut partners = vec![create_partner(app, "Run partner 0").await.to_string()];
    receiver.wait_for_arrivals(1).await;
    for i in 1..6 {
        partners.push(
            create_partner(app, &format!("Run partner {i}"))
                .await
                .to_string(),
        );
    }
    receiver.let_go();
    receiver.wait_for_arrivals(2).await;
    (webhook, secret, partners)
}

fn resource_of(received: &Received) -> String {
    received.json()["data"]["resource_id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// A run sends up to 64 deliveries one after another: a webhook made inactive during it gets
/// no attempt after the one under way, and the rest wait, unsent, until it is active again.
async fn no_attempt_of_a_run_starts_after_its_webhook_is_made_inactive(backend: Backend) {
    let app = hooked_app(backend, vec![1, 1, 1]).await;
    let receiver = Receiver::start();
    let (webhook, _, partners) = held_in_a_run(&app, &receiver).await;
    let path = format!("/api/v1/webhooks/{webhook}");
    assert_eq!(
        app.patch_json(&path, &json!({"active": false}), None)
            .await
            .status(),
        200
    );
    receiver.let_go();
    // The run's outcomes are recorded when it ends: the first delivery's second attempt (its
    // first failed before the run), and no other one.
    let items = deliveries_when(&app, webhook, 6, |d| d["attempts"] != 1).await;
    assert_eq!(items[5]["status"], "delivered");
    for item in &items[..5] {
        assert_eq!(item["attempts"], 0, "not attempted: {item}");
    }
    assert_eq!(
        receiver.received().len(),
        2,
        "nothing sent after the change"
    );

    assert_eq!(
        app.patch_json(&path, &json!({"active": true}), None)
            .await
            .status(),
        200
    );
    let received = receiver.wait_for(7).await;
    let order: Vec<String> = received[1..].iter().map(resource_of).collect();
    assert_eq!(order, partners, "the rest go once active again, in order");
}

/// A new secret applies from the attempt after the one under way: the rest of the run is
/// signed with it, none with the old one.
async fn no_attempt_of_a_run_is_signed_with_a_secret_rotated_during_it(backend: Backend) {
    let app = hooked_app(backend, vec![1, 1, 1]).await;
    let receiver = Receiver::start();
    let (webhook, old_secret, partners) = held_in_a_run(&app, &receiver).await;
    let new_secret = rotate_secret(&app, webhook).await;
    receiver.let_go();
    let received = receiver.wait_for(7).await;
    assert!(
        verifies(&old_secret, &received[1]),
        "under way: the old key"
    );
    for later in &received[2..] {
        assert!(verifies(&new_secret, later), "signed with the new secret");
        assert!(!verifies(&old_secret, later), "not with the old one");
    }
    let order: Vec<String> = received[1..].iter().map(resource_of).collect();
    assert_eq!(order, partners, "in feed order");
    deliveries_when(&app, webhook, 6, |d| d["status"] == "delivered").await;
    assert_eq!(receiver.received().len(), 7, "each once");
}

async fn no_delivery_is_lost_when_the_service_is_killed(backend: Backend) {
    let database = TestDatabase::create(backend);
    let environment = [
        ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
        (
            "WEBHOOK_RETRY_SCHEDULE",
            "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
        ),
    ];
    let service = ServiceProcess::start_with_env(database.url(), &environment).await;
    let token = make_token(database.url(), "webhook-admin", Role::Admin);
    let client = reqwest::Client::new();
    let port = free_port();
    let created = client
        .post(format!("{}/api/v1/webhooks", service.address))
        .bearer_auth(&token)
        .json(&json!({"url": format!("http://127.0.0.1:{port}/hook")}))
        .send()
        .await
        .expect("answered");
    let created = json(created, 201).await;
    let webhook = created["id"].as_i64().expect("an id");
    let secret = created["secret"].as_str().expect("a secret").to_owned();
    let key = secret.trim_start_matches("whsec_").to_owned();
    let mut partners = Vec::new();
    for i in 0..5 {
        let created = client
            .post(format!("{}/api/v1/partners", service.address))
            .bearer_auth(&token)
            .json(&json!({"name": format!("Durable partner {i}"), "kind": "government"}))
            .send()
            .await
            .expect("answered");
        partners.push(json(created, 201).await["id"].to_string());
    }
    // The receiver is down: the first delivery is being retried, the others wait behind it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = client
            .get(format!(
                "{}/api/v1/webhooks/{webhook}/deliveries",
                service.address
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answered");
        let items = json(page, 200).await["items"]
            .as_array()
            .expect("items")
            .clone();
        if items.len() == 5 && items.iter().any(|d| d["attempts"].as_i64() >= Some(1)) {
            assert!(items.iter().all(|d| d["status"] == "pending"), "{items:#?}");
            break;
        }
        assert!(Instant::now() < deadline, "{items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The secret is never logged.
    assert!(
        !service.log().iter().any(|line| line.contains(&key)),
        "{:#?}",
        service.log()
    );
    service.signal("KILL");
    drop(service);

    let receiver = Receiver::start_on(port);
    let _restarted = ServiceProcess::start_with_env(database.url(), &environment).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut delivered: Vec<String> = Vec::new();
    while delivered.len() < partners.len() {
        assert!(
            Instant::now() < deadline,
            "only {delivered:?} of {partners:?} arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        delivered.clear();
        for request in receiver.received() {
            let id = request.json()["data"]["resource_id"]
                .as_str()
                .expect("a resource id")
                .to_owned();
            if !delivered.contains(&id) {
                delivered.push(id);
            }
        }
    }
    assert_eq!(delivered, partners, "all delivered, in order, none lost");
}
