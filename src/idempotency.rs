//! Safe retries of `POST`: the `Idempotency-Key` request header (IETF draft "The
//! Idempotency-Key HTTP Header Field").
//!
//! The first request with a key is processed and its answer (status, body, `Content-Type`,
//! `Location`, `ETag`) is kept in the database for [`KEPT_FOR`], under the token that sent it,
//! the method and the path. A repeat with the same key and the same request (body and
//! `Content-Type`) gets that answer again, byte for byte, and the handler does not run: no second
//! write, no second audit entry. The same key with another request is a 422
//! (`idempotency_key_reused`); a repeat while the first is still running, a 409
//! (`idempotency_key_in_flight`). Server errors (5xx) are not kept, so a retry runs again.
//!
//! The keys live in the database, so every instance sharing it sees them. A request holds its
//! key for [`CLAIM_LEASE`] while it runs; an instance that dies meanwhile leaves the claim to
//! expire, and the next repeat runs the request. Expired keys are deleted a batch at a time by the
//! requests that bring keys, so the table never grows past a day of keys.
//!
//! The answer is kept just after the write's own transaction has committed: if the process dies
//! in between, the claim expires and a repeat runs the request again.

use std::pin::Pin;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use bytes::{Bytes, BytesMut};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use futures_util::{Stream, StreamExt, stream};
use sha2::{Digest, Sha256};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Required};

use crate::config::MAX_BODY_BYTES;
use crate::db::{Db, DbConnection};
use crate::error::ApiError;
use crate::schema::idempotency_keys;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";

/// How long an answer is kept.
pub const KEPT_FOR: Duration = Duration::hours(24);

/// How long a request holds its key while it runs. No request runs this long: its statements
/// are bounded far below it (the pool's wait, `statement_timeout`, `busy_timeout`), and its body
/// has arrived before the key is claimed.
pub const CLAIM_LEASE: Duration = Duration::seconds(60);

/// The most characters of a key (after unquoting).
pub const MAX_KEY_CHARS: usize = 255;

/// How many expired keys a keyed request deletes, at most.
const PURGE_BATCH: i64 = 100;

/// The header's syntax, as the OpenAPI document states it: a bare key of visible ASCII without
/// `"`, or the draft's structured-field string (`"…"`, with `\"` and `\\` as escapes).
pub const KEY_PATTERN: &str = r#"^(?:[!#-~]{1,255}|"(?:[ !#-\[\]-~]|\\[\\"]){1,255}")$"#;

/// What a POST route does with the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// Keeps the answer under the key (every POST, unless it says otherwise).
    Kept,
    /// Refuses the header with 400: the answer carries a secret that must not be stored.
    Refused,
}

/// Reads the header: the key, unquoted, or `None` without one; a 400 when it is malformed or
/// sent twice.
pub fn key_of(headers: &header::HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_field(
            HEADER,
            "send one Idempotency-Key header, not several",
        ));
    }
    parse_key(value.as_bytes()).map(Some).ok_or_else(|| {
        ApiError::bad_field(
            HEADER,
            format!(
                "must be 1 to {MAX_KEY_CHARS} visible ASCII characters without `\"`, or such a \
                 text quoted (`\"…\"`, with `\\\"` and `\\\\` inside)"
            ),
        )
    })
}

/// A key as sent, bare or quoted, or `None` when it is neither.
fn parse_key(raw: &[u8]) -> Option<String> {
    let key = match raw {
        [b'"', inner @ .., b'"'] if !inner.is_empty() => {
            let mut key = Vec::with_capacity(inner.len());
            let mut chars = inner.iter();
            while let Some(&c) = chars.next() {
                match c {
                    b'\\' => match chars.next() {
                        Some(&escaped @ (b'\\' | b'"')) => key.push(escaped),
                        _ => return None,
                    },
                    b'"' => return None,
                    b' '..=b'~' => key.push(c),
                    _ => return None,
                }
            }
            key
        }
        bare if bare.iter().all(|c| matches!(c, b'!'..=b'~') && *c != b'"') => bare.to_vec(),
        _ => return None,
    };
    (!key.is_empty() && key.len() <= MAX_KEY_CHARS)
        .then(|| String::from_utf8(key).ok())
        .flatten()
}

/// Where a key belongs: the token (its SHA-256), the method and the path.
#[derive(Clone, Debug)]
struct Scope {
    token_hash: String,
    method: String,
    path: String,
    key: String,
}

/// An answer as kept and sent again.
#[derive(Clone, Debug, PartialEq, Eq, Queryable)]
struct Kept {
    status: i32,
    content_type: Option<String>,
    location: Option<String>,
    etag: Option<String>,
    body: String,
}

