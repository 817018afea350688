//! Cooperation agreements: MOUs, joint projects, intergovernmental agreements and the like,
//! with the partners party to them and the countries they cover.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::{Scope, web};

pub use model::{
    Agreement, AgreementFilter, AgreementInput, AgreementKind, AgreementSort, AgreementStatus,
    Party, PartyRole,
};

/// The agreement routes, in a scope of their own under the API's.
pub fn routes() -> Scope {
    web::scope("/agreements")
        .service(
            web::resource("")
                .route(web::get().to(handlers::list_agreements))
                .route(web::post().to(handlers::create_agreement)),
        )
        .service(
            web::resource("/{id}")
                .route(web::get().to(handlers::get_agreement))
                .route(web::put().to(handlers::replace_agreement))
                .route(web::patch().to(handlers::update_agreement))
                .route(web::delete().to(handlers::delete_agreement)),
        )
}
