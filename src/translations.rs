//! Names in the hub's languages: every resource's `translations`, one shape for all — a map from
//! a BCP 47 tag to the texts of the resource's translatable fields in that language — and the
//! `display` object that `lang=` or `Accept-Language` asks for.
//!
//! The plain fields stay the canonical text. A resource says which of its fields translate
//! ([`Text`]), and the rules, the schema and the choice of a language follow from that list.

use std::collections::{BTreeMap, BTreeSet};

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::sql_types::Text as SqlText;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::validation::Validator;

/// A field of a resource that has texts in other languages: its name and the rule of its text.
#[derive(Clone, Copy, Debug)]
pub struct Text {
    pub name: &'static str,
    pub max: usize,
    /// Line breaks allowed (a description), or one line (a name).
    pub multi_line: bool,
}

impl Text {
    pub const fn line(name: &'static str, max: usize) -> Self {
        Self {
            name,
            max,
            multi_line: false,
        }
    }

    pub const fn lines(name: &'static str, max: usize) -> Self {
        Self {
            name,
            max,
            multi_line: true,
        }
    }
}

/// The most languages one record has texts in.
const MAX_LANGUAGES: usize = 100;

/// A record's texts in other languages: by BCP 47 tag in canonical case, the texts of its
/// translatable fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Translations(pub BTreeMap<String, BTreeMap<String, String>>);

impl Translations {
    /// The map as its column holds it.
    pub fn text(&self) -> diesel::QueryResult<String> {
        serde_json::to_string(self).map_err(|e| diesel::result::Error::SerializationError(e.into()))
    }

    /// Every text, for the search index.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.0
            .values()
            .flat_map(|texts| texts.values().map(String::as_str))
    }

    /// Checks the map against the resource's translatable `fields`: each tag a well-formed
    /// BCP 47 tag, no two tags alike but for case, each inner key one of the fields, each text
    /// by its field's rule. Answers the map with its tags in canonical case and texts trimmed.
    pub fn check(self, v: &mut Validator, fields: &[Text]) -> Self {
        v.check(
            self.0.len() <= MAX_LANGUAGES,
            "translations",
            format!("holds at most {MAX_LANGUAGES} languages"),
        );
        let mut checked = BTreeMap::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (tag, texts) in self.0 {
            let field = format!("translations.{tag}");
            let canonical = v.language_tag(&field, &tag);
            if let Some(first) = seen.insert(canonical.to_ascii_lowercase(), tag.clone()) {
                v.check(
                    false,
                    &field,
                    format!("names the same language as {first:?}: tags differ only in case"),
                );
            }
            v.check(!texts.is_empty(), &field, "must hold at least one text");
            let mut kept = BTreeMap::new();
            for (name, text) in texts {
                let path = format!("{field}.{name}");
                let Some(rule) = fields.iter().find(|f| f.name == name) else {
                    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
                    v.check(
                        false,
                        &path,
                        format!(
                            "is not a translatable field; these are: {}",
                            names.join(", ")
                        ),
                    );
                    continue;
                };
                let text = if rule.multi_line {
                    v.optional_multi_line(&path, Some(&text), rule.max)
                        .unwrap_or_default()
                } else {
                    v.single_line(&path, &text, 1, rule.max)
                };
                kept.insert(name, text);
            }
            checked.insert(canonical, kept);
        }
        Translations(checked)
    }
}

impl<DB: Backend> FromSql<SqlText, DB> for Translations
where
    String: FromSql<SqlText, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<SqlText, DB>>::from_sql(value)?;
        Ok(serde_json::from_str(&text)?)
    }
}

impl<DB: Backend> Queryable<SqlText, DB> for Translations
where
    String: FromSql<SqlText, DB>,
{
    type Row = Self;

    fn build(row: Self) -> deserialize::Result<Self> {
        Ok(row)
    }
}

/// The schema of a resource's `translations`: a map from a tag to its translatable fields.
pub fn schema(fields: &[Text], example: Value) -> RefOr<Schema> {
    let mut texts = ObjectBuilder::new()
        .schema_type(Type::Object)
        .min_properties(Some(1))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for field in fields {
        let rule = if field.multi_line {
            crate::validation::MULTI_LINE
        } else {
            crate::validation::SINGLE_LINE
        };
        texts = texts.property(
            field.name,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(field.max))
                .pattern(Some(rule)),
        );
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "Texts in other languages, by BCP 47 language tag (`ru`, `kk`, `kk-Latn`, `ko`…; \
             stored in canonical case): for each, some of {}. The plain fields stay the \
             canonical text. A replace (PUT) sets the whole map; a merge patch merges into \
             it, null removing a language or a text.",
            names.join(", ")
        )))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(2))
                .max_length(Some(35))
                .pattern(Some("^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")),
        ))
        .additional_properties(Some(texts))
        .examples([example])
        .into()
}

