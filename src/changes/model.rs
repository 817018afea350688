//! The change feed's positions, entries and pages, and the `updated_after` filter every list
//! takes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use crate::audit::{AuditAction, ResourceType};
use crate::error::ApiError;
use crate::pagination::checked_limit;
use crate::schema::audit_log;

/// A place in the feed: after the entry whose (transaction id, seq) this is, in feed order.
/// A client sees it only as an opaque cursor (base64url of a small JSON object).
///
/// On PostgreSQL `txid` is the id of the transaction that wrote the entry; on SQLite it is
/// always 0 and `seq` alone orders the feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    // The order of the fields is the feed's order (`Ord` compares them in turn).
    #[serde(rename = "tx")]
    pub txid: i64,
    #[serde(rename = "seq")]
    pub seq: i64,
}

/// The longest `after` accepted: a position is two numbers.
pub const MAX_CURSOR_BYTES: usize = 128;

impl Position {
    /// Before every entry.
    pub const START: Position = Position { txid: 0, seq: 0 };

    /// The opaque text a client stores and sends back as `after`.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self).unwrap_or_default())
    }

    /// Reads a cursor back; anything the feed did not make (a list's cursor, a tampered or
    /// truncated one, negative numbers) is a 400 `invalid_cursor`.
    pub fn decode(text: &str) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::InvalidFeedCursor(
                "not a position of the change feed; use a `next_cursor` or a head's `cursor`"
                    .to_owned(),
            )
        };
        if text.len() > MAX_CURSOR_BYTES {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let position: Position = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if position.txid < 0 || position.seq < 0 {
            return Err(bad());
        }
        Ok(position)
    }
}

/// The parameters of `GET /api/v1/changes`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// Where to continue: the `next_cursor` of the previous page, or the `cursor` of
    /// `/api/v1/changes/head`. Without it the feed starts `CHANGES_RETENTION_DAYS` back.
    #[param(
        max_length = 128,
        pattern = r"^[A-Za-z0-9_-]*$",
        example = "eyJ0eCI6MCwic2VxIjoxMn0"
    )]
    pub after: Option<String>,
    /// Entries per page, 1–500.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<u32>,
    /// Only changes of this kind of resource.
    pub resource_type: Option<ResourceType>,
    /// Only changes of this kind: creates, updates, deletes, restores or purges.
    pub action: Option<AuditAction>,
}

impl ChangesParams {
    /// The page size, checked against its bounds (the same as every list's).
    pub fn limit(&self) -> Result<u32, ApiError> {
        checked_limit(self.limit)
    }

    /// The position to continue after; `None` to start at the horizon.
    pub fn after(&self) -> Result<Option<Position>, ApiError> {
        self.after
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(Position::decode)
            .transpose()
    }
}

/// An audit entry as the feed reads it.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct ChangeRow {
    pub id: i64,
    pub txid: i64,
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    pub at: NaiveDateTime,
    pub actor: String,
    #[diesel(deserialize_as = String)]
    pub action: AuditAction,
    #[diesel(deserialize_as = String)]
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
}

impl ChangeRow {
    pub fn position(&self) -> Position {
        Position {
            txid: self.txid,
            seq: self.id,
        }
    }
}

/// One committed change: what changed, its version, and the record as it was right after it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "seq": 12, "resource_type": "partner", "resource_id": "7", "action": "update", "version": 2,
    "changed_at": "2024-06-24T09:00:00.000000Z",
    "record": {"id": 7, "name": "Ministry of Internal Affairs", "kind": "government",
               "country_code": "KZ", "version": 2}
}))]
pub struct Change {
    /// The audit entry's id: unique, and the same entry as in `/api/v1/audit`. Entries are
    /// listed in commit order, which on PostgreSQL is not always the order of `seq`.
    pub seq: i64,
    pub resource_type: ResourceType,
    /// The resource's id, or its code for a country.
    pub resource_id: String,
    pub action: AuditAction,
    /// The record's version after this change; for a purge, the last version + 1.
    pub version: i64,
    /// When the change was made (RFC 3339, UTC).
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub changed_at: NaiveDateTime,
    /// The name of the token that made the change: only in answers to admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The record as it was right after this change (what a GET answered then); for a delete,
    /// its tombstone (with `deleted_at`); null for a purge, and for a delete made before
    /// deletes kept tombstones.
    #[schema(value_type = Option<std::collections::BTreeMap<String, Value>>, additional_properties)]
    #[schema(required = true)]
    pub record: Option<Box<RawValue>>,
}

/// The `version` of a stored snapshot.
#[derive(Deserialize)]
struct Versioned {
    version: Option<i64>,
}

fn version_of(snapshot: Option<&str>) -> Option<i64> {
    serde_json::from_str::<Versioned>(snapshot?).ok()?.version
}

impl Change {
    /// The entry as the feed shows it; `actor` only when `with_actor` (an admin asks).
    pub fn from_row(row: ChangeRow, with_actor: bool) -> Result<Self, ApiError> {
        // A purge (and a delete from before tombstones) leaves no record: one past the last.
        let version = version_of(row.after_state.as_deref())
            .or_else(|| version_of(row.before_state.as_deref()).map(|v| v + 1))
            .unwrap_or(0);
        let record = row
            .after_state
            .map(RawValue::from_string)
            .transpose()
            .map_err(|e| ApiError::internal("an audit snapshot is not JSON", e))?;
        Ok(Change {
            seq: row.id,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            action: row.action,
            version,
            changed_at: row.at,
            actor: with_actor.then_some(row.actor),
            record,
        })
    }
}

