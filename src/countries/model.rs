//! The country resource: what is stored, what clients send, and the rules it must keep.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::http::{merge_patch_schema, schema_requiring};
use crate::pagination::{Cursor, Page, PageItem, Sort, SortKey, SortKeys};
use crate::schema::countries;
use crate::translations::{self, Text, Translations};
use crate::validation::{Validator, search_text};

/// A country or territory, keyed by its ISO 3166-1 alpha-2 code.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = countries)]
#[schema(example = json!({
    "code": "KZ", "alpha3": "KAZ", "numeric": "398", "name": "Kazakhstan",
    "region": "Asia", "subregion": "Central Asia", "participant": true,
    "joined_on": "2013-03-13", "notes": "Founding member of the hub.",
    "translations": {"kk": {"name": "Қазақстан"}, "ko": {"name": "카자흐스탄"}, "ru": {"name": "Казахстан"}},
    "created_at": "2024-06-24T09:00:00.000000Z", "updated_at": "2024-06-24T09:00:00.000000Z", "version": 1
}))]
pub struct Country {
    /// ISO 3166-1 alpha-2 code, upper-case; the key in the path. Immutable.
    #[schema(pattern = "^[A-Z]{2}$", example = "KZ")]
    pub code: String,
    /// ISO 3166-1 alpha-3 code, unique.
    #[schema(pattern = "^[A-Z]{3}$", example = "KAZ")]
    pub alpha3: String,
    /// ISO 3166-1 numeric code, three digits.
    #[diesel(column_name = numeric_code)]
    #[schema(pattern = "^[0-9]{3}$", example = "398")]
    pub numeric: String,
    /// Short name.
    #[schema(min_length = 1, max_length = 200, example = "Kazakhstan")]
    pub name: String,
    /// UN geoscheme region.
    #[schema(example = "Asia")]
    #[schema(required = true)]
    pub region: Option<String>,
    /// UN geoscheme subregion.
    #[schema(example = "Central Asia")]
    #[schema(required = true)]
    pub subregion: Option<String>,
    /// Whether the country takes part in the hub's cooperation.
    pub participant: bool,
    /// When the country joined the hub.
    #[schema(format = Date, example = "2013-03-13")]
    #[diesel(deserialize_as = crate::time::StoredOptionalDate)]
    #[serde(serialize_with = "crate::time::optional_date::serialize")]
    #[schema(required = true)]
    pub joined_on: Option<NaiveDate>,
    /// Free notes, at most 5000 characters.
    #[schema(max_length = 5000)]
    #[schema(required = true)]
    pub notes: Option<String>,
    #[schema(schema_with = translations_schema)]
    pub translations: Translations,
    /// When the record was created (RFC 3339, UTC).
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2024-06-24T09:00:00.000000Z")]
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    pub created_at: NaiveDateTime,
    /// When the record last changed (RFC 3339, UTC).
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2024-06-24T09:00:00.000000Z")]
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    pub updated_at: NaiveDateTime,
    /// Starts at 1 and grows by one on every change; the ETag is this number, quoted.
    #[schema(minimum = 1, example = 1)]
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

/// The writable fields of a country: the body of create (POST) and replace (PUT), and what a
/// merge patch (PATCH) is applied to.
// Once checked, also the columns stored (`CountryChanges`); `None` is stored as NULL.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, Insertable, AsChangeset)]
#[diesel(table_name = countries, treat_none_as_null = true, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "XK", "alpha3": "XKX", "numeric": "983", "name": "Kosovo",
    "region": "Europe", "subregion": "Southern Europe", "participant": false
}))]
pub struct CountryInput {
    /// Required on create. On replace it may be left out; when given it must equal the path's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z]{2}$", example = "XK")]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub code: Option<String>,
    #[schema(pattern = "^[A-Za-z]{3}$", example = "XKX")]
    pub alpha3: String,
    #[schema(pattern = "^[0-9]{3}$", example = "983")]
    #[diesel(column_name = numeric_code)]
    pub numeric: String,
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
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub region: Option<String>,
    /// One line without control characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub subregion: Option<String>,
    /// Defaults to false.
    #[serde(default)]
    pub participant: bool,
    #[serde(default)]
    #[schema(format = Date)]
    pub joined_on: Option<NaiveDate>,
    /// Text that may hold line feeds, tabs and CRLF line breaks but no other control
    /// characters; trimmed. Blank is refused: send null to clear.
    #[serde(default)]
    #[schema(
        max_length = 5000,
        pattern = r"^(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*$"
    )]
    pub notes: Option<String>,
    /// The service fills in the names of the ISO data in the hub's languages where a country
    /// has none in that language; a name given here wins, and is kept.
    #[serde(default)]
    #[schema(schema_with = translations_schema)]
    #[diesel(skip_insertion)]
    #[diesel(skip_update)]
    pub translations: Translations,
}

