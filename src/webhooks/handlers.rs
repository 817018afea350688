//! HTTP handlers of the webhooks (admins only; the routes state it, see `routes`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::delivery::{check_target, new_secret};
use super::model::{
    Delivery, DeliveryFilter, DeliveryPage, HookPageParams, Webhook, WebhookInput, WebhookPage,
    WebhookPatch, WebhookWithSecret, cursor_after,
};
use super::queries;
use crate::config::WebhookSettings;
use crate::crud::id_from_path;
use crate::db::Db;
use crate::error::{ApiError, FieldError, responses};
use crate::http::{
    JsonBody, MergePatch, Precondition, QueryParams, apply_patch, respond_with_etag,
    respond_written,
};
use crate::pagination::cut_page;

const COLLECTION: &str = "/api/v1/webhooks";

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no webhook with id {id}"))
}

/// The schema's rules, the field rules, then the address rule (which may resolve the name).
async fn checked(
    input: crate::http::Checked<WebhookInput>,
    settings: &WebhookSettings,
) -> Result<super::model::WebhookChanges, ApiError> {
    let changes = input.then(WebhookInput::check)?;
    check_target(&changes.url, settings.webhook_allow_private_targets)
        .await
        .map_err(|message| ApiError::Validation(vec![FieldError::new("url", message)]))?;
    Ok(changes)
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// List webhooks
///
/// Every webhook, oldest first, without their secrets. Needs an `admin` token.
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    params(HookPageParams),
    responses(
        (status = 200, description = "A page of webhooks", body = WebhookPage),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_webhooks(
    db: web::Data<Db>,
    QueryParams(page): QueryParams<HookPageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after = page.after()?;
    let mut rows = db
        .read(move |conn| Ok(queries::list(conn, after, i64::from(limit) + 1)?))
        .await?;
    let next_cursor = cut_page(&mut rows, limit as usize, |last| {
        Some(cursor_after(last.id))
    });
    let page = WebhookPage {
        items: rows.into_iter().map(Webhook::from).collect(),
        next_cursor,
    };
    Ok(no_store(HttpResponse::Ok().json(page)))
}

/// Create a webhook
///
/// Registers a target that is POSTed every change it asks for (`event_types`), signed per
/// Standard Webhooks 1.0, with the body `{type, timestamp, data}` (`WebhookPayload`: `data` is
/// the change as the change feed lists it). The answer carries the signing `secret`, shown
/// this once (and by rotate-secret); so it takes no `Idempotency-Key`. The URL must be http or
/// https on a public address: loopback, private, link-local, carrier-grade NAT, unique-local,
/// IPv4-mapped and metadata addresses (and names resolving to one) are refused with 422,
/// unless the service runs with WEBHOOK_ALLOW_PRIVATE_TARGETS. Delivery is at least once, one
/// delivery at a time per webhook in feed order; failed attempts are retried over about a day
/// (5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h, each ±20%; a `Retry-After` up
/// to 8 h replaces the wait), then the delivery is marked failed. A 410 answer makes the
/// webhook inactive. Needs an `admin` token.
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = WebhookInput,
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = WebhookWithSecret,
         headers(("Location" = String, description = "The new webhook's URL"),
                 ("ETag" = String, description = "The webhook's version, quoted"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn create_webhook(
    db: web::Data<Db>,
    settings: web::Data<WebhookSettings>,
    JsonBody(input): JsonBody<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let changes = checked(input, &settings).await?;
    let (secret, stored) = new_secret();
    let row = db
        .write(move |conn| Ok(queries::insert(conn, changes, &stored)?))
        .await?;
    let webhook = Webhook::from(row);
    let location = format!("{COLLECTION}/{}", webhook.id);
    let version = webhook.version;
    let body = WebhookWithSecret { webhook, secret };
    Ok(no_store(respond_written(
        StatusCode::CREATED,
        Some(location),
        version,
        &body,
    )))
}

/// Get a webhook
///
/// The webhook, without its secret, with its version as `ETag`. Needs an `admin` token.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(("id" = i64, Path, description = "The webhook's id", example = 1)),
    responses(
        (status = 200, description = "The webhook", body = Webhook,
         headers(("ETag" = String, description = "The webhook's version, quoted"))),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn get_webhook(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id_from_path(&path)?;
    let row = db
        .read(move |conn| queries::find(conn, id)?.ok_or_else(|| not_found(id)))
        .await?;
    let webhook = Webhook::from(row);
    Ok(no_store(respond_with_etag(&req, webhook.version, &webhook)))
}

/// Update a webhook
///
/// A JSON Merge Patch of `url`, `event_types`, `active` and `description` (what it makes is
/// checked as a whole `WebhookInput`, the address rule included). Send the `ETag` in
/// `If-Match` to be sure of what you change. Setting `active` to true again after a 410 makes
/// the webhook send again: its pending deliveries first. Needs an `admin` token.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "update_webhook",
    params(
        ("id" = i64, Path, description = "The webhook's id", example = 1),
        ("If-Match" = Option<String>, Header, description = "The ETag the webhook must still have", example = "\"1\""),
    ),
    request_body(content(
        (WebhookPatch = "application/merge-patch+json"),
        (WebhookPatch = "application/json"),
    ), description = "Any of the writable fields; `null` clears an optional one"),
    responses(
        (status = 200, description = "Updated", body = Webhook,
         headers(("ETag" = String, description = "The webhook's new version, quoted"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 412, response = responses::PreconditionFailed),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn update_webhook(
    db: web::Data<Db>,
    settings: web::Data<WebhookSettings>,
    path: web::Path<String>,
    precondition: Precondition,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, ApiError> {
    let id = id_from_path(&path)?;
    let current = db
        .read(move |conn| queries::find(conn, id)?.ok_or_else(|| not_found(id)))
        .await?;
    precondition.check(current.version)?;
    let version = current.version;
    let input = apply_patch::<Webhook, WebhookInput>(&Webhook::from(current), &patch)?;
    let changes = checked(input, &settings).await?;
    let names_a_version = precondition.names_a_version();
    let row = db
        .write(move |conn| {
            queries::update(conn, id, version, changes)?.ok_or_else(|| {
                if names_a_version {
                    ApiError::PreconditionFailed
                } else {
                    ApiError::Conflict(
                        "the webhook changed while this update was made; send it again".to_owned(),
                    )
                }
            })
        })
        .await?;
    let webhook = Webhook::from(row);
    Ok(no_store(respond_written(
        StatusCode::OK,
        None,
        webhook.version,
        &webhook,
    )))
}

/// Delete a webhook
///
/// The webhook and its deliveries, sent or not. Needs an `admin` token.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    params(
        ("id" = i64, Path, description = "The webhook's id", example = 1),
        ("If-Match" = Option<String>, Header, description = "The ETag the webhook must still have", example = "\"1\""),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 412, response = responses::PreconditionFailed),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn delete_webhook(
    db: web::Data<Db>,
    path: web::Path<String>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    let id = id_from_path(&path)?;
    db.write(move |conn| {
        let current = queries::find(conn, id)?.ok_or_else(|| not_found(id))?;
        precondition.check(current.version)?;
        queries::delete(conn, id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a webhook's secret
///
/// Makes a new signing secret and answers it, this once; deliveries sent from now on are signed
/// with it (also retries of earlier ones: each attempt is signed afresh). The old secret stops
/// at once. Takes no body and no `Idempotency-Key` (the answer carries the secret). Needs an
/// `admin` token.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotate_webhook_secret",
    params(("id" = i64, Path, description = "The webhook's id", example = 1)),
    responses(
        (status = 200, description = "The webhook with its new secret, shown this once",
         body = WebhookWithSecret,
         headers(("ETag" = String, description = "The webhook's new version, quoted"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn rotate_secret(
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id_from_path(&path)?;
    let (secret, stored) = new_secret();
    let row = db
        .write(move |conn| queries::set_secret(conn, id, &stored)?.ok_or_else(|| not_found(id)))
        .await?;
    let webhook = Webhook::from(row);
    let version = webhook.version;
    let body = WebhookWithSecret { webhook, secret };
    Ok(no_store(respond_written(
        StatusCode::OK,
        None,
        version,
        &body,
    )))
}

/// List a webhook's deliveries
///
/// Its deliveries, newest first: each change sent or to be sent, with its state, attempts, the
/// last answer's status code or error, and when the next attempt is due. Needs an `admin` token.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    params(("id" = i64, Path, description = "The webhook's id", example = 1), HookPageParams, DeliveryFilter),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = DeliveryPage),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_deliveries(
    db: web::Data<Db>,
    path: web::Path<String>,
    QueryParams(page): QueryParams<HookPageParams>,
    QueryParams(filter): QueryParams<DeliveryFilter>,
) -> Result<HttpResponse, ApiError> {
    let id = id_from_path(&path)?;
    let limit = page.limit()?;
    let before = page.after()?;
    let status = filter.status;
    let mut rows = db
        .read(move |conn| {
            queries::find(conn, id)?.ok_or_else(|| not_found(id))?;
            Ok(queries::deliveries(
                conn,
                id,
                status,
                before,
                i64::from(limit) + 1,
            )?)
        })
        .await?;
    let next_cursor = cut_page(&mut rows, limit as usize, |(last, _)| {
        Some(cursor_after(last.id))
    });
    let page = DeliveryPage {
        items: rows
            .into_iter()
            .map(|(row, change)| Delivery::new(row, change))
            .collect::<Result<_, _>>()?,
        next_cursor,
    };
    Ok(no_store(HttpResponse::Ok().json(page)))
}

/// Send a delivery again
///
/// Sends the delivery again at once, whatever its state (delivered, failed or waiting for its
/// next attempt), with the same `webhook-id` and a fresh timestamp and signature. It keeps
/// feed order: the webhook's earlier pending deliveries are made due now as well and go just
/// before it. A webhook made inactive (by a 410, or by an admin) must be made active first:
/// 409. Needs an `admin` token.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    operation_id = "retry_webhook_delivery",
    params(
        ("id" = i64, Path, description = "The webhook's id", example = 1),
        ("delivery_id" = i64, Path, description = "The delivery's id", example = 42),
    ),
    responses(
        (status = 202, description = "Accepted: the delivery is due now", body = Delivery),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn retry_delivery(
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (webhook, delivery) = path.into_inner();
    let webhook = id_from_path(&webhook)?;
    let delivery = delivery
        .parse::<i64>()
        .map_err(|_| ApiError::bad_field("delivery_id", "must be a whole number"))?;
    let (row, change) = db
        .write(move |conn| {
            let hook = queries::find(conn, webhook)?.ok_or_else(|| not_found(webhook))?;
            if queries::find_delivery(conn, webhook, delivery)?.is_none() {
                return Err(ApiError::NotFound(format!(
                    "webhook {webhook} has no delivery {delivery}"
                )));
            }
            if !hook.active {
                return Err(ApiError::Conflict(format!(
                    "webhook {webhook} is inactive: make it active first (PATCH active: true)"
                )));
            }
            queries::retry_now(conn, webhook, delivery)?;
            queries::find_delivery(conn, webhook, delivery)?
                .ok_or_else(|| ApiError::bug("a delivery vanished"))
        })
        .await?;
    db.deliveries_written().notify_one();
    Ok(no_store(
        HttpResponse::Accepted().json(Delivery::new(row, change)?),
    ))
}
