//! Agreement queries, including its party and country relations. Each takes the caller's
//! connection, so the caller owns the transaction (an agreement and its relations are always
//! written together).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Agreement, AgreementDraft, AgreementFilter, AgreementSort, Party, PartyRole};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::{Cursor, Sort};
use crate::schema::{agreement_countries, agreement_parties, agreements};
use crate::sorted_page;
use crate::sql::JsonList;
use crate::validation::like_pattern;

#[derive(Insertable)]
#[diesel(table_name = agreement_parties)]
struct NewParty {
    agreement_id: i64,
    partner_id: i64,
    #[diesel(serialize_as = String)]
    role: PartyRole,
    position: i32,
}

#[derive(Insertable)]
#[diesel(table_name = agreement_countries)]
struct NewAgreementCountry {
    agreement_id: i64,
    country_code: String,
    position: i32,
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Agreement>> {
    crate::on_backend!(conn, |c| agreements::table
        .find(id)
        .select(Agreement::as_select())
        .get_result(c)
        .optional())
}

/// The id of the first agreement titled exactly `title`.
pub fn id_by_title(conn: &mut DbConnection, title: &str) -> QueryResult<Option<i64>> {
    agreements::table
        .filter(agreements::title.eq(title))
        .select(agreements::id)
        .order_by(agreements::id)
        .first(conn)
        .optional()
}

/// The agreements matching a `&AgreementFilter`, as a boxed query for the backend it runs on (a
/// macro, expanded for each backend inside `on_backend!`; see there why).
macro_rules! filtered {
    ($filter:expr) => {{
        let filter: &AgreementFilter = $filter;
        let mut query = agreements::table.into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(agreements::status.eq(status.as_str()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(agreements::kind.eq(kind.as_str()));
        }
        if let Some(partner) = filter.partner {
            query = query.filter(
                agreements::id.eq_any(
                    agreement_parties::table
                        .filter(agreement_parties::partner_id.eq(partner))
                        .select(agreement_parties::agreement_id),
                ),
            );
        }
        if let Some(country) = &filter.country {
            query = query.filter(
                agreements::id.eq_any(
                    agreement_countries::table
                        .filter(
                            agreement_countries::country_code
                                .eq(country.trim().to_ascii_uppercase()),
                        )
                        .select(agreement_countries::agreement_id),
                ),
            );
        }
        if let Some(from) = filter.signed_from {
            query = query.filter(agreements::signed_on.ge(from));
        }
        if let Some(to) = filter.signed_to {
            query = query.filter(agreements::signed_on.le(to));
        }
        if let Some(day) = filter.active_on {
            query = query.filter(
                agreements::starts_on.le(day).and(
                    agreements::ends_on
                        .ge(day)
                        .or(agreements::ends_on.is_null()),
                ),
            );
        }
        if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
            query = query.filter(agreements::search_text.like(like_pattern(q)).escape('\\'));
        }
        query
    }};
}

/// One page of agreements after `cursor`, `fetch` rows at most, with their relations.
pub fn list(
    conn: &mut DbConnection,
    filter: &AgreementFilter,
    sort: Sort<AgreementSort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<Agreement>, ApiError> {
    let rows: Vec<Agreement> = crate::on_backend!(conn, |c| {
        sorted_page!(
            c,
            filtered!(filter),
            sort,
            cursor,
            Agreement::as_select(),
            fetch,
            tie: (agreements::id, i64),
            {
                AgreementSort::Id => (agreements::id, i64) unique,
                AgreementSort::Title => (agreements::title, String),
                AgreementSort::CreatedAt => (agreements::created_at, NaiveDateTime),
                AgreementSort::UpdatedAt => (agreements::updated_at, NaiveDateTime),
            }
        )
    });
    Ok(rows)
}

pub fn count(conn: &mut DbConnection, filter: &AgreementFilter) -> QueryResult<i64> {
    crate::on_backend!(conn, |c| filtered!(filter).count().get_result(c))
}

/// Stores a new agreement with its relations.
pub fn insert(conn: &mut DbConnection, draft: AgreementDraft) -> QueryResult<Agreement> {
    let now = crate::time::now();
    let (parties, country_codes) = (
        JsonList::text(&draft.parties)?,
        JsonList::text(&draft.country_codes)?,
    );
    let agreement: Agreement =
        crate::on_backend!(conn, |c| diesel::insert_into(agreements::table)
            .values((
                draft.changes,
                agreements::parties.eq(&parties),
                agreements::country_codes.eq(&country_codes),
                agreements::created_at.eq(now),
                agreements::updated_at.eq(now),
                agreements::version.eq(1),
            ))
            .returning(Agreement::as_returning())
            .get_result(c))?;
    insert_relations(conn, agreement.id, draft.parties, draft.country_codes)?;
    Ok(agreement)
}

/// Replaces the agreement if it is still at `current`'s version; `None` when it has moved on.
/// Relations are rewritten only when they changed: a PATCH of a text leaves them alone.
pub fn update(
    conn: &mut DbConnection,
    current: &Agreement,
    draft: AgreementDraft,
) -> QueryResult<Option<Agreement>> {
    let (id, now) = (current.id, crate::time::now());
    let (parties, country_codes) = (
        JsonList::text(&draft.parties)?,
        JsonList::text(&draft.country_codes)?,
    );
    let updated: Option<Agreement> = crate::on_backend!(conn, |c| diesel::update(
        agreements::table
            .find(id)
            .filter(agreements::version.eq(current.version)),
    )
    .set((
        draft.changes,
        agreements::parties.eq(&parties),
        agreements::country_codes.eq(&country_codes),
        agreements::updated_at.eq(now),
        agreements::version.eq(current.version + 1),
    ))
    .returning(Agreement::as_returning())
    .get_result(c)
    .optional())?;
    if updated.is_none() {
        return Ok(None);
    }
    if draft.parties != current.parties {
        diesel::delete(agreement_parties::table.filter(agreement_parties::agreement_id.eq(id)))
            .execute(conn)?;
        insert_relations(conn, id, draft.parties, Vec::new())?;
    }
    if draft.country_codes != current.country_codes {
        diesel::delete(agreement_countries::table.filter(agreement_countries::agreement_id.eq(id)))
            .execute(conn)?;
        insert_relations(conn, id, Vec::new(), draft.country_codes)?;
    }
    Ok(updated)
}

/// Deletes the agreement with its own party and country links.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    delete_relations(conn, id)?;
    diesel::delete(agreements::table.find(id)).execute(conn)
}

fn delete_relations(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    diesel::delete(agreement_parties::table.filter(agreement_parties::agreement_id.eq(id)))
        .execute(conn)?;
    diesel::delete(agreement_countries::table.filter(agreement_countries::agreement_id.eq(id)))
        .execute(conn)?;
    Ok(())
}

fn insert_relations(
    conn: &mut DbConnection,
    id: i64,
    parties: Vec<Party>,
    codes: Vec<String>,
) -> QueryResult<()> {
    if !parties.is_empty() {
        let rows: Vec<NewParty> = (0..)
            .zip(parties)
            .map(|(position, party)| NewParty {
                agreement_id: id,
                partner_id: party.partner_id,
                role: party.role,
                position,
            })
            .collect();
        crate::on_backend!(conn, |c| diesel::insert_into(agreement_parties::table)
            .values(rows)
            .execute(c))?;
    }
    if !codes.is_empty() {
        let rows: Vec<NewAgreementCountry> = (0..)
            .zip(codes)
            .map(|(position, country_code)| NewAgreementCountry {
                agreement_id: id,
                country_code,
                position,
            })
            .collect();
        crate::on_backend!(conn, |c| diesel::insert_into(agreement_countries::table)
            .values(rows)
            .execute(c))?;
    }
    Ok(())
}
