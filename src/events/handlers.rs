//! HTTP handlers for events: they parse, call the queries in one transaction, and answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::model::{Event, EventDraft, EventFilter, EventInput};
use super::queries;
use crate::audit::{self, AuditAction, ResourceType};
use crate::auth::Actor;
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, responses};
use crate::http::{
    JsonBody, Precondition, QueryParams, apply_patch, respond_with_etag, respond_written,
};
use crate::pagination::{self, Page, PageBuilder, PageParams};
use crate::references;
use crate::validation::Validator;

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no event with id {id}"))
}

/// List events
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events", operation_id = "list_events",
    security((), ("bearer" = [])),
    params(PageParams, EventFilter),
    responses(
        (status = 200, description = "A page of events", body = Page<Event>,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_events(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<EventFilter>,
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

/// Get a event
///
/// Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/events/{id}", tag = "events", operation_id = "get_event",
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "The event's id")),
    responses(
        (status = 200, description = "The event", body = Event,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 400, response = responses::BadRequest),
        (status = 404, response = responses::NotFound),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn get_event(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let event = db
        .read(move |conn| queries::find(conn, id)?.ok_or_else(|| not_found(id)))
        .await?;
    Ok(respond_with_etag(&req, event.version, &event))
}

/// Create a event
///
/// Participants are stored with it in one transaction; the partners, the country and the
/// agreement it names must exist.
#[utoipa::path(
    post, path = "/api/v1/events", tag = "events", operation_id = "create_event",
    security(("bearer" = [])),
    request_body = EventInput,
    responses(
        (status = 201, description = "Created", body = Event,
         headers(("Location" = String, description = "The new event's URL"),
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
pub async fn create_event(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<EventInput>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::new();
    let draft = input.check(&mut v);
    let event = db
        .write(move |conn| {
            check_references(conn, &mut v, &draft)?;
            v.finish()?;
            let event = queries::insert(conn, draft)?;
            let id = event.id.to_string();
            audit::record(
                conn,
                &actor.name,
                AuditAction::Create,
                ResourceType::Event,
                &id,
                None,
                Some(&event),
            )?;
            Ok(event)
        })
        .await?;
    let location = format!("/api/v1/events/{}", event.id);
    Ok(respond_written(
        StatusCode::CREATED,
        Some(location),
        event.version,
        &event,
    ))
}

/// Replace a event
///
/// Sends every writable field; fields left out become null, `participants` left out becomes empty.
#[utoipa::path(
    put, path = "/api/v1/events/{id}", tag = "events", operation_id = "replace_event",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The event's id"),
        ("If-Match" = Option<String>, Header, description = "Only replace if this is still the current ETag"),
    ),
    request_body = EventInput,
    responses(
        (status = 200, description = "Replaced", body = Event,
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
pub async fn replace_event(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(input): JsonBody<EventInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let event = db
        .write(move |conn| store(conn, &actor, id, &precondition, |_| Ok(input)))
        .await?;
    Ok(respond_written(StatusCode::OK, None, event.version, &event))
}

/// Update a event
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/events/{id}", tag = "events", operation_id = "update_event",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The event's id"),
        ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag"),
    ),
    request_body(content = EventInput, content_type = "application/merge-patch+json",
                 description = "Any subset of the writable fields",
                 example = json!({"venue": "Songdo Convensia", "ends_on": "2024-06-26"})),
    responses(
        (status = 200, description = "Updated", body = Event,
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
pub async fn update_event(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(patch): JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let event = db
        .write(move |conn| {
            store(conn, &actor, id, &precondition, |current| {
                apply_patch(current, &patch)
            })
        })
        .await?;
    Ok(respond_written(StatusCode::OK, None, event.version, &event))
}

/// Delete a event
///
/// Its participant links are deleted with it.
#[utoipa::path(
    delete, path = "/api/v1/events/{id}", tag = "events", operation_id = "delete_event",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The event's id"),
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
pub async fn delete_event(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.write(move |conn| {
        let current = queries::find(conn, id)?.ok_or_else(|| not_found(id))?;
        precondition.check(current.version)?;
        queries::delete(conn, id)?;
        audit::record(
            conn,
            &actor.name,
            AuditAction::Delete,
            ResourceType::Event,
            &id.to_string(),
            Some(&current),
            None,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the stored event with the input `make_input` derives from the current one.
/// Records the change in the audit log.
fn store(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    precondition: &Precondition,
    make_input: impl FnOnce(Event) -> Result<EventInput, ApiError>,
) -> Result<Event, ApiError> {
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
        ResourceType::Event,
        &id.to_string(),
        Some(&current),
        Some(&updated),
    )?;
    Ok(updated)
}

fn check_references(
    conn: &mut DbConnection,
    v: &mut Validator,
    draft: &EventDraft,
) -> Result<(), ApiError> {
    let participants = draft.participants.iter().enumerate();
    references::check_partners(
        conn,
        v,
        participants.map(|(i, p)| (format!("participants[{i}].partner_id"), p.partner_id)),
    )?;
    if let Some(code) = &draft.changes.country_code {
        references::check_countries(conn, v, [("country_code".to_owned(), code.clone())])?;
    }
    if let Some(agreement_id) = draft.changes.agreement_id {
        references::check_agreement(conn, v, "agreement_id", agreement_id)?;
    }
    Ok(())
}
