//! HTTP handlers for countries: documented wrappers around the common behaviour in
//! `crate::resource`, and what is particular to countries.

use actix_web::{HttpRequest, HttpResponse, web};

use super::model::{
    Country, CountryChanges, CountryCreate, CountryFilter, CountryInput, CountryPage, CountryPatch,
    CountrySort,
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
use crate::references::Target;
use crate::resource::{self, Listed, Resource};

/// The country collection, as the common behaviour sees it.
pub struct Countries;

impl Listed for Countries {
    type Item = Country;
    type Filter = CountryFilter;
    type Sort = CountrySort;

    fn sort(filter: &CountryFilter) -> Sort<CountrySort> {
        filter.sort.unwrap_or_default()
    }

    fn list(
        conn: &mut DbConnection,
        filter: &CountryFilter,
        sort: Sort<CountrySort>,
        cursor: Option<&Cursor>,
        fetch: i64,
    ) -> Result<Vec<Country>, ApiError> {
        queries::list(conn, filter, sort, cursor, fetch)
    }

    fn count(conn: &mut DbConnection, filter: &CountryFilter) -> diesel::QueryResult<i64> {
        queries::count(conn, filter)
    }
}

impl Resource for Countries {
    type Key = String;
    type Input = CountryInput;
    /// The (upper-case) code and the checked fields.
    type Draft = (String, CountryChanges);

    const COLLECTION: &'static str = "/api/v1/countries";
    const AUDIT: ResourceType = ResourceType::Country;

    fn key(item: &Country) -> String {
        item.code.clone()
    }

    fn version(item: &Country) -> i64 {
        item.version
    }

    fn not_found(code: &String) -> ApiError {
        ApiError::NotFound(format!("no country with code {code}"))
    }

    fn find(conn: &mut DbConnection, code: &String) -> diesel::QueryResult<Option<Country>> {
        queries::find(conn, code)
    }

    /// The field rules; on create a code not yet taken; always an alpha-3 code no other
    /// country has.
    fn prepare(
        conn: &mut DbConnection,
        input: CountryInput,
        code: Option<&String>,
    ) -> Result<(String, CountryChanges), ApiError> {
        let creating = code.is_none();
        let (code, changes) = input.validate(code.map(String::as_str))?;
        if creating && queries::find(conn, &code)?.is_some() {
            return Err(ApiError::Conflict(format!("country {code} already exists")));
        }
        if let Some(owner) = queries::alpha3_owner(conn, &changes.alpha3, &code)? {
            return Err(ApiError::Conflict(format!(
                "alpha3 {} is already the code of country {owner}",
                changes.alpha3
            )));
        }
        Ok((code, changes))
    }

    fn insert(
        conn: &mut DbConnection,
        (code, changes): (String, CountryChanges),
    ) -> Result<Country, ApiError> {
        Ok(queries::insert(conn, code, changes)?)
    }

    fn update(
        conn: &mut DbConnection,
        code: &String,
        current: &Country,
        (_, changes): (String, CountryChanges),
    ) -> diesel::QueryResult<Option<Country>> {
        queries::update(conn, code, current.version, changes)
    }

    fn delete(conn: &mut DbConnection, code: &String) -> diesel::QueryResult<usize> {
        queries::delete(conn, code)
    }

    fn target(code: &String) -> Option<Target<'_>> {
        Some(Target::Country(code))
    }
}

/// Codes are accepted in any case and kept upper-case. Anything that is not two letters names
/// no country, and is answered 404 without asking the database.
fn path_code(path: web::Path<String>) -> Result<String, ApiError> {
    let code = path.into_inner().trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(Countries::not_found(&code.escape_debug().to_string()))
    }
}

/// List countries
///
/// Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).
#[utoipa::path(
    get, path = "/api/v1/countries", tag = "countries", operation_id = "list_countries",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(PageParams, CountryFilter),
    responses(
        (status = 200, description = "A page of countries", body = CountryPage,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when more pages follow"))),
        ListErrors,
    )
)]
pub async fn list_countries(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<CountryFilter>,
) -> Result<HttpResponse, ApiError> {
    resource::list::<Countries>(&db, &req, page, filter).await
}

/// Get a country
///
/// The code is accepted in any case. Answers 304 when `If-None-Match` holds the current ETag.
#[utoipa::path(
    get, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "get_country",
    // A token is taken but needed only with READ_REQUIRES_TOKEN: `{}` is "no token".
    security((), ("bearer" = [])),
    params(("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "kz")),
    responses(
        (status = 200, description = "The country", body = Country,
         headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        ReadErrors,
    )
)]
pub async fn get_country(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    resource::get::<Countries>(&db, &req, path_code(path)?).await
}

/// Create a country
///
/// For codes ISO does not assign (such as `XK`); every ISO 3166-1 country is already present.
#[utoipa::path(
    post, path = "/api/v1/countries", tag = "countries", operation_id = "create_country",
    request_body = CountryCreate,
    responses(
        (status = 201, description = "Created", body = Country,
         headers(("Location" = String, description = "The new country's URL"),
                 ("ETag" = String, description = "The version, quoted"))),
        CreateErrors,
    )
)]
pub async fn create_country(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<CountryInput>,
) -> Result<HttpResponse, ApiError> {
    resource::create::<Countries>(&db, actor, input).await
}

/// Replace a country
///
/// Sends every writable field; fields left out become null (or false).
#[utoipa::path(
    put, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "replace_country",
    params(
        ("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "KZ"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only replace if this is still the current ETag"),
    ),
    request_body = CountryInput,
    responses(
        (status = 200, description = "Replaced", body = Country,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn replace_country(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
    JsonBody(input): JsonBody<CountryInput>,
) -> Result<HttpResponse, ApiError> {
    resource::replace::<Countries>(&db, actor, path_code(path)?, precondition, input).await
}

/// Update a country
///
/// A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.
#[utoipa::path(
    patch, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "update_country",
    params(
        ("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "KZ"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only update if this is still the current ETag"),
    ),
    request_body(
        description = "Any of the writable fields; `null` clears an optional one",
        content(
            (CountryPatch = "application/merge-patch+json"),
            (CountryPatch = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Updated", body = Country,
         headers(("ETag" = String, description = "The new version, quoted"))),
        ChangeErrors,
    )
)]
pub async fn update_country(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, ApiError> {
    resource::update::<Countries>(&db, actor, path_code(path)?, precondition, patch).await
}

/// Delete a country
///
/// Refused with 409, naming them, while partners, agreements or events refer to it.
#[utoipa::path(
    delete, path = "/api/v1/countries/{code}", tag = "countries", operation_id = "delete_country",
    params(
        ("code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case", example = "XK"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only delete if this is still the current ETag"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, response = responses::Conflict),
        DeleteErrors,
    )
)]
pub async fn delete_country(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    resource::delete::<Countries>(&db, actor, path_code(path)?, precondition).await
}
