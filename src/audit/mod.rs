//! The audit trail: every create, update and delete, written in the same transaction as the
//! change, with who made it and the resource before and after.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::{Scope, web};

pub use model::{AuditAction, AuditEntry, AuditFilter, ResourceType};
pub use queries::record;

/// The audit route, in a scope of its own under the API's.
pub fn routes() -> Scope {
    web::scope("/audit").service(web::resource("").route(web::get().to(handlers::list_audit)))
}
