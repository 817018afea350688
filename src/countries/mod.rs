//! Countries: ISO 3166-1 reference data, loaded from the `keshvar` crate at first start, plus
//! whatever codes the hub adds itself (such as `XK`).

pub mod handlers;
pub mod model;
pub mod queries;

use crate::auth::{Access, Role};
use crate::routing::Routes;

pub use model::{Country, CountryFilter, CountryInput, CountrySort};

/// The country routes; countries are reference data, so writes need an admin.
pub fn routes() -> Routes {
    let write = Access::Role(Role::Admin);
    Routes::new("/api/v1/countries")
        .get("", Access::Read, handlers::list_countries)
        .post("", write, handlers::create_country)
        .get("/{code}", Access::Read, handlers::get_country)
        .put("/{code}", write, handlers::replace_country)
        .patch("/{code}", write, handlers::update_country)
        .delete("/{code}", write, handlers::delete_country)
}
