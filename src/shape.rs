//! Shaped representations: `fields=` keeps some of a record's fields, `include=` embeds the
//! records it refers to. Both work on the rendered JSON of any resource, from its schema (the
//! field names) and from what it declares it can embed ([`Include`]), so no resource shapes
//! anything itself.
//!
//! Each include reads its records in one statement for a whole page, whatever the page's size.
//! A shaped representation carries a weak ETag made from the record's version, the shaping
//! parameters and the versions of the records it embeds; `If-Match` keeps checking the record's
//! own version (its strong, plain ETag).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use actix_web::http::header::EntityTag;
use bytes::Bytes;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::error::ApiError;
use crate::http::render_json;
use crate::translations::{Preference, Text, display};

/// The shaping parameters as sent: comma-separated lists (a repeated parameter has been joined
/// with commas by `crate::http::QueryParams`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ShapeParams {
    pub fields: Option<String>,
    pub include: Option<String>,
    pub lang: Option<String>,
}

/// A record another one refers to, which `include=` can embed.
pub struct Include {
    /// The name a client gives: `parties.partner`.
    pub path: &'static str,
    /// Where the references are, and where the records go.
    pub at: Embedding,
    /// The embedded records' schema, by name.
    pub schema: &'static str,
    /// Reads the records with these keys (ids or codes), in one statement.
    pub load: Loader,
}

/// Reads records by their keys, rendered, each with its key and version.
pub type Loader = fn(&mut DbConnection, &[Value]) -> Result<Vec<Embedded>, ApiError>;

/// One record read for embedding.
pub struct Embedded {
    pub key: String,
    pub version: i64,
    pub json: Bytes,
}

/// Where an include takes its references from, and where it puts the records.
#[derive(Clone, Copy, Debug)]
pub enum Embedding {
    /// A field holding one key (or null): `agreement_id` → `agreement`.
    One {
        from: &'static str,
        to: &'static str,
    },
    /// A field holding a list of keys: `country_codes` → `countries`, in the same order.
    Many {
        from: &'static str,
        to: &'static str,
    },
    /// A field holding a list of objects, each with a key: each of `parties`, `partner_id` →
    /// `partner`.
    EachOf {
        list: &'static str,
        from: &'static str,
        to: &'static str,
    },
}

impl Embedding {
    /// The record's own member that holds the embedded records.
    pub fn member(&self) -> &'static str {
        match *self {
            Embedding::One { to, .. } | Embedding::Many { to, .. } => to,
            Embedding::EachOf { list, .. } => list,
        }
    }
}

