//! The audit trail: every create, update and delete, written in the same transaction as the
//! change, with who made it and the resource before and after.

pub mod handlers;
pub mod model;
pub mod queries;

use crate::auth::{Access, Role};
use crate::routing::Routes;

pub use model::{AuditAction, AuditEntry, AuditFilter, ResourceType};
pub use queries::{Write, last_entry, mark, record, record_write};

/// The audit route: admins only.
pub fn routes() -> Routes {
    Routes::new("/api/v1/audit").get("", Access::Role(Role::Admin), handlers::list_audit)
}
