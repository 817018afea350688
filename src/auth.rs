//! Who may do what: bearer tokens with roles, checked in one middleware for the whole API.
//!
//! Tokens are 256 random bits from the operating system, shown once when made; the database
//! keeps only their SHA-256. Every request with a token looks it up, so a revoked token stops
//! working at once on every instance that shares the database.

use std::future::{Ready, ready};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::TryRngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{Db, DbConnection};
use crate::error::ApiError;
use crate::schema::api_tokens;
use crate::text_enum;

text_enum! {
    /// What a token may do: `editor` writes partners, agreements and events; `admin` also
    /// writes countries and reads the audit log.
    pub enum Role {
        Editor => "editor",
        Admin => "admin",
    }
}

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::Editor => 1,
            Role::Admin => 2,
        }
    }

    /// Whether this role includes everything `needed` may do.
    pub fn covers(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }
}

/// The holder of a valid token, as the handlers and the audit log see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: Role,
}

/// Handlers of writes take an `Actor`; the middleware has already checked the role.
impl FromRequest for Actor {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let actor = req.extensions().get::<Actor>().cloned();
        ready(
            actor.ok_or_else(|| {
                ApiError::Unauthorized("this needs a bearer token".to_owned()).into()
            }),
        )
    }
}

/// The access rules, set from the settings at start.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessPolicy {
    /// When true, reads need a valid token too (any role).
    pub read_requires_token: bool,
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Nothing,
    AnyToken,
    Role(Role),
}

impl AccessPolicy {
    /// The rule for a request to `path` (under `/api/v1`) with `method`.
    fn need(&self, method: &Method, path: &str) -> Need {
        let resource = path
            .strip_prefix("/api/v1/")
            .unwrap_or(path)
            .split('/')
            .next()
            .unwrap_or_default();
        let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        match (resource, read) {
            ("audit", _) => Need::Role(Role::Admin),
            ("countries", false) => Need::Role(Role::Admin),
            (_, false) => Need::Role(Role::Editor),
            (_, true) if self.read_requires_token => Need::AnyToken,
            (_, true) => Need::Nothing,
        }
    }
}

/// The middleware on `/api/v1`: resolves the bearer token, if any, and applies the policy
/// before any body is read. The resolved `Actor` goes into the request's extensions.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = req
        .app_data::<web::Data<AccessPolicy>>()
        .map(|p| *p.get_ref())
        .unwrap_or_default();
    let need = policy.need(req.method(), req.path());
    let actor = match bearer_token(&req)? {
        None => None,
        Some(token) => {
            let db = req
                .app_data::<web::Data<Db>>()
                .cloned()
                .ok_or_else(|| ApiError::Internal("no database in app data".to_owned()))?;
            Some(authenticate(&db, token).await?)
        }
    };
    match (need, &actor) {
        (Need::Nothing, _) => {}
        (Need::AnyToken | Need::Role(_), None) => {
            return Err(ApiError::Unauthorized("this needs a bearer token".to_owned()).into());
        }
        (Need::Role(role), Some(actor)) if !actor.role.covers(role) => {
            return Err(ApiError::Forbidden(format!(
                "token {:?} has role {}; this needs {}",
                actor.name,
                actor.role.as_str(),
                role.as_str()
            ))
            .into());
        }
        _ => {}
    }
    if let Some(actor) = actor {
        req.extensions_mut().insert(actor);
    }
    next.call(req).await
}

/// The token of an `Authorization: Bearer …` header; a header of another shape is a 401.
fn bearer_token(req: &ServiceRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad =
        || ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".to_owned());
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, token) = text.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(bad());
    }
    Ok(Some(token.trim().to_owned()))
}

/// The actor a token belongs to, or 401. Records the use at most once a minute per token.
async fn authenticate(db: &Db, token: String) -> Result<Actor, ApiError> {
    let hash = hash_token(&token);
    let found = db
        .read_point(move |conn| Ok(find_by_hash(conn, &hash)?))
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("the token is not valid (unknown or revoked)".to_owned())
        })?;
    let stale = found
        .last_used_at
        .is_none_or(|at| crate::time::now() - at > chrono::Duration::seconds(60));
    if stale {
        let id = found.id;
        db.write(move |conn| Ok(touch(conn, id)?)).await?;
    }
    Ok(Actor {
        name: found.name,
        role: found.role,
    })
}

