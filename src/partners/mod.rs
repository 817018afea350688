//! Partners: the ministries, agencies, UN bodies, hubs, universities and NGOs the hub works with.

pub mod handlers;
pub mod model;
pub mod queries;

use crate::auth::{Access, Role};
use crate::routing::Routes;

pub use model::{Partner, PartnerFilter, PartnerInput, PartnerKind, PartnerSort};

/// The partner routes.
pub fn routes() -> Routes {
    let write = Access::Role(Role::Editor);
    Routes::new("/api/v1/partners")
        .get("", Access::Read, handlers::list_partners)
        .post("", write, handlers::create_partner)
        .get("/{id}", Access::Read, handlers::get_partner)
        .put("/{id}", write, handlers::replace_partner)
        .patch("/{id}", write, handlers::update_partner)
        .delete("/{id}", write, handlers::delete_partner)
}
