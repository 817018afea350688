//! Events: forums, seminars, study visits, signing ceremonies and the like, optionally held
//! under an agreement, with the partners taking part.

pub mod handlers;
pub mod model;
pub mod queries;

use actix_web::web;

pub use model::{
    Event, EventFilter, EventInput, EventKind, EventSort, Participant, ParticipantRole,
};

/// Mounts the event routes under the API scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events")
            .route(web::get().to(handlers::list_events))
            .route(web::post().to(handlers::create_event)),
    )
    .service(
        web::resource("/events/{id}")
            .route(web::get().to(handlers::get_event))
            .route(web::put().to(handlers::replace_event))
            .route(web::patch().to(handlers::update_event))
            .route(web::delete().to(handlers::delete_event)),
    );
}
