//! Countries: ISO 3166-1 reference data, loaded from the `keshvar` crate at first start, plus
//! whatever codes the hub adds itself (such as `XK`).

pub mod handlers;
pub mod model;
pub mod queries;

use crate::crud;
use crate::routing::Routes;
use crate::shape::{self, Embedding, Include};

pub use handlers::Countries;
pub use model::{Country, CountryFilter, CountryInput, CountrySort};

/// The country routes: the operations every resource has.
pub fn routes() -> Routes {
    crud::routes::<Countries>()
}

/// `include=country`: the country a record's `country_code` names, embedded as `country`.
pub const EMBEDDED_BY_CODE: Include = Include {
    path: "country",
    at: Embedding::One {
        from: "country_code",
        to: "country",
    },
    schema: "Country",
    load: shape::load::<Countries>,
};
