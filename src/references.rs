//! Who refers to whom, in one place.
//!
//! Writing: a reference to a country, partner or agreement that does not exist is a 422 on the
//! field that holds it. Deleting: a record that others still point at is refused with a 409 that
//! names them. The lookups themselves belong to the owning resources' queries; foreign keys in
//! both schemas back all of this up.

use crate::db::DbConnection;
use crate::error::ApiError;
use crate::validation::Validator;
use crate::{agreements, countries, events, partners};

/// How many referrers of each kind a 409 names.
const NAMED: i64 = 5;

/// A record that other records can point at.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Country(&'a str),
    Partner(i64),
    Agreement(i64),
}

impl Target<'_> {
    fn describe(&self) -> String {
        match self {
            Target::Country(code) => format!("country {code}"),
            Target::Partner(id) => format!("partner {id}"),
            Target::Agreement(id) => format!("agreement {id}"),
        }
    }
}

/// Short descriptions (`partner 3`, `agreement 7 (party)`) of records that point at `target`.
pub fn referrers(conn: &mut DbConnection, target: Target<'_>) -> diesel::QueryResult<Vec<String>> {
    fn named(what: &'static str, ids: Vec<i64>) -> impl Iterator<Item = String> {
        ids.into_iter().map(move |id| format!("{what} {id}"))
    }
    let mut found = Vec::new();
    match target {
        Target::Country(code) => {
            found.extend(named(
                "partner",
                partners::queries::in_country(conn, code, NAMED)?,
            ));
            found.extend(named(
                "agreement",
                agreements::queries::covering_country(conn, code, NAMED)?,
            ));
            found.extend(named(
                "event",
                events::queries::in_country(conn, code, NAMED)?,
            ));
        }
        Target::Partner(id) => {
            found.extend(named(
                "agreement",
                agreements::queries::with_party(conn, id, NAMED)?,
            ));
            found.extend(named(
                "event",
                events::queries::with_participant(conn, id, NAMED)?,
            ));
        }
        Target::Agreement(id) => {
            found.extend(named(
                "event",
                events::queries::under_agreement(conn, id, NAMED)?,
            ));
        }
    }
    Ok(found)
}

/// Fails with 409 naming the referrers when anything still points at `target`.
pub fn ensure_unreferenced(conn: &mut DbConnection, target: Target<'_>) -> Result<(), ApiError> {
    let found = referrers(conn, target)?;
    if found.is_empty() {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "{} is still referenced by {}; remove those references first",
        target.describe(),
        found.join(", ")
    )))
}

/// Records a rule for each `(field, code)` whose country does not exist. Codes that are not
/// two letters A-Z were already reported by the format rule and are skipped.
pub fn check_countries(
    conn: &mut DbConnection,
    v: &mut Validator,
    codes: impl IntoIterator<Item = (String, String)>,
) -> diesel::QueryResult<()> {
    let codes: Vec<(String, String)> = codes
        .into_iter()
        .filter(|(_, code)| code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
        .collect();
    if codes.is_empty() {
        return Ok(());
    }
    let wanted: Vec<String> = codes.iter().map(|(_, code)| code.clone()).collect();
    let missing = countries::queries::missing(conn, &wanted)?;
    for (field, code) in codes {
        v.check(
            !missing.contains(&code),
            field,
            format!("no country with code {code}"),
        );
    }
    Ok(())
}

/// Records a rule for each `(field, id)` whose partner does not exist.
pub fn check_partners(
    conn: &mut DbConnection,
    v: &mut Validator,
    ids: impl IntoIterator<Item = (String, i64)>,
) -> diesel::QueryResult<()> {
    let ids: Vec<(String, i64)> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let wanted: Vec<i64> = ids.iter().map(|(_, id)| *id).collect();
    let missing = partners::queries::missing(conn, &wanted)?;
    for (field, id) in ids {
        v.check(
            !missing.contains(&id),
            field,
            format!("no partner with id {id}"),
        );
    }
    Ok(())
}

/// Records a rule when the agreement `id` in `field` does not exist.
pub fn check_agreement(
    conn: &mut DbConnection,
    v: &mut Validator,
    field: &str,
    id: i64,
) -> diesel::QueryResult<()> {
    let exists = agreements::queries::exists(conn, id)?;
    v.check(exists, field, format!("no agreement with id {id}"));
    Ok(())
}
