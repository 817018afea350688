//! The event resource: what is stored, what clients send, and the rules it must keep.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::documents::{self, Document};
use crate::filter::{AnyOf, CountryCodes};
use crate::http::merge_patch_schema;
use crate::pagination::{Cursor, Page, PageItem, Sort, SortKey, SortKeys};
use crate::schema::events;
use crate::sql::JsonList;
use crate::text_enum;
use crate::translations::{self, Text, Translations};
use crate::validation::{Validator, search_text};

text_enum! {
    /// The kind of event.
    pub enum EventKind {
        Meeting => "meeting",
        Forum => "forum",
        Conference => "conference",
        Seminar => "seminar",
        Workshop => "workshop",
        Training => "training",
        StudyVisit => "study_visit",
        SigningCeremony => "signing_ceremony",
        Other => "other",
    }
}

text_enum! {
    /// What a partner does at an event.
    pub enum ParticipantRole {
        Host => "host",
        Organizer => "organizer",
        Participant => "participant",
        Speaker => "speaker",
    }
}

/// A partner taking part in an event, and its role.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"partner_id": 1, "role": "host"}))]
pub struct Participant {
    /// An existing partner; each appears once per event.
    pub partner_id: i64,
    pub role: ParticipantRole,
}

/// What a list page needs of an event before its whole row: which event, at which version
/// (see `crate::rendered`).
#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventStub {
    pub id: i64,
    pub version: i64,
}

/// An event, with the partners taking part: as stored, and as clients see it.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = events)]
#[schema(example = json!({
    "id": 2, "title": "United Nations Public Service Forum 2024", "kind": "forum",
    "starts_on": "2024-06-24", "ends_on": "2024-06-26", "city": "Incheon", "venue": "Songdo Convensia",
    "country_code": "KR", "agreement_id": null, "description": null, "url": null,
    "participants": [{"partner_id": 3, "role": "host"}, {"partner_id": 1, "role": "participant"}],
    "documents": [{"title": "Programme of the forum", "url": "https://example.org/documents/unpsf-2024-programme.pdf",
                   "category": "agenda", "language": "en", "published_on": "2024-06-10"}],
    "translations": {"ko": {"title": "2024 유엔 공공행정포럼"}},
    "created_at": "2024-06-24T09:00:00.000000Z", "updated_at": "2024-06-24T09:00:00.000000Z", "version": 1
}))]
pub struct Event {
    /// Assigned by the server.
    pub id: i64,
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    #[diesel(deserialize_as = String)]
    pub kind: EventKind,
    #[schema(format = Date)]
    #[serde(serialize_with = "crate::time::date::serialize")]
    #[diesel(deserialize_as = crate::time::StoredDate)]
    pub starts_on: NaiveDate,
    /// Not before `starts_on`; null for a one-day event.
    #[schema(format = Date)]
    #[serde(serialize_with = "crate::time::optional_date::serialize")]
    #[diesel(deserialize_as = crate::time::StoredOptionalDate)]
    #[schema(required = true)]
    pub ends_on: Option<NaiveDate>,
    #[schema(max_length = 200)]
    #[schema(required = true)]
    pub city: Option<String>,
    #[schema(max_length = 200)]
    #[schema(required = true)]
    pub venue: Option<String>,
    /// Where it takes place: an existing country's code.
    #[schema(pattern = "^[A-Z]{2}$")]
    #[schema(required = true)]
    pub country_code: Option<String>,
    /// The agreement it is held under.
    #[schema(required = true)]
    pub agreement_id: Option<i64>,
    #[schema(max_length = 10000)]
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(format = "uri")]
    #[schema(required = true)]
    pub url: Option<String>,
    /// The partners taking part, in the order given. (Kept beside the row as JSON, see the
    /// list_reads migration; the relation table is the record filters and references use.)
    #[diesel(deserialize_as = JsonList<Participant>)]
    pub participants: Vec<Participant>,
    /// Links to documents about it, in the order given.
    #[diesel(deserialize_as = JsonList<Document>)]
    pub documents: Vec<Document>,
    #[schema(schema_with = translations_schema)]
    pub translations: Translations,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    pub created_at: NaiveDateTime,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    pub updated_at: NaiveDateTime,
    /// Starts at 1 and grows by one on every change; the ETag is this number, quoted.
    #[schema(minimum = 1)]
    pub version: i64,
    /// When it was deleted: present on a tombstone only, which admins see with
    /// `include_deleted=true`.
    #[serde(
        with = "crate::time::optional_rfc3339",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, format = DateTime)]
    #[diesel(deserialize_as = crate::time::StoredOptionalTimestamp)]
    pub deleted_at: Option<NaiveDateTime>,
}