/// The fields of a country that have texts in other languages.
pub const TRANSLATED: &[Text] = &[Text::line("name", 200)];

fn translations_schema() -> RefOr<Schema> {
    translations::schema(
        TRANSLATED,
        json!({"ru": {"name": "Казахстан"}, "kk": {"name": "Қазақстан"}, "ko": {"name": "카자흐스탄"}}),
    )
}

/// The body of POST, for the OpenAPI document: a [`CountryInput`] with its `code`, which
/// create needs and replace does not.
pub struct CountryCreate;

impl PartialSchema for CountryCreate {
    fn schema() -> RefOr<Schema> {
        schema_requiring::<CountryInput>(
            &["code"],
            "The writable fields of a new country, its code among them.",
        )
    }
}

impl ToSchema for CountryCreate {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        CountryInput::schemas(schemas);
    }
}

/// The body of PATCH: a JSON Merge Patch of the country's [`CountryInput`], for the OpenAPI document
/// (its schema is `CountryInput`'s with nothing required and `null` clearing an optional field).
/// The service applies the patch to the current record and checks the result as a whole input.
pub struct CountryPatch;

impl PartialSchema for CountryPatch {
    fn schema() -> RefOr<Schema> {
        merge_patch_schema::<CountryInput>(
            json!({"participant": true, "joined_on": "2024-09-02", "notes": null}),
        )
    }
}

impl ToSchema for CountryPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        CountryInput::schemas(schemas);
    }
}

/// A checked country, ready to be stored: its fields, and the columns made from them. The
/// code is stored by its own column, as it never changes.
#[derive(Clone, Debug, Insertable, AsChangeset)]
#[diesel(table_name = countries)]
pub struct CountryChanges {
    #[diesel(embed)]
    pub fields: CountryInput,
    pub search_text: String,
    /// `fields.translations`, as its column holds it.
    pub translations: String,
}

impl CountryInput {
    /// Checks the rules that need no database, recording broken ones in `v`; returns the
    /// upper-case code and the values to store. `path_code` is the code of the country being
    /// replaced, or `None` on create.
    pub fn check(self, v: &mut Validator, path_code: Option<&str>) -> (String, CountryChanges) {
        let code = match (self.code.as_deref(), path_code) {
            (Some(code), None) => v.letters("code", code, 2),
            (None, None) => {
                v.check(false, "code", "is required");
                String::new()
            }
            (given, Some(path)) => {
                let same = given.is_none_or(|g| g.trim().eq_ignore_ascii_case(path));
                v.check(
                    same,
                    "code",
                    "is immutable: it must equal the code in the path",
                );
                path.to_owned()
            }
        };
        let fields = CountryInput {
            code: Some(code.clone()),
            alpha3: v.letters("alpha3", &self.alpha3, 3),
            numeric: v.digits("numeric", &self.numeric, 3),
            name: v.single_line("name", &self.name, 1, 200),
            region: v.optional_single_line("region", self.region.as_deref(), 200),
            subregion: v.optional_single_line("subregion", self.subregion.as_deref(), 200),
            joined_on: v.date("joined_on", self.joined_on),
            notes: v.optional_multi_line("notes", self.notes.as_deref(), 5000),
            translations: self.translations.check(v, TRANSLATED),
            ..self
        };
        let search_text = search_text(
            [
                Some(code.as_str()),
                Some(&fields.alpha3),
                Some(&fields.name),
                fields.region.as_deref(),
                fields.subregion.as_deref(),
                fields.notes.as_deref(),
            ]
            .into_iter()
            .chain(fields.translations.texts().map(Some)),
        );
        let translations = fields
            .translations
            .text()
            .unwrap_or_else(|_| "{}".to_owned());
        (
            code,
            CountryChanges {
                fields,
                search_text,
                translations,
            },
        )
    }
}

