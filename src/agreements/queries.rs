//! Agreement queries, including its party and country relations. Each takes the caller's
//! connection, so the caller owns the transaction (an agreement and its relations are always
//! written together).

use chrono::NaiveDate;
use diesel::prelude::*;

use super::model::{Agreement, AgreementChanges, AgreementFilter, Party, PartyRole};
use crate::db::DbConnection;
use crate::pagination::Rows;
use crate::relation::{self, Relation};
use crate::schema::{agreement_countries, agreement_parties, agreements, partners};
use crate::sql::JsonList;

#[derive(Insertable)]
#[diesel(table_name = agreement_parties)]
struct NewParty {
    agreement_id: i64,
    partner_id: i64,
    role: PartyRole,
    position: i32,
    signed_on: Option<NaiveDate>,
    entered_into_force_on: Option<NaiveDate>,
    withdrew_on: Option<NaiveDate>,
}

#[derive(Insertable)]
#[diesel(table_name = agreement_countries)]
struct NewAgreementCountry {
    agreement_id: i64,
    country_code: String,
    position: i32,
}

/// The agreement `id`, unless it was deleted.
pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Agreement>> {
    crate::on_backend!(conn, |c| agreements::table
        .find(id)
        .filter(agreements::deleted_at.is_null())
        .select(Agreement::as_select())
        .get_result(c)
        .optional())
}