/// What claiming a key found.
#[derive(Debug)]
enum Claim {
    /// The key is this request's, under the claim id.
    Ours(String),
    /// The answer of an earlier request with the same key and the same body.
    Answered(Kept),
    /// The same key with another body.
    Reused,
    /// The same key, still being processed.
    InFlight,
}

/// Keeps POST answers under their `Idempotency-Key` (see the module's description). It runs
/// inside the route's gate, after access is decided; without the header the request goes
/// straight to the handler.
pub async fn kept(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match key_of(req.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.call(req).await,
        Err(error) => return Ok(req.error_response(error)),
    };
    let (Some(token_hash), Some(db)) = (token_hash(&req), req.app_data::<web::Data<Db>>().cloned())
    else {
        // Keys are scoped to a token; a request without one has nothing to keep them under.
        return next.call(req).await;
    };
    let body = match read_body(req.take_payload()).await {
        Ok(body) => body,
        Err(unread) => {
            // Too large, or it broke off: the handler answers that (413, 408, 400) as always,
            // and such an answer is not kept.
            req.set_payload(unread);
            return next.call(req).await;
        }
    };
    let scope = Scope {
        token_hash,
        method: req.method().as_str().to_owned(),
        path: req.path().to_owned(),
        key,
    };
    let fingerprint = fingerprint(req.headers().get(header::CONTENT_TYPE), &body);
    let claim = {
        let (scope, fingerprint) = (scope.clone(), fingerprint.clone());
        db.write(move |conn| claim(conn, &scope, &fingerprint, crate::time::now()))
            .await
    };
    let claim_id = match claim {
        Ok(Claim::Ours(claim_id)) => claim_id,
        Ok(Claim::Answered(kept)) => {
            let response = replay(&kept);
            return Ok(req.into_response(response));
        }
        Ok(Claim::Reused) => return Ok(req.error_response(ApiError::IdempotencyKeyReused)),
        Ok(Claim::InFlight) => return Ok(req.error_response(ApiError::IdempotencyKeyInFlight)),
        Err(error) => return Ok(req.error_response(error)),
    };
    req.set_payload(Payload::from(body));
    let answered = next.call(req).await;
    let response = match answered {
        Ok(response) => response,
        Err(error) => {
            release(&db, scope, claim_id).await;
            return Err(error);
        }
    };
    let (req, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(error) => {
            release(&db, scope, claim_id).await;
            let error = ApiError::bug(format!("the answer to keep could not be read: {error}"));
            return Ok(ServiceResponse::new(req, error.error_response()));
        }
    };
    let response = head.set_body(BoxBody::new(bytes.clone()));
    match to_keep(&response, &bytes) {
        Some(kept) => {
            let stored = db
                .write(move |conn| Ok(store(conn, &scope, &claim_id, &kept, crate::time::now())?))
                .await;
            if let Err(error) = stored {
                // The answer stands; a repeat finds the key in flight until its claim expires.
                log::warn!("the answer under an Idempotency-Key was not kept: {error}");
            }
        }
        None => release(&db, scope, claim_id).await,
    }
    Ok(ServiceResponse::new(req, response))
}

/// Refuses the header on a POST whose answer carries a secret, which must not be kept.
pub async fn refused(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.headers().contains_key(HEADER) {
        let error = ApiError::bad_field(
            HEADER,
            "is not taken here: the answer carries a secret, which is never stored",
        );
        return Ok(req.error_response(error));
    }
    next.call(req).await
}

/// SHA-256 (hex) of the request's bearer token, as the token table keeps it. The gate has
/// already accepted the header.
fn token_hash(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(hex(&Sha256::digest(token.trim().as_bytes())))
}

/// What identifies a request's content: its `Content-Type` and its body.
fn fingerprint(content_type: Option<&HeaderValue>, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(content_type.map_or(&b""[..], HeaderValue::as_bytes));
    digest.update(b"\n");
    digest.update(body);
    hex(&digest.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

type BoxedStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// The whole body, or, when it is larger than a body may be or breaks off, a payload that gives
/// the handler exactly what it would have read.
async fn read_body(mut payload: Payload) -> Result<Bytes, Payload> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_BODY_BYTES {
                    let read = stream::once(async move { Ok(body.freeze()) });
                    let rest: BoxedStream = Box::pin(read.chain(payload));
                    return Err(Payload::Stream { payload: rest });
                }
            }
            Err(error) => {
                let items = [Ok(body.freeze()), Err(error)];
                let rest: BoxedStream = Box::pin(stream::iter(items));
                return Err(Payload::Stream { payload: rest });
            }
        }
    }
    Ok(body.freeze())
}

