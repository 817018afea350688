//! What is particular to countries in the common behaviour of `crate::resource`, and how the
//! operations of `crate::crud` describe them.

use super::model::{
    Country, CountryChanges, CountryCreate, CountryFilter, CountryInput, CountryPage, CountryPatch,
    CountrySort,
};
use super::queries;
use crate::audit::ResourceType;
use crate::auth::Role;
use crate::crud::Described;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::{Rows, Sort};
use crate::references::Target;
use crate::resource::{Listed, Resource};
use crate::schema::countries;
use crate::validation::Validator;

/// The country collection, as the common behaviour sees it.
pub struct Countries;

impl Listed for Countries {
    type Item = Country;
    type Filter = CountryFilter;
    type Sort = CountrySort;

    fn sort(filter: &CountryFilter) -> Sort<CountrySort> {
        filter.sort.unwrap_or_default()
    }

    fn matching(filter: &CountryFilter) -> Rows<countries::table> {
        queries::matching(filter)
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

    fn find_many(conn: &mut DbConnection, keys: &[String]) -> diesel::QueryResult<Vec<Country>> {
        queries::find_many(conn, keys)
    }

    /// The field rules; on create a code not yet taken; always an alpha-3 code no other
    /// country has.
    fn prepare(
        conn: &mut DbConnection,
        input: CountryInput,
        code: Option<&String>,
    ) -> Result<(String, CountryChanges), ApiError> {
        let creating = code.is_none();
        let mut v = Validator::new();
        let (code, changes) = input.check(&mut v, code.map(String::as_str));
        v.finish()?;
        if creating && queries::find(conn, &code)?.is_some() {
            return Err(ApiError::Conflict(format!("country {code} already exists")));
        }
        if creating && queries::find_deleted(conn, &code)?.is_some() {
            return Err(ApiError::Conflict(format!(
                "country {code} was deleted and is kept as a tombstone: an admin can restore it \
                 (POST /api/v1/countries/{code}/restore) or purge it (DELETE …?purge=true)"
            )));
        }
        if let Some(owner) = queries::alpha3_owner(conn, &changes.fields.alpha3, &code)? {
            return Err(ApiError::Conflict(format!(
                "alpha3 {} is already the code of country {owner}",
                changes.fields.alpha3
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

    fn find_deleted(
        conn: &mut DbConnection,
        code: &String,
    ) -> diesel::QueryResult<Option<Country>> {
        queries::find_deleted(conn, code)
    }

    fn purge(conn: &mut DbConnection, code: &String) -> diesel::QueryResult<usize> {
        queries::purge(conn, code)
    }

    fn target(code: &String) -> Option<Target<'_>> {
        Some(Target::Country(code))
    }
}

impl Described for Countries {
    const TRANSLATED: &'static [crate::translations::Text] = super::model::TRANSLATED;
    const PLURAL: &'static str = "countries";
    const ONE: &'static str = "a country";
    const KEY: (&'static str, &'static str) = ("code", "ISO 3166-1 alpha-2 code, any case");
    const WRITER: Role = Role::Admin;
    const GET_NOTE: &'static str = "The code is accepted in any case.";
    const CREATE_NOTE: &'static str = "For codes ISO does not assign (such as `XK`); every ISO \
3166-1 country is already present.";
    const REPLACE_NOTE: &'static str =
        "Sends every writable field; fields left out become null (or false).";
    const DELETE_NOTE: &'static str = "Refused with 409, naming them, while live partners, agreements or events refer to it. \
A deleted country keeps its code: creating it again is a 409.";
    type Create = CountryCreate;
    type Patch = CountryPatch;
    type Page = CountryPage;

    /// Codes are accepted in any case and kept upper-case. Anything that is not two letters
    /// names no country, and is answered 404 without asking the database.
    fn key_from_path(text: &str) -> Result<String, ApiError> {
        let code = text.trim().to_ascii_uppercase();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(code)
        } else {
            Err(Countries::not_found(&code.escape_debug().to_string()))
        }
    }

    /// Kazakhstan to read and change; to delete, Kosovo (`XK`), which ISO does not assign and
    /// the service does not load, so that a delete in Swagger UI has one to try.
    fn key_example(operation: &str) -> Option<&'static str> {
        Some(match operation {
            "get" => "kz",
            "delete" => "XK",
            _ => "KZ",
        })
    }
}
