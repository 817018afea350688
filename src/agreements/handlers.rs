//! HTTP handlers for agreements: documented wrappers around the common behaviour in
//! `crate::resource`, and what is particular to agreements.

use actix_web::{HttpRequest, HttpResponse, web};

use super::model::{
    Agreement, AgreementDraft, AgreementFilter, AgreementInput, AgreementPage, AgreementPatch,
    AgreementSort,
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

/// The agreement collection, as the common behaviour sees it.
pub struct Agreements;

impl Listed for Agreements {
    type Item = Agreement;
    type Filter = AgreementFilter;
    type Sort = AgreementSort;

    fn sort(filter: &AgreementFilter) -> Sort<AgreementSort> {
        filter.sort.unwrap_or_default()
    }

    fn list(
        conn: &mut DbConnection,
        filter: &AgreementFilter,
        sort: Sort<AgreementSort>,
        cursor: Option<&Cursor>,
        fetch: i64,
    ) -> Result<Vec<Agreement>, ApiError> {
        queries::list(conn, filter, sort, cursor, fetch)
    }

    fn count(conn: &mut DbConnection, filter: &AgreementFilter) -> diesel::QueryResult<i64> {
        queries::count(conn, filter)
    }
}

impl Resource for Agreements {
    type Key = i64;
    type Input = AgreementInput;
    type Draft = AgreementDraft;

    const COLLECTION: &'static str = "/api/v1/agreements";
    const AUDIT: ResourceType = ResourceType::Agreement;

    fn key(item: &Agreement) -> i64 {
        item.id
    }

    fn version(item: &Agreement) -> i64 {
        item.version
    }

    fn not_found(id: &i64) -> ApiError {
        ApiError::NotFound(format!("no agreement with id {id}"))
    }

    fn find(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Agreement>> {
        queries::find(conn, *id)
    }

    /// The field rules, and parties and countries that exist.
    fn prepare(
        conn: &mut DbConnection,
        input: AgreementInput,
        _: Option<&i64>,
    ) -> Result<AgreementDraft, ApiError> {
        let mut v = Validator::new();
        let draft = input.check(&mut v);
        let parties = draft.parties.iter().enumerate();
        references::check_partners(
            conn,
            &mut v,
            parties.map(|(i, p)| (format!("parties[{i}].partner_id"), p.partner_id)),
        )?;
        let codes = draft.country_codes.iter().enumerate();
        references::check_countries(
            conn,
            &mut v,
            codes.map(|(i, c)| (format!("country_codes[{i}]"), c.clone())),
        )?;
        v.finish()?;
        Ok(draft)
    }

    fn insert(conn: &mut DbConnection, draft: AgreementDraft) -> Result<Agreement, ApiError> {
        Ok(queries::insert(conn, draft)?)
    }

    fn update(
        conn: &mut DbConnection,
        _: &i64,
        current: &Agreement,
        draft: AgreementDraft,
    ) -> diesel::QueryResult<Option<Agreement>> {
        queries::update(conn, current, draft)
    }

    fn delete(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<usize> {
        queries::delete(conn, *id)
    }

    fn target(id: &i64) -> Option<Target<'_>> {
        Some(Target::Agreement(*id))
    }
}

/// List agreements
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/agreements", tag = "agreements", operation_id = "list_agreements",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(PageParams, AgreementFilter),
    responses(
        (status = 200, description = "A page of agreements", body = AgreementPage,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        ListErrors,
    )
)]
pub async fn list_agreements(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<AgreementFilter>,
) -> Result<HttpResponse, ApiError> {
    resource::list::<Agreements>(&db, &req, page, filter).await
}

/// Get an agreement
///
/// Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "get_agreement",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "The agreement's id")),
    responses(
        (status = 200, description = "The agreement", body = Agreement,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 400, response = responses::BadRequest),
        ReadErrors,
    )
)]
pub async fn get_agreement(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    resource::get::<Agreements>(&db, &req, path.into_inner()).await
}

/// Create an agreement
///
/// Parties and countries are stored with it in one transaction; each must exist.
#[utoipa::path(
    post, path = "/api/v1/agreements", tag = "agreements", operation_id = "create_agreement",
    request_body = AgreementInput,
    responses(
        (status = 201, description = "Created", body = Agreement,
         headers(("Location" = String, description = "The new agreement's URL"),
                 ("ETag" = String, description = "The version, quoted"))),
        CreateErrors,
    )
)]
pub async fn create_agreement(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<AgreementInput>,
) -> Result<HttpResponse, ApiError> {
    resource::create::<Agreements>(&db, actor, input).await
}

/// Replace an agreement
///
/// Sends every writable field; fields left out become null, lists left out become empty.
#[utoipa::path(
    put, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "replace_agreement",
    params(
        ("id" = i64, Path, description = "The agreement's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only replace if this is still the current ETag"),
    ),
    request_body = AgreementInput,
    responses(
        (status = 200, description = "Replaced", body = Agreement,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn replace_agreement(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    JsonBody(input): JsonBody<AgreementInput>,
) -> Result<HttpResponse, ApiError> {
    resource::replace::<Agreements>(&db, actor, path.into_inner(), precondition, input).await
}

/// Update an agreement
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "update_agreement",
    params(
        ("id" = i64, Path, description = "The agreement's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only update if this is still the current ETag"),
    ),
    request_body(
        description = "Any of the writable fields; `null` clears an optional one",
        content(
            (AgreementPatch = "application/merge-patch+json"),
            (AgreementPatch = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Updated", body = Agreement,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn update_agreement(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, ApiError> {
    resource::update::<Agreements>(&db, actor, path.into_inner(), precondition, patch).await
}

/// Delete an agreement
///
/// Refused with 409, naming them, while events belong to it. Its own party and country
/// links are deleted with it.
#[utoipa::path(
    delete, path = "/api/v1/agreements/{id}", tag = "agreements", operation_id = "delete_agreement",
    params(
        ("id" = i64, Path, description = "The agreement's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only delete if this is still the current ETag"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = responses::BadRequest),
        (status = 409, response = responses::Conflict),
        DeleteErrors,
    )
)]
pub async fn delete_agreement(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<i64>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    resource::delete::<Agreements>(&db, actor, path.into_inner(), precondition).await
}
