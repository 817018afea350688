//! The partner resource: what is stored, what clients send, and the rules it must keep.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::identifiers::{self, Identifier, IdentifierFilter};
use crate::filter::{AnyOf, CountryCodes};
use crate::http::merge_patch_schema;
use crate::pagination::{Cursor, Page, PageItem, Sort, SortKey, SortKeys};
use crate::schema::partners;
use crate::sql::JsonList;
use crate::text_enum;
use crate::translations::{self, Text, Translations};
use crate::validation::{Validator, search_text};

text_enum! {
    /// The kind of organisation. The IATI organisation-type code each maps to:
    /// `government` 10, `local_government` 11, `public_sector` 15, `multilateral` 40,
    /// `international_ngo` 21, `national_ngo` 22, `regional_ngo` 23, `foundation` 60,
    /// `private_sector` 70, `academic` 80, `other` 90.
    pub enum PartnerKind {
        Government => "government",
        LocalGovernment => "local_government",
        PublicSector => "public_sector",
        Multilateral => "multilateral",
        InternationalNgo => "international_ngo",
        NationalNgo => "national_ngo",
        RegionalNgo => "regional_ngo",
        Foundation => "foundation",
        PrivateSector => "private_sector",
        Academic => "academic",
        Other => "other",
    }
}

/// An organisation the hub works with.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = partners)]
#[schema(example = json!({
    "id": 3, "name": "Ministry of the Interior and Safety", "acronym": "MOIS",
    "kind": "government", "country_code": "KR", "website": "https://www.mois.go.kr",
    "email": null, "description": "Korea's ministry for government innovation and digital government.",
    "identifiers": [], "translations": {"ko": {"name": "행정안전부", "acronym": "행안부"}},
    "created_at": "2024-06-24T09:00:00.000000Z", "updated_at": "2024-06-24T09:00:00.000000Z", "version": 1
}))]
pub struct Partner {
    /// Assigned by the server.
    pub id: i64,
    /// Unique, ignoring case.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 20, example = "UNDP")]
    #[schema(required = true)]
    pub acronym: Option<String>,
    #[diesel(deserialize_as = String)]
    pub kind: PartnerKind,
    /// Where the headquarters are: an existing country's code.
    #[schema(pattern = "^[A-Z]{2}$", example = "KZ")]
    #[schema(required = true)]
    pub country_code: Option<String>,
    /// Absolute http(s) URL.
    #[schema(format = "uri")]
    #[schema(required = true)]
    pub website: Option<String>,
    #[schema(format = Email)]
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(max_length = 5000)]
    #[schema(required = true)]
    pub description: Option<String>,
    /// Its codes in other registries, in the order given.
    #[diesel(deserialize_as = JsonList<Identifier>)]
    pub identifiers: Vec<Identifier>,
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

/// The writable fields of a partner: the body of create and replace, and what a merge patch
/// is applied to.
// Once checked, also the columns stored (`PartnerChanges`); `None` is stored as NULL.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, Insertable, AsChangeset)]
#[diesel(table_name = partners, treat_none_as_null = true, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Organisation for Economic Co-operation and Development", "acronym": "OECD",
    "kind": "multilateral", "country_code": "FR", "website": "https://www.oecd.org",
    "email": null, "description": "Public governance reviews and the Digital Government Index."
}))]
pub struct PartnerInput {
    /// One line without control characters; trimmed, and must not be blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// One line without control characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 20,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub acronym: Option<String>,
    pub kind: PartnerKind,
    /// An existing country's code, any case.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub country_code: Option<String>,
    /// An absolute http or https URL, without spaces or control characters; null to clear.
    #[serde(default)]
    #[schema(
        format = "uri",
        max_length = 2000,
        pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]+$"
    )]
    pub website: Option<String>,
    /// An e-mail address; null to clear.
    #[serde(default)]
    #[schema(format = Email, max_length = 254, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub email: Option<String>,
    /// Text that may hold line feeds, tabs and CRLF line breaks but no other control
    /// characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 5000,
        pattern = r"^(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*$"
    )]
    pub description: Option<String>,
    /// Its codes in other registries (at most 20), each (scheme, value) held by one partner
    /// only; replaced as a whole.
    #[serde(default)]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub identifiers: Vec<Identifier>,
    #[serde(default)]
    #[schema(schema_with = translations_schema)]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub translations: Translations,
}

/// The fields of a partner that have texts in other languages.
pub const TRANSLATED: &[Text] = &[Text::line("name", 200), Text::line("acronym", 20)];

fn translations_schema() -> utoipa::openapi::RefOr<Schema> {
    translations::schema(
        TRANSLATED,
        json!({"ru": {"name": "Министерство внутренних дел Республики Казахстан", "acronym": "МВД"},
               "kk": {"name": "Қазақстан Республикасы Ішкі істер министрлігі", "acronym": "ІІМ"}}),
    )
}

/// The body of PATCH: a JSON Merge Patch of the partner's [`PartnerInput`], for the OpenAPI document
/// (its schema is `PartnerInput`'s with nothing required and `null` clearing an optional field).
/// The service applies the patch to the current record and checks the result as a whole input.
pub struct PartnerPatch;

impl PartialSchema for PartnerPatch {
    fn schema() -> RefOr<Schema> {
        merge_patch_schema::<PartnerInput>(
            json!({"email": "international@mois.go.kr", "description": null}),
        )
    }
}

impl ToSchema for PartnerPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        PartnerInput::schemas(schemas);
    }
}

