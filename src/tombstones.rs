//! Undo, written once for every resource: a delete keeps the record as a tombstone
//! (`deleted_at` set, its version raised), which no read or list answers; admins see it with
//! `include_deleted=true`, bring it back with `POST …/{key}/restore`, or remove it for good
//! with `DELETE …?purge=true`.
//!
//! A tombstone holds nothing: its relation rows (parties, participants, covered countries,
//! identifiers) are removed, its lists staying in its own columns, and its unique values are
//! freed (`Resource::keep_relations`). So the referential rules of `crate::references` see live
//! records only. A restore puts everything back once nothing clashes with it (409 naming the
//! clash), checking the references the record had when it was deleted (its delete's audit
//! entry keeps them, even where a purge has since cleared a column of the tombstone).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use diesel::{RunQueryDsl, sql_query};
use serde::Deserialize;

use crate::audit::{self, AuditAction};
use crate::auth::{Actor, Role};
use crate::db::{Db, DbConnection};
use crate::error::ApiError;
use crate::http::{Precondition, respond_written};
use crate::references;
use crate::resource::Resource;

/// `include_deleted`: whether a read or a list takes tombstones too (admins only).
#[derive(Debug, Default, Deserialize)]
pub struct Visibility {
    pub include_deleted: Option<bool>,
}

impl Visibility {
    /// Whether tombstones are asked for: 403 when by anyone but an admin.
    pub fn include_deleted(&self, actor: &Option<Actor>) -> Result<bool, ApiError> {
        if self.include_deleted != Some(true) {
            return Ok(false);
        }
        match actor {
            Some(actor) if actor.role.covers(Role::Admin) => Ok(true),
            _ => Err(ApiError::Forbidden(
                "include_deleted=true is for admins: deleted records are theirs to see".into(),
            )),
        }
    }
}

/// `purge`: whether a delete removes the record for good (admins only).
#[derive(Debug, Default, Deserialize)]
pub struct PurgeParams {
    pub purge: Option<bool>,
}

impl PurgeParams {
    /// Whether a purge is asked for: 403 when by anyone but an admin.
    pub fn asked(&self, actor: &Actor) -> Result<bool, ApiError> {
        match self.purge {
            Some(true) if actor.role.covers(Role::Admin) => Ok(true),
            Some(true) => Err(ApiError::Forbidden(
                "purge=true is for admins: an editor's delete keeps a tombstone".into(),
            )),
            _ => Ok(false),
        }
    }
}

/// Marks `item` deleted (a tombstone) or live again, raising its version and stamping
/// `updated_at`, with what `Resource::keep_relations` does besides; returns it as it now is.
/// `None` when it is no longer at `item`'s version: another writer got in first (PostgreSQL
/// lets writers overlap; the caller reads it again).
pub fn mark<R: Resource>(
    conn: &mut DbConnection,
    item: &R::Item,
    deleted: bool,
) -> Result<Option<R::Item>, ApiError> {
    let (table, key_column) = R::AUDIT.table();
    let key = R::key(item).to_string();
    // The key is bound as text; an id column compares with it as a number.
    let key_test = |placeholder: &str| match key_column {
        "id" => format!("id = CAST({placeholder} AS BIGINT)"),
        column => format!("{column} = {placeholder}"),
    };
    let changed = match conn {
        DbConnection::Postgres(c) => {
            let now = "(now() AT TIME ZONE 'UTC')";
            let sql = format!(
                "UPDATE {table} SET updated_at = {now}, \
                 deleted_at = CASE WHEN $1 THEN {now} END, version = version + 1 \
                 WHERE {} AND version = $3",
                key_test("$2")
            );
            sql_query(sql)
                .bind::<Bool, _>(deleted)
                .bind::<Text, _>(&key)
                .bind::<BigInt, _>(R::version(item))
                .execute(c)?
        }
        DbConnection::Sqlite(c) => {
            let sql = format!(
                "UPDATE {table} SET updated_at = ?1, deleted_at = CASE WHEN ?2 THEN ?1 END, \
                 version = version + 1 WHERE {} AND version = ?4",
                key_test("?3")
            );
            sql_query(sql)
                .bind::<Timestamp, _>(crate::time::now())
                .bind::<Bool, _>(deleted)
                .bind::<Text, _>(&key)
                .bind::<BigInt, _>(R::version(item))
                .execute(c)?
        }
    };
    if changed == 0 {
        return Ok(None);
    }
    R::keep_relations(conn, item, deleted)?;
    let key = R::key(item);
    let now = match deleted {
        true => R::find_deleted(conn, &key)?,
        false => R::find(conn, &key)?,
    };
    now.map(Some)
        .ok_or_else(|| ApiError::bug(format!("{table} {key} went under its own write")))
}

/// How often a delete or a restore is tried again when another writer changed the record
/// between its read and its write (as `resource::store` does for updates).
pub const ATTEMPTS: usize = 32;

