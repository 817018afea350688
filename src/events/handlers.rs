//! HTTP handlers for events: documented wrappers around the common behaviour in
//! `crate::resource`, and what is particular to events.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};

use super::model::{Event, EventDraft, EventFilter, EventInput, EventPage, EventPatch, EventSort};
use super::queries;
use crate::audit::ResourceType;
use crate::auth::Actor;
use crate::db::{Db, DbConnection};
use crate::error::operation_errors::{
    ChangeErrors, CreateErrors, DeleteErrors, ListErrors, ReadErrors,
};
use crate::error::{ApiError, responses};
use crate::http::{JsonBody, MergePatch, Precondition, QueryParams};
use crate::pagination::{Cursor, PageParams, RenderedItem, Sort};
use crate::references::{self, Target};
use crate::rendered::RenderedRows;
use crate::resource::{self, Listed, Resource};
use crate::validation::Validator;

/// The event collection, as the common behaviour sees it.
pub struct Events;

impl Listed for Events {
    type Item = Event;
    type Filter = EventFilter;
    type Sort = EventSort;

    fn sort(filter: &EventFilter) -> Sort<EventSort> {
        filter.sort.unwrap_or_default()
    }

    fn list(
        conn: &mut DbConnection,
        filter: &EventFilter,
        sort: Sort<EventSort>,
        cursor: Option<&Cursor>,
        fetch: i64,
    ) -> Result<Vec<Event>, ApiError> {
        queries::list(conn, filter, sort, cursor, fetch)
    }

    fn count(conn: &mut DbConnection, filter: &EventFilter) -> diesel::QueryResult<i64> {
        queries::count(conn, filter)
    }

    /// Events are the largest collection and the one most polled, so a page first reads which
    /// events it holds at which versions, and reads and renders whole rows only for those not
    /// already rendered (`crate::rendered`). When a row changed or went between the two
    /// statements, the page is read again the plain way, in one statement.
    fn list_rendered(
        conn: &mut DbConnection,
        rendered: &RenderedRows,
        filter: &EventFilter,
        sort: Sort<EventSort>,
        cursor: Option<&Cursor>,
        fetch: i64,
    ) -> Result<Vec<RenderedItem>, ApiError> {
        if !rendered.enabled() {
            return resource::render_rows::<Self>(conn, filter, sort, cursor, fetch);
        }
        let kind = Self::AUDIT;
        let stubs = queries::list_stubs(conn, filter, sort, cursor, fetch)?;
        let mut found: Vec<_> = stubs
            .iter()
            .map(|stub| rendered.get(kind, stub.id, stub.version))
            .collect();
        let missing: Vec<i64> = stubs
            .iter()
            .zip(&found)
            .filter(|(_, json)| json.is_none())
            .map(|(stub, _)| stub.id)
            .collect();
        if !missing.is_empty() {
            let mut fresh: HashMap<i64, Event> = queries::find_many(conn, &missing)?
                .into_iter()
                .map(|event| (event.id, event))
                .collect();
            for (stub, json) in stubs.iter().zip(found.iter_mut()) {
                if json.is_some() {
                    continue;
                }
                match fresh.remove(&stub.id) {
                    Some(event) if event.version == stub.version => {
                        *json = Some(rendered.render(kind, event.id, event.version, &event)?);
                    }
                    _ => return resource::render_rows::<Self>(conn, filter, sort, cursor, fetch),
                }
            }
        }
        found
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, json)| RenderedItem::new(json, i, fetch, &sort))
            .collect()
    }
}

impl Resource for Events {
    type Key = i64;
    type Input = EventInput;
    type Draft = EventDraft;

    const COLLECTION: &'static str = "/api/v1/events";
    const AUDIT: ResourceType = ResourceType::Event;

    fn key(item: &Event) -> i64 {
        item.id
    }

    fn version(item: &Event) -> i64 {
        item.version
    }

    fn not_found(id: &i64) -> ApiError {
        ApiError::NotFound(format!("no event with id {id}"))
    }

