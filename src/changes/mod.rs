//! The change feed (`/api/v1/changes`): every committed change, in commit order, for systems
//! that keep a copy of the registry in sync; and `updated_after`, which every list takes.
//! The feed is the audit log read in order (see `queries`); entries older than
//! `CHANGES_RETENTION_DAYS` are pruned by a task in each instance ([`spawn_pruning`]).

pub mod handlers;
pub mod model;
pub mod queries;

use std::time::Duration;

use crate::auth::Access;
use crate::db::Db;
use crate::error::ApiError;
use crate::routing::Routes;

pub use model::{Change, ChangePage, ChangesHead, Position, UpdatedAfter};

/// The feed's routes: reads, open like every read (a token when READ_REQUIRES_TOKEN).
pub fn routes() -> Routes {
    Routes::new("/api/v1/changes")
        .get("", Access::Read, handlers::list_changes)
        .get("/head", Access::Read, handlers::head)
}

/// How often each instance prunes the feed.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the entries older than `retention_days`, a batch per write transaction, so that
/// other writes go on in between (on SQLite they queue behind each batch, a few milliseconds).
/// Returns how many it deleted.
pub async fn prune(db: &Db, retention_days: u32) -> Result<usize, ApiError> {
    let cutoff = crate::time::now() - chrono::Duration::days(i64::from(retention_days));
    let mut total = 0;
    loop {
        let deleted = db
            .write(move |conn| queries::prune_batch(conn, cutoff))
            .await?;
        total += deleted;
        if deleted == 0 {
            return Ok(total);
        }
    }
}

/// Starts the task that prunes the feed at once and then every [`PRUNE_EVERY`], unless
/// `retention_days` is 0 (keep everything). Several instances may prune the same database: a
/// batch deletes what is still there, and the pruned mark only moves forward.
pub fn spawn_pruning(db: Db, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PRUNE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match prune(&db, retention_days).await {
                Ok(0) => {}
                Ok(deleted) => log::info!(
                    "change feed: pruned {deleted} audit entries older than {retention_days} days"
                ),
                Err(error) => log::warn!("change feed: pruning failed: {error}"),
            }
        }
    });
}
