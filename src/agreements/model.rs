//! The agreement resource: what is stored, what clients send, and the rules it must keep.

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
use crate::partners::model::PartnerKinds;
use crate::schema::agreements;
use crate::sql::JsonList;
use crate::text_enum;
use crate::translations::{self, Text, Translations};
use crate::validation::{Validator, search_text};

text_enum! {
    /// The kind of agreement.
    pub enum AgreementKind {
        MemorandumOfUnderstanding => "memorandum_of_understanding",
        MemorandumOfCooperation => "memorandum_of_cooperation",
        IntergovernmentalAgreement => "intergovernmental_agreement",
        JointProject => "joint_project",
        FrameworkAgreement => "framework_agreement",
        Grant => "grant",
        Other => "other",
    }
}

text_enum! {
    /// Where the agreement is in its life: `signed_on` is required from `signed` on.
    pub enum AgreementStatus {
        Draft => "draft",
        Negotiation => "negotiation",
        Signed => "signed",
        Active => "active",
        Expired => "expired",
        Terminated => "terminated",
    }
}

impl AgreementStatus {
    /// Whether an agreement in this status has been signed, and so must say when.
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            Self::Signed | Self::Active | Self::Expired | Self::Terminated
        )
    }
}

text_enum! {
    /// What a partner does under an agreement.
    pub enum PartyRole {
        Signatory => "signatory",
        Implementing => "implementing",
        Funding => "funding",
        Coordinating => "coordinating",
        Observer => "observer",
    }
}

/// A partner party to an agreement, its role, and its own lifecycle: when it signed, when the
/// agreement entered into force for it, and when it withdrew. Each date is left out of the
/// record while it is not known; present ones are ordered: `signed_on` ≤
/// `entered_into_force_on` ≤ `withdrew_on`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"partner_id": 3, "role": "signatory", "signed_on": "2025-04-15",
                          "entered_into_force_on": "2025-05-15"}))]
pub struct Party {
    /// An existing partner; each appears once per agreement.
    pub partner_id: i64,
    pub role: PartyRole,
    /// When this party signed. Not while the agreement is a `draft` or in `negotiation`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time::optional_date::serialize"
    )]
    #[schema(format = Date, example = "2025-04-15")]
    pub signed_on: Option<NaiveDate>,
    /// When the agreement entered into force for this party (ratification, notification…):
    /// from this day the party is in force (see the `party_active_on` filter). Not before its
    /// `signed_on`; not while the agreement is a `draft` or in `negotiation`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time::optional_date::serialize"
    )]
    #[schema(format = Date, example = "2025-05-15")]
    pub entered_into_force_on: Option<NaiveDate>,
    /// When this party withdrew: it is no longer in force from this day. Not before its
    /// `signed_on` or `entered_into_force_on`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time::optional_date::serialize"
    )]
    #[schema(format = Date, example = "2027-01-31")]
    pub withdrew_on: Option<NaiveDate>,
}

impl Party {
    /// A party in `role`, with no dates yet.
    pub fn new(partner_id: i64, role: PartyRole) -> Self {
        Self {
            partner_id,
            role,
            signed_on: None,
            entered_into_force_on: None,
            withdrew_on: None,
        }
    }

    /// Whether any of its lifecycle dates is known.
    fn has_dates(&self) -> bool {
        self.signed_on.is_some()
            || self.entered_into_force_on.is_some()
            || self.withdrew_on.is_some()
    }
}