/// The answer when the record kept changing under a delete or a restore.
pub fn kept_changing() -> ApiError {
    ApiError::retry_later("the record kept changing while this write was applied; try again")
}

/// `POST …/{key}/restore`: the tombstone comes back with its relations, at a version one
/// higher, unless something live now clashes with it or a record it refers to is gone (409).
pub async fn restore<R: Resource>(
    db: &Db,
    actor: Actor,
    key: R::Key,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    let item = db
        .write(move |conn| {
            for _ in 0..ATTEMPTS {
                let Some(tombstone) = R::find_deleted(conn, &key)? else {
                    return Err(match R::find(conn, &key)? {
                        Some(_) => ApiError::Conflict(format!(
                            "{} {key} is not deleted; there is nothing to restore",
                            R::AUDIT.as_str()
                        )),
                        None => R::absent(conn, &key, false)?,
                    });
                };
                precondition.check(R::version(&tombstone))?;
                let id = key.to_string();
                // The references it had when deleted: a purge since may have cleared a column.
                let as_deleted = match audit::last_entry(conn, R::AUDIT, &id)? {
                    Some((AuditAction::Delete, Some(after))) => serde_json::from_str(&after).ok(),
                    _ => None,
                };
                let record = match as_deleted {
                    Some(record) => record,
                    None => serde_json::to_value(&tombstone)
                        .map_err(|e| ApiError::internal("a record is not JSON", e))?,
                };
                references::ensure_restorable(conn, R::AUDIT, &record)?;
                let Some(restored) = mark::<R>(conn, &tombstone, false)? else {
                    continue;
                };
                audit::record(
                    conn,
                    &actor.name,
                    AuditAction::Restore,
                    R::AUDIT,
                    &id,
                    Some(&tombstone),
                    Some(&restored),
                )?;
                return Ok(restored);
            }
            Err(kept_changing())
        })
        .await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        R::version(&item),
        &item,
    ))
}

/// `DELETE …?purge=true`: the record, live or a tombstone, is removed for good with its own
/// relation rows; live records that refer to it still prevent that (409). Tombstones that
/// refer to it let go (`references::release`), and a restore of one of them is then a 409.
/// Its audit entries stay; its history answers 404, and its id is never given again.
pub async fn purge<R: Resource>(
    db: &Db,
    actor: Actor,
    key: R::Key,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    db.write(move |conn| {
        let current = read_one::<R>(conn, &key, true, false)?;
        precondition.check(R::version(&current))?;
        if let Some(target) = R::target(&key) {
            references::ensure_unreferenced(conn, target)?;
            references::release(conn, target)?;
        }
        R::purge(conn, &key)?;
        audit::record(
            conn,
            &actor.name,
            AuditAction::Purge,
            R::AUDIT,
            &key.to_string(),
            Some(&current),
            None,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The record `key` names: a live one, or with `include_deleted` a tombstone too; else the
/// answer `Resource::absent` gives a read (`reading`) or a write.
pub fn read_one<R: Resource>(
    conn: &mut DbConnection,
    key: &R::Key,
    include_deleted: bool,
    reading: bool,
) -> Result<R::Item, ApiError> {
    if let Some(item) = R::find(conn, key)? {
        return Ok(item);
    }
    if include_deleted && let Some(tombstone) = R::find_deleted(conn, key)? {
        return Ok(tombstone);
    }
    Err(R::absent(conn, key, reading)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Option<Actor> {
        Some(Actor {
            name: "someone".into(),
            role,
        })
    }

    #[test]
    fn only_admins_may_see_tombstones() {
        let asked = Visibility {
            include_deleted: Some(true),
        };
        assert!(
            asked
                .include_deleted(&actor(Role::Admin))
                .expect("an answer")
        );
        assert!(matches!(
            asked.include_deleted(&actor(Role::Editor)),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            asked.include_deleted(&None),
            Err(ApiError::Forbidden(_))
        ));
        let not_asked = Visibility {
            include_deleted: Some(false),
        };
        assert!(!not_asked.include_deleted(&None).expect("an answer"));
        assert!(
            !Visibility::default()
                .include_deleted(&None)
                .expect("an answer")
        );
    }

    #[test]
    fn only_admins_may_purge() {
        let asked = PurgeParams { purge: Some(true) };
        let admin = actor(Role::Admin).expect("an answer");
        let editor = actor(Role::Editor).expect("an answer");
        assert!(asked.asked(&admin).expect("an answer"));
        assert!(matches!(asked.asked(&editor), Err(ApiError::Forbidden(_))));
        assert!(
            !PurgeParams { purge: Some(false) }
                .asked(&editor)
                .expect("an answer")
        );
        assert!(!PurgeParams::default().asked(&editor).expect("an answer"));
    }
}
