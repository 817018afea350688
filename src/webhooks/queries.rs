//! Webhook queries: the outbox written in each change's transaction, the admins' reads and
//! writes, and what the delivery worker claims and records. Each takes the caller's
//! connection, so the caller owns the transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    DeliveryRow, DeliveryStatus, WebhookChanges, WebhookPayload, WebhookRow, event_type, wants,
};
use crate::audit::{AuditAction, ResourceType};
use crate::changes::Change;
use crate::changes::model::ChangeRow;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::schema::{webhook_deliveries, webhooks};

/// The active webhooks that want `event`: one small query on `webhooks_active_idx` per write
/// (and nothing more when there are none).
pub fn subscribers(conn: &mut DbConnection, event: &str) -> QueryResult<Vec<i64>> {
    let active: Vec<(i64, String)> = crate::on_backend!(conn, |c| webhooks::table
        .filter(webhooks::active.eq(true))
        .select((webhooks::id, webhooks::event_types))
        .load(c))?;
    Ok(active
        .into_iter()
        .filter(|(_, wanted)| wants(wanted, event))
        .map(|(id, _)| id)
        .collect())
}

/// The change an audit entry records, as the outbox needs it.
pub struct Recorded<'a> {
    pub audit_id: i64,
    pub at: NaiveDateTime,
    pub action: AuditAction,
    pub resource_type: ResourceType,
    pub resource_id: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Writes one delivery of the change to each of `hooks`, in the change's transaction (the
/// outbox): the change and its deliveries are committed together or not at all.
pub fn enqueue(
    conn: &mut DbConnection,
    hooks: &[i64],
    event: &str,
    change: Recorded<'_>,
) -> Result<(), ApiError> {
    let at = change.at;
    let change = Change::from_row(
        ChangeRow {
            id: change.audit_id,
            txid: 0,
            at,
            actor: String::new(),
            action: change.action,
            resource_type: change.resource_type,
            resource_id: change.resource_id.to_owned(),
            before_state: change.before,
            after_state: change.after,
        },
        false,
    )?;
    let seq = change.seq;
    let payload = serde_json::to_string(&WebhookPayload {
        kind: event.to_owned(),
        timestamp: at,
        data: change,
    })
    .map_err(|e| ApiError::internal("a webhook payload", e))?;
    let rows: Vec<_> = hooks
        .iter()
        .map(|hook| {
            (
                webhook_deliveries::webhook_id.eq(*hook),
                webhook_deliveries::audit_id.eq(seq),
                webhook_deliveries::event_type.eq(event),
                webhook_deliveries::payload.eq(&payload),
                webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(Some(at)),
                webhook_deliveries::created_at.eq(at),
                webhook_deliveries::updated_at.eq(at),
            )
        })
        .collect();
    crate::on_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
        .values(rows)
        .execute(c))?;
    crate::db::wake_after_commit();
    Ok(())
}

/// The event type of a change, for `audit::record_write`.
pub fn event_of(resource: ResourceType, action: AuditAction) -> String {
    event_type(resource, action)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()
}

/// Webhooks after `after` by id, `limit` at most (one more to tell if a page follows).
pub fn list(
    conn: &mut DbConnection,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table
        .filter(webhooks::id.gt(after.unwrap_or(0)))
        .order(webhooks::id.asc())
        .limit(limit)
        .select(WebhookRow::as_select())
        .load(conn)
}

pub fn insert(
    conn: &mut DbConnection,
    changes: WebhookChanges,
    secret: &str,
) -> QueryResult<WebhookRow> {
    let now = crate::time::now();
    let id: i64 = diesel::insert_into(webhooks::table)
        .values((
            webhooks::url.eq(changes.url),
            webhooks::event_types.eq(changes.event_types),
            webhooks::active.eq(changes.active),
            webhooks::description.eq(changes.description),
            webhooks::secret.eq(secret),
            webhooks::created_at.eq(now),
            webhooks::updated_at.eq(now),
            webhooks::version.eq(1),
        ))
        .returning(webhooks::id)
        .get_result(conn)?;
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
}

