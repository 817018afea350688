//! The application: the routes of every resource, the middleware around them, and the server
//! that runs them, built the same way for `coop-registry serve` and for the tests.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::{Condition, ErrorHandlers, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::QueryResult;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{MAX_BODY_BYTES, Settings};
use crate::db::{BackendKind, Db, DbConnection, SetupError};
use crate::events::rendered::RenderedEvents;
use crate::{
    agreements, audit, auth, countries, error, events, health, openapi, partners, routing,
    telemetry,
};

/// HTTP workers when `WORKERS` is not set: one per CPU core, and on SQLite two per core.
///
/// SQLite's point reads run on the workers (`Db::read_point`) and sometimes wait on a lock or a
/// page read: spare workers keep the cores busy (bench/RESULTS.md, "Measurements behind settings").
fn default_workers(backend: BackendKind) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match backend {
        BackendKind::Sqlite => 2 * cores,
        BackendKind::Postgres => cores,
    }
}

/// Where the OpenAPI document is served, and where Swagger UI reads it.
const OPENAPI_PATH: &str = "/api-docs/openapi.json";

/// The service, built and bound, ready to run.
pub struct Application {
    server: Server,
    port: u16,
    /// The webhook delivery worker, started with the server.
    sender: std::sync::Arc<crate::webhooks::delivery::Sender>,
}

impl Application {
    /// Migrates the database, binds the listener and builds the server.
    pub fn build(settings: &Settings) -> Result<Self, SetupError> {
        let db = Db::new(settings)?;
        let applied = prepare_database(&db)?;
        if !applied.is_empty() {
            log::info!("applied migrations: {}", applied.join(", "));
        }
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        first_run_token(&db)?;
        let metrics = web::Data::new(telemetry::Metrics::new(&db)?);
        let policy = web::Data::new(auth::AccessPolicy {
            read_requires_token: settings.read_requires_token,
        });
        let cors_origins = settings.cors_allowed_origins.clone();
        // The access log costs per request even when its lines are filtered out, so it is only
        // mounted when they would be written.
        let access_log =
            log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
        let backend = db.kind();
        let db = web::Data::new(db);
        let rendered = web::Data::new(RenderedEvents::new(
            settings.rendered_cache_mib.saturating_mul(1 << 20),
        ));
        let retention = web::Data::new(crate::changes::Retention {
            days: settings.changes_retention_days,
        });
        let feed_settings = web::Data::new(crate::config::FeedSettings::clone(&settings.feeds));
        let webhook_settings =
            web::Data::new(crate::config::WebhookSettings::clone(&settings.webhooks));
        let sender = std::sync::Arc::new(
            crate::webhooks::delivery::Sender::new(Db::clone(&db), &settings.webhooks)
                .map_err(|e| format!("cannot build the webhook sender: {e}"))?,
        );
        let openapi_document = openapi::served();
        let query_rules = web::Data::new(routing::ParameterRules::from_document(
            &serde_json::to_value(openapi::document())?,
        )?);
        let import_limits = web::Data::new(crate::exchange::ImportLimits {
            max_bytes: settings.import_max_bytes,
            max_rows: settings.import_max_rows,
        });
        let body_timeout = web::Data::new(routing::BodyTimeout(Duration::from_secs(
            settings.body_timeout_secs,
        )));
        let mut server = HttpServer::new(move || {
            let app = App::new()
                .wrap(from_fn(routing::head_as_get))
                .wrap(
                    ErrorHandlers::new()
                        .handler(StatusCode::METHOD_NOT_ALLOWED, routing::method_not_allowed),
                )
                .wrap(Condition::new(
                    !cors_origins.is_empty(),
                    cors(&cors_origins),
                ))
                .wrap(from_fn(telemetry::measure))
                // The access log sits outside the request id so that it can log the id.
                .wrap(from_fn(telemetry::request_id))
                .wrap(Condition::new(access_log, telemetry::access_log()))
                .app_data(db.clone())
                .app_data(rendered.clone())
                .app_data(feed_settings.clone())
                .app_data(webhook_settings.clone())
                .app_data(retention.clone())
                .app_data(metrics.clone())
                .app_data(policy.clone())
                .app_data(query_rules.clone())
                .app_data(body_timeout.clone())
                .app_data(import_limits.clone())
                .app_data(json_config())
                .app_data(web::PathConfig::default().error_handler(error::path_error));
            // The API first: routes are tried in order, and it gets nearly all requests.
            all_routes()
                .into_iter()
                .fold(app, |app, routes| app.service(routes))
                .service(web::resource("/").get(to_swagger_ui))
                .service(
                    web::resource(OPENAPI_PATH)
                        .app_data(openapi_document.clone())
                        .get(openapi::serve),
                )
                .service(SwaggerUi::new("/swagger-ui/{_:.*}").config(
                    // The token survives a reload of the page.
                    utoipa_swagger_ui::Config::from(OPENAPI_PATH).persist_authorization(true),
                ))
                .default_service(web::to(error::no_route))
        })
        .listen(listener)?
        // Bounded everywhere: slow or idle clients cannot hold workers, and a flood of
        // connections waits in the backlog instead of exhausting the process.
        .max_connections(settings.max_connections.max(1))
        .backlog(1024)
        .client_request_timeout(Duration::from_secs(10))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(30))
        .shutdown_timeout(30);
        let workers = settings
            .workers
            .unwrap_or_else(|| default_workers(backend))
            .max(1);
        // More blocking threads than pooled connections only queue on the pool, and each
        // thread costs memory (its stack, an allocator arena); 512 per worker is actix's default.
        let blocking = (settings.pool_size as usize).div_ceil(workers) + 1;
        server = server
            .workers(workers)
            .worker_max_blocking_threads(blocking);
        log::info!("listening on {}:{port}", listener_host(&settings.bind));
        Ok(Self {
            server: server.run(),
            port,
            sender,
        })
    }

    /// The port the service listens on (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM; requests in flight finish first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let worker = tokio::spawn(self.sender.run());
        let served = self.server.await;
        worker.abort();
        served
    }
}