/// The languages a client asked for, best first: `lang=` (one tag, or several
/// comma-separated), else `Accept-Language` by its weights.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preference(Vec<String>);

impl Preference {
    /// From `lang=`, whose form the parameter's schema has checked: each tag in canonical case
    /// where it is a registered one, else as given (it then matches only a tag written alike).
    pub fn from_param(text: &str) -> Self {
        let ranges = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                let mut v = Validator::new();
                let tag = v.language_tag("lang", part);
                if v.is_empty() { tag } else { part.to_owned() }
            })
            .collect();
        Self(ranges)
    }

    /// From an `Accept-Language` header: its ranges by weight (ties in the order sent),
    /// leaving out `*`, weight 0 and anything ill-formed.
    pub fn from_header(text: &str) -> Self {
        let mut weighted: Vec<(u16, usize, String)> = Vec::new();
        for (i, item) in text.split(',').enumerate().take(32) {
            let mut parts = item.split(';').map(str::trim);
            let range = parts.next().unwrap_or_default();
            let weight = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(Some(1000), |q| {
                    q.parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map(|q| (q * 1000.0) as u16)
                });
            let Some(weight) = weight.filter(|w| *w > 0) else {
                continue;
            };
            if range == "*" || range.is_empty() {
                continue;
            }
            let mut v = Validator::new();
            let tag = v.language_tag("", range);
            if v.is_empty() {
                weighted.push((weight, i, tag));
            }
        }
        weighted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Self(weighted.into_iter().map(|(_, _, tag)| tag).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges, comma-separated: part of a shaped representation's tag.
    pub fn key(&self) -> String {
        self.0.join(",")
    }

    /// The tag of `translations` that best serves this preference: for each range, best
    /// first, the tag itself, then ever shorter prefixes of it (`kk-Latn-KZ`, `kk-Latn`,
    /// `kk`), then a longer tag it is a prefix of (`kk` finds `kk-Latn`); none when no range
    /// is served.
    pub fn best<'a>(&self, tags: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
        for range in &self.0 {
            let range = range.to_ascii_lowercase();
            let mut prefix = range.as_str();
            loop {
                if let Some(tag) = tags.clone().find(|t| t.eq_ignore_ascii_case(prefix)) {
                    return Some(tag);
                }
                match prefix.rfind('-') {
                    Some(cut) => prefix = &prefix[..cut],
                    None => break,
                }
            }
            let longer = format!("{range}-");
            if let Some(tag) = tags
                .clone()
                .find(|t| t.to_ascii_lowercase().starts_with(&longer))
            {
                return Some(tag);
            }
        }
        None
    }
}

/// The `display` of a record rendered as `record` (its members by name): each translatable
/// field's text in the best language `preference` finds among its translations, or its
/// canonical text where that language has none, and `lang`, the tag chosen (null: none). The
/// tag chosen is added to `languages`.
pub fn display(
    record: &Map<String, Value>,
    fields: &[Text],
    preference: &Preference,
    languages: &mut BTreeSet<String>,
) -> Display {
    let translations = record.get("translations").and_then(Value::as_object);
    let tags = translations
        .into_iter()
        .flat_map(|t| t.keys().map(String::as_str));
    let chosen = preference.best(tags);
    let texts = chosen.and_then(|tag| translations?.get(tag)?.as_object());
    let mut shown = vec![("lang", json!(chosen))];
    for field in fields {
        let text = texts
            .and_then(|t| t.get(field.name))
            .or_else(|| record.get(field.name))
            .cloned()
            .unwrap_or(Value::Null);
        shown.push((field.name, text));
    }
    if let Some(tag) = chosen {
        languages.insert(tag.to_owned());
    }
    Display(shown)
}