/// The writable fields of an event: the body of create and replace, and what a merge patch is
/// applied to. `participants` is replaced as a whole.
// Once checked, also the columns stored (`EventChanges`). `None` is stored as NULL, in inserts
// too: diesel's DEFAULT made each INSERT's text depend on which fields were empty.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, Insertable, AsChangeset)]
#[diesel(table_name = events, treat_none_as_null = true, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Study visit on one-stop public service centres to Astana", "kind": "study_visit",
    "starts_on": "2025-10-06", "ends_on": "2025-10-09", "city": "Astana", "country_code": "KZ",
    "participants": [{"partner_id": 1, "role": "host"}, {"partner_id": 4, "role": "participant"}],
    "documents": [{"title": "Programme of the study visit", "url": "https://example.org/documents/study-visit-programme.pdf",
                   "category": "agenda", "language": "kk", "published_on": null}]
}))]
pub struct EventInput {
    /// One line without control characters; trimmed, and must not be blank.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: String,
    pub kind: EventKind,
    #[schema(format = Date)]
    pub starts_on: NaiveDate,
    #[serde(default)]
    #[schema(format = Date)]
    pub ends_on: Option<NaiveDate>,
    /// One line without control characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub city: Option<String>,
    /// One line without control characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub venue: Option<String>,
    /// An existing country's code, any case.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub country_code: Option<String>,
    /// An existing agreement's id.
    #[serde(default)]
    pub agreement_id: Option<i64>,
    /// Text that may hold line feeds, tabs and CRLF line breaks but no other control
    /// characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 10000,
        pattern = r"^(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*$"
    )]
    pub description: Option<String>,
    /// An absolute http or https URL, without spaces or control characters; null to clear.
    #[serde(default)]
    #[schema(
        format = "uri",
        max_length = 2000,
        pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]+$"
    )]
    pub url: Option<String>,
    /// Each partner at most once; every partner must exist.
    #[serde(default)]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub participants: Vec<Participant>,
    /// Links to documents about it (at most 50), in the order given; replaced as a whole.
    #[serde(default)]
    #[schema(max_items = 50)]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub documents: Vec<Document>,
    #[serde(default)]
    #[schema(schema_with = translations_schema)]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub translations: Translations,
}

/// The fields of an event that have texts in other languages.
pub const TRANSLATED: &[Text] = &[Text::line("title", 300), Text::lines("description", 10_000)];

fn translations_schema() -> RefOr<Schema> {
    translations::schema(
        TRANSLATED,
        json!({"ru": {"title": "Форум по государственной службе"},
               "kk": {"title": "Мемлекеттік қызмет форумы"}}),
    )
}

/// The body of PATCH: a JSON Merge Patch of the event's [`EventInput`], for the OpenAPI document
/// (its schema is `EventInput`'s with nothing required and `null` clearing an optional field).
/// The service applies the patch to the current record and checks the result as a whole input.
pub struct EventPatch;

impl PartialSchema for EventPatch {
    fn schema() -> RefOr<Schema> {
        merge_patch_schema::<EventInput>(
            json!({"venue": "Songdo Convensia", "ends_on": "2024-06-26"}),
        )
    }
}

impl ToSchema for EventPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        EventInput::schemas(schemas);
    }
}

/// A checked event, ready to be stored: its fields, and the columns made from them.
#[derive(Clone, Debug, Insertable, AsChangeset)]
#[diesel(table_name = events)]
pub struct EventChanges {
    #[diesel(embed)]
    pub fields: EventInput,
    pub search_text: String,
}

impl EventInput {
    /// Checks the rules that need no database, recording broken ones in `v`.
    pub fn check(self, v: &mut Validator) -> EventChanges {
        let title = v.single_line("title", &self.title, 1, 300);
        v.date("starts_on", Some(self.starts_on));
        let ends_on = v.date("ends_on", self.ends_on);
        v.date_order("ends_on", Some(self.starts_on), ends_on);
        let city = v.optional_single_line("city", self.city.as_deref(), 200);
        let venue = v.optional_single_line("venue", self.venue.as_deref(), 200);
        let country_code = self
            .country_code
            .as_deref()
            .map(|c| v.letters("country_code", c, 2));
        let description = v.optional_multi_line("description", self.description.as_deref(), 10_000);
        let url = v.http_url("url", self.url.as_deref());
        v.no_repeats(
            "participants",
            ".partner_id",
            self.participants.iter().map(|p| p.partner_id),
        );
        let documents = documents::check(v, "documents", self.documents);
        let translations = self.translations.check(v, TRANSLATED);
        EventChanges {
            search_text: search_text(
                [
                    Some(title.as_str()),
                    city.as_deref(),
                    venue.as_deref(),
                    description.as_deref(),
                ]
                .into_iter()
                .chain(translations.texts().map(Some)),
            ),
            fields: EventInput {
                title,
                ends_on,
                city,
                venue,
                country_code,
                description,
                url,
                documents,
                translations,
                ..self
            },
        }
    }
}

