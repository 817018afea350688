//! Events: forums, seminars, study visits, signing ceremonies and the like, optionally held
//! under an agreement, with the partners taking part.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::{Scope, web};

pub use model::{
    Event, EventFilter, EventInput, EventKind, EventSort, Participant, ParticipantRole,
};

/// The event routes, in a scope of their own under the API's.
pub fn routes() -> Scope {
    web::scope("/events")
        .service(
            web::resource("")
                .route(web::get().to(handlers::list_events))
                .route(web::post().to(handlers::create_event)),
        )
        .service(
            web::resource("/{id}")
                .route(web::get().to(handlers::get_event))
                .route(web::put().to(handlers::replace_event))
                .route(web::patch().to(handlers::update_event))
                .route(web::delete().to(handlers::delete_event)),
        )
}
