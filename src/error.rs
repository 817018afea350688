//! The one error type of the API and its single mapping to `application/problem+json` (RFC 9457).

use std::error::Error;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, error as actix_error};
use diesel::result::DatabaseErrorKind;
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::config::MAX_BODY_BYTES;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One broken rule of one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path into the body (`parties[1].role`) or the query parameter's name.
    #[schema(example = "name")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be 1 to 200 characters")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error response, as RFC 9457 describes, with a machine-readable `code` and every failed field
/// rule in `errors`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:coop-registry:problem:validation_failed",
    "title": "Unprocessable Content",
    "status": 422,
    "code": "validation_failed",
    "detail": "the request body breaks 1 rule",
    "errors": [{"field": "name", "message": "must be 1 to 200 characters"}]
}))]
pub struct ProblemDetails {
    /// A URI naming the kind of problem: `urn:coop-registry:problem:` followed by `code`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// The kind of problem, in snake_case, for programs to branch on.
    pub code: String,
    /// What went wrong, for people.
    pub detail: String,
    /// Every failed field rule (empty when the problem is not about fields).
    pub errors: Vec<FieldError>,
}

/// What caused an internal error or an outage, kept for the log. Shared rather than owned
/// because the SQLite writer answers every write of a batch that failed with the batch's error.
pub type Cause = Arc<dyn Error + Send + Sync>;

/// Everything that can go wrong in a request. Handlers return `Result<_, ApiError>`; this is the
/// only place that decides statuses and bodies.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, wrong JSON types, unknown fields, a bad query or path parameter.
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// A `cursor` this list did not make, or one whose position is not a valid key.
    #[error("cursor: {0}")]
    InvalidCursor(String),
    /// An `after` position the change feed did not make.
    #[error("after: {0}")]
    InvalidFeedCursor(String),
    /// A change-feed position whose next entry is older than the feed reaches
    /// (`CHANGES_RETENTION_DAYS`): the client fell behind and must read everything again.
    #[error("{0}")]
    CursorExpired(String),
    /// A query parameter the operation does not take (a typo would otherwise be ignored).
    #[error("unknown query parameter `{name}`; this operation takes {}", accepted_list(.accepted))]
    UnknownParameter { name: String, accepted: Vec<String> },
    /// The body parsed, but breaks field rules; lists all of them.
    #[error("the request body breaks {} rule(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// No token, or one that is malformed, unknown or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose role is too small.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A read of a record that was merged into another: a redirect to it (308, `Location`).
    #[error("{message}")]
    Moved { location: String, message: String },
    /// A write to a record that was merged into another: 409 naming it, so that a client never
    /// sends a change meant for one record to another without knowing.
    #[error("{0}")]
    MergedInto(String),
    #[error("{0}")]
    Conflict(String),
    /// A foreign key refused a write: something it names does not exist (409, as a conflict,
    /// unless `resource::create` can say which field it is).
    #[error("{0}")]
    BrokenReference(String),
    #[error("the resource has changed: If-Match does not hold its current ETag")]
    PreconditionFailed,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than {} bytes", MAX_BODY_BYTES)]
    PayloadTooLarge,
    /// A body beyond a limit of its own operation (an import's bytes or rows).
    #[error("{0}")]
    TooLarge(String),
    /// No media type the client accepts (`Accept`) can be served.
    #[error("{0}")]
    NotAcceptable(String),
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// The request body did not arrive within the body-read timeout.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// An `Idempotency-Key` sent again with another request (see `idempotency`).
    #[error(
        "this Idempotency-Key was sent before with another request body; a new request needs a new key"
    )]
    IdempotencyKeyReused,
    /// An `Idempotency-Key` whose first request is still being processed.
    #[error("the first request with this Idempotency-Key is still being processed; retry later")]
    IdempotencyKeyInFlight,
    /// The database did not answer in time, or is down: try again later.
    #[error("{context}")]
    Unavailable {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// A bug or an unexpected failure; the cause is logged, never shown.
    #[error("internal error: {context}")]
    Internal {
        context: String,
        #[source]
        source: Option<Cause>,
    },
}