/// The answer to keep: any but a server error, whose body is text (every answer of this
/// service is JSON).
fn to_keep(response: &HttpResponse<BoxBody>, body: &Bytes) -> Option<Kept> {
    if response.status().is_server_error() {
        return None;
    }
    let text = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Some(Kept {
        status: i32::from(response.status().as_u16()),
        content_type: text(header::CONTENT_TYPE),
        location: text(header::LOCATION),
        etag: text(header::ETAG),
        body: String::from_utf8(body.to_vec()).ok()?,
    })
}

/// A kept answer, sent again.
fn replay(kept: &Kept) -> HttpResponse {
    let status = u16::try_from(kept.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in [
        (header::CONTENT_TYPE, &kept.content_type),
        (header::LOCATION, &kept.location),
        (header::ETAG, &kept.etag),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            response.insert_header((name, value));
        }
    }
    response.body(kept.body.clone())
}

/// Gives the key up, so that a retry runs the request again (after a server error).
async fn release(db: &Db, scope: Scope, claim_id: String) {
    let released = db
        .write(move |conn| {
            let mine = idempotency_keys::claim.eq(Some(claim_id));
            Ok(diesel::delete(in_scope(&scope).filter(mine)).execute(conn)?)
        })
        .await;
    if let Err(error) = released {
        log::warn!("an Idempotency-Key was not released: {error}");
    }
}

type InScope<'a> = diesel::dsl::Filter<
    idempotency_keys::table,
    diesel::dsl::And<
        diesel::dsl::And<
            diesel::dsl::And<
                diesel::dsl::Eq<idempotency_keys::token_hash, &'a str>,
                diesel::dsl::Eq<idempotency_keys::method, &'a str>,
            >,
            diesel::dsl::Eq<idempotency_keys::path, &'a str>,
        >,
        diesel::dsl::Eq<idempotency_keys::idempotency_key, &'a str>,
    >,
>;

fn in_scope(scope: &Scope) -> InScope<'_> {
    use idempotency_keys::dsl as k;
    k::idempotency_keys.filter(
        k::token_hash
            .eq(scope.token_hash.as_str())
            .and(k::method.eq(scope.method.as_str()))
            .and(k::path.eq(scope.path.as_str()))
            .and(k::idempotency_key.eq(scope.key.as_str())),
    )
}

/// Takes the key for this request, or says who has it. Runs as one transaction: first a batch
/// of expired keys goes (this scope's own expired key with it), then the key is inserted unless
/// it exists, and an existing one is read.
fn claim(
    conn: &mut DbConnection,
    scope: &Scope,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<Claim, ApiError> {
    use idempotency_keys::dsl as k;
    purge(conn, now)?;
    diesel::delete(in_scope(scope).filter(k::expires_at.lt(now))).execute(conn)?;
    let claim_id = uuid::Uuid::new_v4().simple().to_string();
    let row = (
        k::token_hash.eq(&scope.token_hash),
        k::method.eq(&scope.method),
        k::path.eq(&scope.path),
        k::idempotency_key.eq(&scope.key),
        k::fingerprint.eq(fingerprint),
        k::claim.eq(Some(&claim_id)),
        k::created_at.eq(now),
        k::expires_at.eq(now + CLAIM_LEASE),
    );
    let inserted = crate::on_backend!(conn, |c| diesel::insert_into(k::idempotency_keys)
        .values(row)
        .on_conflict((k::token_hash, k::method, k::path, k::idempotency_key))
        .do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(Claim::Ours(claim_id));
    }
    let (found, status, content_type, location, etag, body) = in_scope(scope)
        .select((
            k::fingerprint,
            k::status,
            k::content_type,
            k::location,
            k::etag,
            k::body,
        ))
        .first::<(
            String,
            Option<i32>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        )>(conn)?;
    Ok(match (status, body) {
        _ if found != fingerprint => Claim::Reused,
        (Some(status), Some(body)) => Claim::Answered(Kept {
            status,
            content_type,
            location,
            etag,
            body,
        }),
        _ => Claim::InFlight,
    })
}

/// Deletes up to [`PURGE_BATCH`] expired keys, oldest first.
fn purge(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Timestamp};
    match conn {
        // Requests purging at the same time take different rows rather than wait on each other.
        DbConnection::Postgres(c) => diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys \
             WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(PURGE_BATCH)
        .execute(c),
        // One writer at a time: nothing to skip.
        DbConnection::Sqlite(c) => diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys \
             WHERE expires_at < ? ORDER BY expires_at LIMIT ?)",
        )
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(PURGE_BATCH)
        .execute(c),
    }
}

