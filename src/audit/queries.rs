//! Audit queries. `record` runs inside the caller's write transaction, so an entry exists
//! exactly when the write it describes was committed; so do the webhook deliveries of that
//! write (the outbox, see `webhooks::queries::enqueue`).

use diesel::prelude::*;
use serde::Serialize;

use super::model::{AuditAction, AuditFilter, ResourceType};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::Rows;
use crate::schema::audit_log;

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
    let row = (
        audit_log::at.eq(crate::sql::database_now()),
        audit_log::actor.eq(actor),
        audit_log::action.eq(action.as_str()),
        audit_log::resource_type.eq(resource_type.as_str()),
        audit_log::resource_id.eq(resource_id),
        audit_log::before_state.eq(&before),
        audit_log::after_state.eq(&after),
        audit_log::batch_id.eq(batch),
    );
    let (audit_id, at): (i64, chrono::NaiveDateTime) =
        crate::on_backend!(conn, |c| diesel::insert_into(audit_log::table)
            .values(row)
            .returning((audit_log::id, audit_log::at))
            .get_result(c))?;
    // The outbox: one delivery per active webhook that wants this event, in this transaction.
    let event = crate::webhooks::queries::event_of(resource_type, action);
    crate::webhooks::queries::enqueue(conn, &event, audit_id, at)?;
    Ok(())
}

/// The audit entries `filter` selects.
pub fn matching(filter: &AuditFilter) -> Rows<audit_log::table> {
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
}
