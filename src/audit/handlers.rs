//! HTTP handler for reading the audit log (admins only; the middleware checks the role).

use actix_web::{HttpRequest, HttpResponse, web};

use super::model::{AuditEntry, AuditFilter};
use super::queries;
use crate::db::Db;
use crate::error::{ApiError, responses};
use crate::http::QueryParams;
use crate::pagination::{self, Page, PageBuilder, PageParams};

/// List audit entries
///
/// Every create, update and delete, newest first by default. Needs an `admin` token.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit", operation_id = "list_audit",
    params(PageParams, AuditFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of audit entries", body = Page<AuditEntry>,
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
    let sort = filter.sort.unwrap_or_default();
    let builder = PageBuilder::new(sort, page.limit()?);
    let (cursor, fetch, with_total) = (page.cursor(&sort)?, builder.fetch(), page.with_total());
    let (rows, total) = db
        .read(move |conn| {
            let rows = queries::list(conn, &filter, sort, cursor.as_ref(), fetch)?;
            let total = with_total
                .then(|| queries::count(conn, &filter))
                .transpose()?;
            Ok((rows, total))
        })
        .await?;
    let page = builder.build(rows, total, queries::position, |e| e);
    Ok(pagination::respond(&req, &page))
}
