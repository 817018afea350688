//! Logs, request ids and Prometheus metrics.

use std::cell::Cell;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Logger, Next};
use actix_web::{HttpMessage, HttpResponse, web};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::db::{Db, REQUEST_STATEMENTS};
use crate::error::{self, ApiError};
use crate::routing::MatchedRoute;

/// The header that carries a request's id in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Starts logging at `info` unless `RUST_LOG` says otherwise. Safe to call more than once.
pub fn init_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .try_init();
}

/// The access log: one line per request with method, path, status, duration and request id.
/// It never logs headers such as `Authorization`.
pub fn access_log() -> Logger {
    Logger::new(r#"%{r}a "%r" %s %b %Dms request_id=%{x-request-id}o"#)
}

/// Gives every request an id: the caller's `X-Request-Id` when it is sane, a new UUID
/// otherwise; every answer echoes it, with `X-Content-Type-Options: nosniff`. The layers inside
/// make their refusals into answers (the routes' gate, CORS), so that those too are logged and
/// carry both headers. (uuid's `fast-rng` draws from a thread-local generator
/// seeded once, rather than making a `getrandom` system call for every request.)
///
/// A request that failed on the server's side (500, 503) is logged here, once, with its id and
/// the whole chain of causes: actix keeps the error beside the response it was turned into.
pub async fn request_id(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let given = req
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 128
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        })
        .cloned();
    let id = match given {
        Some(id) => id,
        None => {
            let mut text = uuid::Uuid::encode_buffer();
            let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
            let id =
                HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
            req.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let result = next.call(req).await;
    let error = match &result {
        Ok(response) => response.response().error(),
        Err(error) => Some(error),
    };
    if let Some(error) = error {
        log_failure(id.to_str().unwrap_or("unknown"), error);
    }
    let mut response = result?;
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, id);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// Logs a failure of the server's own (5xx): at `error` for internal errors, at `warn` for
/// outages (the database gone or busy). The client's mistakes (4xx) are in the access log.
fn log_failure(request_id: &str, error: &actix_web::Error) {
    match error.as_error::<ApiError>() {
        Some(api_error) => {
            if let Some((level, line)) = failure_line(request_id, api_error) {
                log::log!(level, "{line}");
            }
        }
        None if error.as_response_error().status_code().is_server_error() => {
            log::error!("request_id={request_id} {error}");
        }
        None => {}
    }
}

/// The log line of an internal error or an outage: the request id, then the error and each of
/// its causes, outermost first (`request_id=… internal error: context: cause: its cause`).
fn failure_line(request_id: &str, error: &ApiError) -> Option<(log::Level, String)> {
    let (level, prefix) = match error {
        ApiError::Internal { .. } => (log::Level::Error, ""),
        ApiError::Unavailable { .. } => (log::Level::Warn, "service unavailable: "),
        _ => return None,
    };
    let chain = error::cause_chain(error);
    Some((level, format!("request_id={request_id} {prefix}{chain}")))
}

/// Request counts and latency histograms by route pattern, method and status, and the database
/// pool gauges, served at `/metrics`.
///
/// Written here rather than taken from actix-web-prom: that middleware matched the route
/// pattern twice, built a map and formatted a string for every request, tested each path
/// against a regular expression and wrapped every body. With 32 connections on two cores it
/// cost about a tenth of a GET's throughput; this one costs one label lookup per metric.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    statements: HistogramVec,
}

impl Metrics {
    pub fn new(db: &Db) -> prometheus::Result<Self> {
        let registry = Registry::new();
        let labels = ["endpoint", "method", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "coop_registry_http_requests_total",
                "HTTP requests answered",
            ),
            &labels,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "coop_registry_http_requests_duration_seconds",
                "Time from a request's arrival to its response, in seconds",
            ),
            &labels,
        )?;
        let statements = HistogramVec::new(
            HistogramOpts::new(
                "coop_registry_db_statements_per_request",
                "Database statements a request ran: a route whose count grows with the page \
                 size reads record by record",
            )
            .buckets(vec![
                1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0, 64.0, 128.0,
            ]),
            &["endpoint", "method"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(statements.clone()))?;
        registry.register(Box::new(PoolGauges::new(db.clone())?))?;
        Ok(Self {
            registry,
            requests,
            durations,
            statements,
        })
    }

    fn record(&self, endpoint: &str, method: &Method, status: StatusCode, run: Run) {
        let labels = [endpoint, method_label(method), status.as_str()];
        let seconds = run.started.elapsed().as_secs_f64();
        self.durations.with_label_values(&labels).observe(seconds);
        self.requests.with_label_values(&labels).inc();
        self.statements
            .with_label_values(&labels[..2])
            .observe(run.statements as f64);
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# metrics could not be encoded: {e}\n"))
    }
}

