//! The OpenAPI 3.1 document, generated from the handlers' and types' annotations.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use utoipa::OpenApi;

use crate::error::{FieldError, ProblemDetails, responses};
use crate::filter::CountryCode;
use utoipa::Modify;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::{agreements, audit, countries, crud, events, health, partners, telemetry, webhooks};

/// The whole API description; `/api-docs/openapi.json` serves it and `openapi/openapi.json`
/// holds a copy (`cargo run -- openapi > openapi/openapi.json` regenerates it).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cooperation Registry",
        description = "The record of an international cooperation hub: its partners, the countries \
that take part, the cooperation agreements that bind them and the events held under them.\n\n\
Send `Authorization: Bearer <token>`: writes need it (editor; admin for countries and the audit \
log), reads only where the service runs with READ_REQUIRES_TOKEN, and a token is accepted on \
reads either way. Health checks and metrics take none. \
Errors are `application/problem+json` (RFC 9457). Lists are keyset-paginated: follow \
`next_cursor`. Every resource carries a `version`, sent as its `ETag`; send it back in `If-Match` \
to update safely. The guide for API users is docs/guide.md in the repository.",
        contact(name = "Cooperation Registry maintainers"),
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "/", description = "This deployment: the origin that serves this document")),
    security(("bearer" = [])),
    paths(
        audit::handlers::list_audit,
        partners::identifiers::list_schemes,
        partners::merge::merge,
        partners::identifiers::put_scheme,
        partners::identifiers::delete_scheme,
        crate::changes::handlers::list_changes,
        crate::changes::handlers::head,
        crate::feeds::calendar::calendar,
        crate::feeds::iati::activities,
        crate::feeds::iati::organisation,
        health::healthz,
        health::readyz,
        telemetry::serve_metrics,
        webhooks::handlers::list_webhooks,
        webhooks::handlers::create_webhook,
        webhooks::handlers::get_webhook,
        webhooks::handlers::update_webhook,
        webhooks::handlers::delete_webhook,
        webhooks::handlers::rotate_secret,
        webhooks::handlers::list_deliveries,
        webhooks::handlers::retry_delivery,
    ),
    components(
        schemas(ProblemDetails, FieldError, CountryCode),
        responses(
            responses::BadRequest,
            responses::Unprocessable,
            responses::NotFound,
            responses::Conflict,
            responses::PreconditionFailed,
            responses::UnsupportedMediaType,
            responses::PayloadTooLarge,
            responses::Unavailable,
            responses::Unauthorized,
            responses::Forbidden,
            responses::Gone,
        ),
    ),
    tags(
        (name = "countries", description = "ISO 3166-1 countries and the hub's participation"),
        (name = "partners", description = "Ministries, agencies, UN bodies, hubs, universities and NGOs"),
        (name = "agreements", description = "MOUs, joint projects, intergovernmental agreements, with their parties and countries"),
        (name = "events", description = "Forums, seminars, study visits, signing ceremonies, with their participants"),
        (name = "audit", description = "Every write, with who made it and the resource before and after (admins)"),
        (name = "changes", description = "Every committed change in commit order, for systems that keep a copy in sync: the change feed"),
        (name = "webhooks", description = "Targets POSTed every change they ask for, signed (Standard Webhooks 1.0), at least once and in feed order per webhook; their deliveries (admins)"),
        (name = "operations", description = "Health checks for load balancers and orchestrators"),
    ),
    modifiers(&BearerAuth, &ResourceOperations, &TextParametersRefuseNul, &WebhookSecrets, &IdempotencyKeys)
)]
pub struct ApiDoc;

/// The six operations of each resource, made from its description (see `crud`).
struct ResourceOperations;

impl Modify for ResourceOperations {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        crud::document::<countries::Countries>(openapi);
        crud::document::<partners::Partners>(openapi);
        crud::document::<agreements::Agreements>(openapi);
        crud::document::<events::Events>(openapi);
    }
}

/// Create and rotate-secret refuse the `Idempotency-Key` header (see `webhooks`).
struct WebhookSecrets;

impl Modify for WebhookSecrets {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        webhooks::document(openapi);
    }
}

/// The `Idempotency-Key` header on every POST (see `idempotency`).
struct IdempotencyKeys;

impl Modify for IdempotencyKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        crate::idempotency::document(openapi);
    }
}

/// Declares the bearer scheme, so that Swagger UI's Authorize button takes a token.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "A token from `coop-registry token create --name NAME --role editor|admin`. Writes \
need one (countries: admin); reads need one only when READ_REQUIRES_TOKEN is set."
                .to_owned(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// States on every free-text query parameter (a string without an enum, a format or a
/// pattern of its own) that NUL is refused, as the service refuses it in any parameter.
struct TextParametersRefuseNul;

impl Modify for TextParametersRefuseNul {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{Schema, Type};
        use utoipa::openapi::{RefOr, path::ParameterIn};
        let operations = openapi.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
        });
        let parameters = operations.flat_map(|op| op.parameters.iter_mut().flatten());
        for parameter in parameters.filter(|p| p.parameter_in == ParameterIn::Query) {
            if let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema
                && object.schema_type == Type::String.into()
                && object.enum_values.is_none()
                && object.format.is_none()
                && object.pattern.is_none()
            {
                object.pattern = Some(crate::validation::NO_NUL.to_owned());
            }
        }
    }
}

/// The document as a value.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as compact JSON, rendered once and shared by every worker: as a value it
/// weighs more than its text, and Swagger UI's own serving keeps one value per worker.
pub fn served() -> web::Data<Bytes> {
    let text = serde_json::to_vec(&document())
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}").into_bytes());
    web::Data::new(Bytes::from(text))
}

/// `GET /api-docs/openapi.json`.
pub async fn serve(document: web::Data<Bytes>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document.get_ref().clone())
}

/// The document as the pretty-printed JSON that `openapi/openapi.json` holds.
pub fn to_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
