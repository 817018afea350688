//! HTTP handler for reading the audit log (admins only; the route states it, see `routes`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::model::{AuditEntry, AuditFilter, AuditPage, AuditSort};
use super::queries;
use crate::db::Db;
use crate::error::{ApiError, responses};
use crate::http::QueryParams;
use crate::pagination::{PageParams, Rows, Sort};
use crate::resource::{self, Listed};
use crate::schema::audit_log;

/// The audit log, as the common list behaviour sees it.
pub struct AuditLog;

impl Listed for AuditLog {
    type Item = AuditEntry;
    type Filter = AuditFilter;
    type Sort = AuditSort;

    fn sort(filter: &AuditFilter) -> Sort<AuditSort> {
        filter.sort.unwrap_or_default()
    }

    fn matching(filter: &AuditFilter) -> Rows<audit_log::table> {
        queries::matching(filter)
    }
}

/// List audit entries
///
/// Every create, update and delete, newest first by default. Needs an `admin` token.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit", operation_id = "list_audit",
    params(PageParams, AuditFilter),
    responses(
        (status = 200, description = "A page of audit entries", body = AuditPage,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_audit(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<AuditFilter>,
) -> Result<HttpResponse, ApiError> {
    let mut response = resource::list::<AuditLog>(&db, &req, page, filter).await?;
    // Who changed what is for admins only: no cache, even the client's, keeps a copy.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
