//! Partners: the ministries, agencies, UN bodies, hubs, universities and NGOs the hub works with.

pub mod handlers;
pub mod identifiers;
pub mod merge;
pub mod model;
pub mod queries;

use crate::auth::{Access, Role};
use crate::crud;
use crate::routing::Routes;

pub use handlers::Partners;
pub use model::{Partner, PartnerFilter, PartnerInput, PartnerKind, PartnerSort};

/// The partner routes: the operations every resource has.
pub fn routes() -> Routes {
    crud::routes::<Partners>().post("/{id}/merge", Access::Role(Role::Admin), merge::merge)
}

/// The routes of the schemes partners' identifiers come from.
pub fn identifier_scheme_routes() -> Routes {
    identifiers::routes()
}
