//! Partners: the ministries, agencies, UN bodies, hubs, universities and NGOs the hub works with.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::web;

pub use model::{Partner, PartnerFilter, PartnerInput, PartnerKind, PartnerSort};

/// Mounts the partner routes under the API scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/partners")
            .route(web::get().to(handlers::list_partners))
            .route(web::post().to(handlers::create_partner)),
    )
    .service(
        web::resource("/partners/{id}")
            .route(web::get().to(handlers::get_partner))
            .route(web::put().to(handlers::replace_partner))
            .route(web::patch().to(handlers::update_partner))
            .route(web::delete().to(handlers::delete_partner)),
    );
}
