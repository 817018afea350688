//! HTTP handlers for partners: documented wrappers around the common behaviour in
//! `crate::resource`, and what is particular to partners.

use actix_web::{HttpRequest, HttpResponse, web};

use super::model::{
    Partner, PartnerChanges, PartnerFilter, PartnerInput, PartnerPage, PartnerPatch, PartnerSort,
};
use super::queries;
use crate::audit::ResourceType;
use crate::auth::Actor;
use crate::db::{Db, DbConnection};
use crate::error::operation_errors::{
    ChangeErrors, CreateErrors, DeleteErrors, ListErrors, ReadErrors,
};
use crate::error::{ApiError, responses};
use crate::http::{JsonBody, MergePatch, Precondition, QueryParams};
use crate::pagination::{Cursor, PageParams, Sort};
use crate::references::{self, Target};
use crate::resource::{self, Listed, Resource};
use crate::validation::Validator;

/// The partner collection, as the common behaviour sees it.
pub struct Partners;

impl Listed for Partners {
    type Item = Partner;
    type Filter = PartnerFilter;
    type Sort = PartnerSort;

    fn sort(filter: &PartnerFilter) -> Sort<PartnerSort> {
        filter.sort.unwrap_or_default()
    }

    fn list(
        conn: &mut DbConnection,
        filter: &PartnerFilter,
        sort: Sort<PartnerSort>,
        cursor: Option<&Cursor>,
        fetch: i64,
    ) -> Result<Vec<Partner>, ApiError> {
        queries::list(conn, filter, sort, cursor, fetch)
    }

    fn count(conn: &mut DbConnection, filter: &PartnerFilter) -> diesel::QueryResult<i64> {
        queries::count(conn, filter)
    }
}

impl Resource for Partners {
    type Key = i64;
    type Input = PartnerInput;
    type Draft = PartnerChanges;

    const COLLECTION: &'static str = "/api/v1/partners";
    const AUDIT: ResourceType = ResourceType::Partner;

    fn key(item: &Partner) -> i64 {
        item.id
    }

    fn version(item: &Partner) -> i64 {
        item.version
    }

    fn not_found(id: &i64) -> ApiError {
        ApiError::NotFound(format!("no partner with id {id}"))
    }

    fn find(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Partner>> {
        queries::find(conn, *id)
    }

    /// The field rules, the headquarters country, and the name unique ignoring case.
    fn prepare(
        conn: &mut DbConnection,
        input: PartnerInput,
        id: Option<&i64>,
    ) -> Result<PartnerChanges, ApiError> {
        let mut v = Validator::new();
        let changes = input.check(&mut v);
        if let Some(code) = &changes.country_code {
            references::check_countries(conn, &mut v, [("country_code".to_owned(), code.clone())])?;
        }
        v.finish()?;
        if let Some(owner) = queries::name_owner(conn, &changes.name_key, id.copied())? {
            return Err(ApiError::Conflict(format!(
                "partner {owner} already has the name {:?} (names are unique ignoring case)",
                changes.name
            )));
        }
        Ok(changes)
    }

    fn insert(conn: &mut DbConnection, changes: PartnerChanges) -> Result<Partner, ApiError> {
        Ok(queries::insert(conn, changes)?)
    }

    fn update(
        conn: &mut DbConnection,
        id: &i64,
        current: &Partner,
        changes: PartnerChanges,
    ) -> diesel::QueryResult<Option<Partner>> {
        queries::update(conn, *id, current.version, changes)
    }

    fn delete(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<usize> {
        queries::delete(conn, *id)
    }

    fn target(id: &i64) -> Option<Target<'_>> {
        Some(Target::Partner(*id))
    }
}

/// List partners
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/partners", tag = "partners", operation_id = "list_partners",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(PageParams, PartnerFilter),
    responses(
        (status = 200, description = "A page of partners", body = PartnerPage,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        ListErrors,
    )
)]
pub async fn list_partners(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<PartnerFilter>,
) -> Result<HttpResponse, ApiError> {
    resource::list::<Partners>(&db, &req, page, filter).await
}

/// Get a partner
///
/// Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "get_partner",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner", body = Partner,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 400, response = responses::BadRequest),
        ReadErrors,
    )
)]
pub async fn get_partner(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    resource::get::<Partners>(&db, &req, path.into_inner()).await
}

/// Create a partner
///
/// The name must be unique ignoring case; the headquarters country must exist.
#[utoipa::path(
    post, path = "/api/v1/partners", tag = "partners", operation_id = "create_partner",
    request_body = PartnerInput,
    responses(
        (status = 201, description = "Created", body = Partner,
         headers(("Location" = String, description = "The new partner's URL"),
                 ("ETag" = String, description = "The version, quoted"))),
        CreateErrors,
    )
)]
pub async fn create_partner(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<PartnerInput>,
) -> Result<HttpResponse, ApiError> {
    resource::create::<Partners>(&db, actor, input).await
}

/// Replace a partner
///
/// Sends every writable field; fields left out become null.
#[utoipa::path(
    put, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "replace_partner",
    params(
        ("id" = i64, Path, description = "The partner's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only replace if this is still the current ETag"),
    ),
    request_body = PartnerInput,
    responses(
        (status = 200, description = "Replaced", body = Partner,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn replace_partner(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(input): JsonBody<PartnerInput>,
) -> Result<HttpResponse, ApiError> {
    resource::replace::<Partners>(&db, actor, path.into_inner(), precondition, input).await
}

/// Update a partner
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "update_partner",
    params(
        ("id" = i64, Path, description = "The partner's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only update if this is still the current ETag"),
    ),
    request_body(
        description = "Any of the writable fields; `null` clears an optional one",
        content(
            (PartnerPatch = "application/merge-patch+json"),
            (PartnerPatch = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Updated", body = Partner,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn update_partner(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, ApiError> {
    resource::update::<Partners>(&db, actor, path.into_inner(), precondition, patch).await
}

/// Delete a partner
///
/// Refused with 409, naming them, while agreements or events refer to the partner.
#[utoipa::path(
    delete, path = "/api/v1/partners/{id}", tag = "partners", operation_id = "delete_partner",
    params(
        ("id" = i64, Path, description = "The partner's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only delete if this is still the current ETag"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = responses::BadRequest),
        (status = 409, response = responses::Conflict),
        DeleteErrors,
    )
)]
pub async fn delete_partner(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    resource::delete::<Partners>(&db, actor, path.into_inner(), precondition).await
}