/// A cooperation agreement, with its parties and the countries it covers: as stored, and as
/// clients see it.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = agreements)]
#[schema(example = json!({
    "id": 1, "title": "Regional project on digital government for Central Asia and the South Caucasus",
    "kind": "joint_project", "status": "expired", "signed_on": "2021-03-01",
    "entered_into_force_on": "2021-04-01", "expires_on": "2023-12-31", "starts_on": "2021-03-01", "ends_on": "2023-12-31", "summary": null, "document_url": null,
    "parties": [{"partner_id": 1, "role": "coordinating", "signed_on": "2021-03-01", "entered_into_force_on": "2021-04-01"},
                {"partner_id": 2, "role": "implementing"}],
    "country_codes": ["KZ", "KG", "TJ", "UZ", "AZ", "AM", "GE"],
    "documents": [{"title": "Final report of the project", "url": "https://example.org/documents/project-report.pdf",
                   "category": "report", "language": "en", "published_on": "2024-03-01"}],
    "translations": {"ru": {"title": "Региональный проект по цифровому правительству для Центральной Азии и Южного Кавказа"}},
    "created_at": "2024-06-24T09:00:00.000000Z", "updated_at": "2024-06-24T09:00:00.000000Z", "version": 1
}))]
pub struct Agreement {
    /// Assigned by the server.
    pub id: i64,
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    #[diesel(deserialize_as = String)]
    pub kind: AgreementKind,
    #[diesel(deserialize_as = String)]
    pub status: AgreementStatus,
    /// Set once the status is `signed`, `active`, `expired` or `terminated`.
    #[schema(format = Date)]
    #[serde(serialize_with = "crate::time::optional_date::serialize")]
    #[diesel(deserialize_as = crate::time::StoredOptionalDate)]
    #[schema(required = true)]
    pub signed_on: Option<NaiveDate>,
    /// When the agreement entered into force (a legal date, independent of the implementation
    /// period `starts_on`/`ends_on`). Not before `signed_on`.
    #[schema(format = Date, example = "2021-04-01")]
    #[serde(serialize_with = "crate::time::optional_date::serialize")]
    #[diesel(deserialize_as = crate::time::StoredOptionalDate)]
    #[schema(required = true)]
    pub entered_into_force_on: Option<NaiveDate>,
    /// The last day it is in force. Not before `entered_into_force_on` (nor `signed_on`).
    #[schema(format = Date, example = "2023-12-31")]
    #[serde(serialize_with = "crate::time::optional_date::serialize")]
    #[diesel(deserialize_as = crate::time::StoredOptionalDate)]
    #[schema(required = true)]
    pub expires_on: Option<NaiveDate>,
    #[schema(format = Date)]
    #[serde(serialize_with = "crate::time::optional_date::serialize")]
    #[diesel(deserialize_as = crate::time::StoredOptionalDate)]
    #[schema(required = true)]
    pub starts_on: Option<NaiveDate>,
    /// Not before `starts_on`.
    #[schema(format = Date)]
    #[serde(serialize_with = "crate::time::optional_date::serialize")]
    #[diesel(deserialize_as = crate::time::StoredOptionalDate)]
    #[schema(required = true)]
    pub ends_on: Option<NaiveDate>,
    #[schema(max_length = 10000)]
    #[schema(required = true)]
    pub summary: Option<String>,
    #[schema(format = "uri")]
    #[schema(required = true)]
    pub document_url: Option<String>,
    /// The partners party to it, in the order given.
    #[diesel(deserialize_as = JsonList<Party>)]
    pub parties: Vec<Party>,
    /// The countries it covers, in the order given.
    #[diesel(deserialize_as = JsonList<String>)]
    pub country_codes: Vec<String>,
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

/// The writable fields of an agreement: the body of create and replace, and what a merge
/// patch is applied to. `parties` and `country_codes` are replaced as a whole.
// Once checked, also the columns stored (`AgreementChanges`); `None` is stored as NULL.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, Insertable, AsChangeset)]
#[diesel(table_name = agreements, treat_none_as_null = true, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Memorandum of understanding on digital government between Uzbekistan and Korea",
    "kind": "memorandum_of_understanding", "status": "signed", "signed_on": "2025-04-15",
    "starts_on": "2025-04-15", "ends_on": "2028-04-14",
    "parties": [{"partner_id": 3, "role": "signatory", "signed_on": "2025-04-15"}, {"partner_id": 1, "role": "coordinating"}],
    "country_codes": ["UZ", "KR"],
    "documents": [{"title": "Memorandum of understanding, signed text", "url": "https://example.org/documents/mou-2025-uz-kr.pdf",
                   "category": "memorandum_of_understanding", "language": "ru", "published_on": "2025-04-15"}]
}))]
pub struct AgreementInput {
    /// One line without control characters; trimmed, and must not be blank.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: String,
    pub kind: AgreementKind,
    pub status: AgreementStatus,
    /// Required from `signed` on; not while `draft` or `negotiation`.
    #[serde(default)]
    #[schema(format = Date)]
    pub signed_on: Option<NaiveDate>,
    /// When it entered into force: not before `signed_on`; not while `draft` or
    /// `negotiation`; required, and not in the future, when the status is set to `active`.
    #[serde(default)]
    #[schema(format = Date, example = "2025-05-15")]
    pub entered_into_force_on: Option<NaiveDate>,
    /// The last day it is in force: not before `entered_into_force_on` or `signed_on`; not in
    /// the past when the status is set to `active`; required, and in the past, when it is
    /// set to `expired`.
    #[serde(default)]
    #[schema(format = Date, example = "2030-04-14")]
    pub expires_on: Option<NaiveDate>,
    #[serde(default)]
    #[schema(format = Date)]
    pub starts_on: Option<NaiveDate>,
    #[serde(default)]
    #[schema(format = Date)]
    pub ends_on: Option<NaiveDate>,
    /// Text that may hold line feeds, tabs and CRLF line breaks but no other control
    /// characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 10000,
        pattern = r"^(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*$"
    )]
    pub summary: Option<String>,
    /// An absolute http or https URL, without spaces or control characters; null to clear.
    #[serde(default)]
    #[schema(
        format = "uri",
        max_length = 2000,
        pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]+$"
    )]
    pub document_url: Option<String>,
    /// Each partner at most once; every partner must exist. Its dates follow the same rules
    /// as the agreement's.
    #[serde(default)]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub parties: Vec<Party>,
    /// Existing country codes, any case, no repeats.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2}$")]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub country_codes: Vec<String>,
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

