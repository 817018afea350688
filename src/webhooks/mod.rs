//! Webhooks (`/api/v1/webhooks`, admins only): targets that are POSTed every committed change
//! they ask for, signed per Standard Webhooks 1.0, durably: each change's deliveries are
//! written in its own transaction (an outbox, `queries::enqueue`), and a worker in every
//! instance sends them, at least once, one at a time per webhook in feed order
//! (`delivery`).

pub mod delivery;
pub mod handlers;
pub mod model;
pub mod queries;

use crate::auth::{Access, Role};
use crate::routing::Routes;

pub use model::{Delivery, DeliveryStatus, Webhook, WebhookInput, WebhookWithSecret};

/// The webhook routes: admins only. Create and rotate-secret answer the secret, so they refuse
/// an `Idempotency-Key` (its answer would be stored).
pub fn routes() -> Routes {
    let admin = Access::Role(Role::Admin);
    Routes::new("/api/v1/webhooks")
        .get("", admin, handlers::list_webhooks)
        .post_with_secret("", admin, handlers::create_webhook)
        .get("/{id}", admin, handlers::get_webhook)
        .patch("/{id}", admin, handlers::update_webhook)
        .delete("/{id}", admin, handlers::delete_webhook)
        .post_with_secret("/{id}/rotate-secret", admin, handlers::rotate_secret)
        .get("/{id}/deliveries", admin, handlers::list_deliveries)
        .post(
            "/{id}/deliveries/{delivery_id}/retry",
            admin,
            handlers::retry_delivery,
        )
}

/// In the OpenAPI document: create and rotate-secret state that they refuse the
/// `Idempotency-Key` header (before `idempotency::document` gives every other POST the header).
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    for path in ["/api/v1/webhooks", "/api/v1/webhooks/{id}/rotate-secret"] {
        if let Some(operation) = openapi
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
        {
            operation
                .parameters
                .get_or_insert_with(Vec::new)
                .push(crate::idempotency::refused_parameter());
        }
    }
}