/// One page of the feed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "items": [{
        "seq": 12, "resource_type": "partner", "resource_id": "7", "action": "update",
        "version": 2, "changed_at": "2024-06-24T09:00:00.000000Z",
        "record": {"id": 7, "name": "Ministry of Internal Affairs", "kind": "government",
                   "country_code": "KZ", "version": 2}
    }, {
        "seq": 13, "resource_type": "event", "resource_id": "3", "action": "delete",
        "version": 4, "changed_at": "2024-06-24T09:05:00.000000Z", "record": null
    }],
    "next_cursor": "eyJ0eCI6MCwic2VxIjoxM30"
}))]
pub struct ChangePage {
    /// The changes after `after`, oldest first.
    pub items: Vec<Change>,
    /// Where to continue: pass as `after`. Always present, also on an empty page; store it
    /// and poll with it.
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    pub next_cursor: String,
}

/// The feed's current end.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"cursor": "eyJ0eCI6MCwic2VxIjoxM30"}))]
pub struct ChangesHead {
    /// The end of the feed now: pass as `after` to get the changes made from now on. (On
    /// PostgreSQL changes committed a moment before that the feed did not show yet come after
    /// it too: apply changes by `version`.)
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_round_trips_and_the_documented_examples_decode() {
        for position in [
            Position::START,
            Position { txid: 0, seq: 12 },
            Position {
                txid: 812_345,
                seq: i64::MAX,
            },
        ] {
            assert_eq!(Position::decode(&position.encode()).ok(), Some(position));
        }
        assert_eq!(
            Position::decode("eyJ0eCI6MCwic2VxIjoxMn0").ok(),
            Some(Position { txid: 0, seq: 12 })
        );
        assert_eq!(
            Position::decode("eyJ0eCI6MCwic2VxIjoxM30").ok(),
            Some(Position { txid: 0, seq: 13 })
        );
    }

    #[test]
    fn positions_order_by_transaction_then_seq() {
        let at = |txid, seq| Position { txid, seq };
        assert!(at(5, 100) < at(6, 1));
        assert!(at(6, 1) < at(6, 2));
        assert!(Position::START < at(0, 1));
    }

    #[test]
    fn anything_else_is_an_invalid_cursor() {
        let list_cursor = URL_SAFE_NO_PAD.encode(r#"{"s":"name","k":"A","i":1}"#);
        let encoded = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for text in [
            "not base64!".to_owned(),
            list_cursor,
            encoded("{}"),
            encoded(r#"{"tx":0}"#),
            encoded(r#"{"tx":-1,"seq":3}"#),
            encoded(r#"{"tx":0,"seq":-3}"#),
            encoded(r#"{"tx":0,"seq":"3"}"#),
            encoded(r#"{"tx":0,"seq":3,"at":1}"#),
            encoded(r#"{"tx":0,"seq":1e3}"#),
            encoded(r#"{"tx":0,"seq":99999999999999999999}"#),
            "A".repeat(MAX_CURSOR_BYTES + 1),
        ] {
            assert!(
                matches!(Position::decode(&text), Err(ApiError::InvalidFeedCursor(_))),
                "{text}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_position_round_trips(txid in 0i64.., seq in 0i64..) {
            let position = Position { txid, seq };
            proptest::prop_assert_eq!(Position::decode(&position.encode()).ok(), Some(position));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".*") {
            let _ = Position::decode(&text);
        }
    }

    #[test]
    fn versions_come_from_the_snapshot_and_a_delete_counts_one_more() {
        let row = |action, before: Option<&str>, after: Option<&str>| ChangeRow {
            id: 4,
            txid: 0,
            at: NaiveDateTime::default(),
            actor: "admin".to_owned(),
            action,
            resource_type: ResourceType::Partner,
            resource_id: "7".to_owned(),
            before_state: before.map(str::to_owned),
            after_state: after.map(str::to_owned),
        };
        let update = Change::from_row(
            row(
                AuditAction::Update,
                Some(r#"{"id":7,"version":1}"#),
                Some(r#"{"id":7,"version":2}"#),
            ),
            false,
        )
        .expect("an entry");
        assert_eq!(update.version, 2);
        assert_eq!(update.actor, None);
        assert_eq!(
            serde_json::to_value(&update).expect("JSON")["record"],
            serde_json::json!({"id": 7, "version": 2})
        );
        let delete = Change::from_row(
            row(AuditAction::Delete, Some(r#"{"id":7,"version":3}"#), None),
            true,
        )
        .expect("an entry");
        assert_eq!(
            (delete.version, delete.actor.as_deref()),
            (4, Some("admin"))
        );
        assert_eq!(
            serde_json::to_value(&delete).expect("JSON")["record"],
            serde_json::Value::Null
        );
        // A delete that keeps a tombstone has it as its record, at its own version.
        let tombstone = r#"{"id":7,"version":4,"deleted_at":"2024-06-24T09:00:00.000000Z"}"#;
        let deleted = Change::from_row(
            row(
                AuditAction::Delete,
                Some(r#"{"id":7,"version":3}"#),
                Some(tombstone),
            ),
            false,
        )
        .expect("an entry");
        assert_eq!(deleted.version, 4);
        assert_eq!(
            serde_json::to_value(&deleted).expect("JSON")["record"]["deleted_at"],
            "2024-06-24T09:00:00.000000Z"
        );
        // A purge leaves no record, one version past the last.
        let purge = Change::from_row(row(AuditAction::Purge, Some(tombstone), None), false)
            .expect("an entry");
        assert_eq!(purge.version, 5);
        assert_eq!(
            serde_json::to_value(&purge).expect("JSON")["record"],
            serde_json::Value::Null
        );
    }
}
