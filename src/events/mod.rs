//! Events: forums, seminars, study visits, signing ceremonies and the like, optionally held
//! under an agreement, with the partners taking part.

pub mod handlers;
pub mod model;
pub mod queries;
pub mod rendered;

use crate::auth::{Access, Role};
use crate::routing::Routes;

pub use model::{
    Event, EventFilter, EventInput, EventKind, EventSort, Participant, ParticipantRole,
};

/// The event routes.
pub fn routes() -> Routes {
    let write = Access::Role(Role::Editor);
    Routes::new("/api/v1/events")
        .get("", Access::Read, handlers::list_events)
        .post("", write, handlers::create_event)
        .get("/{id}", Access::Read, handlers::get_event)
        .put("/{id}", write, handlers::replace_event)
        .patch("/{id}", write, handlers::update_event)
        .delete("/{id}", write, handlers::delete_event)
}