/// A `display` object: `lang`, then the fields in the resource's order.
#[derive(Debug, PartialEq)]
pub struct Display(Vec<(&'static str, Value)>);

impl Serialize for Display {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The schema of `display`, for the OpenAPI document.
pub fn display_schema(fields: &[Text]) -> RefOr<Schema> {
    let mut display = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Present when `lang=` or `Accept-Language` asks for languages: each translatable \
             field in the best language the record has (`lang`, null when none of those asked \
             for), or its canonical text where that language has none.",
        ))
        .property(
            "lang",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .description(Some("The language tag of `translations` used; null: none")),
        )
        .required("lang");
    for field in fields {
        display = display
            .property(
                field.name,
                ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ])),
            )
            .required(field.name);
    }
    display.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Text] = &[Text::line("name", 200), Text::line("acronym", 20)];

    fn map(pairs: &[(&str, &[(&str, &str)])]) -> Translations {
        Translations(
            pairs
                .iter()
                .map(|(tag, texts)| {
                    let texts = texts
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect();
                    ((*tag).to_owned(), texts)
                })
                .collect(),
        )
    }

    fn broken(translations: Translations) -> Vec<String> {
        let mut v = Validator::new();
        translations.check(&mut v, FIELDS);
        match v.finish() {
            Err(crate::error::ApiError::Validation(errors)) => {
                errors.into_iter().map(|e| e.field).collect()
            }
            _ => Vec::new(),
        }
    }

    #[test]
    fn tags_are_stored_in_canonical_case_and_texts_trimmed() {
        let mut v = Validator::new();
        let checked = map(&[("KK-latn", &[("name", " Қазақстан ")])]).check(&mut v, FIELDS);
        assert!(v.is_empty());
        assert_eq!(checked.0["kk-Latn"]["name"], "Қазақстан");
    }

    #[test]
    fn bad_tags_fields_and_texts_are_named() {
        assert_eq!(
            broken(map(&[("not a tag", &[("name", "x")])])),
            ["translations.not a tag"]
        );
        assert_eq!(
            broken(map(&[
                ("kk-Latn", &[("name", "a")]),
                ("kk-latn", &[("name", "b")])
            ])),
            ["translations.kk-latn"]
        );
        assert_eq!(
            broken(map(&[("ru", &[("title", "x")])])),
            ["translations.ru.title"]
        );
        assert_eq!(
            broken(map(&[("ru", &[("name", " ")])])),
            ["translations.ru.name"]
        );
        assert_eq!(broken(map(&[("ru", &[])])), ["translations.ru"]);
        assert_eq!(
            broken(map(&[("ru", &[("acronym", &"A".repeat(21))])])),
            ["translations.ru.acronym"]
        );
    }

    #[test]
    fn accept_language_is_read_by_weight() {
        let preference = Preference::from_header("en;q=0.5, ru, kk-latn;q=0.9, *;q=0.1, xx-;q=1");
        assert_eq!(preference.key(), "ru,kk-Latn,en");
        assert!(Preference::from_header("*").is_empty());
        assert!(Preference::from_header("ru;q=0").is_empty());
        assert_eq!(Preference::from_param("ko, KK").key(), "ko,kk");
        assert_eq!(
            Preference::from_param("ru,,xx-Yyyyyyyy").key(),
            "ru,xx-Yyyyyyyy"
        );
    }

    #[test]
    fn the_best_tag_falls_back_along_the_tag_and_then_to_none() {
        let tags = ["kk", "kk-Latn", "ru"];
        let best = |text: &str| Preference::from_header(text).best(tags.iter().copied());
        assert_eq!(best("kk-Latn-KZ"), Some("kk-Latn"));
        assert_eq!(best("kk-Cyrl"), Some("kk"));
        assert_eq!(best("fr, ru"), Some("ru"));
        assert_eq!(best("fr"), None);
        let latin_only = ["kk-Latn"];
        let preference = Preference::from_header("kk");
        assert_eq!(preference.best(latin_only.iter().copied()), Some("kk-Latn"));
    }

    #[test]
    fn display_falls_back_field_by_field_to_the_canonical_text() {
        let record: Map<String, Value> = serde_json::from_value(json!({
            "name": "Ministry of Internal Affairs", "acronym": "MIA",
            "translations": {"ru": {"name": "Министерство внутренних дел"}}
        }))
        .expect("an object");
        let mut languages = BTreeSet::new();
        let shown = display(
            &record,
            FIELDS,
            &Preference::from_header("ru"),
            &mut languages,
        );
        assert_eq!(
            serde_json::to_string(&shown).expect("JSON"),
            r#"{"lang":"ru","name":"Министерство внутренних дел","acronym":"MIA"}"#
        );
        let shown = display(
            &record,
            FIELDS,
            &Preference::from_header("ko"),
            &mut languages,
        );
        assert_eq!(
            serde_json::to_string(&shown).expect("JSON"),
            r#"{"lang":null,"name":"Ministry of Internal Affairs","acronym":"MIA"}"#
        );
        assert_eq!(languages.into_iter().collect::<Vec<_>>(), ["ru"]);
    }
}
