//! The change feed (`/api/v1/changes`): every committed change, in commit order, for systems
//! that keep a copy of the registry in sync.
//! The feed is the audit log read in order (see `queries`); it reaches back
//! `CHANGES_RETENTION_DAYS` ([`Retention`]), while the audit log itself keeps every entry.

pub mod handlers;
pub mod model;
pub mod queries;

use crate::auth::Access;
use crate::routing::Routes;

pub use model::{Change, ChangePage, ChangesHead, Position};

/// The feed's routes: reads, open like every read (a token when READ_REQUIRES_TOKEN).
pub fn routes() -> Routes {
    Routes::new("/api/v1/changes")
        .get("", Access::Read, handlers::list_changes)
        .get("/head", Access::Read, handlers::head)
}

/// How far back the feed reaches (`CHANGES_RETENTION_DAYS`). Nothing is deleted: the audit
/// log keeps every entry, the feed only serves those of the last `days` days (0: all of them).
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub days: u32,
}

impl Retention {
    /// The oldest instant the feed serves now, if it has a horizon.
    pub fn cutoff(self) -> Option<chrono::NaiveDateTime> {
        (self.days > 0).then(|| crate::time::now() - chrono::Duration::days(i64::from(self.days)))
    }
}