impl ApiError {
    /// A 500 for an unexpected failure: `context` says what was being done, `source` is what
    /// failed. Both go to the log, neither to the client.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self::Internal {
            context: context.into(),
            source: Some(Cause::from(source.into())),
        }
    }

    /// A 500 for something the code takes for granted that did not hold (no other error
    /// caused it).
    pub fn bug(context: impl Into<String>) -> Self {
        Self::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// A 503 because the database (or what leads to it) failed: `context` says what could not
    /// be done, `source` why.
    pub fn unavailable(
        context: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: Some(Cause::from(source.into())),
        }
    }

    /// A 503 with nothing under it: the request may well succeed if sent again.
    pub fn retry_later(context: impl Into<String>) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    /// A 400 about a single field or parameter.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        Self::BadRequest {
            detail: format!("{}: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// A 400 for a body whose JSON does not fit its schema: every field error, in the detail too.
    pub fn body_errors(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self::BadRequest {
            detail: format!("the body does not fit the schema: {detail}"),
            errors,
        }
    }

    /// The snake_case name of the problem.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::InvalidCursor(_) | Self::InvalidFeedCursor(_) => "invalid_cursor",
            Self::CursorExpired(_) => "cursor_expired",
            Self::UnknownParameter { .. } => "unknown_parameter",
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Moved { .. } => "moved",
            Self::MergedInto(_) => "merged_into",
            Self::Conflict(_) | Self::BrokenReference(_) => "conflict",
            Self::PreconditionFailed => "precondition_failed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge | Self::TooLarge(_) => "payload_too_large",
            Self::NotAcceptable(_) => "not_acceptable",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Self::Unavailable { .. } => "service_unavailable",
            Self::Internal { .. } => "internal_error",
        }
    }

    /// The body sent to the client.
    pub fn problem(&self) -> ProblemDetails {
        let status = self.status_code();
        let detail = match self {
            // The cause is in the log; clients learn nothing about the internals.
            Self::Internal { .. } => "an unexpected error occurred; it has been logged".to_owned(),
            // What failed, one level deep ("no database connection: timed out …"), as before
            // causes were kept.
            Self::Unavailable {
                context,
                source: Some(source),
            } => format!("{context}: {source}"),
            other => other.to_string(),
        };
        let errors = match self {
            Self::BadRequest { errors, .. } | Self::Validation(errors) => errors.clone(),
            Self::InvalidCursor(message) => vec![FieldError::new("cursor", message.clone())],
            Self::InvalidFeedCursor(message) => vec![FieldError::new("after", message.clone())],
            Self::UnknownParameter { name, accepted } => vec![FieldError::new(
                name.clone(),
                format!("unknown parameter; use {}", accepted_list(accepted)),
            )],
            _ => Vec::new(),
        };
        ProblemDetails {
            problem_type: format!("urn:coop-registry:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: self.code().to_owned(),
            detail,
            errors,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. }
            | Self::InvalidCursor(_)
            | Self::InvalidFeedCursor(_)
            | Self::UnknownParameter { .. } => StatusCode::BAD_REQUEST,
            Self::CursorExpired(_) => StatusCode::GONE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Moved { .. } => StatusCode::PERMANENT_REDIRECT,
            Self::MergedInto(_) => StatusCode::CONFLICT,
            Self::Conflict(_) | Self::BrokenReference(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge | Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotencyKeyInFlight => StatusCode::CONFLICT,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer to the client. Internal errors and outages are logged where the request's id
    /// is known, once (`telemetry::request_id`).
    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type(PROBLEM_JSON);
        match self {
            Self::Unavailable { .. } | Self::IdempotencyKeyInFlight => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::Unauthorized(_) => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"coop-registry\""));
            }
            Self::Moved { location, .. } => {
                response.insert_header((header::LOCATION, location.as_str()));
            }
            // The rest of the body may still be on its way; the connection cannot be reused.
            Self::RequestTimeout => {
                response.force_close();
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::Error as E;
        match &error {
            E::NotFound => Self::NotFound("no such resource".to_owned()),
            E::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => {
                    Self::Conflict("a resource with the same unique value exists".to_owned())
                }
                DatabaseErrorKind::ForeignKeyViolation => Self::BrokenReference(
                    "the change would break a reference between resources".to_owned(),
                ),
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ReadOnlyTransaction => {
                    Self::unavailable("the database did not complete the query", error)
                }
                // SQLite reports a lock held past busy_timeout as a plain error.
                _ if is_busy(info.message()) => {
                    Self::unavailable("the database did not complete the query", error)
                }
                _ => {
                    let context = format!("database error ({kind:?})");
                    Self::internal(context, error)
                }
            },
            E::BrokenTransactionManager => {
                Self::unavailable("the database connection broke", error)
            }
            _ => Self::internal("database", error),
        }
    }
}

