//! Audit entries: what is stored and what admins read.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::pagination::{Cursor, Direction, Page, PageItem, Sort, SortKey, SortKeys};
use crate::schema::audit_log;
use crate::sql::StoredJson;
use crate::text_enum;

text_enum! {
    /// The kind of write.
    pub enum AuditAction {
        Create => "create",
        Update => "update",
        Delete => "delete",
        Restore => "restore",
        Purge => "purge",
    }
}

text_enum! {
    /// The kind of resource written.
    pub enum ResourceType {
        Country => "country",
        Partner => "partner",
        Agreement => "agreement",
        Event => "event",
    }
}

impl ResourceType {
    /// The table the resource is stored in and its key column, for the statements written once
    /// for every resource (an import's id sequence, a tombstone's marking).
    pub fn table(self) -> (&'static str, &'static str) {
        match self {
            ResourceType::Country => ("countries", "code"),
            ResourceType::Partner => ("partners", "id"),
            ResourceType::Agreement => ("agreements", "id"),
            ResourceType::Event => ("events", "id"),
        }
    }
}

/// An audit entry as stored; the states are JSON text.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
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
    pub batch_id: Option<String>,
}

/// One write: when, by which token, what, and the resource before and after.
#[derive(Clone, Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
#[schema(example = json!({
    "id": 12, "at": "2024-06-24T09:00:00.000000Z", "actor": "admin", "action": "update",
    "resource_type": "country", "resource_id": "KZ",
    "before": {"code": "KZ", "participant": false, "version": 1},
    "after": {"code": "KZ", "participant": true, "version": 2}, "batch_id": null
}))]
pub struct AuditEntry {
    pub id: i64,
    /// When the write happened (RFC 3339, UTC).
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    pub at: NaiveDateTime,
    /// The name of the token that made the write.
    pub actor: String,
    #[diesel(deserialize_as = String)]
    pub action: AuditAction,
    #[diesel(deserialize_as = String)]
    pub resource_type: ResourceType,
    /// The resource's id, or its code for a country.
    pub resource_id: String,
    /// The resource before the write; null on create.
    #[schema(value_type = Option<std::collections::BTreeMap<String, Value>>, additional_properties)]
    #[schema(required = true)]
    #[diesel(column_name = before_state, deserialize_as = StoredJson)]
    pub before: Option<Value>,
    /// The resource after the write; null on delete.
    #[schema(value_type = Option<std::collections::BTreeMap<String, Value>>, additional_properties)]
    #[schema(required = true)]
    #[diesel(column_name = after_state, deserialize_as = StoredJson)]
    pub after: Option<Value>,
    /// The import that made this write: every write of one import carries its batch id.
    /// Null for a write of a single record.
    #[schema(required = true, format = "uuid")]
    pub batch_id: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        AuditEntry {
            id: row.id,
            at: row.at,
            actor: row.actor,
            action: row.action,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            before: parse(row.before_state),
            after: parse(row.after_state),
            batch_id: row.batch_id,
        }
    }
}

/// The orders of the audit log, newest first by default.
pub struct AuditSort;

impl SortKeys for AuditSort {
    type Table = audit_log::table;
    type Tie = audit_log::id;
    const TIE: &'static str = "id";
    const KEYS: &'static [SortKey<Self>] =
        &[SortKey::by::<audit_log::at>("at"), SortKey::tie("id")];
    const DEFAULT_DIRECTION: Direction = Direction::Desc;
}

/// A `sort` parameter of the audit list. An alias, so that the OpenAPI derive sees one plain
/// type and takes its schema from [`Sort`].
pub type AuditOrder = Sort<AuditSort>;

/// A page of audit entries, as the OpenAPI document names it.
pub type AuditPage = Page<AuditEntry>;

impl PageItem for AuditEntry {
    const PAGE_SCHEMA: &'static str = "AuditPage";

    fn example_cursor() -> String {
        Cursor::after(&Sort::<AuditSort>::default(), "2024-06-24T09:00:00", 12).encode()
    }
}

/// Filters and order for the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    pub resource_type: Option<ResourceType>,
    /// The resource's id, or a country's code.
    pub resource_id: Option<String>,
    /// The token name that made the writes.
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// Only the writes of this import (its report's `batch_id`).
    #[param(max_length = 36)]
    pub batch_id: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// Only entries at or before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    /// Sort by `at` or `id`; newest first (`-at`) by default.
    #[param(inline)]
    pub sort: Option<AuditOrder>,
}
