//! Partners: the ministries, agencies, UN bodies, hubs, universities and NGOs the hub works with.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::{Scope, web};

pub use model::{Partner, PartnerFilter, PartnerInput, PartnerKind, PartnerSort};

/// The partner routes, in a scope of their own under the API's.
pub fn routes() -> Scope {
    web::scope("/partners")
        .service(
            web::resource("")
                .route(web::get().to(handlers::list_partners))
                .route(web::post().to(handlers::create_partner)),
        )
        .service(
            web::resource("/{id}")
                .route(web::get().to(handlers::get_partner))
                .route(web::put().to(handlers::replace_partner))
                .route(web::patch().to(handlers::update_partner))
                .route(web::delete().to(handlers::delete_partner)),
        )
}