/// Messages that mean "try again later": SQLite's lock held past busy_timeout, PostgreSQL's
/// timeouts, and a connection the server closed (restart, pg_terminate_backend, failover).
fn is_busy(message: &str) -> bool {
    const TRANSIENT: [&str; 8] = [
        "database is locked",
        "database is busy",
        "canceling statement due to statement timeout",
        "canceling statement due to lock timeout",
        "terminating connection",
        "server closed the connection",
        "connection to server",
        "no connection to the server",
    ];
    TRANSIENT.iter().any(|m| message.contains(m))
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::unavailable("no database connection", error)
    }
}

impl From<diesel::r2d2::Error> for ApiError {
    fn from(error: diesel::r2d2::Error) -> Self {
        Self::unavailable("database connection failed", error)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::unavailable("the blocking thread pool is gone", error)
    }
}

/// An error and each of its causes, outermost first, joined by `: `, for the log. A cause whose
/// text its parent already ends with (some errors print their source themselves) is left out.
pub fn cause_chain(error: &(dyn Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !chain.ends_with(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        next = cause.source();
    }
    chain
}

/// The accepted query parameters, for a message: `a`, `b` or "no query parameters".
fn accepted_list(accepted: &[String]) -> String {
    if accepted.is_empty() {
        "no query parameters".to_owned()
    } else {
        accepted
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Turns a JSON body error from actix into the matching problem.
pub fn json_error(error: actix_error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_error::JsonPayloadError as J;
    let problem = match error {
        J::OverflowKnownLength { .. } | J::Overflow { .. } => ApiError::PayloadTooLarge,
        J::ContentType => ApiError::UnsupportedMediaType(
            "the body must be JSON: Content-Type application/json (or application/merge-patch+json for PATCH)"
                .to_owned(),
        ),
        J::Deserialize(e) => ApiError::BadRequest {
            detail: format!("the body is not valid JSON: {e}"),
            errors: Vec::new(),
        },
        J::Payload(actix_error::PayloadError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            ApiError::RequestTimeout
        }
        J::Payload(e) => ApiError::BadRequest {
            detail: format!("the body could not be read: {e}"),
            errors: Vec::new(),
        },
        other => ApiError::BadRequest {
            detail: other.to_string(),
            errors: Vec::new(),
        },
    };
    problem.into()
}

/// Turns a path segment that does not parse (an id that is not a number) into a 400.
pub fn path_error(error: actix_error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_field("path", format!("bad path parameter: {error}")).into()
}

/// The first name serde quotes in backticks in an error message (`unknown field `x``).
pub(crate) fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// The answer to any path no route matches.
pub async fn no_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(
        "no such path; the API lives under /api/v1 (see /swagger-ui/)".to_owned(),
    ))
}

/// Reusable OpenAPI responses, one per error status, all with a [`ProblemDetails`] body.
pub mod responses {
    use super::*;

    /// Malformed JSON, wrong JSON types, an unknown field, or a bad query or path parameter.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:coop-registry:problem:bad_request", "title": "Bad Request", "status": 400,
        "code": "bad_request", "detail": "limit: must be between 1 and 500",
        "errors": [{"field": "limit", "message": "must be between 1 and 500"}]}))]
    pub struct BadRequest(pub ProblemDetails);

    /// The body parsed but breaks field rules; `errors` lists every one. (Or a POST's
    /// `Idempotency-Key` came before with another body.)
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", examples(
        ("partner" = (summary = "A partner body with two broken rules", value = json!({
            "type": "urn:coop-registry:problem:validation_failed", "title": "Unprocessable Content",
            "status": 422, "code": "validation_failed", "detail": "the request body breaks 2 rule(s)",
            "errors": [{"field": "name", "message": "must be 1 to 200 characters"},
                       {"field": "country_code", "message": "no country with code QQ"}]}))),
        ("event" = (summary = "An event that ends before it starts", value = json!({
            "type": "urn:coop-registry:problem:validation_failed", "title": "Unprocessable Content",
            "status": 422, "code": "validation_failed", "detail": "the request body breaks 1 rule(s)",
            "errors": [{"field": "ends_on", "message": "must not be before the start date"}]}))),
        ("country" = (summary = "A country body with a bad code", value = json!({
            "type": "urn:coop-registry:problem:validation_failed", "title": "Unprocessable Content",
            "status": 422, "code": "validation_failed", "detail": "the request body breaks 1 rule(s)",
            "errors": [{"field": "alpha3", "message": "must be 3 letters A-Z"}]}))),
        ("idempotency key reused" = (summary = "A POST whose Idempotency-Key came before with another body", value = json!({
            "type": "urn:coop-registry:problem:idempotency_key_reused", "title": "Unprocessable Content",
            "status": 422, "code": "idempotency_key_reused",
            "detail": "this Idempotency-Key was sent before with another request body; a new request needs a new key",
            "errors": []}))),
    ))]
    pub struct Unprocessable(pub ProblemDetails);

    /// No bearer token, or one that is malformed, unknown or revoked.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"coop-registry\"`")),
        example = json!({
        "type": "urn:coop-registry:problem:unauthorized", "title": "Unauthorized", "status": 401,
        "code": "unauthorized", "detail": "this needs a bearer token", "errors": []}))]
    pub struct Unauthorized(pub ProblemDetails);

    /// The token is valid but its role is too small for this operation.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:coop-registry:problem:forbidden", "title": "Forbidden", "status": 403,
        "code": "forbidden", "detail": "token \"reporting\" has role editor; this needs admin", "errors": []}))]
    pub struct Forbidden(pub ProblemDetails);

    /// No resource has this key.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", examples(
        ("partner" = (value = json!({
            "type": "urn:coop-registry:problem:not_found", "title": "Not Found", "status": 404,
            "code": "not_found", "detail": "no partner with id 42", "errors": []}))),
        ("agreement" = (value = json!({
            "type": "urn:coop-registry:problem:not_found", "title": "Not Found", "status": 404,
            "code": "not_found", "detail": "no agreement with id 42", "errors": []}))),
        ("event" = (value = json!({
            "type": "urn:coop-registry:problem:not_found", "title": "Not Found", "status": 404,
            "code": "not_found", "detail": "no event with id 42", "errors": []}))),
        ("country" = (value = json!({
            "type": "urn:coop-registry:problem:not_found", "title": "Not Found", "status": 404,
            "code": "not_found", "detail": "no country with code QQ", "errors": []}))),
    ))]
    pub struct NotFound(pub ProblemDetails);

    /// The change clashes with existing data: a duplicate key, or a resource still referenced.
    /// (Or a POST's `Idempotency-Key` is held by its first request, still running.)
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", examples(
        ("duplicate name" = (summary = "A partner's name is taken", value = json!({
            "type": "urn:coop-registry:problem:conflict", "title": "Conflict", "status": 409,
            "code": "conflict",
            "detail": "partner 2 already has the name \"United Nations Development Programme\" (names are unique ignoring case)",
            "errors": []}))),
        ("still referenced" = (summary = "A delete refused while others refer to the resource", value = json!({
            "type": "urn:coop-registry:problem:conflict", "title": "Conflict", "status": 409,
            "code": "conflict",
            "detail": "partner 3 is still referenced by agreement 2, event 2; remove those references first",
            "errors": []}))),
        ("duplicate code" = (summary = "A country that exists already", value = json!({
            "type": "urn:coop-registry:problem:conflict", "title": "Conflict", "status": 409,
            "code": "conflict", "detail": "country KZ already exists", "errors": []}))),
        ("idempotency key in flight" = (summary = "A POST repeated while the first with its Idempotency-Key runs", value = json!({
            "type": "urn:coop-registry:problem:idempotency_key_in_flight", "title": "Conflict",
            "status": 409, "code": "idempotency_key_in_flight",
            "detail": "the first request with this Idempotency-Key is still being processed; retry later",
            "errors": []}))),
    ))]
    pub struct Conflict(pub ProblemDetails);

    /// `If-Match` does not hold the resource's current ETag; nothing was changed.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:coop-registry:problem:precondition_failed", "title": "Precondition Failed",
        "status": 412, "code": "precondition_failed",
        "detail": "the resource has changed: If-Match does not hold its current ETag", "errors": []}))]
    pub struct PreconditionFailed(pub ProblemDetails);

    /// The body is not sent as JSON.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:coop-registry:problem:unsupported_media_type", "title": "Unsupported Media Type",
        "status": 415, "code": "unsupported_media_type",
        "detail": "the body must be JSON: Content-Type application/json (or application/merge-patch+json for PATCH)",
        "errors": []}))]
    pub struct UnsupportedMediaType(pub ProblemDetails);

    /// The body is larger than 1 MiB.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:coop-registry:problem:payload_too_large", "title": "Payload Too Large",
        "status": 413, "code": "payload_too_large",
        "detail": "the request body is larger than 1048576 bytes", "errors": []}))]
    pub struct PayloadTooLarge(pub ProblemDetails);

    /// The database did not answer in time; retry later.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:coop-registry:problem:service_unavailable", "title": "Service Unavailable",
        "status": 503, "code": "service_unavailable",
        "detail": "no database connection: timed out waiting for connection", "errors": []}))]
    pub struct Unavailable(pub ProblemDetails);

    /// The change-feed position is further back than the feed reaches (the next change after it
    /// is older than `CHANGES_RETENTION_DAYS`): start again with a full read.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:coop-registry:problem:cursor_expired", "title": "Gone", "status": 410,
        "code": "cursor_expired",
        "detail": "this position is further back than the change feed reaches (CHANGES_RETENTION_DAYS), so the changes after it are no longer in the feed; resynchronise: take GET /api/v1/changes/head, read every list in full, then follow the feed from that head",
        "errors": []}))]
    pub struct Gone(pub ProblemDetails);
}