/// Keeps the answer under the key this request claimed, for [`KEPT_FOR`] from now.
fn store(
    conn: &mut DbConnection,
    scope: &Scope,
    claim_id: &str,
    kept: &Kept,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use idempotency_keys::dsl as k;
    diesel::update(in_scope(scope).filter(k::claim.eq(Some(claim_id))))
        .set((
            k::claim.eq(None::<String>),
            k::status.eq(Some(kept.status)),
            k::content_type.eq(kept.content_type.as_deref()),
            k::location.eq(kept.location.as_deref()),
            k::etag.eq(kept.etag.as_deref()),
            k::body.eq(Some(kept.body.as_str())),
            k::expires_at.eq(now + KEPT_FOR),
        ))
        .execute(conn)
}

/// States the header on every POST of the document, with the two answers it adds (409 while the
/// first request runs, 422 for a key reused with another body). An operation that lists the
/// header already (one that refuses it, say) is left as it is.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let Some(operation) = item.post.as_mut() else {
            continue;
        };
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        if parameters.iter().any(|p| p.name == HEADER) {
            continue;
        }
        parameters.push(parameter(
            "Makes a retry safe: the first request with a key is processed and its answer kept \
             for 24 hours, for the same token, method and path; a repeat with the same key and \
             the same body (and `Content-Type`) gets that answer again, byte for byte (status, \
             body, `Location`, `ETag`), and nothing is written twice. The same key with another \
             body: 422 `idempotency_key_reused`; while the first request still runs: 409 \
             `idempotency_key_in_flight` (retry later). Server errors (5xx) are not kept. Sent \
             bare or as a quoted string; a UUID is a good key.",
        ));
        add_response(operation, "409", "Conflict");
        add_response(operation, "422", "Unprocessable");
    }
}

/// The header as an operation that refuses it documents it.
pub fn refused_parameter() -> utoipa::openapi::path::Parameter {
    parameter(
        "Not taken by this operation (400 when sent): its answer carries a secret, which is \
         never stored.",
    )
}

fn parameter(description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(KEY_PATTERN)),
        ))
        .example(Some(serde_json::json!(
            "\"8e03978e-40d5-43e8-bc93-6894a57f9324\""
        )))
        .build()
}

fn add_response(operation: &mut Operation, status: &str, component: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(component)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_read_bare_or_quoted() {
        let key = |raw: &str| parse_key(raw.as_bytes());
        assert_eq!(key("abc-123").as_deref(), Some("abc-123"));
        assert_eq!(key("\"abc-123\"").as_deref(), Some("abc-123"));
        assert_eq!(key(r#""a \"b\" \\c""#).as_deref(), Some(r#"a "b" \c"#));
        assert_eq!(key("\"with space\"").as_deref(), Some("with space"));
        for bad in [
            "",
            "\"\"",
            "with space",
            "\"open",
            "a\"b",
            "\"bad \\x escape\"",
            "\"a\"b\"",
            "ключ",
            "\"ключ\"",
        ] {
            assert_eq!(key(bad), None, "{bad:?}");
        }
        assert!(key(&"k".repeat(255)).is_some());
        assert!(key(&"k".repeat(256)).is_none());
        assert!(key(&format!("\"{}\"", "k".repeat(255))).is_some());
        assert!(key(&format!("\"{}\"", "k".repeat(256))).is_none());
    }

    #[test]
    fn the_documented_pattern_takes_exactly_the_keys_the_service_takes() {
        let pattern = jsonschema::validator_for(&serde_json::json!({
            "type": "string", "pattern": KEY_PATTERN
        }))
        .expect("the pattern compiles");
        for raw in [
            "abc-123",
            "\"abc-123\"",
            r#""a \"b\" \\c""#,
            "\"with space\"",
            "",
            "\"\"",
            "with space",
            "\"open",
            "a\"b",
            "\"bad \\x escape\"",
            "\"a\"b\"",
            "ключ",
            "~!#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
            "\"~!#$%&'()*+,-./:;<=>?@[]^_`{|} \"",
        ] {
            assert_eq!(
                pattern.is_valid(&serde_json::json!(raw)),
                parse_key(raw.as_bytes()).is_some(),
                "{raw:?}"
            );
        }
        for long in [
            "k".repeat(255),
            "k".repeat(256),
            format!("\"{}\"", "k".repeat(255)),
            format!("\"{}\"", "k".repeat(256)),
        ] {
            assert_eq!(
                pattern.is_valid(&serde_json::json!(long)),
                parse_key(long.as_bytes()).is_some(),
                "{} characters",
                long.len()
            );
        }
    }

    #[test]
    fn a_fingerprint_covers_the_body_and_its_content_type() {
        let json = HeaderValue::from_static("application/json");
        let same = fingerprint(Some(&json), b"{}");
        assert_eq!(same, fingerprint(Some(&json), b"{}"));
        assert_ne!(same, fingerprint(Some(&json), b"{ }"));
        assert_ne!(same, fingerprint(None, b"{}"));
    }
}
