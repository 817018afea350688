//! Logs, request ids and Prometheus metrics.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Logger, Next};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGaugeVec, Opts, Registry};

use crate::db::Db;

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
/// otherwise; the response echoes it.
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
            let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
            req.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let mut response = next.call(req).await?;
    response.headers_mut().insert(REQUEST_ID, id);
    Ok(response)
}

/// Request counts and latency histograms by route pattern and status (served at `/metrics`),
/// plus the database pool gauges.
pub fn metrics(db: &Db) -> Result<PrometheusMetrics, Box<dyn std::error::Error + Send + Sync>> {
    let registry = Registry::new();
    registry.register(Box::new(PoolGauges::new(db.clone())?))?;
    PrometheusMetricsBuilder::new("coop_registry")
        .registry(registry)
        .endpoint("/metrics")
        // Swagger UI's files are not the API; their catch-all route also makes the exporter
        // warn on every request.
        .exclude_regex("^/swagger-ui")
        .mask_unmatched_patterns("UNKNOWN")
        .build()
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
