//! Webhook queries: the outbox written in each change's transaction, the admins' reads and
//! writes, and what the delivery worker claims and records. Each takes the caller's
//! connection, so the caller owns the transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    DeliveryRow, DeliveryStatus, WebhookChanges, WebhookRow, event_type, payload, wanted_patterns,
};
use crate::audit::{AuditAction, ResourceType};
use crate::changes::model::ChangeRow;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::schema::{audit_log, webhook_deliveries, webhooks};

/// Writes one delivery of the change recorded as audit entry `audit_id` to each active
/// webhook that wants `event`, in the change's transaction (the outbox): the change and its
/// deliveries are committed together or not at all. One `INSERT … SELECT`, which writes
/// nothing when no webhook wants it; the body is made from the audit entry when it is sent.
pub fn enqueue(
    conn: &mut DbConnection,
    event: &str,
    audit_id: i64,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
    let [named, all] = wanted_patterns(event);
    let wanting = webhooks::table
        .filter(webhooks::active.eq(true))
        .filter(
            webhooks::event_types
                .like(named)
                .or(webhooks::event_types.like(all)),
        )
        .select((
            webhooks::id,
            audit_id.into_sql::<BigInt>(),
            event.into_sql::<Text>(),
            DeliveryStatus::Pending.as_str().into_sql::<Text>(),
            0.into_sql::<Integer>(),
            Some(at).into_sql::<Nullable<Timestamp>>(),
            at.into_sql::<Timestamp>(),
            at.into_sql::<Timestamp>(),
        ));
    let written = crate::on_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
        .values(wanting)
        .into_columns((
            webhook_deliveries::webhook_id,
            webhook_deliveries::audit_id,
            webhook_deliveries::event_type,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::created_at,
            webhook_deliveries::updated_at,
        ))
        .execute(c))?;
    if written > 0 {
        crate::db::wake_after_commit();
    }
    Ok(written)
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

/// The deliveries joined with the audit entries of their changes, which their bodies are
/// made from.
fn with_changes() -> diesel::dsl::InnerJoinOn<
    webhook_deliveries::table,
    audit_log::table,
    diesel::dsl::Eq<audit_log::id, webhook_deliveries::audit_id>,
> {
    webhook_deliveries::table
        .inner_join(audit_log::table.on(audit_log::id.eq(webhook_deliveries::audit_id)))
}

/// A webhook's deliveries before `before` by id (newest first), `limit` at most, each with
/// its change.
pub fn deliveries(
    conn: &mut DbConnection,
    webhook: i64,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<(DeliveryRow, ChangeRow)>> {
    let mut query = with_changes()
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
        .select((DeliveryRow::as_select(), ChangeRow::as_select()))
        .load(conn)
}

/// A webhook's delivery, with its change.
pub fn find_delivery(
    conn: &mut DbConnection,
    webhook: i64,
    id: i64,
) -> QueryResult<Option<(DeliveryRow, ChangeRow)>> {
    with_changes()
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::id.eq(id))
        .select((DeliveryRow::as_select(), ChangeRow::as_select()))
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
pub fn head(
    conn: &mut DbConnection,
    webhook: i64,
    txid: i64,
) -> Result<Option<HeadDelivery>, ApiError> {
    Ok(heads(conn, webhook, txid, 1)?.pop())
}

/// A webhook's first `limit` pending deliveries in feed order, as [`head`], with their bodies.
pub fn heads(
    conn: &mut DbConnection,
    webhook: i64,
    txid: i64,
    limit: i64,
) -> Result<Vec<HeadDelivery>, ApiError> {
    let rows: Vec<(Pending, ChangeRow)> = crate::on_backend!(conn, |c| webhook_deliveries::table
        .inner_join(audit_log::table.on(audit_log::id.eq(webhook_deliveries::audit_id)))
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::txid.le(txid))
        .order((webhook_deliveries::txid.asc(), webhook_deliveries::id.asc()))
        .limit(limit)
        .select((Pending::as_select(), ChangeRow::as_select()))
        .load(c))?;
    rows.into_iter()
        .map(|(pending, change)| {
            Ok(HeadDelivery {
                payload: payload(&pending.event_type, change)?,
                id: pending.id,
                attempts: pending.attempts,
                next_attempt_at: pending.next_attempt_at,
            })
        })
        .collect()
}

/// A pending delivery as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
struct Pending {
    id: i64,
    event_type: String,
    attempts: i32,
    #[diesel(deserialize_as = crate::time::StoredOptionalTimestamp)]
    next_attempt_at: Option<NaiveDateTime>,
}

/// The first pending delivery of a webhook, with what sending it takes.
#[derive(Clone, Debug)]
pub struct HeadDelivery {
    pub id: i64,
    pub payload: String,
    pub attempts: i32,
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

/// What the worker sends a run of deliveries with, and the webhook's version it was read at.
#[derive(Debug)]
pub struct LeasedWebhook {
    pub url: String,
    /// The stored signing key.
    pub key: String,
    pub version: i64,
}

/// The webhook as the worker needs it, if `owner` holds its lease and it is active.
pub fn leased(
    conn: &mut DbConnection,
    webhook: i64,
    owner: &str,
) -> QueryResult<Option<LeasedWebhook>> {
    webhooks::table
        .filter(webhooks::id.eq(webhook))
        .filter(webhooks::active.eq(true))
        .filter(webhooks::lease_owner.eq(owner))
        .select((webhooks::url, webhooks::secret, webhooks::version))
        .first(conn)
        .optional()
        .map(|found| found.map(|(url, key, version)| LeasedWebhook { url, key, version }))
}

/// The webhook's version, if it is still active and `owner` holds its lease: every change to
/// a webhook (its URL, events, active flag or secret) moves the version, and a deleted one
/// has none. Read by the worker before each attempt, so none starts after such a change.
pub fn leased_version(
    conn: &mut DbConnection,
    webhook: i64,
    owner: &str,
) -> QueryResult<Option<i64>> {
    crate::on_backend!(conn, |c| webhooks::table
        .filter(webhooks::id.eq(webhook))
        .filter(webhooks::active.eq(true))
        .filter(webhooks::lease_owner.eq(owner))
        .select(webhooks::version)
        .first(c)
        .optional())
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