/// The tombstone of the agreement `id`, if it was deleted (and not purged).
pub fn find_deleted(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Agreement>> {
    agreements::table
        .find(id)
        .filter(agreements::deleted_at.is_not_null())
        .select(Agreement::as_select())
        .get_result(conn)
        .optional()
}

/// The agreements with these keys, in one statement (for `include=`).
pub fn find_many(conn: &mut DbConnection, keys: &[i64]) -> QueryResult<Vec<Agreement>> {
    crate::on_backend!(conn, |c| agreements::table
        .filter(agreements::id.eq_any(keys))
        .select(Agreement::as_select())
        .load(c))
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

/// The agreements `filter` selects.
pub fn matching(filter: &AgreementFilter) -> Rows<agreements::table> {
    let mut query = agreements::table.into_boxed();
    if filter.include_deleted != Some(true) {
        query = query.filter(agreements::deleted_at.is_null());
    }
    if let Some(status) = &filter.status {
        query = crate::filter::any_of(query, agreements::status, status.to_vec());
    }
    if let Some(kind) = &filter.kind {
        query = crate::filter::any_of(query, agreements::kind, kind.to_vec());
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
                    .filter(agreement_countries::country_code.eq_any(country.country_codes()))
                    .select(agreement_countries::agreement_id),
            ),
        );
    }
    if let Some(kind) = &filter.partner_kind {
        query = query.filter(
            agreements::id.eq_any(
                agreement_parties::table
                    .filter(
                        agreement_parties::partner_id.eq_any(
                            partners::table
                                .filter(partners::kind.eq_any(kind.to_vec()))
                                .select(partners::id),
                        ),
                    )
                    .select(agreement_parties::agreement_id),
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
    if let Some(day) = filter.party_active_on {
        let in_force = agreement_parties::table
            .filter(agreement_parties::entered_into_force_on.le(day))
            .filter(
                agreement_parties::withdrew_on
                    .gt(day)
                    .or(agreement_parties::withdrew_on.is_null()),
            );
        query = match filter.partner {
            Some(partner) => query.filter(
                agreements::id.eq_any(
                    in_force
                        .filter(agreement_parties::partner_id.eq(partner))
                        .select(agreement_parties::agreement_id),
                ),
            ),
            None => query
                .filter(agreements::id.eq_any(in_force.select(agreement_parties::agreement_id))),
        };
        query = query.filter(
            agreements::expires_on
                .ge(day)
                .or(agreements::expires_on.is_null()),
        );
    }
    if let Some(q) = filter
        .q
        .as_ref()
        .and_then(|q| crate::search::filter(&crate::search::AGREEMENTS, q))
    {
        query = query.filter(q);
    }
    crate::filter::updated_between(
        filter.updated_after,
        filter.updated_before,
        query,
        agreements::updated_at,
    )
}

/// Stores a new agreement with its relations.
pub fn insert(conn: &mut DbConnection, mut draft: AgreementChanges) -> QueryResult<Agreement> {
    let now = crate::sql::database_now();
    let party_list = std::mem::take(&mut draft.fields.parties);
    let code_list = std::mem::take(&mut draft.fields.country_codes);
    let (parties, country_codes) = (JsonList::text(&party_list)?, JsonList::text(&code_list)?);
    let documents = JsonList::text(&std::mem::take(&mut draft.fields.documents))?;
    let translations = draft.fields.translations.text()?;
    let agreement: Agreement =
        crate::on_backend!(conn, |c| diesel::insert_into(agreements::table)
            .values((
                draft,
                agreements::parties.eq(&parties),
                agreements::country_codes.eq(&country_codes),
                agreements::documents.eq(&documents),
                agreements::translations.eq(&translations),
                agreements::created_at.eq(now),
                agreements::updated_at.eq(now),
                agreements::version.eq(1),
            ))
            .returning(Agreement::as_returning())
            .get_result(c))?;
    relation::write::<Parties>(conn, agreement.id, None, &party_list)?;
    relation::write::<CoveredCountries>(conn, agreement.id, None, &code_list)?;
    Ok(agreement)
}

/// Replaces the agreement if it is still at `current`'s version; `None` when it has moved on.
pub fn update(
    conn: &mut DbConnection,
    current: &Agreement,
    mut draft: AgreementChanges,
) -> QueryResult<Option<Agreement>> {
    let (id, now) = (current.id, crate::sql::database_now());
    let party_list = std::mem::take(&mut draft.fields.parties);
    let code_list = std::mem::take(&mut draft.fields.country_codes);
    let (parties, country_codes) = (JsonList::text(&party_list)?, JsonList::text(&code_list)?);
    let documents = JsonList::text(&std::mem::take(&mut draft.fields.documents))?;
    let translations = draft.fields.translations.text()?;
    let updated: Option<Agreement> = crate::on_backend!(conn, |c| diesel::update(
        agreements::table
            .find(id)
            .filter(agreements::version.eq(current.version)),
    )
    .set((
        draft,
        agreements::parties.eq(&parties),
        agreements::country_codes.eq(&country_codes),
        agreements::documents.eq(&documents),
        agreements::translations.eq(&translations),
        agreements::updated_at.eq(now),
        agreements::version.eq(current.version + 1),
    ))
    .returning(Agreement::as_returning())
    .get_result(c)
    .optional())?;
    if updated.is_some() {
        relation::write::<Parties>(conn, id, Some(&current.parties), &party_list)?;
        let before = Some(current.country_codes.as_slice());
        relation::write::<CoveredCountries>(conn, id, before, &code_list)?;
    }
    Ok(updated)
}

/// A tombstone keeps no party or country rows (`deleted`); a restore writes them back from its
/// lists.
pub fn keep_relations(
    conn: &mut DbConnection,
    agreement: &Agreement,
    deleted: bool,
) -> QueryResult<()> {
    let id = agreement.id;
    if deleted {
        Parties::clear(conn, id)?;
        return CoveredCountries::clear(conn, id);
    }
    relation::write::<Parties>(conn, id, None, &agreement.parties)?;
    relation::write::<CoveredCountries>(conn, id, None, &agreement.country_codes)
}

/// Removes the agreement with its own party and country links, for good.
pub fn purge(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    Parties::clear(conn, id)?;
    CoveredCountries::clear(conn, id)?;
    diesel::delete(agreements::table.find(id)).execute(conn)
}

/// The partners party to agreements, as rows.
struct Parties;

impl Relation for Parties {
    type Item = Party;

    fn clear(conn: &mut DbConnection, agreement: i64) -> QueryResult<()> {
        diesel::delete(
            agreement_parties::table.filter(agreement_parties::agreement_id.eq(agreement)),
        )
        .execute(conn)?;
        Ok(())
    }

    fn add(conn: &mut DbConnection, agreement: i64, parties: &[Party]) -> QueryResult<()> {
        let rows: Vec<NewParty> = (0..)
            .zip(parties)
            .map(|(position, party)| NewParty {
                agreement_id: agreement,
                partner_id: party.partner_id,
                role: party.role,
                position,
                signed_on: party.signed_on,
                entered_into_force_on: party.entered_into_force_on,
                withdrew_on: party.withdrew_on,
            })
            .collect();
        crate::on_backend!(conn, |c| diesel::insert_into(agreement_parties::table)
            .values(rows)
            .execute(c))?;
        Ok(())
    }
}

/// The countries agreements cover, as rows.
struct CoveredCountries;

impl Relation for CoveredCountries {
    type Item = String;

    fn clear(conn: &mut DbConnection, agreement: i64) -> QueryResult<()> {
        diesel::delete(
            agreement_countries::table.filter(agreement_countries::agreement_id.eq(agreement)),
        )
        .execute(conn)?;
        Ok(())
    }

    fn add(conn: &mut DbConnection, agreement: i64, codes: &[String]) -> QueryResult<()> {
        let rows: Vec<NewAgreementCountry> = (0..)
            .zip(codes)
            .map(|(position, country_code)| NewAgreementCountry {
                agreement_id: agreement,
                country_code: country_code.clone(),
                position,
            })
            .collect();
        crate::on_backend!(conn, |c| diesel::insert_into(agreement_countries::table)
            .values(rows)
            .execute(c))?;
        Ok(())
    }
}
