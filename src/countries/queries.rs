//! Country queries. Each takes the caller's connection, so the caller owns the transaction.

use diesel::dsl::Eq;
use diesel::prelude::*;

use std::collections::BTreeMap;

use super::model::{Country, CountryChanges, CountryFilter, CountryInput};
use crate::audit::{AuditAction, ResourceType};
use crate::db::DbConnection;
use crate::pagination::Rows;
use crate::schema::{countries, reference_data};
use crate::sql::DatabaseNow;
use crate::translations::Translations;
use crate::validation::{Validator, like_pattern};

/// A new country row: the key, the checked fields and its version; the time stamps are the
/// database's ([`stamped`]).
#[derive(Insertable)]
#[diesel(table_name = countries)]
struct NewCountry {
    code: String,
    #[diesel(embed)]
    changes: CountryChanges,
    version: i64,
}

impl NewCountry {
    fn new(code: String, changes: CountryChanges) -> Self {
        NewCountry {
            code,
            changes,
            version: 1,
        }
    }
}

/// `row` with both time stamps set to the database's clock at the write.
fn stamped(
    row: NewCountry,
) -> (
    NewCountry,
    Eq<countries::created_at, DatabaseNow>,
    Eq<countries::updated_at, DatabaseNow>,
) {
    let now = crate::sql::database_now();
    (
        row,
        countries::created_at.eq(now),
        countries::updated_at.eq(now),
    )
}

/// The country `code`, unless it was deleted.
pub fn find(conn: &mut DbConnection, code: &str) -> QueryResult<Option<Country>> {
    crate::on_backend!(conn, |c| countries::table
        .find(code)
        .filter(countries::deleted_at.is_null())
        .select(Country::as_select())
        .get_result(c)
        .optional())
}

/// The tombstone of the country `code`, if it was deleted (and not purged).
pub fn find_deleted(conn: &mut DbConnection, code: &str) -> QueryResult<Option<Country>> {
    countries::table
        .find(code)
        .filter(countries::deleted_at.is_not_null())
        .select(Country::as_select())
        .get_result(conn)
        .optional()
}

/// The countries with these keys, in one statement (for `include=`).
pub fn find_many(conn: &mut DbConnection, keys: &[String]) -> QueryResult<Vec<Country>> {
    crate::on_backend!(conn, |c| countries::table
        .filter(countries::code.eq_any(keys))
        .select(Country::as_select())
        .load(c))
}

/// The code of another country that already uses `alpha3`, if any.
pub fn alpha3_owner(
    conn: &mut DbConnection,
    alpha3: &str,
    except: &str,
) -> QueryResult<Option<String>> {
    countries::table
        .filter(countries::alpha3.eq(alpha3))
        .filter(countries::code.ne(except))
        .select(countries::code)
        .first(conn)
        .optional()
}

/// The countries `filter` selects.
pub fn matching(filter: &CountryFilter) -> Rows<countries::table> {
    let mut query = countries::table.into_boxed();
    if filter.include_deleted != Some(true) {
        query = query.filter(countries::deleted_at.is_null());
    }
    if let Some(region) = &filter.region {
        query = query.filter(countries::region.eq(region.clone()));
    }
    if let Some(subregion) = &filter.subregion {
        query = query.filter(countries::subregion.eq(subregion.clone()));
    }
    if let Some(participant) = filter.participant {
        query = query.filter(countries::participant.eq(participant));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        query = query.filter(countries::search_text.like(like_pattern(q)).escape('\\'));
    }
    crate::filter::updated_between(
        filter.updated_after,
        filter.updated_before,
        query,
        countries::updated_at,
    )
}

pub fn insert(
    conn: &mut DbConnection,
    code: String,
    changes: CountryChanges,
) -> QueryResult<Country> {
    diesel::insert_into(countries::table)
        .values(stamped(NewCountry::new(code.clone(), changes)))
        .execute(conn)?;
    countries::table
        .find(code)
        .select(Country::as_select())
        .first(conn)
}

/// Stores `changes` if the country is still at `version`; `None` when it has moved on.
pub fn update(
    conn: &mut DbConnection,
    code: &str,
    version: i64,
    changes: CountryChanges,
) -> QueryResult<Option<Country>> {
    let updated = diesel::update(
        countries::table
            .find(code)
            .filter(countries::version.eq(version)),
    )
    .set((
        changes,
        countries::updated_at.eq(crate::sql::database_now()),
        countries::version.eq(version + 1),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find(conn, code)
}

pub fn purge(conn: &mut DbConnection, code: &str) -> QueryResult<usize> {
    diesel::delete(countries::table.find(code)).execute(conn)
}

/// Loads every ISO 3166-1 country from the `keshvar` crate into an empty table, in one
/// transaction; does nothing once countries exist (so deleted or edited ones stay as the hub
/// left them). Returns how many were loaded.
pub fn load_iso_countries(conn: &mut DbConnection) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let existing: i64 = countries::table.count().get_result(conn)?;
        if existing > 0 {
            return Ok(0);
        }
        let rows = keshvar::CountryIterator::new().map(|country| {
            let input = CountryInput {
                code: Some(country.alpha2().to_string()),
                alpha3: country.alpha3().to_string(),
                numeric: country.number().to_owned(),
                name: country.iso_short_name().to_owned(),
                region: country.maybe_region().map(|r| un_name(&r.to_string())),
                subregion: country.maybe_subregion().map(|s| un_name(&s.to_string())),
                participant: false,
                joined_on: None,
                notes: None,
                translations: iso_names(&country),
            };
            // The ISO data keeps every rule; checking it stores it as the API would.
            let (code, changes) = input.check(&mut Validator::new(), None);
            NewCountry::new(code, changes)
        });
        // One statement per row: the multi-backend connection has no batch insert. In one
        // transaction this takes milliseconds, once per database.
        let mut loaded = 0;
        for row in rows {
            loaded += diesel::insert_into(countries::table)
                .values(stamped(row))
                .execute(conn)?;
        }
        Ok(loaded)
    })
}