/// The error responses of each kind of operation, listed once and named in every
/// `#[utoipa::path]`: the documentation cannot forget one.
pub mod operation_errors {
    use utoipa::IntoResponses;

    use super::responses;

    /// The errors a list can answer.
    #[derive(IntoResponses)]
    pub enum ListErrors {
        #[response(status = 400)]
        BadRequest(#[ref_response] responses::BadRequest),
        #[response(status = 401)]
        Unauthorized(#[ref_response] responses::Unauthorized),
        #[response(status = 503)]
        Unavailable(#[ref_response] responses::Unavailable),
    }

    /// The errors a read of one resource can answer.
    #[derive(IntoResponses)]
    pub enum ReadErrors {
        #[response(status = 400)]
        BadRequest(#[ref_response] responses::BadRequest),
        #[response(status = 401)]
        Unauthorized(#[ref_response] responses::Unauthorized),
        #[response(status = 404)]
        NotFound(#[ref_response] responses::NotFound),
        #[response(status = 503)]
        Unavailable(#[ref_response] responses::Unavailable),
    }

    /// The errors a create can answer.
    #[derive(IntoResponses)]
    pub enum CreateErrors {
        #[response(status = 400)]
        BadRequest(#[ref_response] responses::BadRequest),
        #[response(status = 401)]
        Unauthorized(#[ref_response] responses::Unauthorized),
        #[response(status = 403)]
        Forbidden(#[ref_response] responses::Forbidden),
        #[response(status = 409)]
        Conflict(#[ref_response] responses::Conflict),
        #[response(status = 413)]
        PayloadTooLarge(#[ref_response] responses::PayloadTooLarge),
        #[response(status = 415)]
        UnsupportedMediaType(#[ref_response] responses::UnsupportedMediaType),
        #[response(status = 422)]
        Unprocessable(#[ref_response] responses::Unprocessable),
        #[response(status = 503)]
        Unavailable(#[ref_response] responses::Unavailable),
    }

    /// The errors a replace (PUT) or merge patch (PATCH) can answer.
    #[derive(IntoResponses)]
    pub enum ChangeErrors {
        #[response(status = 400)]
        BadRequest(#[ref_response] responses::BadRequest),
        #[response(status = 401)]
        Unauthorized(#[ref_response] responses::Unauthorized),
        #[response(status = 403)]
        Forbidden(#[ref_response] responses::Forbidden),
        #[response(status = 404)]
        NotFound(#[ref_response] responses::NotFound),
        #[response(status = 409)]
        Conflict(#[ref_response] responses::Conflict),
        #[response(status = 412)]
        PreconditionFailed(#[ref_response] responses::PreconditionFailed),
        #[response(status = 413)]
        PayloadTooLarge(#[ref_response] responses::PayloadTooLarge),
        #[response(status = 415)]
        UnsupportedMediaType(#[ref_response] responses::UnsupportedMediaType),
        #[response(status = 422)]
        Unprocessable(#[ref_response] responses::Unprocessable),
        #[response(status = 503)]
        Unavailable(#[ref_response] responses::Unavailable),
    }

    /// The errors a delete can answer (409 is listed where something can refer to the resource).
    #[derive(IntoResponses)]
    pub enum DeleteErrors {
        #[response(status = 400)]
        BadRequest(#[ref_response] responses::BadRequest),
        #[response(status = 401)]
        Unauthorized(#[ref_response] responses::Unauthorized),
        #[response(status = 403)]
        Forbidden(#[ref_response] responses::Forbidden),
        #[response(status = 404)]
        NotFound(#[ref_response] responses::NotFound),
        #[response(status = 412)]
        PreconditionFailed(#[ref_response] responses::PreconditionFailed),
        #[response(status = 503)]
        Unavailable(#[ref_response] responses::Unavailable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticked_finds_the_first_quoted_name() {
        assert_eq!(
            backticked("unknown field `colour`, expected one of `a`").as_deref(),
            Some("colour")
        );
        assert_eq!(backticked("no quotes"), None);
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let problem =
            ApiError::internal("reading secret_table", "no such column: secret").problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"), "{}", problem.detail);
    }

    #[test]
    fn validation_problem_lists_every_field() {
        let problem = ApiError::Validation(vec![
            FieldError::new("a", "bad"),
            FieldError::new("b", "worse"),
        ])
        .problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(problem.errors.len(), 2);
        assert_eq!(
            problem.problem_type,
            "urn:coop-registry:problem:validation_failed"
        );
    }
}