/// The fields of an agreement that have texts in other languages.
pub const TRANSLATED: &[Text] = &[Text::line("title", 300), Text::lines("summary", 10_000)];

fn translations_schema() -> RefOr<Schema> {
    translations::schema(
        TRANSLATED,
        json!({"ru": {"title": "Меморандум о взаимопонимании в области цифрового правительства"},
               "ko": {"title": "디지털 정부 협력 양해각서"}}),
    )
}

/// The body of PATCH: a JSON Merge Patch of the agreement's [`AgreementInput`], for the OpenAPI document
/// (its schema is `AgreementInput`'s with nothing required and `null` clearing an optional field).
/// The service applies the patch to the current record and checks the result as a whole input.
pub struct AgreementPatch;

impl PartialSchema for AgreementPatch {
    fn schema() -> RefOr<Schema> {
        merge_patch_schema::<AgreementInput>(json!({"status": "active", "ends_on": "2027-06-02"}))
    }
}

impl ToSchema for AgreementPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        AgreementInput::schemas(schemas);
    }
}

/// A checked agreement, ready to be stored: its fields, and the columns made from them.
#[derive(Clone, Debug, Insertable, AsChangeset)]
#[diesel(table_name = agreements)]
pub struct AgreementChanges {
    #[diesel(embed)]
    pub fields: AgreementInput,
    pub search_text: String,
}

/// What an agreement's lifecycle rules are checked against: today (UTC), and the agreement as
/// stored before the write (`None` for a new one).
#[derive(Clone, Copy, Debug)]
pub struct Lifecycle<'a> {
    pub today: NaiveDate,
    pub current: Option<&'a Agreement>,
}

impl Lifecycle<'_> {
    /// For a new agreement, today.
    pub fn new_today() -> Self {
        Lifecycle {
            today: chrono::Utc::now().date_naive(),
            current: None,
        }
    }
}

/// The lifecycle of an agreement as a write compares it: its status, its dates, and each party's
/// dates (of the parties that have any, by partner: their order is no change).
#[derive(PartialEq)]
struct LifecycleState {
    status: AgreementStatus,
    dates: [Option<NaiveDate>; 3],
    parties: Vec<(i64, [Option<NaiveDate>; 3])>,
}

