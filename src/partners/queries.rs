//! Partner queries. Each takes the caller's connection, so the caller owns the transaction.

use diesel::prelude::*;

use super::identifiers::{IdentifierFilter, PartnerIdentifiers};
use super::model::{Partner, PartnerChanges, PartnerFilter};
use crate::db::DbConnection;
use crate::pagination::Rows;
use crate::relation::{self, Relation};
use crate::schema::{partner_identifiers, partners};
use crate::sql::JsonList;

/// The partner `id`, unless it is gone (merged into another, or deleted).
pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Partner>> {
    crate::on_backend!(conn, |c| partners::table
        .find(id)
        .filter(partners::merged_into.is_null())
        .filter(partners::deleted_at.is_null())
        .select(Partner::as_select())
        .get_result(c)
        .optional())
}

/// The tombstone of the partner `id`, if it was deleted (and not purged).
pub fn find_deleted(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Partner>> {
    partners::table
        .find(id)
        .filter(partners::deleted_at.is_not_null())
        .select(Partner::as_select())
        .get_result(conn)
        .optional()
}

/// The partners with these keys, in one statement (for `include=`).
pub fn find_many(conn: &mut DbConnection, keys: &[i64]) -> QueryResult<Vec<Partner>> {
    crate::on_backend!(conn, |c| partners::table
        .filter(partners::id.eq_any(keys))
        .filter(partners::merged_into.is_null())
        .select(Partner::as_select())
        .load(c))
}

/// The id of another partner whose name equals `name_key` ignoring case, if any.
pub fn name_owner(
    conn: &mut DbConnection,
    name_key: &str,
    except: Option<i64>,
) -> QueryResult<Option<i64>> {
    partners::table
        .filter(partners::name_key.eq(name_key))
        .filter(partners::id.ne(except.unwrap_or(0)))
        .select(partners::id)
        .first(conn)
        .optional()
}

/// The partners `filter` selects.
pub fn matching(filter: &PartnerFilter) -> Rows<partners::table> {
    let mut query = partners::table
        .into_boxed()
        .filter(partners::merged_into.is_null());
    if filter.include_deleted != Some(true) {
        query = query.filter(partners::deleted_at.is_null());
    }
    if let Some(kind) = &filter.kind {
        query = crate::filter::any_of(query, partners::kind, kind.to_vec());
    }
    if let Some(country) = &filter.country {
        query = crate::filter::any_of(query, partners::country_code, country.country_codes());
    }
    if let Some(IdentifierFilter(identifier)) = &filter.identifier {
        query = query.filter(
            partners::id.eq_any(
                partner_identifiers::table
                    .filter(partner_identifiers::scheme.eq(identifier.scheme.clone()))
                    .filter(partner_identifiers::value.eq(identifier.value.clone()))
                    .select(partner_identifiers::partner_id),
            ),
        );
    }
    if let Some(q) = filter
        .q
        .as_ref()
        .and_then(|q| crate::search::filter(&crate::search::PARTNERS, q))
    {
        query = query.filter(q);
    }
    crate::filter::updated_between(
        filter.updated_after,
        filter.updated_before,
        query,
        partners::updated_at,
    )
}

/// Stores a new partner with its identifiers.
pub fn insert(conn: &mut DbConnection, mut changes: PartnerChanges) -> QueryResult<Partner> {
    let now = crate::sql::database_now();
    let list = std::mem::take(&mut changes.fields.identifiers);
    let translations = changes.fields.translations.text()?;
    let id: i64 = diesel::insert_into(partners::table)
        .values((
            changes,
            partners::identifiers.eq(JsonList::text(&list)?),
            partners::translations.eq(translations),
            partners::created_at.eq(now),
            partners::updated_at.eq(now),
            partners::version.eq(1),
        ))
        .returning(partners::id)
        .get_result(conn)?;
    relation::write::<PartnerIdentifiers>(conn, id, None, &list)?;
    partners::table
        .find(id)
        .select(Partner::as_select())
        .first(conn)
}

/// Stores `changes` if the partner is still at `current`'s version; `None` when it has moved on.
pub fn update(
    conn: &mut DbConnection,
    current: &Partner,
    mut changes: PartnerChanges,
) -> QueryResult<Option<Partner>> {
    let (id, version) = (current.id, current.version);
    let list = std::mem::take(&mut changes.fields.identifiers);
    let translations = changes.fields.translations.text()?;
    let updated = diesel::update(
        partners::table
            .find(id)
            .filter(partners::version.eq(version)),
    )
    .set((
        changes,
        partners::identifiers.eq(JsonList::text(&list)?),
        partners::translations.eq(translations),
        partners::updated_at.eq(crate::sql::database_now()),
        partners::version.eq(version + 1),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    relation::write::<PartnerIdentifiers>(conn, id, Some(&current.identifiers), &list)?;
    find(conn, id)
}

/// The partner that partner `id` was merged into, if it was.
pub fn merged_into(conn: &mut DbConnection, id: i64) -> QueryResult<Option<i64>> {
    let target: Option<Option<i64>> = partners::table
        .find(id)
        .select(partners::merged_into)
        .first(conn)
        .optional()?;
    Ok(target.flatten())
}

/// A tombstone holds no identifier rows and no name (`deleted`), so that another partner may
/// take them; a restore takes them back (the caller checks first that nobody holds them).
pub fn keep_relations(
    conn: &mut DbConnection,
    partner: &Partner,
    deleted: bool,
) -> QueryResult<()> {
    let id = partner.id;
    let name_key = match deleted {
        true => format!("\u{1}deleted {id}"),
        false => partner.name.to_lowercase(),
    };
    diesel::update(partners::table.find(id))
        .set(partners::name_key.eq(name_key))
        .execute(conn)?;
    match deleted {
        true => PartnerIdentifiers::clear(conn, id),
        false => relation::write::<PartnerIdentifiers>(conn, id, None, &partner.identifiers),
    }
}

/// Removes the partner with its identifiers, for good.
pub fn purge(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    PartnerIdentifiers::clear(conn, id)?;
    diesel::delete(partners::table.find(id)).execute(conn)
}