/// Stores `changes` if the webhook is still at `version`; `None` when it has moved on.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    version: i64,
    changes: WebhookChanges,
) -> QueryResult<Option<WebhookRow>> {
    let updated = diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::version.eq(version)),
    )
    .set((
        webhooks::url.eq(changes.url),
        webhooks::event_types.eq(changes.event_types),
        webhooks::active.eq(changes.active),
        webhooks::description.eq(changes.description),
        webhooks::updated_at.eq(crate::time::now()),
        webhooks::version.eq(version + 1),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find(conn, id)
}

/// A new signing key; `None` when there is no such webhook.
pub fn set_secret(
    conn: &mut DbConnection,
    id: i64,
    secret: &str,
) -> QueryResult<Option<WebhookRow>> {
    let updated = diesel::update(webhooks::table.find(id))
        .set((
            webhooks::secret.eq(secret),
            webhooks::updated_at.eq(crate::time::now()),
            webhooks::version.eq(webhooks::version + 1),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find(conn, id)
}

/// Deletes the webhook and its deliveries.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhooks::table.find(id)).execute(conn)
}

/// A webhook's deliveries before `before` by id (newest first), `limit` at most.
pub fn deliveries(
    conn: &mut DbConnection,
    webhook: i64,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    query
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)
}

pub fn find_delivery(
    conn: &mut DbConnection,
    webhook: i64,
    id: i64,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// Makes a delivery pending and due now, whatever its state; and so that it goes at once
/// without leaving feed order, the webhook's pending deliveries before it are due now too.
pub fn retry_now(conn: &mut DbConnection, webhook: i64, id: i64) -> QueryResult<usize> {
    let now = crate::time::now();
    let txid: i64 = webhook_deliveries::table
        .find(id)
        .select(webhook_deliveries::txid)
        .first(conn)?;
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(
                webhook_deliveries::txid
                    .lt(txid)
                    .or(webhook_deliveries::txid
                        .eq(txid)
                        .and(webhook_deliveries::id.lt(id))),
            ),
    )
    .set(webhook_deliveries::next_attempt_at.eq(Some(now)))
    .execute(conn)?;
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(Some(now)),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(conn)
}

// What the delivery worker reads and writes.

/// The active webhooks nobody holds a lease on.
pub fn unleased(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    webhooks::table
        .filter(webhooks::active.eq(true))
        .filter(
            webhooks::lease_until
                .is_null()
                .or(webhooks::lease_until.lt(now)),
        )
        .order(webhooks::id.asc())
        .select(webhooks::id)
        .load(conn)
}

/// A webhook's first pending delivery in feed order, among those written by transactions up
/// to `txid` (PostgreSQL: all ended; see `changes::queries::readable_to`).
pub fn head(conn: &mut DbConnection, webhook: i64, txid: i64) -> QueryResult<Option<HeadDelivery>> {
    Ok(heads(conn, webhook, txid, 1)?.pop())
}

/// A webhook's first `limit` pending deliveries in feed order, as [`head`].
pub fn heads(
    conn: &mut DbConnection,
    webhook: i64,
    txid: i64,
    limit: i64,
) -> QueryResult<Vec<HeadDelivery>> {
    crate::on_backend!(conn, |c| webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::txid.le(txid))
        .order((webhook_deliveries::txid.asc(), webhook_deliveries::id.asc()))
        .limit(limit)
        .select(HeadDelivery::as_select())
        .load(c))
}

/// The first pending delivery of a webhook, with what sending it takes.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct HeadDelivery {
    pub id: i64,
    pub payload: String,
    pub attempts: i32,
    #[diesel(deserialize_as = crate::time::StoredOptionalTimestamp)]
    pub next_attempt_at: Option<NaiveDateTime>,
}