impl LifecycleState {
    fn of(status: AgreementStatus, dates: [Option<NaiveDate>; 3], parties: &[Party]) -> Self {
        let mut parties = parties
            .iter()
            .filter(|p| p.has_dates())
            .map(|p| {
                let dates = [p.signed_on, p.entered_into_force_on, p.withdrew_on];
                (p.partner_id, dates)
            })
            .collect::<Vec<_>>();
        parties.sort_unstable();
        LifecycleState {
            status,
            dates,
            parties,
        }
    }
}

impl AgreementInput {
    /// Checks the rules that need no database, recording broken ones in `v`. The rules of the
    /// lifecycle that depend on the status and on today are checked only when the write sets
    /// or changes the status or a lifecycle date (see [`Self::check_lifecycle`]).
    pub fn check(self, v: &mut Validator, lifecycle: Lifecycle<'_>) -> AgreementChanges {
        let title = v.single_line("title", &self.title, 1, 300);
        let signed_on = v.date("signed_on", self.signed_on);
        v.check(
            signed_on.is_some() || !self.status.is_signed(),
            "signed_on",
            format!("is required when the status is {}", self.status.as_str()),
        );
        self.check_lifecycle(v, lifecycle);
        let starts_on = v.date("starts_on", self.starts_on);
        let ends_on = v.date("ends_on", self.ends_on);
        v.date_order("ends_on", starts_on, ends_on);
        let summary = v.optional_multi_line("summary", self.summary.as_deref(), 10_000);
        let document_url = v.http_url("document_url", self.document_url.as_deref());
        v.no_repeats(
            "parties",
            ".partner_id",
            self.parties.iter().map(|p| p.partner_id),
        );
        let country_codes: Vec<String> = self
            .country_codes
            .iter()
            .enumerate()
            .map(|(i, code)| v.letters(&format!("country_codes[{i}]"), code, 2))
            .collect();
        v.no_repeats("country_codes", "", country_codes.iter());
        let documents = documents::check(v, "documents", self.documents);
        let translations = self.translations.check(v, TRANSLATED);
        AgreementChanges {
            search_text: search_text(
                [Some(title.as_str()), summary.as_deref()]
                    .into_iter()
                    .chain(translations.texts().map(Some)),
            ),
            fields: AgreementInput {
                title,
                signed_on,
                starts_on,
                ends_on,
                summary,
                document_url,
                country_codes,
                documents,
                translations,
                ..self
            },
        }
    }

