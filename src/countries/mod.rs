//! Countries: ISO 3166-1 reference data, loaded from the `keshvar` crate at first start, plus
//! whatever codes the hub adds itself (such as `XK`).

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::{Scope, web};

pub use model::{Country, CountryFilter, CountryInput, CountrySort};

/// The country routes, in a scope of their own under the API's.
pub fn routes() -> Scope {
    web::scope("/countries")
        .service(
            web::resource("")
                .route(web::get().to(handlers::list_countries))
                .route(web::post().to(handlers::create_country)),
        )
        .service(
            web::resource("/{code}")
                .route(web::get().to(handlers::get_country))
                .route(web::put().to(handlers::replace_country))
                .route(web::patch().to(handlers::update_country))
                .route(web::delete().to(handlers::delete_country)),
        )
}