/// How a request asks a resource's records to be shaped.
pub struct Shape {
    /// The members to keep, in the record's order; `None` keeps all.
    fields: Option<BTreeSet<String>>,
    includes: Vec<&'static Include>,
    /// The languages asked for, and the record's fields that have texts in them: a `display`.
    display: Option<(Preference, &'static [Text])>,
}

/// What shaping a set of records did: the records it embedded, and the languages of the
/// `display`s it wrote.
#[derive(Default)]
pub struct Shaped {
    pub embedded: Vec<Embedded>,
    pub languages: BTreeSet<String>,
}

impl Shaped {
    /// The `Content-Language` of the answer, when a `display` is in a language.
    pub fn content_language(&self) -> Option<String> {
        (!self.languages.is_empty()).then(|| {
            self.languages
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

impl Shape {
    /// The plain representation.
    pub fn plain() -> Self {
        Self {
            fields: None,
            includes: Vec::new(),
            display: None,
        }
    }

    /// Reads the parameters for a resource whose records have the members `fields` (the first
    /// is its key, always kept), can embed `includes` and have texts in other languages for
    /// `translated`: a 400 naming the parameter, and what it takes, for a name it does not
    /// know. Without `lang=`, the request's `Accept-Language` asks for the languages.
    pub fn parse(
        params: &ShapeParams,
        fields: &[String],
        includes: &'static [Include],
        translated: &'static [Text],
        accept_language: Option<&str>,
    ) -> Result<Self, ApiError> {
        let mut shape = Self::plain();
        let preference = match (&params.lang, accept_language) {
            (Some(lang), _) => Some(Preference::from_param(lang)),
            (None, Some(header)) => Some(Preference::from_header(header)),
            (None, None) => None,
        };
        shape.display = preference
            .filter(|p| !p.is_empty() && !translated.is_empty())
            .map(|p| (p, translated));
        if let Some(text) = &params.include {
            for path in names("include", text)? {
                let include = includes
                    .iter()
                    .find(|include| include.path == path)
                    .ok_or_else(|| {
                        let valid: Vec<&str> = includes.iter().map(|i| i.path).collect();
                        unknown("include", path, "paths", &valid)
                    })?;
                if !shape.includes.iter().any(|i| i.path == include.path) {
                    shape.includes.push(include);
                }
            }
        }
        if let Some(text) = &params.fields {
            let mut kept: BTreeSet<String> = fields.iter().take(1).cloned().collect();
            for name in names("fields", text)? {
                if !fields.iter().any(|field| field == name) {
                    let valid: Vec<&str> = fields.iter().map(String::as_str).collect();
                    return Err(unknown("fields", name, "fields", &valid));
                }
                kept.insert(name.to_owned());
            }
            kept.extend(shape.includes.iter().map(|i| i.at.member().to_owned()));
            shape.fields = Some(kept);
        }
        Ok(shape)
    }

    pub fn is_plain(&self) -> bool {
        self.fields.is_none() && self.includes.is_empty() && self.display.is_none()
    }

    /// Shapes rendered records in place, reading each include's records in one statement; what
    /// was embedded, for the records' tags.
    pub fn apply(
        &self,
        conn: &mut DbConnection,
        mut records: Vec<&mut Bytes>,
    ) -> Result<Shaped, ApiError> {
        let mut shaped = Shaped::default();
        if self.is_plain() {
            return Ok(shaped);
        }
        let mut parsed = records
            .iter()
            .map(|json| serde_json::from_slice::<Members>(json.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::internal("a rendered record is not a JSON object", e))?;
        for include in &self.includes {
            let keys = references(&parsed, include.at)?;
            let found = if keys.is_empty() {
                Vec::new()
            } else {
                (include.load)(conn, &keys)?
            };
            let by_key: HashMap<&str, &RawValue> = found
                .iter()
                .map(|record| Ok((record.key.as_str(), raw(&record.json)?)))
                .collect::<Result<_, ApiError>>()?;
            for record in &mut parsed {
                embed(record, include.at, &by_key)?;
            }
            shaped.embedded.extend(found);
        }
        for (json, mut record) in records.iter_mut().zip(parsed) {
            let display = match &self.display {
                Some((preference, translated)) => {
                    let mut texts = serde_json::Map::new();
                    let names = translated.iter().map(|t| t.name).chain(["translations"]);
                    for name in names {
                        texts.insert(name.to_owned(), record.value(name)?);
                    }
                    let shown = display(&texts, translated, preference, &mut shaped.languages);
                    Some(to_raw(&shown)?)
                }
                None => None,
            };
            if let Some(kept) = &self.fields {
                record.0.retain(|(name, _)| kept.contains(name));
            }
            if let Some(display) = display {
                record.0.push(("display".to_owned(), display));
            }
            **json = render_json(&record)?;
        }
        Ok(shaped)
    }

    /// The languages asked for, as they shape the representation (empty: none).
    pub fn languages_key(&self) -> String {
        self.display
            .as_ref()
            .map(|(preference, _)| preference.key())
            .unwrap_or_default()
    }

    /// The weak ETag of a record at `version` shaped by `params` with `embedded` in it: one
    /// tag per representation (RFC 9110, 8.8.3), changing with any record it shows.
    pub fn etag(&self, params: &ShapeParams, version: i64, embedded: &[Embedded]) -> EntityTag {
        let mut hash = Sha256::new();
        for part in [&params.fields, &params.include] {
            hash.update(part.as_deref().unwrap_or("").as_bytes());
            hash.update([0]);
        }
        hash.update(self.languages_key().as_bytes());
        hash.update([0]);
        let mut versions: Vec<(&str, i64)> = embedded
            .iter()
            .map(|record| (record.key.as_str(), record.version))
            .collect();
        versions.sort_unstable();
        for (key, version) in versions {
            hash.update(format!("{key}@{version};").as_bytes());
        }
        let digest = hash.finalize();
        let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        EntityTag::new_weak(format!("{version}-{short}"))
    }
}

/// The names of a comma-separated list: at least one, none empty.
fn names<'a>(parameter: &'static str, text: &'a str) -> Result<Vec<&'a str>, ApiError> {
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    if names.iter().any(|name| name.is_empty()) {
        return Err(ApiError::bad_field(
            parameter,
            "must be a comma-separated list of names, none of them empty",
        ));
    }
    Ok(names)
}

fn unknown(parameter: &'static str, name: &str, what: &str, valid: &[&str]) -> ApiError {
    ApiError::bad_field(
        parameter,
        format!(
            "`{name}` is not known; the {what} are: {}",
            valid.join(", ")
        ),
    )
}

/// The keys `at` finds in `records`, each once.
fn references(records: &[Members], at: Embedding) -> Result<Vec<Value>, ApiError> {
    let mut keys: Vec<Value> = Vec::new();
    let mut add = |key: Value| {
        if !key.is_null() && !keys.contains(&key) {
            keys.push(key);
        }
    };
    for record in records {
        match at {
            Embedding::One { from, .. } => add(record.value(from)?),
            Embedding::Many { from, .. } => {
                if let Value::Array(list) = record.value(from)? {
                    list.into_iter().for_each(&mut add);
                }
            }
            Embedding::EachOf { list, from, .. } => {
                if let Value::Array(items) = record.value(list)? {
                    for item in items {
                        add(item.get(from).cloned().unwrap_or(Value::Null));
                    }
                }
            }
        }
    }
    Ok(keys)
}

/// Puts into `record` the records `at` refers to (null for one that is not there).
fn embed(
    record: &mut Members,
    at: Embedding,
    by_key: &HashMap<&str, &RawValue>,
) -> Result<(), ApiError> {
    let found = |key: &Value| -> Box<RawValue> {
        let text = key_text(key);
        match text.as_deref().and_then(|key| by_key.get(key)) {
            Some(json) => (*json).to_owned(),
            None => null(),
        }
    };
    match at {
        Embedding::One { from, to } => {
            let embedded = found(&record.value(from)?);
            record.insert_after(from, to, embedded);
        }
        Embedding::Many { from, to } => {
            let keys = match record.value(from)? {
                Value::Array(keys) => keys,
                _ => Vec::new(),
            };
            let list: Vec<Box<RawValue>> = keys.iter().map(found).collect();
            record.insert_after(from, to, to_raw(&list)?);
        }
        Embedding::EachOf { list, from, to } => {
            let Some(raw_items) = record.get(list) else {
                return Ok(());
            };
            let mut items: Vec<Members> = serde_json::from_str(raw_items.get())
                .map_err(|e| ApiError::internal("a rendered list is not a list of objects", e))?;
            for item in &mut items {
                let embedded = found(&item.value(from)?);
                item.insert_after(from, to, embedded);
            }
            record.set(list, to_raw(&items)?);
        }
    }
    Ok(())
}

/// A key as the text [`Embedded::key`] holds: a code as it is, an id as its digits.
fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

fn raw(json: &[u8]) -> Result<&RawValue, ApiError> {
    let text = std::str::from_utf8(json)
        .map_err(|e| ApiError::internal("a rendered record is not UTF-8", e))?;
    serde_json::from_str(text).map_err(|e| ApiError::internal("a rendered record is not JSON", e))
}

fn to_raw<T: Serialize>(value: &T) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| ApiError::internal("cannot render an embedded record", e))
}

/// A JSON object's members in their order, each value kept as its text.
struct Members(Vec<(String, Box<RawValue>)>);

impl Members {
    fn get(&self, name: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .find(|(member, _)| member == name)
            .map(|(_, value)| &**value)
    }

    /// The member's value, null when it is not there.
    fn value(&self, name: &str) -> Result<Value, ApiError> {
        match self.get(name) {
            Some(raw) => serde_json::from_str(raw.get())
                .map_err(|e| ApiError::internal("a rendered member is not JSON", e)),
            None => Ok(Value::Null),
        }
    }

    fn set(&mut self, name: &str, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(member, _)| member == name) {
            Some(member) => member.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Adds (or replaces) `name` just after the member `after`.
    fn insert_after(&mut self, after: &str, name: &str, value: Box<RawValue>) {
        self.0.retain(|(member, _)| member != name);
        let at = self
            .0
            .iter()
            .position(|(member, _)| member == after)
            .map_or(self.0.len(), |i| i + 1);
        self.0.insert(at, (name.to_owned(), value));
    }
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

impl Serialize for Members {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Reads the records of `R` with the given keys for embedding: the [`Loader`] of an include
/// whose records are `R`'s.
pub fn load<R: crate::resource::Resource>(
    conn: &mut DbConnection,
    keys: &[Value],
) -> Result<Vec<Embedded>, ApiError> {
    let keys: Vec<R::Key> = keys
        .iter()
        .filter_map(|key| serde_json::from_value(key.clone()).ok())
        .collect();
    R::find_many(conn, &keys)?
        .iter()
        .map(|item| {
            Ok(Embedded {
                key: R::key(item).to_string(),
                version: R::version(item),
                json: render_json(item)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(fields: Option<&str>, include: Option<&str>) -> Result<Shape, ApiError> {
        static INCLUDES: [Include; 1] = [Include {
            path: "country",
            at: Embedding::One {
                from: "country_code",
                to: "country",
            },
            schema: "Country",
            load: |_, _| Ok(Vec::new()),
        }];
        let params = ShapeParams {
            fields: fields.map(str::to_owned),
            include: include.map(str::to_owned),
            lang: None,
        };
        let fields = ["id", "name", "country_code"].map(str::to_owned);
        Shape::parse(&params, &fields, &INCLUDES, &[], None)
    }

    fn message(error: ApiError) -> String {
        format!("{error:?}")
    }

    #[test]
    fn fields_keep_the_key_and_what_is_included() {
        let shaped = shape(Some("name"), Some("country")).expect("valid");
        let kept: Vec<&str> = shaped.fields.iter().flatten().map(String::as_str).collect();
        assert_eq!(kept, ["country", "id", "name"]);
        assert!(shape(None, None).expect("valid").is_plain());
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let error = message(shape(Some("name,colour"), None).err().expect("refused"));
        assert!(
            error.contains("colour") && error.contains("id, name, country_code"),
            "{error}"
        );
        let error = message(shape(None, Some("parties")).err().expect("refused"));
        assert!(
            error.contains("parties") && error.contains("country"),
            "{error}"
        );
        assert!(shape(Some("name,,id"), None).is_err());
        assert!(shape(Some(""), None).is_err());
    }

    #[test]
    fn members_keep_their_order_and_an_embedded_record_goes_after_its_key() {
        let mut record: Members =
            serde_json::from_str(r#"{"id":1,"country_code":"KZ","name":"A"}"#).expect("object");
        let kz = RawValue::from_string(r#"{"code":"KZ"}"#.to_owned()).expect("json");
        let by_key = HashMap::from([("KZ", &*kz)]);
        let at = Embedding::One {
            from: "country_code",
            to: "country",
        };
        embed(&mut record, at, &by_key).expect("embedded");
        assert_eq!(
            serde_json::to_string(&record).expect("json"),
            r#"{"id":1,"country_code":"KZ","country":{"code":"KZ"},"name":"A"}"#
        );
    }

    #[test]
    fn each_item_of_a_list_gets_its_record_and_a_missing_one_is_null() {
        let mut record: Members = serde_json::from_str(
            r#"{"id":1,"parties":[{"partner_id":3,"role":"x"},{"partner_id":4,"role":"y"}]}"#,
        )
        .expect("object");
        let three = RawValue::from_string(r#"{"id":3}"#.to_owned()).expect("json");
        let by_key = HashMap::from([("3", &*three)]);
        let at = Embedding::EachOf {
            list: "parties",
            from: "partner_id",
            to: "partner",
        };
        let keys = references(std::slice::from_ref(&record), at).expect("keys");
        assert_eq!(keys, [serde_json::json!(3), serde_json::json!(4)]);
        embed(&mut record, at, &by_key).expect("embedded");
        assert_eq!(
            serde_json::to_string(&record).expect("json"),
            r#"{"id":1,"parties":[{"partner_id":3,"partner":{"id":3},"role":"x"},{"partner_id":4,"partner":null,"role":"y"}]}"#
        );
    }

    #[test]
    fn a_tag_changes_with_the_parameters_and_the_embedded_versions() {
        let params = |include: &str| ShapeParams {
            fields: None,
            include: Some(include.to_owned()),
            lang: None,
        };
        let shape = Shape::plain();
        let at = |version| {
            vec![Embedded {
                key: "KZ".to_owned(),
                version,
                json: Bytes::new(),
            }]
        };
        let tag = shape.etag(&params("country"), 3, &at(1));
        assert!(tag.weak && tag.tag().starts_with("3-"));
        assert_eq!(tag, shape.etag(&params("country"), 3, &at(1)));
        assert_ne!(tag, shape.etag(&params("country"), 3, &at(2)));
        assert_ne!(tag, shape.etag(&params("country"), 4, &at(1)));
        assert_ne!(tag, shape.etag(&params("agreement"), 3, &at(1)));
    }
}
