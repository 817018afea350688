//! Who refers to whom, in one place.
//!
//! Writing: a reference to a country, partner or agreement that does not exist is a 422 on the
//! field that holds it. Deleting: a record that others still point at is refused with a 409 that
//! names them. A floor below the resources: it knows their tables, not their modules.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use serde_json::Value;

use crate::audit::ResourceType;
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
    /// Where the referring record's JSON holds it.
    field: Field,
}

/// Where a reference is in a record's JSON.
#[derive(Clone, Copy, Debug)]
enum Field {
    /// A member: `country_code`.
    Member(&'static str),
    /// Each item of a list: `country_codes[0]`.
    Each(&'static str),
    /// A member of each item of a list: `parties[0].partner_id`.
    EachMember(&'static str, &'static str),
}

impl Reference {
    const fn new(
        target: Kind,
        name: &'static str,
        (table, column, id): (&'static str, &'static str, &'static str),
        field: Field,
    ) -> Self {
        Self {
            target,
            name,
            table,
            column,
            id,
            field,
        }
    }

    /// The references of this kind in `record` (a referring record as JSON), each with the
    /// field that holds it.
    fn in_record<'r>(&self, record: &'r Value) -> Vec<(String, Target<'r>)> {
        let target = |value: &'r Value| match self.target {
            Kind::Country => value.as_str().map(Target::Country),
            Kind::Partner => value.as_i64().map(Target::Partner),
            Kind::Agreement => value.as_i64().map(Target::Agreement),
        };
        let items = |list: &str| record[list].as_array().into_iter().flatten().enumerate();
        match self.field {
            Field::Member(name) => target(&record[name])
                .map(|t| (name.to_owned(), t))
                .into_iter()
                .collect(),
            Field::Each(list) => items(list)
                .filter_map(|(i, item)| Some((format!("{list}[{i}]"), target(item)?)))
                .collect(),
            Field::EachMember(list, member) => items(list)
                .filter_map(|(i, item)| {
                    Some((format!("{list}[{i}].{member}"), target(&item[member])?))
                })
                .collect(),
        }
    }

    /// Whether the referring rows are records themselves (a column of `partners` or
    /// `events`), which may be tombstones, rather than relation rows, which tombstones have
    /// none of (`crate::tombstones`).
    fn is_from_records(&self) -> bool {
        self.id == "id"
    }
}

/// (What is pointed at, what points, (its table, the column that points, the id it is named
/// by), where the referring record's JSON has it).
const REFERENCES: [Reference; 6] = [
    Reference::new(
        Kind::Country,
        "partner",
        ("partners", "country_code", "id"),
        Field::Member("country_code"),
    ),
    Reference::new(
        Kind::Country,
        "agreement",
        ("agreement_countries", "country_code", "agreement_id"),
        Field::Each("country_codes"),
    ),
    Reference::new(
        Kind::Country,
        "event",
        ("events", "country_code", "id"),
        Field::Member("country_code"),
    ),
    Reference::new(
        Kind::Partner,
        "agreement",
        ("agreement_parties", "partner_id", "agreement_id"),
        Field::EachMember("parties", "partner_id"),
    ),
    Reference::new(
        Kind::Partner,
        "event",
        ("event_participants", "partner_id", "event_id"),
        Field::EachMember("participants", "partner_id"),
    ),
    Reference::new(
        Kind::Agreement,
        "event",
        ("events", "agreement_id", "id"),
        Field::Member("agreement_id"),
    ),
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
    // A tombstone refers to nothing.
    let live = match reference.is_from_records() {
        true => " AND deleted_at IS NULL",
        false => "",
    };
    let sql = |placeholder: &str| {
        format!(
            "SELECT {id} AS id FROM {table} WHERE {column} = {placeholder}{live} \
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

/// Records a rule for each of `targets` (with the field that holds it) that names a deleted
/// record or a partner merged into another: for a create that leaves its other references to
/// the foreign keys, which such a record still satisfies. One probe by key per kind.
pub fn check_not_gone(
    conn: &mut DbConnection,
    v: &mut Validator,
    targets: &[(String, Target<'_>)],
) -> Result<(), ApiError> {
    let states = states(conn, targets)?;
    for ((field, target), state) in targets.iter().zip(states) {
        match state {
            State::Live | State::Missing => {}
            gone => v.check(false, field.clone(), gone.describe(*target)),
        }
    }
    Ok(())
}

/// Where a record that something refers to is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Live,
    Deleted,
    MergedInto(i64),
    /// Never made, or purged.
    Missing,
}

impl State {
    fn describe(self, target: Target<'_>) -> String {
        let what = target.describe();
        match self {
            State::Live => format!("{what} exists"),
            State::Deleted => format!("{what} is deleted"),
            State::MergedInto(into) => format!("{what} was merged into partner {into}"),
            State::Missing => format!("{what} does not exist (it may have been purged)"),
        }
    }
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Bool)]
    deleted: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    merged_into: Option<i64>,
}

/// The state of each of `targets`, in their order, read in one statement (a create's fast path
/// pays it on every write): one `SELECT` per kind present, made from constant text only, each
/// key bound.
fn states(conn: &mut DbConnection, targets: &[(String, Target<'_>)]) -> QueryResult<Vec<State>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let mut bound = 0;
    let mut placeholders = |count: usize| {
        let marks: Vec<String> = (0..count)
            .map(|_| {
                bound += 1;
                if postgres {
                    format!("${bound}")
                } else {
                    "?".to_owned()
                }
            })
            .collect();
        marks.join(", ")
    };
    let of = |kind: Kind| targets.iter().filter(move |(_, t)| t.kind() == kind);
    let mut selects = Vec::new();
    let mut keys: Vec<Target<'_>> = Vec::new();
    for (kind, select) in [
        (
            Kind::Partner,
            "SELECT 'partner' AS kind, CAST(id AS TEXT) AS key, deleted_at IS NOT NULL AS deleted, \
             merged_into FROM partners WHERE id IN",
        ),
        (
            Kind::Agreement,
            "SELECT 'agreement' AS kind, CAST(id AS TEXT) AS key, deleted_at IS NOT NULL AS deleted, \
             CAST(NULL AS BIGINT) AS merged_into FROM agreements WHERE id IN",
        ),
        (
            Kind::Country,
            "SELECT 'country' AS kind, code AS key, deleted_at IS NOT NULL AS deleted, \
             CAST(NULL AS BIGINT) AS merged_into FROM countries WHERE code IN",
        ),
    ] {
        let wanted: Vec<Target<'_>> = of(kind).map(|(_, t)| *t).collect();
        if !wanted.is_empty() {
            selects.push(format!("{select} ({})", placeholders(wanted.len())));
            keys.extend(wanted);
        }
    }
    let sql = selects.join(" UNION ALL ");
    let found: Vec<Found> = match conn {
        DbConnection::Postgres(c) => bind_keys(sql_query(sql).into_boxed(), &keys).load(c)?,
        DbConnection::Sqlite(c) => bind_keys(sql_query(sql).into_boxed(), &keys).load(c)?,
    };
    let state_of = |target: &Target<'_>| {
        let (kind, key) = match target {
            Target::Partner(id) => ("partner", id.to_string()),
            Target::Agreement(id) => ("agreement", id.to_string()),
            Target::Country(code) => ("country", (*code).to_owned()),
        };
        match found.iter().find(|f| f.kind == kind && f.key == key) {
            None => State::Missing,
            Some(Found {
                merged_into: Some(into),
                ..
            }) => State::MergedInto(*into),
            Some(Found { deleted: true, .. }) => State::Deleted,
            Some(_) => State::Live,
        }
    };
    Ok(targets.iter().map(|(_, target)| state_of(target)).collect())
}

/// `query` with each key bound in order: ids as integers, codes as text.
fn bind_keys<'q, DB>(
    mut query: diesel::query_builder::BoxedSqlQuery<'q, DB, diesel::query_builder::SqlQuery>,
    keys: &[Target<'q>],
) -> diesel::query_builder::BoxedSqlQuery<'q, DB, diesel::query_builder::SqlQuery>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Text>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    str: diesel::serialize::ToSql<Text, DB>,
{
    for key in keys {
        query = match *key {
            Target::Partner(id) | Target::Agreement(id) => query.bind::<BigInt, _>(id),
            Target::Country(code) => query.bind::<Text, _>(code),
        };
    }
    query
}

/// What a record of `kind`, as JSON, refers to, with the field that holds each reference.
fn targets_of(kind: ResourceType, record: &Value) -> Vec<(String, Target<'_>)> {
    REFERENCES
        .iter()
        .filter(|reference| reference.name == kind.as_str())
        .flat_map(|reference| reference.in_record(record))
        .collect()
}

/// Fails with 409 naming each record that `record` (of `kind`, as JSON) refers to and that is
/// no longer live: a restore cannot bring back a reference to a deleted, merged or purged one.
pub fn ensure_restorable(
    conn: &mut DbConnection,
    kind: ResourceType,
    record: &Value,
) -> Result<(), ApiError> {
    let targets = targets_of(kind, record);
    let states = states(conn, &targets)?;
    let gone: Vec<String> = targets
        .iter()
        .zip(states)
        .filter(|(_, state)| *state != State::Live)
        .map(|((field, target), state)| format!("{field}: {}", state.describe(*target)))
        .collect();
    if gone.is_empty() {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "cannot restore {} {}: {}; restore or change those first",
        kind.as_str(),
        record["id"].as_i64().map_or_else(
            || record["code"].as_str().unwrap_or_default().to_owned(),
            |id| id.to_string()
        ),
        gone.join("; ")
    )))
}

/// Before `target` is purged: tombstones that refer to it through a column of their own let
/// go of it (a restore of one is then refused, from its delete's audit entry), and a partner
/// that others were merged into, whose redirects would lead nowhere, is refused with 409.
pub fn release(conn: &mut DbConnection, target: Target<'_>) -> Result<(), ApiError> {
    if let Target::Partner(id) = target {
        let merged: Vec<i64> = crate::on_backend!(conn, |c| partners::table
            .filter(partners::merged_into.eq(id))
            .select(partners::id)
            .order_by(partners::id)
            .limit(NAMED)
            .load(c))?;
        if !merged.is_empty() {
            let merged: Vec<String> = merged.iter().map(|id| format!("partner {id}")).collect();
            return Err(ApiError::Conflict(format!(
                "{} cannot be purged: {} merged into it and redirect to it",
                target.describe(),
                merged.join(", ")
            )));
        }
    }
    let columns = REFERENCES
        .iter()
        .filter(|r| r.target == target.kind() && r.is_from_records());
    for reference in columns {
        let Reference { table, column, .. } = reference;
        let sql = |placeholder: &str| {
            format!(
                "UPDATE {table} SET {column} = NULL \
                 WHERE {column} = {placeholder} AND deleted_at IS NOT NULL"
            )
        };
        match (&mut *conn, target) {
            (DbConnection::Postgres(c), Target::Country(code)) => {
                sql_query(sql("$1")).bind::<Text, _>(code).execute(c)?
            }
            (DbConnection::Postgres(c), Target::Partner(key) | Target::Agreement(key)) => {
                sql_query(sql("$1")).bind::<BigInt, _>(key).execute(c)?
            }
            (DbConnection::Sqlite(c), Target::Country(code)) => {
                sql_query(sql("?")).bind::<Text, _>(code).execute(c)?
            }
            (DbConnection::Sqlite(c), Target::Partner(key) | Target::Agreement(key)) => {
                sql_query(sql("?")).bind::<BigInt, _>(key).execute(c)?
            }
        };
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
        .filter(countries::deleted_at.is_null())
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
        .filter(partners::deleted_at.is_null())
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
        .filter(agreements::deleted_at.is_null())
        .select(agreements::id)
        .first::<i64>(c)
        .optional())
    .map(|found| found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(targets: Vec<(String, Target<'_>)>) -> Vec<String> {
        targets
            .into_iter()
            .map(|(field, target)| format!("{field}: {}", target.describe()))
            .collect()
    }

    #[test]
    fn a_record_refers_to_what_its_fields_name() {
        let event = serde_json::json!({
            "id": 3, "country_code": "KZ", "agreement_id": 7,
            "participants": [{"partner_id": 1, "role": "host"}, {"partner_id": 2, "role": "speaker"}]
        });
        assert_eq!(
            described(targets_of(ResourceType::Event, &event)),
            [
                "country_code: country KZ",
                "participants[0].partner_id: partner 1",
                "participants[1].partner_id: partner 2",
                "agreement_id: agreement 7",
            ]
        );
        let agreement = serde_json::json!({
            "id": 7, "country_codes": ["KZ", "KG"], "parties": [{"partner_id": 5}]
        });
        assert_eq!(
            described(targets_of(ResourceType::Agreement, &agreement)),
            [
                "country_codes[0]: country KZ",
                "country_codes[1]: country KG",
                "parties[0].partner_id: partner 5",
            ]
        );
        // Nulls and absent lists refer to nothing; a country refers to nothing at all.
        let partner = serde_json::json!({"id": 5, "country_code": null});
        assert!(targets_of(ResourceType::Partner, &partner).is_empty());
        let bare = serde_json::json!({"id": 4, "country_code": null, "agreement_id": null});
        assert!(targets_of(ResourceType::Event, &bare).is_empty());
        assert!(targets_of(ResourceType::Country, &serde_json::json!({"code": "KZ"})).is_empty());
    }
}