    fn find(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Event>> {
        queries::find(conn, *id)
    }

    /// The field rules, and participants, country and agreement that exist.
    fn prepare(
        conn: &mut DbConnection,
        input: EventInput,
        _: Option<&i64>,
    ) -> Result<EventDraft, ApiError> {
        let mut v = Validator::new();
        let draft = input.check(&mut v);
        check_references(conn, &mut v, &draft)?;
        v.finish()?;
        Ok(draft)
    }

    /// The field rules only: the participants, the country and the agreement all have foreign
    /// keys, which refuse a missing one anyway (`resource::create` then says which). On
    /// PostgreSQL the checks were two round trips per create, planned again each time; on
    /// SQLite they were 15% of the writer thread's work. When other rules are broken, the
    /// references are checked too, so that every error is reported at once.
    fn prepare_new(conn: &mut DbConnection, input: EventInput) -> Result<EventDraft, ApiError> {
        let mut v = Validator::new();
        let draft = input.check(&mut v);
        if !v.is_empty() {
            check_references(conn, &mut v, &draft)?;
        }
        v.finish()?;
        Ok(draft)
    }

    fn insert(conn: &mut DbConnection, draft: EventDraft) -> Result<Event, ApiError> {
        Ok(queries::insert(conn, draft)?)
    }

    fn update(
        conn: &mut DbConnection,
        _: &i64,
        current: &Event,
        draft: EventDraft,
    ) -> diesel::QueryResult<Option<Event>> {
        queries::update(conn, current, draft)
    }

    fn delete(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<usize> {
        queries::delete(conn, *id)
    }

    /// Nothing refers to events.
    fn target(_: &i64) -> Option<Target<'_>> {
        None
    }
}

/// Records each participant, country and agreement of `draft` that does not exist.
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

/// List events
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events", operation_id = "list_events",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(PageParams, EventFilter),
    responses(
        (status = 200, description = "A page of events", body = EventPage,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        ListErrors,
    )
)]
pub async fn list_events(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<EventFilter>,
) -> Result<HttpResponse, ApiError> {
    resource::list::<Events>(&db, &req, page, filter).await
}

/// Get an event
///
/// Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/events/{id}", tag = "events", operation_id = "get_event",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "The event's id")),
    responses(
        (status = 200, description = "The event", body = Event,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 400, response = responses::BadRequest),
        ReadErrors,
    )
)]
pub async fn get_event(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    resource::get::<Events>(&db, &req, path.into_inner()).await
}

/// Create an event
///
/// Participants are stored with it in one transaction; the partners, the country and the
/// agreement it names must exist.
#[utoipa::path(
    post, path = "/api/v1/events", tag = "events", operation_id = "create_event",
    request_body = EventInput,
    responses(
        (status = 201, description = "Created", body = Event,
         headers(("Location" = String, description = "The new event's URL"),
                 ("ETag" = String, description = "The version, quoted"))),
        CreateErrors,
    )
)]
pub async fn create_event(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<EventInput>,
) -> Result<HttpResponse, ApiError> {
    resource::create::<Events>(&db, actor, input).await
}

/// Replace an event
///
/// Sends every writable field; fields left out become null, `participants` left out becomes empty.
#[utoipa::path(
    put, path = "/api/v1/events/{id}", tag = "events", operation_id = "replace_event",
    params(
        ("id" = i64, Path, description = "The event's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only replace if this is still the current ETag"),
    ),
    request_body = EventInput,
    responses(
        (status = 200, description = "Replaced", body = Event,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn replace_event(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(input): JsonBody<EventInput>,
) -> Result<HttpResponse, ApiError> {
    resource::replace::<Events>(&db, actor, path.into_inner(), precondition, input).await
}

/// Update an event
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/events/{id}", tag = "events", operation_id = "update_event",
    params(
        ("id" = i64, Path, description = "The event's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only update if this is still the current ETag"),
    ),
    request_body(
        description = "Any of the writable fields; `null` clears an optional one",
        content(
            (EventPatch = "application/merge-patch+json"),
            (EventPatch = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Updated", body = Event,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn update_event(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, ApiError> {
    resource::update::<Events>(&db, actor, path.into_inner(), precondition, patch).await
}

/// Delete an event
///
/// Its participant links are deleted with it.
#[utoipa::path(
    delete, path = "/api/v1/events/{id}", tag = "events", operation_id = "delete_event",
    params(
        ("id" = i64, Path, description = "The event's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only delete if this is still the current ETag"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = responses::BadRequest),
        DeleteErrors,
    )
)]
pub async fn delete_event(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    resource::delete::<Events>(&db, actor, path.into_inner(), precondition).await
}
