//! The audit trail: every create, update and delete, written in the same transaction as the
//! change, with who made it and the resource before and after.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::web;

pub use model::{AuditAction, AuditEntry, AuditFilter, ResourceType};
pub use queries::record;

/// Mounts the audit route under the API scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").route(web::get().to(handlers::list_audit)));
}
