//! HTTP handlers for countries: they parse, call the queries in one transaction, and answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::model::{Country, CountryFilter, CountryInput};
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

fn not_found(code: &str) -> ApiError {
    ApiError::NotFound(format!("no country with code {code}"))
}

/// Codes are accepted in any case and kept upper-case. Anything that is not two letters names
/// no country, and is answered 404 without asking the database.
fn path_code(path: web::Path<String>) -> Result<String, ApiError> {
    let code = path.into_inner().trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(not_found(&code.escape_debug().to_string()))
    }
}

/// List countries
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/countries", tag = "countries", operation_id = "list_countries",
    security((), ("bearer" = [])),
    params(PageParams, CountryFilter),
    responses(
        (status = 200, description = "A page of countries", body = Page<Country>,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_countries(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<CountryFilter>,
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
    let page = builder.build(rows, total, queries::position, |c| c);
    Ok(pagination::respond(&req, &page))
}

/// Get a country
///
/// The code is accepted in any case. Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "get_country",
    security((), ("bearer" = [])),
    params(("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "kz")),
    responses(
        (status = 200, description = "The country", body = Country,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 404, response = responses::NotFound),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn get_country(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = path_code(path)?;
    let country = db
        .read(move |conn| queries::find(conn, &code)?.ok_or_else(|| not_found(&code)))
        .await?;
    Ok(respond_with_etag(&req, country.version, &country))
}

/// Create a country
///
/// For codes ISO does not assign (such as `XK`); every ISO 3166-1 country is already present.
#[utoipa::path(
    post, path = "/api/v1/countries", tag = "countries", operation_id = "create_country",
    security(("bearer" = [])),
    request_body = CountryInput,
    responses(
        (status = 201, description = "Created", body = Country,
         headers(("Location" = String, description = "The new country's URL"),
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
pub async fn create_country(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<CountryInput>,
) -> Result<HttpResponse, ApiError> {
    let (code, changes) = input.validate(None)?;
    let country = db
        .write(move |conn| {
            if queries::find(conn, &code)?.is_some() {
                return Err(ApiError::Conflict(format!("country {code} already exists")));
            }
            ensure_alpha3_free(conn, &changes.alpha3, &code)?;
            let country = queries::insert(conn, code, changes)?;
            audit::record(
                conn,
                &actor.name,
                AuditAction::Create,
                ResourceType::Country,
                &country.code,
                None,
                Some(&country),
            )?;
            Ok(country)
        })
        .await?;
    let location = format!("/api/v1/countries/{}", country.code);
    Ok(respond_written(
        StatusCode::CREATED,
        Some(location),
        country.version,
        &country,
    ))
}

/// Replace a country
///
/// Sends every writable field; fields left out become null (or false).
#[utoipa::path(
    put, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "replace_country",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "KZ"),
        ("If-Match" = Option<String>, Header, description = "Only replace if this is still the current ETag"),
    ),
    request_body = CountryInput,
    responses(
        (status = 200, description = "Replaced", body = Country,
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
pub async fn replace_country(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
    JsonBody(input): JsonBody<CountryInput>,
) -> Result<HttpResponse, ApiError> {
    let code = path_code(path)?;
    let country = db
        .write(move |conn| store(conn, &actor, &code, &precondition, |_| Ok(input)))
        .await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        country.version,
        &country,
    ))
}

/// Update a country
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "update_country",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "KZ"),
        ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag"),
    ),
    request_body(content = CountryInput, content_type = "application/merge-patch+json",
                 description = "Any subset of the writable fields",
                 example = json!({"participant": true, "joined_on": "2013-03-13"})),
    responses(
        (status = 200, description = "Updated", body = Country,
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
pub async fn update_country(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
    JsonBody(patch): JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let code = path_code(path)?;
    let country = db
        .write(move |conn| {
            store(conn, &actor, &code, &precondition, |current| {
                apply_patch(current, &patch)
            })
        })
        .await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        country.version,
        &country,
    ))
}

/// Delete a country
///
/// Refused with 409, naming them, while partners, agreements or events refer to it.
#[utoipa::path(
    delete, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "delete_country",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "XK"),
        ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 412, response = responses::PreconditionFailed),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn delete_country(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    let code = path_code(path)?;
    db.write(move |conn| {
        let current = queries::find(conn, &code)?.ok_or_else(|| not_found(&code))?;
        precondition.check(current.version)?;
        references::ensure_unreferenced(conn, Target::Country(&code))?;
        queries::delete(conn, &code)?;
        audit::record(
            conn,
            &actor.name,
            AuditAction::Delete,
            ResourceType::Country,
            &code,
            Some(&current),
            None,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the stored country with the input `make_input` derives from the current one.
/// Records the change in the audit log.
fn store(
    conn: &mut DbConnection,
    actor: &Actor,
    code: &str,
    precondition: &Precondition,
    make_input: impl FnOnce(Country) -> Result<CountryInput, ApiError>,
) -> Result<Country, ApiError> {
    let current = queries::find(conn, code)?.ok_or_else(|| not_found(code))?;
    precondition.check(current.version)?;
    let (_, changes) = make_input(current.clone())?.validate(Some(code))?;
    ensure_alpha3_free(conn, &changes.alpha3, code)?;
    let updated = queries::update(conn, code, current.version, changes)?
        .ok_or(ApiError::PreconditionFailed)?;
    audit::record(
        conn,
        &actor.name,
        AuditAction::Update,
        ResourceType::Country,
        code,
        Some(&current),
        Some(&updated),
    )?;
    Ok(updated)
}

fn ensure_alpha3_free(conn: &mut DbConnection, alpha3: &str, code: &str) -> Result<(), ApiError> {
    match queries::alpha3_owner(conn, alpha3, code)? {
        Some(owner) => Err(ApiError::Conflict(format!(
            "alpha3 {alpha3} is already the code of country {owner}"
        ))),
        None => Ok(()),
    }
}
