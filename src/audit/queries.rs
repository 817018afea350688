//! Audit queries. `record` runs inside the caller's write transaction, so an entry exists
//! exactly when the write it describes was committed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::model::{AuditAction, AuditEntry, AuditFilter, AuditRow, AuditSort, ResourceType};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::{Cursor, Sort};
use crate::schema::audit_log;
use crate::sorted_page;

/// Records one write: `before` is absent on create, `after` on delete.
pub fn record<T: Serialize>(
    conn: &mut DbConnection,
    actor: &str,
    action: AuditAction,
    resource_type: ResourceType,
    resource_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let write = Write {
        actor,
        action,
        resource_type,
        resource_id,
        batch: None,
    };
    record_write(conn, &write, before, after)
}

/// Who made a write, what it was, and the import it belongs to, if any.
pub struct Write<'a> {
    pub actor: &'a str,
    pub action: AuditAction,
    pub resource_type: ResourceType,
    pub resource_id: &'a str,
    /// The batch id of the import that made it.
    pub batch: Option<&'a str>,
}

/// Records one write, as [`record`] does, with the import it belongs to.
pub fn record_write<T: Serialize>(
    conn: &mut DbConnection,
    write: &Write<'_>,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let Write {
        actor,
        action,
        resource_type,
        resource_id,
        batch,
    } = *write;
    let json = |state: Option<&T>| {
        state
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ApiError::internal("audit state", e))
    };
    let (before, after) = (json(before)?, json(after)?);
    crate::on_backend!(conn, |c| diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(crate::time::now()),
            audit_log::actor.eq(actor),
            audit_log::action.eq(action.as_str()),
            audit_log::resource_type.eq(resource_type.as_str()),
            audit_log::resource_id.eq(resource_id),
            audit_log::before_state.eq(&before),
            audit_log::after_state.eq(&after),
            audit_log::batch_id.eq(batch),
        ))
        .execute(c))?;
    Ok(())
}

/// The audit entries matching a `&AuditFilter`, as a boxed query for the backend it runs on (a
/// macro, expanded for each backend inside `on_backend!`; see there why).
macro_rules! filtered {
    ($filter:expr) => {{
        let filter: &AuditFilter = $filter;
        let mut query = audit_log::table.into_boxed();
        if let Some(kind) = filter.resource_type {
            query = query.filter(audit_log::resource_type.eq(kind.as_str()));
        }
        if let Some(id) = &filter.resource_id {
            query = query.filter(audit_log::resource_id.eq(id.trim().to_owned()));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(audit_log::actor.eq(actor.clone()));
        }
        if let Some(action) = filter.action {
            query = query.filter(audit_log::action.eq(action.as_str()));
        }
        if let Some(batch) = &filter.batch_id {
            query = query.filter(audit_log::batch_id.eq(batch.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(audit_log::at.ge(from.naive_utc()));
        }
        if let Some(to) = filter.to {
            query = query.filter(audit_log::at.le(to.naive_utc()));
        }
        query
    }};
}

/// One page of audit entries after `cursor`, `fetch` rows at most.
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    sort: Sort<AuditSort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<AuditEntry>, ApiError> {
    let rows: Vec<AuditRow> = crate::on_backend!(conn, |c| {
        sorted_page!(
            c,
            filtered!(filter),
            sort,
            cursor,
            AuditRow::as_select(),
            fetch,
            tie: (audit_log::id, i64),
            {
                AuditSort::At => (audit_log::at, NaiveDateTime),
                AuditSort::Id => (audit_log::id, i64) unique,
            }
        )
    });
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}

pub fn count(conn: &mut DbConnection, filter: &AuditFilter) -> QueryResult<i64> {
    crate::on_backend!(conn, |c| filtered!(filter).count().get_result(c))
}