/// A stored token: everything but the token itself, which is never kept.
#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = api_tokens)]
pub struct TokenRecord {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    #[diesel(deserialize_as = String)]
    pub role: Role,
    #[serde(skip)]
    pub token_hash: String,
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::time::StoredOptionalTimestamp)]
    pub last_used_at: Option<NaiveDateTime>,
}

fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn find_by_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<TokenRecord>> {
    let found: Option<TokenRecord> = crate::on_backend!(conn, |c| api_tokens::table
        .filter(api_tokens::token_hash.eq(hash))
        .select(TokenRecord::as_select())
        .first(c)
        .optional())?;
    // The index lookup already matched; comparing again in constant time keeps the decision
    // itself free of timing differences.
    Ok(found.filter(|t| bool::from(t.token_hash.as_bytes().ct_eq(hash.as_bytes()))))
}

fn touch(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(crate::time::now()))
        .execute(conn)
}

/// Makes a token named `name` with `role`; returns the token, which is shown only this once.
pub fn create_token(conn: &mut DbConnection, name: &str, role: Role) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_field("name", "must be 1 to 100 characters"));
    }
    let exists = api_tokens::table
        .filter(api_tokens::name.eq(name))
        .select(api_tokens::id)
        .first::<i64>(conn)
        .optional()?;
    if exists.is_some() {
        return Err(ApiError::Conflict(format!(
            "a token named {name:?} exists; revoke it first"
        )));
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut secret)
        .map_err(|e| ApiError::Internal(format!("the OS random generator failed: {e}")))?;
    let token = format!("coop_{}", URL_SAFE_NO_PAD.encode(secret));
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::name.eq(name),
            api_tokens::role.eq(role.as_str()),
            api_tokens::token_hash.eq(hash_token(&token)),
            api_tokens::created_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Every token, by name.
pub fn list_tokens(conn: &mut DbConnection) -> QueryResult<Vec<TokenRecord>> {
    api_tokens::table
        .order_by(api_tokens::name)
        .select(TokenRecord::as_select())
        .load(conn)
}

/// Revokes (deletes) the token named `name`; false when there is none.
pub fn revoke_token(conn: &mut DbConnection, name: &str) -> QueryResult<bool> {
    let deleted =
        diesel::delete(api_tokens::table.filter(api_tokens::name.eq(name.trim()))).execute(conn)?;
    Ok(deleted > 0)
}

/// How many tokens exist.
pub fn count_tokens(conn: &mut DbConnection) -> QueryResult<i64> {
    api_tokens::table.count().get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_matches_the_contract() {
        let open = AccessPolicy::default();
        let closed = AccessPolicy {
            read_requires_token: true,
        };
        let cases = [
            (
                Method::GET,
                "/api/v1/partners",
                Need::Nothing,
                Need::AnyToken,
            ),
            (
                Method::GET,
                "/api/v1/countries/KZ",
                Need::Nothing,
                Need::AnyToken,
            ),
            (
                Method::POST,
                "/api/v1/partners",
                Need::Role(Role::Editor),
                Need::Role(Role::Editor),
            ),
            (
                Method::DELETE,
                "/api/v1/events/3",
                Need::Role(Role::Editor),
                Need::Role(Role::Editor),
            ),
            (
                Method::PATCH,
                "/api/v1/countries/KZ",
                Need::Role(Role::Admin),
                Need::Role(Role::Admin),
            ),
            (
                Method::GET,
                "/api/v1/audit",
                Need::Role(Role::Admin),
                Need::Role(Role::Admin),
            ),
        ];
        for (method, path, when_open, when_closed) in cases {
            assert_eq!(open.need(&method, path), when_open, "{method} {path}");
            assert_eq!(closed.need(&method, path), when_closed, "{method} {path}");
        }
    }

    #[test]
    fn roles_cover_smaller_roles_only() {
        assert!(Role::Admin.covers(Role::Editor));
        assert!(Role::Admin.covers(Role::Admin));
        assert!(!Role::Editor.covers(Role::Admin));
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