    /// The lifecycle rules: present dates in order, always (the agreement's `signed_on` ≤
    /// `entered_into_force_on` ≤ `expires_on`, and each party's `signed_on` ≤
    /// `entered_into_force_on` ≤ `withdrew_on`); and, when the write is a create or changes
    /// the status or any of these dates, what the status asks of them against today (UTC):
    /// `draft` and `negotiation` carry no signature or entry-into-force date (the agreement's
    /// or a party's); `active` needs `entered_into_force_on` not after today and no
    /// `expires_on` before today; `expired` needs `expires_on` before today. So time passing
    /// never makes a stored agreement invalid, and a write that leaves the lifecycle alone (a
    /// new title) is not refused for it.
    fn check_lifecycle(&self, v: &mut Validator, lifecycle: Lifecycle<'_>) {
        let entered = v.date("entered_into_force_on", self.entered_into_force_on);
        let expires = v.date("expires_on", self.expires_on);
        v.ordered_dates(&[
            ("signed_on", self.signed_on),
            ("entered_into_force_on", entered),
            ("expires_on", expires),
        ]);
        for (i, party) in self.parties.iter().enumerate() {
            let at = |name: &str| format!("parties[{i}].{name}");
            let (signed, entered, withdrew) = (
                at("signed_on"),
                at("entered_into_force_on"),
                at("withdrew_on"),
            );
            let dates = [
                v.date(&signed, party.signed_on),
                v.date(&entered, party.entered_into_force_on),
                v.date(&withdrew, party.withdrew_on),
            ];
            v.ordered_dates(&[
                (&signed, dates[0]),
                (&entered, dates[1]),
                (&withdrew, dates[2]),
            ]);
        }
        let after = LifecycleState::of(
            self.status,
            [self.signed_on, entered, expires],
            &self.parties,
        );
        let changed = lifecycle.current.is_none_or(|current| {
            let before = LifecycleState::of(
                current.status,
                [
                    current.signed_on,
                    current.entered_into_force_on,
                    current.expires_on,
                ],
                &current.parties,
            );
            before != after
        });
        if !changed {
            return;
        }
        let (status, today) = (self.status.as_str(), lifecycle.today);
        match self.status {
            AgreementStatus::Draft | AgreementStatus::Negotiation => {
                let unsigned = format!("must be null while the status is {status}");
                v.check(self.signed_on.is_none(), "signed_on", unsigned.as_str());
                v.check(
                    entered.is_none(),
                    "entered_into_force_on",
                    unsigned.as_str(),
                );
                for (i, party) in self.parties.iter().enumerate() {
                    let at = |name: &str| format!("parties[{i}].{name}");
                    v.check(
                        party.signed_on.is_none(),
                        at("signed_on"),
                        unsigned.as_str(),
                    );
                    v.check(
                        party.entered_into_force_on.is_none(),
                        at("entered_into_force_on"),
                        unsigned.as_str(),
                    );
                }
            }
            AgreementStatus::Active => {
                v.check(
                    entered.is_some_and(|d| d <= today),
                    "entered_into_force_on",
                    match entered {
                        None => "is required when the status is active".to_owned(),
                        Some(_) => {
                            format!("must not be after today ({today}) when the status is active")
                        }
                    },
                );
                v.check(
                    expires.is_none_or(|d| d >= today),
                    "expires_on",
                    format!(
                        "must not be before today ({today}) when the status is active \
                         (an agreement past its expiry is expired)"
                    ),
                );
            }
            AgreementStatus::Expired => {
                v.check(
                    expires.is_some_and(|d| d < today),
                    "expires_on",
                    match expires {
                        None => "is required when the status is expired".to_owned(),
                        Some(_) => {
                            format!("must be before today ({today}) when the status is expired")
                        }
                    },
                );
            }
            AgreementStatus::Signed | AgreementStatus::Terminated => {}
        }
    }
}

/// The orders of the agreements list, by id first.
pub struct AgreementSort;

impl SortKeys for AgreementSort {
    type Table = agreements::table;
    type Tie = agreements::id;
    const TIE: &'static str = "id";
    const KEYS: &'static [SortKey<Self>] = &[
        SortKey::tie("id"),
        SortKey::by::<agreements::title>("title"),
        SortKey::by::<agreements::created_at>("created_at"),
        SortKey::by::<agreements::updated_at>("updated_at"),
    ];
}

/// A `sort` parameter of the agreements list. An alias, so that the OpenAPI derive sees one plain
/// type and takes its schema from [`Sort`].
pub type AgreementOrder = Sort<AgreementSort>;

/// A page of agreements, as the OpenAPI document names it.
pub type AgreementPage = Page<Agreement>;

impl PageItem for Agreement {
    const PAGE_SCHEMA: &'static str = "AgreementPage";

    fn example_cursor() -> String {
        Cursor::after(&Sort::<AgreementSort>::default(), 1, 1).encode()
    }
}

/// Several `AgreementStatus` values for a filter, any of which may match (an alias, so that the
/// OpenAPI derive sees one plain type).
pub type AgreementStatuses = AnyOf<AgreementStatus>;

/// Several `AgreementKind` values for a filter, any of which may match (an alias, so that the
/// OpenAPI derive sees one plain type).
pub type AgreementKinds = AnyOf<AgreementKind>;

