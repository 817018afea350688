//! HTTP handlers for agreements: they parse, call the queries in one transaction, and answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::model::{Agreement, AgreementDraft, AgreementFilter, AgreementInput};
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
    ApiError::NotFound(format!("no agreement with id {id}"))
}

/// List agreements
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/agreements", tag = "agreements", operation_id = "list_agreements",
    security((), ("bearer" = [])),
    params(PageParams, AgreementFilter),
    responses(
        (status = 200, description = "A page of agreements", body = Page<Agreement>,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_agreements(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<AgreementFilter>,
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
    let page = builder.build(rows, total, queries::position, |a| a);
    Ok(pagination::respond(&req, &page))
}

/// Get a agreement
///
/// Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "get_agreement",
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "The agreement's id")),
    responses(
        (status = 200, description = "The agreement", body = Agreement,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 400, response = responses::BadRequest),
        (status = 404, response = responses::NotFound),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn get_agreement(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let agreement = db
        .read(move |conn| queries::find(conn, id)?.ok_or_else(|| not_found(id)))
        .await?;
    Ok(respond_with_etag(&req, agreement.version, &agreement))
}

/// Create a agreement
///
/// Parties and countries are stored with it in one transaction; each must exist.
#[utoipa::path(
    post, path = "/api/v1/agreements", tag = "agreements", operation_id = "create_agreement",
    security(("bearer" = [])),
    request_body = AgreementInput,
    responses(
        (status = 201, description = "Created", body = Agreement,
         headers(("Location" = String, description = "The new agreement's URL"),
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
pub async fn create_agreement(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<AgreementInput>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::new();
    let draft = input.check(&mut v);
    let agreement = db
        .write(move |conn| {
            check_references(conn, &mut v, &draft)?;
            v.finish()?;
            let agreement = queries::insert(conn, draft)?;
            let id = agreement.id.to_string();
            audit::record(
                conn,
                &actor.name,
                AuditAction::Create,
                ResourceType::Agreement,
                &id,
                None,
                Some(&agreement),
            )?;
            Ok(agreement)
        })
        .await?;
    let location = format!("/api/v1/agreements/{}", agreement.id);
    Ok(respond_written(
        StatusCode::CREATED,
        Some(location),
        agreement.version,
        &agreement,
    ))
}

/// Replace a agreement
///
/// Sends every writable field; fields left out become null, lists left out become empty.
#[utoipa::path(
    put, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "replace_agreement",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The agreement's id"),
        ("If-Match" = Option<String>, Header, description = "Only replace if this is still the current ETag"),
    ),
    request_body = AgreementInput,
    responses(
        (status = 200, description = "Replaced", body = Agreement,
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
pub async fn replace_agreement(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(input): JsonBody<AgreementInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let agreement = db
        .write(move |conn| store(conn, &actor, id, &precondition, |_| Ok(input)))
        .await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        agreement.version,
        &agreement,
    ))
}

/// Update a agreement
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "update_agreement",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The agreement's id"),
        ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag"),
    ),
    request_body(content = AgreementInput, content_type = "application/merge-patch+json",
                 description = "Any subset of the writable fields",
                 example = json!({"status": "active", "country_codes": ["KZ", "KR"]})),
    responses(
        (status = 200, description = "Updated", body = Agreement,
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
pub async fn update_agreement(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(patch): JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let agreement = db
        .write(move |conn| {
            store(conn, &actor, id, &precondition, |current| {
                apply_patch(current, &patch)
            })
        })
        .await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        agreement.version,
        &agreement,
    ))
}

/// Delete a agreement
///
/// Refused with 409, naming them, while events belong to it. Its own party and country
/// links are deleted with it.
#[utoipa::path(
    delete, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "delete_agreement",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The agreement's id"),
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
pub async fn delete_agreement(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.write(move |conn| {
        let current = queries::find(conn, id)?.ok_or_else(|| not_found(id))?;
        precondition.check(current.version)?;
        references::ensure_unreferenced(conn, Target::Agreement(id))?;
        queries::delete(conn, id)?;
        audit::record(
            conn,
            &actor.name,
            AuditAction::Delete,
            ResourceType::Agreement,
            &id.to_string(),
            Some(&current),
            None,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the stored agreement with the input `make_input` derives from the current one.
/// Records the change in the audit log.
fn store(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    precondition: &Precondition,
    make_input: impl FnOnce(Agreement) -> Result<AgreementInput, ApiError>,
) -> Result<Agreement, ApiError> {
    let current = queries::find(conn, id)?.ok_or_else(|| not_found(id))?;
    precondition.check(current.version)?;
    let mut v = Validator::new();
    let draft = make_input(current.clone())?.check(&mut v);
    check_references(conn, &mut v, &draft)?;
    v.finish()?;
    let updated =
        queries::update(conn, id, current.version, draft)?.ok_or(ApiError::PreconditionFailed)?;
    audit::record(
        conn,
        &actor.name,
        AuditAction::Update,
        ResourceType::Agreement,
        &id.to_string(),
        Some(&current),
        Some(&updated),
    )?;
    Ok(updated)
}

fn check_references(
    conn: &mut DbConnection,
    v: &mut Validator,
    draft: &AgreementDraft,
) -> Result<(), ApiError> {
    let parties = draft.parties.iter().enumerate();
    references::check_partners(
        conn,
        v,
        parties.map(|(i, p)| (format!("parties[{i}].partner_id"), p.partner_id)),
    )?;
    let codes = draft.country_codes.iter().enumerate();
    references::check_countries(
        conn,
        v,
        codes.map(|(i, c)| (format!("country_codes[{i}]"), c.clone())),
    )?;
    Ok(())
}
