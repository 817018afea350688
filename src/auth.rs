//! Who may do what: bearer tokens with roles. Each route states the access it needs where it
//! is registered (`routing`), and [`admit`] decides it there, on the route the router matched.
//!
//! Tokens are 256 random bits from the operating system, shown once when made; the database
//! keeps only their SHA-256. Every request with a token looks it up, so a revoked token stops
//! working at once on every instance that shares the database.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
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

/// Handlers of writes take an `Actor`; the route's gate (see `routing`) has already checked
/// the role.
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

/// What a route needs, stated where the route is registered (see `routing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Open to all, token or not (health checks, metrics): a token is not even looked at.
    Public,
    /// A read of the registry: open, or any valid token when reads require one.
    Read,
    /// At least this role: writes, and the audit log.
    Role(Role),
}

/// What a request to a route with some `Access` must show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Nothing,
    AnyToken,
    Role(Role),
}

impl AccessPolicy {
    fn need(&self, access: Access) -> Need {
        match access {
            Access::Public => Need::Nothing,
            Access::Read if self.read_requires_token => Need::AnyToken,
            Access::Read => Need::Nothing,
            Access::Role(role) => Need::Role(role),
        }
    }
}

/// Decides whether a request may use a route with `access`: resolves the bearer token, if
/// any (a malformed, unknown or revoked one is a 401 wherever a token is looked at), and
/// applies the policy. The actor is `None` for a request without a token.
pub async fn admit(
    req: &HttpRequest,
    access: Access,
    policy: AccessPolicy,
) -> Result<Option<Actor>, ApiError> {
    if access == Access::Public {
        return Ok(None);
    }
    let actor = match bearer_token(req)? {
        None => None,
        Some(token) => {
            let db = req
                .app_data::<web::Data<Db>>()
                .cloned()
                .ok_or_else(|| ApiError::bug("no database in app data"))?;
            Some(authenticate(&db, token).await?)
        }
    };
    match (policy.need(access), &actor) {
        (Need::AnyToken | Need::Role(_), None) => Err(ApiError::Unauthorized(
            "this needs a bearer token".to_owned(),
        )),
        (Need::Role(role), Some(actor)) if !actor.role.covers(role) => {
            Err(ApiError::Forbidden(format!(
                "token {:?} has role {}; this needs {}",
                actor.name,
                actor.role.as_str(),
                role.as_str()
            )))
        }
        _ => Ok(actor),
    }
}

/// The token of an `Authorization: Bearer …` header; a header of another shape is a 401, and
/// two such headers a 400 (which one counts would be a guess).
fn bearer_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_field(
            "Authorization",
            "send one Authorization header, not several",
        ));
    }
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
    // The name is written into the audit log and into error messages: one line, no escapes.
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_field(
            "name",
            "must not contain control characters (line breaks, tabs, escapes)",
        ));
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
        .map_err(|e| ApiError::internal("the OS random generator failed", e))?;
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
    fn the_policy_matches_the_documented_roles() {
        let open = AccessPolicy::default();
        let closed = AccessPolicy {
            read_requires_token: true,
        };
        let cases = [
            (Access::Public, Need::Nothing, Need::Nothing),
            (Access::Read, Need::Nothing, Need::AnyToken),
            (
                Access::Role(Role::Editor),
                Need::Role(Role::Editor),
                Need::Role(Role::Editor),
            ),
            (
                Access::Role(Role::Admin),
                Need::Role(Role::Admin),
                Need::Role(Role::Admin),
            ),
        ];
        for (access, when_open, when_closed) in cases {
            assert_eq!(open.need(access), when_open, "{access:?}");
            assert_eq!(closed.need(access), when_closed, "{access:?}");
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