/// Filters and order for the agreement list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgreementFilter {
    /// Only agreements in one of these statuses.
    #[param(inline)]
    pub status: Option<AgreementStatuses>,
    /// Only agreements of one of these kinds.
    #[param(inline)]
    pub kind: Option<AgreementKinds>,
    /// Only agreements this partner is party to (its id).
    pub partner: Option<i64>,
    /// Only agreements with a party of one of these partner kinds.
    #[param(inline)]
    pub partner_kind: Option<PartnerKinds>,
    /// Only agreements covering one of these countries (codes, any case).
    #[param(inline)]
    pub country: Option<CountryCodes>,
    /// Only agreements signed on or after this date.
    #[param(format = Date)]
    pub signed_from: Option<NaiveDate>,
    /// Only agreements signed on or before this date.
    #[param(format = Date)]
    pub signed_to: Option<NaiveDate>,
    /// Only agreements in force on this date: `starts_on` ≤ date and `ends_on` (if any) ≥ date.
    #[param(format = Date)]
    pub active_on: Option<NaiveDate>,
    /// Only agreements with a party in force on this date: a party whose
    /// `entered_into_force_on` is on or before it and whose `withdrew_on`, if any, is after
    /// it, of an agreement whose `expires_on`, if any, is on or after it. With `partner`, that
    /// partner must be the party in force.
    #[param(format = Date, example = "2025-06-01")]
    pub party_active_on: Option<NaiveDate>,
    /// Case-insensitive search in titles and summaries: records containing `q` (trimmed), in any
    /// script, every character literal (`%`, `_`, quotes); one character is enough.
    #[param(value_type = Option<String>)]
    pub q: Option<crate::search::Search>,
    /// Sort by `id` (default), `title`, `created_at` or `updated_at`; `-` in front for descending.
    #[param(inline)]
    pub sort: Option<AgreementOrder>,
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

    fn input() -> AgreementInput {
        AgreementInput {
            title: "MOU".into(),
            kind: AgreementKind::MemorandumOfUnderstanding,
            status: AgreementStatus::Signed,
            signed_on: NaiveDate::from_ymd_opt(2024, 6, 3),
            entered_into_force_on: None,
            expires_on: None,
            starts_on: None,
            ends_on: None,
            summary: None,
            document_url: None,
            parties: vec![Party::new(1, PartyRole::Signatory)],
            country_codes: vec!["kz".into(), "KR".into()],
            documents: Vec::new(),
            translations: Default::default(),
        }
    }

    #[test]
    fn a_valid_agreement_is_normalized() {
        let mut v = Validator::new();
        let draft = input().check(&mut v, Lifecycle::new_today());
        assert!(v.finish().is_ok());
        assert_eq!(draft.fields.country_codes, ["KZ", "KR"]);
    }

    #[test]
    fn signed_statuses_need_a_signing_date() {
        for status in AgreementStatus::ALL {
            let mut v = Validator::new();
            AgreementInput {
                status: *status,
                signed_on: None,
                ..input()
            }
            .check(&mut v, Lifecycle::new_today());
            assert_eq!(v.finish().is_err(), status.is_signed(), "{status:?}");
        }
    }

    #[test]
    fn every_broken_rule_is_recorded() {
        let mut v = Validator::new();
        AgreementInput {
            title: "".into(),
            signed_on: None,
            starts_on: NaiveDate::from_ymd_opt(2024, 1, 2),
            ends_on: NaiveDate::from_ymd_opt(2024, 1, 1),
            summary: Some("s".repeat(10_001)),
            document_url: Some("mailto:x@example.org".into()),
            parties: vec![
                Party::new(1, PartyRole::Signatory),
                Party::new(1, PartyRole::Funding),
            ],
            country_codes: vec!["KZ".into(), "kz".into(), "K".into()],
            ..input()
        }
        .check(&mut v, Lifecycle::new_today());
        let Err(crate::error::ApiError::Validation(errors)) = v.finish() else {
            panic!("expected validation errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "title",
                "signed_on",
                "ends_on",
                "summary",
                "document_url",
                "parties[1].partner_id",
                "country_codes[2]",
                "country_codes[1]"
            ]
        );
    }
}
