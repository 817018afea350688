//! Cooperation agreements: MOUs, joint projects, intergovernmental agreements and the like,
//! with the partners party to them and the countries they cover.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::web;

pub use model::{
    Agreement, AgreementFilter, AgreementInput, AgreementKind, AgreementSort, AgreementStatus,
    Party, PartyRole,
};

/// Mounts the agreement routes under the API scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/agreements")
            .route(web::get().to(handlers::list_agreements))
            .route(web::post().to(handlers::create_agreement)),
    )
    .service(
        web::resource("/agreements/{id}")
            .route(web::get().to(handlers::get_agreement))
            .route(web::put().to(handlers::replace_agreement))
            .route(web::patch().to(handlers::update_agreement))
            .route(web::delete().to(handlers::delete_agreement)),
    );
}
