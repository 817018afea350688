//! Who refers to whom, in one place.
//!
//! Writing: a reference to a country, partner or agreement that does not exist is a 422 on the
//! field that holds it. Deleting: a record that others still point at is refused with a 409 that
//! names them. A floor below the resources: it knows their tables, not their modules.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Text};

use crate::db::DbConnection;
use crate::error::ApiError;
use crate::schema::{agreements, countries, partners};
use crate::validation::Validator;

/// How many referrers of each kind a 409 names.
const NAMED: i64 = 5;

/// A record that other records can point at.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Country(&'a str),
    Partner(i64),
    Agreement(i64),
}

/// What a kind of record is called, in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Country,
    Partner,
    Agreement,
}

impl Target<'_> {
    fn kind(&self) -> Kind {
        match self {
            Target::Country(_) => Kind::Country,
            Target::Partner(_) => Kind::Partner,
            Target::Agreement(_) => Kind::Agreement,
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Country(code) => format!("country {code}"),
            Target::Partner(id) => format!("partner {id}"),
            Target::Agreement(id) => format!("agreement {id}"),
        }
    }
}

/// One way a record can point at another: records called `name`, whose id is `id` in `table`,
/// point at a `target` through `column`. Every reference between resources, in one table;
/// foreign keys in both schemas back each one up.
struct Reference {
    target: Kind,
    name: &'static str,
    table: &'static str,
    column: &'static str,
    id: &'static str,
}

impl Reference {
    const fn new(
        target: Kind,
        name: &'static str,
        (table, column, id): (&'static str, &'static str, &'static str),
    ) -> Self {
        Self {
            target,
            name,
            table,
            column,
            id,
        }
    }
}

/// (What is pointed at, what points, (its table, the column that points, the id it is named by)).
const REFERENCES: [Reference; 6] = [
    Reference::new(Kind::Country, "partner", ("partners", "country_code", "id")),
    Reference::new(
        Kind::Country,
        "agreement",
        ("agreement_countries", "country_code", "agreement_id"),
    ),
    Reference::new(Kind::Country, "event", ("events", "country_code", "id")),
    Reference::new(
        Kind::Partner,
        "agreement",
        ("agreement_parties", "partner_id", "agreement_id"),
    ),
    Reference::new(
        Kind::Partner,
        "event",
        ("event_participants", "partner_id", "event_id"),
    ),
    Reference::new(Kind::Agreement, "event", ("events", "agreement_id", "id")),
];

#[derive(QueryableByName)]
struct ReferringId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Up to `NAMED` ids of the records that point at `target` as `reference` says. The SQL is
/// made from the constant table above only; the key is bound.
fn referring_ids(
    conn: &mut DbConnection,
    reference: &Reference,
    target: Target<'_>,
) -> diesel::QueryResult<Vec<i64>> {
    let Reference {
        table, column, id, ..
    } = reference;
    let sql = |placeholder: &str| {
        format!(
            "SELECT {id} AS id FROM {table} WHERE {column} = {placeholder} \
             ORDER BY {id} LIMIT {NAMED}"
        )
    };
    let rows: Vec<ReferringId> = match (conn, target) {
        (DbConnection::Postgres(c), Target::Country(code)) => {
            sql_query(sql("$1")).bind::<Text, _>(code).load(c)?
        }
        (DbConnection::Postgres(c), Target::Partner(key) | Target::Agreement(key)) => {
            sql_query(sql("$1")).bind::<BigInt, _>(key).load(c)?
        }
        (DbConnection::Sqlite(c), Target::Country(code)) => {
            sql_query(sql("?")).bind::<Text, _>(code).load(c)?
        }
        (DbConnection::Sqlite(c), Target::Partner(key) | Target::Agreement(key)) => {
            sql_query(sql("?")).bind::<BigInt, _>(key).load(c)?
        }
    };
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Short descriptions (`partner 3`, `agreement 7`) of records that point at `target`.
pub fn referrers(conn: &mut DbConnection, target: Target<'_>) -> diesel::QueryResult<Vec<String>> {
    let mut found = Vec::new();
    for reference in REFERENCES.iter().filter(|r| r.target == target.kind()) {
        let ids = referring_ids(conn, reference, target)?;
        found.extend(ids.into_iter().map(|id| format!("{} {id}", reference.name)));
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
    let missing = missing_countries(conn, &wanted)?;
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
    let missing = missing_partners(conn, &wanted)?;
    for (field, id) in ids {
        v.check(
            !missing.contains(&id),
            field,
            format!("no partner with id {id}"),
        );
    }
    Ok(())
}

/// Records a rule for each of `ids` that names a partner merged into another: for a create that
/// leaves its other references to the foreign keys, which such a partner still satisfies.
/// (Only merged partners are in the index this reads, so it is a probe of a tiny one.)
pub fn check_partners_not_merged(
    conn: &mut DbConnection,
    v: &mut Validator,
    ids: impl IntoIterator<Item = (String, i64)>,
) -> diesel::QueryResult<()> {
    let ids: Vec<(String, i64)> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let wanted: Vec<i64> = ids.iter().map(|(_, id)| *id).collect();
    let merged: Vec<(i64, Option<i64>)> = crate::on_backend!(conn, |c| partners::table
        .filter(partners::merged_into.is_not_null())
        .filter(partners::id.eq_any(&wanted))
        .select((partners::id, partners::merged_into))
        .load(c))?;
    for (field, id) in ids {
        if let Some((_, Some(target))) = merged.iter().find(|(merged, _)| *merged == id) {
            v.check(
                false,
                field,
                format!("partner {id} was merged into partner {target}"),
            );
        }
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
    let exists = agreement_exists(conn, id)?;
    v.check(exists, field, format!("no agreement with id {id}"));
    Ok(())
}

/// Which of `codes` name no country.
fn missing_countries(conn: &mut DbConnection, codes: &[String]) -> QueryResult<BTreeSet<String>> {
    let found: Vec<String> = crate::on_backend!(conn, |c| countries::table
        .filter(countries::code.eq_any(codes))
        .select(countries::code)
        .load(c))?;
    let found: BTreeSet<String> = found.into_iter().collect();
    Ok(codes
        .iter()
        .filter(|c| !found.contains(*c))
        .cloned()
        .collect())
}

/// Which of `ids` name no partner.
fn missing_partners(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<BTreeSet<i64>> {
    let found: Vec<i64> = crate::on_backend!(conn, |c| partners::table
        .filter(partners::id.eq_any(ids))
        .filter(partners::merged_into.is_null())
        .select(partners::id)
        .load(c))?;
    let found: BTreeSet<i64> = found.into_iter().collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !found.contains(id))
        .collect())
}

/// Whether agreement `id` exists.
fn agreement_exists(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    crate::on_backend!(conn, |c| agreements::table
        .find(id)
        .select(agreements::id)
        .first::<i64>(c)
        .optional())
    .map(|found| found.is_some())
}
