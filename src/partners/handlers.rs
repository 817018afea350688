//! HTTP handlers for partners: they parse, call the queries in one transaction, and answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::model::{Partner, PartnerChanges, PartnerFilter, PartnerInput};
use super::queries;
use crate::audit::{self, AuditAction, ResourceType};
use crate::auth::Actor;
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, responses};
use crate::http::{
    JsonBody, Precondition, QueryParams, apply_patch, respond_with_etag, respond_written,
};
use crate::pagination::{self, Page, PageBuilder, PageParams};
use crate::references::{self, Target};
use crate::validation::Validator;

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no partner with id {id}"))
}

/// List partners
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/partners", tag = "partners", operation_id = "list_partners",
    security((), ("bearer" = [])),
    params(PageParams, PartnerFilter),
    responses(
        (status = 200, description = "A page of partners", body = Page<Partner>,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_partners(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<PartnerFilter>,
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
    let page = builder.build(rows, total, queries::position, |p| p);
    Ok(pagination::respond(&req, &page))
}

/// Get a partner
///
/// Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "get_partner",
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner", body = Partner,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 400, response = responses::BadRequest),
        (status = 404, response = responses::NotFound),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn get_partner(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let partner = db
        .read(move |conn| queries::find(conn, id)?.ok_or_else(|| not_found(id)))
        .await?;
    Ok(respond_with_etag(&req, partner.version, &partner))
}

/// Create a partner
///
/// The name must be unique ignoring case; the headquarters country must exist.
#[utoipa::path(
    post, path = "/api/v1/partners", tag = "partners", operation_id = "create_partner",
    security(("bearer" = [])),
    request_body = PartnerInput,
    responses(
        (status = 201, description = "Created", body = Partner,
         headers(("Location" = String, description = "The new partner's URL"),
                 ("ETag" = String, description = "The version, quoted"))),
        (status = 400, response = responses::BadRequest),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn create_partner(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<PartnerInput>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::new();
    let changes = input.check(&mut v);
    let partner = db
        .write(move |conn| {
            check_references(conn, &mut v, &changes)?;
            v.finish()?;
            ensure_name_free(conn, &changes, None)?;
            let partner = queries::insert(conn, changes)?;
            let id = partner.id.to_string();
            audit::record(
                conn,
                &actor.name,
                AuditAction::Create,
                ResourceType::Partner,
                &id,
                None,
                Some(&partner),
            )?;
            Ok(partner)
        })
        .await?;
    let location = format!("/api/v1/partners/{}", partner.id);
    Ok(respond_written(
        StatusCode::CREATED,
        Some(location),
        partner.version,
        &partner,
    ))
}

/// Replace a partner
///
/// Sends every writable field; fields left out become null.
#[utoipa::path(
    put, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "replace_partner",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The partner's id"),
        ("If-Match" = Option<String>, Header, description = "Only replace if this is still the current ETag"),
    ),
    request_body = PartnerInput,
    responses(
        (status = 200, description = "Replaced", body = Partner,
         headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 400, response = responses::BadRequest),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 412, response = responses::PreconditionFailed),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn replace_partner(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(input): JsonBody<PartnerInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let partner = db
        .write(move |conn| store(conn, &actor, id, &precondition, |_| Ok(input)))
        .await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        partner.version,
        &partner,
    ))
}

/// Update a partner
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "update_partner",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The partner's id"),
        ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag"),
    ),
    request_body(content = PartnerInput, content_type = "application/merge-patch+json",
                 description = "Any subset of the writable fields",
                 example = json!({"acronym": "MOIS", "website": "https://www.mois.go.kr"})),
    responses(
        (status = 200, description = "Updated", body = Partner,
         headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 400, response = responses::BadRequest),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 412, response = responses::PreconditionFailed),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn update_partner(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(patch): JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let partner = db
        .write(move |conn| {
            store(conn, &actor, id, &precondition, |current| {
                apply_patch(current, &patch)
            })
        })
        .await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        partner.version,
        &partner,
    ))
}

/// Delete a partner
///
/// Refused with 409, naming them, while agreements or events refer to the partner.
#[utoipa::path(
    delete, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "delete_partner",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The partner's id"),
        ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = responses::BadRequest),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 412, response = responses::PreconditionFailed),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn delete_partner(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.write(move |conn| {
        let current = queries::find(conn, id)?.ok_or_else(|| not_found(id))?;
        precondition.check(current.version)?;
        references::ensure_unreferenced(conn, Target::Partner(id))?;
        queries::delete(conn, id)?;
        audit::record(
            conn,
            &actor.name,
            AuditAction::Delete,
            ResourceType::Partner,
            &id.to_string(),
            Some(&current),
            None,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the stored partner with the input `make_input` derives from the current one.
/// Records the change in the audit log.
fn store(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    precondition: &Precondition,
    make_input: impl FnOnce(Partner) -> Result<PartnerInput, ApiError>,
) -> Result<Partner, ApiError> {
    let current = queries::find(conn, id)?.ok_or_else(|| not_found(id))?;
    precondition.check(current.version)?;
    let mut v = Validator::new();
    let changes = make_input(current.clone())?.check(&mut v);
    check_references(conn, &mut v, &changes)?;
    v.finish()?;
    ensure_name_free(conn, &changes, Some(id))?;
    let updated =
        queries::update(conn, id, current.version, changes)?.ok_or(ApiError::PreconditionFailed)?;
    audit::record(
        conn,
        &actor.name,
        AuditAction::Update,
        ResourceType::Partner,
        &id.to_string(),
        Some(&current),
        Some(&updated),
    )?;
    Ok(updated)
}

fn check_references(
    conn: &mut DbConnection,
    v: &mut Validator,
    changes: &PartnerChanges,
) -> Result<(), ApiError> {
    if let Some(code) = &changes.country_code {
        references::check_countries(conn, v, [("country_code".to_owned(), code.clone())])?;
    }
    Ok(())
}

fn ensure_name_free(
    conn: &mut DbConnection,
    changes: &PartnerChanges,
    except: Option<i64>,
) -> Result<(), ApiError> {
    match queries::name_owner(conn, &changes.name_key, except)? {
        Some(owner) => Err(ApiError::Conflict(format!(
            "partner {owner} already has the name {:?} (names are unique ignoring case)",
            changes.name
        ))),
        None => Ok(()),
    }
}
