//! Events: forums, seminars, study visits, signing ceremonies and the like, optionally held
//! under an agreement, with the partners taking part.

pub mod handlers;
pub mod model;
pub mod queries;
pub mod rendered;

use crate::crud;
use crate::routing::Routes;

pub use handlers::Events;
pub use model::{
    Event, EventFilter, EventInput, EventKind, EventSort, Participant, ParticipantRole,
};

/// The event routes: the operations every resource has.
pub fn routes() -> Routes {
    crud::routes::<Events>()
}