/// The orders of the events list, by start date first.
pub struct EventSort;

impl SortKeys for EventSort {
    type Table = events::table;
    type Tie = events::id;
    const TIE: &'static str = "id";
    const KEYS: &'static [SortKey<Self>] = &[
        SortKey::by::<events::starts_on>("starts_on"),
        SortKey::tie("id"),
        SortKey::by::<events::title>("title"),
        SortKey::by::<events::created_at>("created_at"),
        SortKey::by::<events::updated_at>("updated_at"),
    ];
}

/// A `sort` parameter of the events list. An alias, so that the OpenAPI derive sees one plain
/// type and takes its schema from [`Sort`].
pub type EventOrder = Sort<EventSort>;

/// A page of events, as the OpenAPI document names it.
pub type EventPage = Page<Event>;

impl PageItem for Event {
    const PAGE_SCHEMA: &'static str = "EventPage";

    fn example_cursor() -> String {
        Cursor::after(&Sort::<EventSort>::default(), "2024-06-24", 2).encode()
    }
}

/// Several `EventKind` values for a filter, any of which may match (an alias, so that the
/// OpenAPI derive sees one plain type).
pub type EventKinds = AnyOf<EventKind>;

/// Filters and order for the event list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only events of one of these kinds.
    #[param(inline)]
    pub kind: Option<EventKinds>,
    /// Only events taking place in one of these countries (codes, any case).
    #[param(inline)]
    pub country: Option<CountryCodes>,
    /// Only events this partner takes part in (its id).
    pub partner: Option<i64>,
    /// Only events held under this agreement (its id).
    pub agreement: Option<i64>,
    /// Only events held under an agreement (`true`) or under none (`false`).
    pub has_agreement: Option<bool>,
    /// Only events still going on at or after this date (their date range overlaps `from..to`).
    #[param(format = Date)]
    pub from: Option<NaiveDate>,
    /// Only events starting on or before this date.
    #[param(format = Date)]
    pub to: Option<NaiveDate>,
    /// Case-insensitive search in titles, cities, venues and descriptions: records containing `q`
    /// (trimmed), in any script, every character literal (`%`, `_`, quotes); one character is
    /// enough.
    #[param(value_type = Option<String>)]
    pub q: Option<crate::search::Search>,
    /// Sort by `starts_on` (default), `id`, `title`, `created_at` or `updated_at`; `-` in front
    /// for descending.
    #[param(inline)]
    pub sort: Option<EventOrder>,
    #[param(inline)]
    pub updated_after: Option<crate::filter::UpdatedAfter>,
    #[param(inline)]
    pub updated_before: Option<crate::filter::UpdatedBefore>,
    /// Admins only (anyone else gets 403): deleted records (tombstones, each with its
    /// `deleted_at`) are listed too. Not taken by an export.
    pub include_deleted: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> EventInput {
        EventInput {
            title: "UN Public Service Forum".into(),
            kind: EventKind::Forum,
            starts_on: NaiveDate::from_ymd_opt(2024, 6, 24).expect("date"),
            ends_on: NaiveDate::from_ymd_opt(2024, 6, 26),
            city: Some("Incheon".into()),
            venue: None,
            country_code: Some("kr".into()),
            agreement_id: None,
            description: None,
            url: None,
            participants: vec![Participant {
                partner_id: 1,
                role: ParticipantRole::Host,
            }],
            documents: Vec::new(),
            translations: Default::default(),
        }
    }

    #[test]
    fn a_valid_event_is_normalized() {
        let mut v = Validator::new();
        let draft = input().check(&mut v);
        assert!(v.finish().is_ok());
        assert_eq!(draft.fields.country_code.as_deref(), Some("KR"));
        assert!(draft.search_text.contains("incheon"));
    }

    #[test]
    fn every_broken_rule_is_recorded() {
        let mut v = Validator::new();
        EventInput {
            title: "t".repeat(301),
            ends_on: NaiveDate::from_ymd_opt(2024, 6, 23),
            city: Some("c".repeat(201)),
            venue: Some("v".repeat(201)),
            country_code: Some("K".into()),
            description: Some("d".repeat(10_001)),
            url: Some("songdo".into()),
            participants: vec![
                Participant {
                    partner_id: 2,
                    role: ParticipantRole::Host,
                },
                Participant {
                    partner_id: 2,
                    role: ParticipantRole::Speaker,
                },
            ],
            ..input()
        }
        .check(&mut v);
        let Err(crate::error::ApiError::Validation(errors)) = v.finish() else {
            panic!("expected validation errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "title",
                "ends_on",
                "city",
                "venue",
                "country_code",
                "description",
                "url",
                "participants[1].partner_id"
            ]
        );
    }
}
