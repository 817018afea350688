//! HTTP handlers of the change feed.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::Retention;
use super::model::{Change, ChangePage, ChangesHead, ChangesParams};
use super::queries::{self, FeedFilter};
use crate::auth::{Actor, Role};
use crate::db::Db;
use crate::error::{ApiError, responses};
use crate::http::QueryParams;

/// List changes
///
/// Every committed create, update and delete of countries, partners, agreements and events, in
/// commit order, each with the record as it was right after it (`null` for a delete). Poll it
/// with the `next_cursor` of the previous page as `after`: it is always present, also on an
/// empty page. No change is ever skipped, however many writers commit at once; on PostgreSQL a
/// change shows once every write transaction that began before it has ended (the feed can lag
/// behind the longest open write transaction). `actor` is shown to admins only. The feed
/// reaches back `CHANGES_RETENTION_DAYS` (90 days unless set otherwise; the audit log keeps
/// everything): without `after` it starts there, and an `after` whose next change is older
/// than that is answered 410: resynchronise (take the head, read every list in full, then
/// follow the feed from that head).
#[utoipa::path(
    get, path = "/api/v1/changes", tag = "changes", operation_id = "list_changes",
    params(ChangesParams),
    responses(
        (status = 200, description = "A page of changes, oldest first", body = ChangePage),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 410, response = responses::Gone),
        (status = 503, response = responses::Unavailable),
    ),
    security((), ("bearer" = [])),
)]
pub async fn list_changes(
    db: web::Data<Db>,
    retention: web::Data<Retention>,
    req: HttpRequest,
    QueryParams(params): QueryParams<ChangesParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = params.limit()?;
    let after = params.after()?;
    let filter = FeedFilter {
        resource_type: params.resource_type,
        action: params.action,
    };
    let cutoff = retention.cutoff();
    let with_actor = req
        .extensions()
        .get::<Actor>()
        .is_some_and(|actor| actor.role.covers(Role::Admin));
    let (rows, next) = db
        .read(move |conn| queries::read_page(conn, after, filter, limit, cutoff))
        .await?;
    let items = rows
        .into_iter()
        .map(|row| Change::from_row(row, with_actor))
        .collect::<Result<Vec<_>, _>>()?;
    let page = ChangePage {
        items,
        next_cursor: next.encode(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(page))
}

/// Get the feed's head
///
/// The position after every change committed so far. An integrator takes it before a first
/// full read of the lists, then follows the feed from it (`after`): nothing made during the
/// read is missed (changes made meanwhile may come again; apply them by `version`).
#[utoipa::path(
    get, path = "/api/v1/changes/head", tag = "changes", operation_id = "get_changes_head",
    responses(
        (status = 200, description = "The feed's current end", body = ChangesHead),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    ),
    security((), ("bearer" = [])),
)]
pub async fn head(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let position = db.read(|conn| Ok(queries::head(conn)?)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ChangesHead {
            cursor: position.encode(),
        }))
}