/// The hub's languages: the ISO data's country names in them are loaded with it.
pub const HUB_LANGUAGES: &[&str] = &["ru", "kk", "en", "ko", "ka", "hy", "az", "ky", "tg", "uz"];

/// Who the audit log names for the names the service adds.
const SERVICE_ACTOR: &str = "coop-registry";

/// The ISO data's names of `country` in the hub's languages, by BCP 47 tag (the data writes
/// `sr_Latn` for `sr-Latn`), in canonical case.
fn iso_names(country: &keshvar::Country) -> Translations {
    let mut names = BTreeMap::new();
    for (key, name) in country.translations() {
        let tag = key.replace('_', "-");
        let primary = tag.split('-').next().unwrap_or_default();
        let name = name.trim();
        if !HUB_LANGUAGES.contains(&primary) || name.is_empty() {
            continue;
        }
        let mut v = Validator::new();
        let tag = v.language_tag("", &tag);
        if v.is_empty() {
            names.insert(tag, BTreeMap::from([("name".to_owned(), name.to_owned())]));
        }
    }
    Translations(names)
}

/// What `reference_data` calls the names added, and the release that added them: once per
/// release, since reading the ISO data's names touches megabytes of it.
const ISO_NAMES: (&str, &str) = ("iso-country-names", env!("CARGO_PKG_VERSION"));

/// Gives every country the ISO data's names in the hub's languages that it has none in, once
/// per release of the service (on an upgrade, the data may have gained some); a name the hub
/// gave (an admin's) is kept. Each country changed gets a new version and an audit entry.
/// Returns how many changed.
pub fn add_iso_names(conn: &mut DbConnection) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let (name, release) = ISO_NAMES;
        let done: Option<String> = reference_data::table
            .find(name)
            .select(reference_data::version)
            .first(conn)
            .optional()?;
        if done.as_deref() == Some(release) {
            return Ok(0);
        }
        diesel::delete(reference_data::table.find(name)).execute(conn)?;
        diesel::insert_into(reference_data::table)
            .values((
                reference_data::name.eq(name),
                reference_data::version.eq(release),
            ))
            .execute(conn)?;
        let stored: Vec<Country> = countries::table.select(Country::as_select()).load(conn)?;
        let mut changed = 0;
        for current in stored {
            let Ok(alpha2) = keshvar::Alpha2::try_from(current.code.as_str()) else {
                continue;
            };
            let mut translations = current.translations.clone();
            let mut added = false;
            for (tag, texts) in iso_names(&alpha2.to_country()).0 {
                let known = translations.0.keys().any(|t| t.eq_ignore_ascii_case(&tag));
                if !known {
                    translations.0.insert(tag, texts);
                    added = true;
                }
            }
            if !added {
                continue;
            }
            let patch = serde_json::json!({ "translations": translations });
            let input = crate::http::apply_patch::<_, CountryInput>(&current, &patch)
                .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?
                .value;
            let (code, changes) = input.check(&mut Validator::new(), Some(&current.code));
            let Some(updated) = update(conn, &code, current.version, changes)? else {
                continue;
            };
            crate::audit::record(
                conn,
                SERVICE_ACTOR,
                AuditAction::Update,
                ResourceType::Country,
                &code,
                Some(&current),
                Some(&updated),
            )
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
            changed += 1;
        }
        Ok(changed)
    })
}

/// `south-eastern-asia` → `South-Eastern Asia`: keshvar's slugs as the UN geoscheme writes them.
fn un_name(slug: &str) -> String {
    let words: Vec<String> = slug
        .split('-')
        .map(|word| match word {
            "and" => "and".to_owned(),
            word => {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            }
        })
        .collect();
    words.join(" ").replace("South Eastern", "South-Eastern")
}

#[cfg(test)]
mod tests {
    use super::un_name;

    #[test]
    fn un_names_read_as_the_geoscheme() {
        assert_eq!(un_name("central-asia"), "Central Asia");
        assert_eq!(un_name("south-eastern-asia"), "South-Eastern Asia");
        assert_eq!(
            un_name("australia-and-new-zealand"),
            "Australia and New Zealand"
        );
        assert_eq!(un_name("asia"), "Asia");
    }
}