impl HeadDelivery {
    pub fn due(&self, now: NaiveDateTime) -> bool {
        self.next_attempt_at.is_none_or(|at| at <= now)
    }
}

/// Takes the lease on `webhook` for `owner` until `until`, if it is active and nobody holds
/// one. PostgreSQL locks the row first (`FOR UPDATE SKIP LOCKED`): an instance claiming it at
/// the same moment skips it instead of waiting. SQLite has one writer at a time.
pub fn claim(
    conn: &mut DbConnection,
    webhook: i64,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let free = || {
        webhooks::lease_until
            .is_null()
            .or(webhooks::lease_until.lt(now))
    };
    if let DbConnection::Postgres(pg) = conn {
        let locked: Option<i64> = webhooks::table
            .filter(webhooks::id.eq(webhook))
            .filter(webhooks::active.eq(true))
            .filter(free())
            .select(webhooks::id)
            .for_update()
            .skip_locked()
            .first(pg)
            .optional()?;
        if locked.is_none() {
            return Ok(false);
        }
    }
    let taken = diesel::update(
        webhooks::table
            .filter(webhooks::id.eq(webhook))
            .filter(webhooks::active.eq(true))
            .filter(free()),
    )
    .set((
        webhooks::lease_owner.eq(owner),
        webhooks::lease_until.eq(until),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives the lease back, if `owner` still holds it.
pub fn release(conn: &mut DbConnection, webhook: i64, owner: &str) -> QueryResult<usize> {
    diesel::update(
        webhooks::table
            .filter(webhooks::id.eq(webhook))
            .filter(webhooks::lease_owner.eq(owner)),
    )
    .set((
        webhooks::lease_owner.eq(None::<String>),
        webhooks::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}

/// The webhook as the worker needs it, if `owner` holds its lease and it is active.
pub fn leased(
    conn: &mut DbConnection,
    webhook: i64,
    owner: &str,
) -> QueryResult<Option<(String, String)>> {
    webhooks::table
        .filter(webhooks::id.eq(webhook))
        .filter(webhooks::active.eq(true))
        .filter(webhooks::lease_owner.eq(owner))
        .select((webhooks::url, webhooks::secret))
        .first(conn)
        .optional()
}

/// What one attempt came to, as it is stored.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    /// The delivery attempted.
    pub delivery: i64,
    /// When the attempt was made.
    pub at: NaiveDateTime,
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// The receiver answered 410: the webhook is made inactive.
    pub disable: bool,
}

/// Stores the outcomes of a run of attempts to `webhook`, in one write, and extends `owner`'s
/// lease to `until`.
pub fn record_attempts(
    conn: &mut DbConnection,
    webhook: i64,
    owner: &str,
    records: &[AttemptRecord],
    until: NaiveDateTime,
) -> QueryResult<()> {
    let now = crate::time::now();
    for record in records {
        crate::on_backend!(conn, |c| diesel::update(
            webhook_deliveries::table.find(record.delivery)
        )
        .set((
            webhook_deliveries::status.eq(record.status.as_str()),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::next_attempt_at.eq(record.next_attempt_at),
            webhook_deliveries::last_attempt_at.eq(Some(record.at)),
            webhook_deliveries::last_status_code.eq(record.status_code),
            webhook_deliveries::last_error.eq(record.error.as_deref()),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(c))?;
    }
    if records.iter().any(|record| record.disable) {
        diesel::update(webhooks::table.find(webhook))
            .set((
                webhooks::active.eq(false),
                webhooks::updated_at.eq(now),
                webhooks::version.eq(webhooks::version + 1),
            ))
            .execute(conn)?;
    }
    crate::on_backend!(conn, |c| diesel::update(
        webhooks::table
            .filter(webhooks::id.eq(webhook))
            .filter(webhooks::lease_owner.eq(owner)),
    )
    .set(webhooks::lease_until.eq(until))
    .execute(c))?;
    Ok(())
}