/// Brings the database up to date: applies the pending migrations, then loads the reference
/// data a new registry needs; returns the versions applied. Everything that migrates (the
/// server and each command) goes through here.
pub fn prepare_database(db: &Db) -> Result<Vec<String>, SetupError> {
    db.migrate(load_reference_data)
}

/// The reference data a registry needs: the ISO 3166 countries, with their names in the hub's
/// languages.
pub fn load_reference_data(conn: &mut DbConnection) -> QueryResult<()> {
    countries::queries::load_iso_countries(conn)?;
    countries::queries::add_iso_names(conn).map(drop)
}

/// Every documented route, part by part, each with the access it needs.
pub fn all_routes() -> Vec<routing::Routes> {
    vec![
        countries::routes(),
        partners::routes(),
        partners::identifier_scheme_routes(),
        agreements::routes(),
        events::routes(),
        audit::routes(),
        crate::changes::routes(),
        crate::webhooks::routes(),
        crate::feeds::calendar::routes(),
        crate::feeds::iati::routes(),
        health::routes(),
    ]
}

/// The route table: every documented route's method, pattern and access.
pub fn route_table() -> Vec<routing::RouteInfo> {
    all_routes()
        .iter()
        .flat_map(|routes| routes.table().to_vec())
        .collect()
}

/// On a database without any token, makes an admin token and shows it once in the log, so
/// that a newcomer can try writes in Swagger UI at once.
fn first_run_token(db: &Db) -> Result<(), SetupError> {
    let mut conn = db.writer().get()?;
    if auth::count_tokens(&mut conn)? > 0 {
        return Ok(());
    }
    let token = auth::create_token(&mut conn, "admin", auth::Role::Admin)
        .map_err(|e| format!("cannot create the first admin token: {e}"))?;
    log::warn!(
        "no API token existed, so an admin token named \"admin\" was made; it is shown this once: {token}"
    );
    log::warn!(
        "make more with `coop-registry token create --name NAME --role editor|admin`; \
         revoke this one with `coop-registry token revoke --name admin`"
    );
    Ok(())
}

/// CORS for the configured browser origins: the methods and headers the API uses, and the
/// response headers a browser app needs to read.
fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin.trim())
        })
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            telemetry::REQUEST_ID,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::LINK,
            telemetry::REQUEST_ID,
        ])
        .max_age(3600)
}

fn listener_host(bind: &str) -> &str {
    bind.rsplit_once(':').map_or(bind, |(host, _)| host)
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type_required(true)
        .content_type(|mime| {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        })
        .error_handler(error::json_error)
}

async fn to_swagger_ui() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}
