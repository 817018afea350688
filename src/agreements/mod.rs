//! Cooperation agreements: MOUs, joint projects, intergovernmental agreements and the like,
//! with the partners party to them and the countries they cover.

pub mod handlers;
pub mod model;
pub mod queries;

use crate::auth::{Access, Role};
use crate::routing::Routes;

pub use model::{
    Agreement, AgreementFilter, AgreementInput, AgreementKind, AgreementSort, AgreementStatus,
    Party, PartyRole,
};

/// The agreement routes.
pub fn routes() -> Routes {
    let write = Access::Role(Role::Editor);
    Routes::new("/api/v1/agreements")
        .get("", Access::Read, handlers::list_agreements)
        .post("", write, handlers::create_agreement)
        .get("/{id}", Access::Read, handlers::get_agreement)
        .put("/{id}", write, handlers::replace_agreement)
        .patch("/{id}", write, handlers::update_agreement)
        .delete("/{id}", write, handlers::delete_agreement)
}
