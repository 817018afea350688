//! Cooperation agreements: MOUs, joint projects, intergovernmental agreements and the like,
//! with the partners party to them and the countries they cover.

pub mod handlers;
pub mod model;
pub mod queries;

use crate::crud;
use crate::routing::Routes;

pub use handlers::Agreements;
pub use model::{
    Agreement, AgreementFilter, AgreementInput, AgreementKind, AgreementSort, AgreementStatus,
    Lifecycle, Party, PartyRole,
};

/// The agreement routes: the operations every resource has.
pub fn routes() -> Routes {
    crud::routes::<Agreements>()
}