/// A checked partner, ready to be stored: its fields, and the columns made from them.
#[derive(Clone, Debug, Insertable, AsChangeset)]
#[diesel(table_name = partners)]
pub struct PartnerChanges {
    #[diesel(embed)]
    pub fields: PartnerInput,
    pub name_key: String,
    pub search_text: String,
}

impl PartnerInput {
    /// Checks the rules that need no database, recording broken ones in `v`.
    pub fn check(self, v: &mut Validator) -> PartnerChanges {
        let name = v.single_line("name", &self.name, 1, 200);
        let acronym = v.optional_single_line("acronym", self.acronym.as_deref(), 20);
        let country_code = self
            .country_code
            .as_deref()
            .map(|c| v.letters("country_code", c, 2));
        let website = v.http_url("website", self.website.as_deref());
        let email = v.email("email", self.email.as_deref());
        let description = v.optional_multi_line("description", self.description.as_deref(), 5000);
        let identifiers = identifiers::check(v, self.identifiers);
        let translations = self.translations.check(v, TRANSLATED);
        PartnerChanges {
            name_key: name.to_lowercase(),
            search_text: search_text(
                [
                    Some(name.as_str()),
                    acronym.as_deref(),
                    description.as_deref(),
                ]
                .into_iter()
                .chain(translations.texts().map(Some)),
            ),
            fields: PartnerInput {
                name,
                acronym,
                country_code,
                website,
                email,
                description,
                identifiers,
                translations,
                ..self
            },
        }
    }
}

/// The orders of the partners list, by name first.
pub struct PartnerSort;

impl SortKeys for PartnerSort {
    type Table = partners::table;
    type Tie = partners::id;
    const TIE: &'static str = "id";
    const KEYS: &'static [SortKey<Self>] = &[
        SortKey::by::<partners::name>("name"),
        SortKey::tie("id"),
        SortKey::by::<partners::created_at>("created_at"),
        SortKey::by::<partners::updated_at>("updated_at"),
    ];
}

/// A `sort` parameter of the partners list. An alias, so that the OpenAPI derive sees one plain
/// type and takes its schema from [`Sort`].
pub type PartnerOrder = Sort<PartnerSort>;

/// A page of partners, as the OpenAPI document names it.
pub type PartnerPage = Page<Partner>;

impl PageItem for Partner {
    const PAGE_SCHEMA: &'static str = "PartnerPage";

    fn example_cursor() -> String {
        Cursor::after(
            &Sort::<PartnerSort>::default(),
            "Ministry of the Interior and Safety",
            3,
        )
        .encode()
    }
}

/// Several `PartnerKind` values for a filter, any of which may match (an alias, so that the
/// OpenAPI derive sees one plain type).
pub type PartnerKinds = AnyOf<PartnerKind>;

/// Filters and order for the partner list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartnerFilter {
    /// Only partners of one of these kinds.
    #[param(inline)]
    pub kind: Option<PartnerKinds>,
    /// Only partners headquartered in one of these countries (codes, any case).
    #[param(inline)]
    pub country: Option<CountryCodes>,
    /// Case-insensitive search in names, acronyms and descriptions: records containing `q`
    /// (trimmed), in any script, every character literal (`%`, `_`, quotes); one character is
    /// enough.
    #[param(value_type = Option<String>)]
    pub q: Option<crate::search::Search>,
    /// Sort by `name` (default), `id`, `created_at` or `updated_at`; `-` in front for descending.
    #[param(inline)]
    pub sort: Option<PartnerOrder>,
    #[param(inline)]
    pub updated_after: Option<crate::filter::UpdatedAfter>,
    #[param(inline)]
    pub updated_before: Option<crate::filter::UpdatedBefore>,
    /// The partner holding this identifier, as `<scheme>:<value>`.
    #[param(inline)]
    pub identifier: Option<IdentifierFilter>,
    /// Admins only (anyone else gets 403): deleted records (tombstones, each with its
    /// `deleted_at`) are listed too. Not taken by an export.
    pub include_deleted: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PartnerInput {
        PartnerInput {
            name: "  Astana Civil Service Hub ".into(),
            acronym: Some("ACSH".into()),
            kind: PartnerKind::Multilateral,
            country_code: Some("kz".into()),
            website: Some("https://www.astanacivilservicehub.org".into()),
            email: Some("info@astanahub.com".into()),
            description: None,
            identifiers: vec![Identifier {
                scheme: "wikidata".into(),
                value: " Q123 ".into(),
            }],
            translations: Translations::default(),
        }
    }

    #[test]
    fn a_valid_partner_is_normalized() {
        let mut v = Validator::new();
        let changes = input().check(&mut v);
        assert!(v.finish().is_ok());
        assert_eq!(changes.fields.name, "Astana Civil Service Hub");
        assert_eq!(changes.name_key, "astana civil service hub");
        assert_eq!(changes.fields.country_code.as_deref(), Some("KZ"));
        assert_eq!(changes.fields.kind, PartnerKind::Multilateral);
        assert_eq!(changes.fields.identifiers[0].value, "Q123");
    }

    #[test]
    fn every_broken_rule_is_recorded() {
        let mut v = Validator::new();
        PartnerInput {
            name: "".into(),
            acronym: Some("A".repeat(21)),
            country_code: Some("KAZ".into()),
            website: Some("www.example.org".into()),
            email: Some("at-nowhere".into()),
            description: Some("d".repeat(5001)),
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
                "name",
                "acronym",
                "country_code",
                "website",
                "email",
                "description"
            ]
        );
    }
}