/// The label of a request's method: the methods HTTP defines, or `OTHER` for any name a client
/// makes up, so that no request can add a series.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("OTHER", Method::as_str)
}

/// When a request began, and how many database statements it ran.
#[derive(Clone, Copy)]
struct Run {
    started: Instant,
    statements: u64,
}

/// The label for requests that matched no route.
const UNMATCHED: &str = "UNMATCHED";

/// Counts each request under the pattern of the route that matched it (`/api/v1/events/{id}`),
/// or `UNMATCHED`, so that paths a client makes up cannot grow the label set. Swagger UI's files
/// are not the API and are left out.
pub async fn measure(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let (result, statements) = REQUEST_STATEMENTS
        .scope(Cell::new(0), async {
            let result = next.call(req).await;
            (result, REQUEST_STATEMENTS.with(Cell::get))
        })
        .await;
    let Some(metrics) = metrics else {
        return result;
    };
    let run = Run {
        started,
        statements,
    };
    match &result {
        Ok(response) => {
            let request = response.request();
            let matched = request.extensions().get::<MatchedRoute>().cloned();
            match matched {
                Some(MatchedRoute(route)) => {
                    metrics.record(&route.pattern, &method, response.status(), run);
                }
                // The routes outside the gated table: the OpenAPI document, `/` and Swagger UI.
                // `match_pattern` only ever names a registered pattern, so the set stays closed.
                None => {
                    let pattern = request.match_pattern();
                    let endpoint = pattern.as_deref().unwrap_or(UNMATCHED);
                    if !endpoint.starts_with("/swagger-ui") {
                        metrics.record(endpoint, &method, response.status(), run);
                    }
                }
            }
        }
        Err(error) => {
            let status = error.as_response_error().status_code();
            metrics.record(UNMATCHED, &method, status, run);
        }
    }
    result
}

/// Metrics
///
/// Request counts and latencies by route, method and status, and the database pools' state,
/// in Prometheus' text format. Every label comes from a closed set.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics", security(),
    responses((status = 200, description = "Prometheus' text exposition format, version 0.0.4",
               content_type = "text/plain", body = String),
              (status = 400, response = crate::error::responses::BadRequest)))]
pub async fn serve_metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

/// Reads the pools' state each time metrics are scraped.
struct PoolGauges {
    db: Db,
    gauges: IntGaugeVec,
}

impl PoolGauges {
    fn new(db: Db) -> prometheus::Result<Self> {
        let gauges = IntGaugeVec::new(
            Opts::new(
                "coop_registry_db_pool_connections",
                "Database pool connections by pool (read, write) and state (open, idle, max)",
            ),
            &["pool", "state"],
        )?;
        Ok(Self { db, gauges })
    }
}

impl Collector for PoolGauges {
    fn desc(&self) -> Vec<&Desc> {
        self.gauges.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        for (name, pool) in [("read", self.db.readers()), ("write", self.db.writer())] {
            let state = pool.state();
            let set = |s: &str, v: u32| self.gauges.with_label_values(&[name, s]).set(i64::from(v));
            set("open", state.connections);
            set("idle", state.idle_connections);
            set("max", pool.max_size());
        }
        self.gauges.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("no such table: countries")]
    struct Missing;

    #[derive(Debug, thiserror::Error)]
    #[error("the query failed")]
    struct QueryFailed(#[source] Missing);

    #[test]
    fn an_internal_error_is_logged_with_the_request_id_and_every_cause() {
        let error = ApiError::internal("listing countries", QueryFailed(Missing));
        let (level, line) = failure_line("req-42", &error).expect("logged");
        assert_eq!(level, log::Level::Error);
        assert_eq!(
            line,
            "request_id=req-42 internal error: listing countries: the query failed: \
             no such table: countries"
        );
    }

    #[test]
    fn an_outage_is_logged_as_a_warning_with_its_cause() {
        let error = ApiError::unavailable("no database connection", "timed out");
        let (level, line) = failure_line("req-7", &error).expect("logged");
        assert_eq!(level, log::Level::Warn);
        assert_eq!(
            line,
            "request_id=req-7 service unavailable: no database connection: timed out"
        );
    }

    #[test]
    fn the_clients_own_mistakes_are_left_to_the_access_log() {
        assert!(failure_line("req-1", &ApiError::NotFound("no such partner".into())).is_none());
    }

    #[test]
    fn an_error_logged_for_a_request_is_the_one_on_its_response() {
        let response = HttpResponse::from_error(ApiError::bug("a write was not run"));
        let found = response
            .error()
            .and_then(|e| e.as_error::<ApiError>())
            .map(ToString::to_string);
        assert_eq!(
            found.as_deref(),
            Some("internal error: a write was not run")
        );
    }
}