/// The orders of the countries list, by code first.
pub struct CountrySort;

impl SortKeys for CountrySort {
    type Table = countries::table;
    type Tie = countries::code;
    const TIE: &'static str = "code";
    const KEYS: &'static [SortKey<Self>] = &[
        SortKey::tie("code"),
        SortKey::by::<countries::name>("name"),
        SortKey::by::<countries::alpha3>("alpha3"),
        SortKey::by::<countries::numeric_code>("numeric"),
        SortKey::by::<countries::created_at>("created_at"),
        SortKey::by::<countries::updated_at>("updated_at"),
    ];
}

/// A `sort` parameter of the countries list. An alias, so that the OpenAPI derive sees one plain
/// type and takes its schema from [`Sort`].
pub type CountryOrder = Sort<CountrySort>;

/// A page of countries, as the OpenAPI document names it.
pub type CountryPage = Page<Country>;

impl PageItem for Country {
    const PAGE_SCHEMA: &'static str = "CountryPage";

    fn example_cursor() -> String {
        Cursor::after(&Sort::<CountrySort>::default(), "KZ", "KZ").encode()
    }
}

/// Filters and order for the country list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountryFilter {
    /// Only countries in this region (exact name, e.g. `Asia`).
    pub region: Option<String>,
    /// Only countries in this subregion (exact name, e.g. `Central Asia`).
    pub subregion: Option<String>,
    /// Only participants (`true`) or only non-participants (`false`).
    pub participant: Option<bool>,
    /// Case-insensitive search in codes, names, regions and notes: records containing `q`
    /// (trimmed), in any script, every character literal (`%`, `_`, quotes); one character is
    /// enough.
    pub q: Option<String>,
    /// Sort by `code` (default), `name`, `alpha3`, `numeric`, `created_at` or `updated_at`;
    /// `-` in front for descending.
    #[param(inline)]
    pub sort: Option<CountryOrder>,
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
    use crate::error::ApiError;

    /// The input checked as `prepare` checks it: every broken rule as one 422.
    fn checked(
        input: CountryInput,
        path_code: Option<&str>,
    ) -> Result<(String, CountryChanges), ApiError> {
        let mut v = Validator::new();
        let checked = input.check(&mut v, path_code);
        v.finish().map(|()| checked)
    }

    fn input() -> CountryInput {
        CountryInput {
            code: Some("xk".into()),
            alpha3: "xkx".into(),
            numeric: "983".into(),
            name: " Kosovo ".into(),
            region: Some("Europe".into()),
            subregion: None,
            participant: false,
            joined_on: None,
            notes: Some(" Declared independence in 2008.\n".into()),
            translations: Default::default(),
        }
    }

    #[test]
    fn create_normalizes_codes_and_texts() {
        let (code, changes) = checked(input(), None).expect("valid");
        assert_eq!(code, "XK");
        assert_eq!(changes.fields.alpha3, "XKX");
        assert_eq!(changes.fields.name, "Kosovo");
        assert_eq!(
            changes.fields.notes.as_deref(),
            Some("Declared independence in 2008.")
        );
        assert!(changes.search_text.contains("kosovo"));
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let bad = CountryInput {
            code: None,
            alpha3: "X1".into(),
            numeric: "98".into(),
            name: "".into(),
            notes: Some("n".repeat(5001)),
            ..input()
        };
        let Err(ApiError::Validation(errors)) = checked(bad, None) else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "alpha3", "numeric", "name", "notes"]);
    }

    #[test]
    fn replace_keeps_the_path_code() {
        assert!(checked(input(), Some("XK")).is_ok());
        assert!(
            checked(
                CountryInput {
                    code: None,
                    ..input()
                },
                Some("XK")
            )
            .is_ok()
        );
        assert!(checked(input(), Some("KZ")).is_err());
    }
}
