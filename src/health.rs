//! Liveness and readiness, for load balancers and orchestrators.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Access;
use crate::db::Db;
use crate::error::{ApiError, responses};
use crate::routing::Routes;
use crate::telemetry;

/// The operations routes: open to all, never looking at a token.
pub fn routes() -> Routes {
    Routes::new("")
        .get("/healthz", Access::Public, healthz)
        .get("/readyz", Access::Public, readyz)
        .get("/metrics", Access::Public, telemetry::serve_metrics)
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// A health answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness
///
/// 200 while the process serves requests; it does not look at the database.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz", security(),
    responses(
        (status = 200, description = "The process serves", body = Health,
         example = json!({"status": "ok"})),
        (status = 400, response = responses::BadRequest),
    ))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness
///
/// 200 when the database answers a query within two seconds, 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz", security(),
    responses(
        (status = 400, response = responses::BadRequest),
        (status = 200, description = "The database answers", body = Health,
         example = json!({"status": "ready"})),
        (status = 503, response = responses::Unavailable),
    ))]
pub async fn readyz(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let db = db.into_inner();
    web::block(move || db.ping(READY_TIMEOUT)).await??;
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}
