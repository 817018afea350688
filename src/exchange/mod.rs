//! Data exchange in bulk: every resource's list exported as CSV or NDJSON, and files of the same
//! shape imported back. Written once over what a resource already says about itself
//! (`crud::Described`, `resource::Resource`): an export reads with the list's own page reading,
//! an import checks and stores each row with the resource's own rules.

mod document;
pub mod export;
pub mod import;

use std::collections::HashMap;

use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Access;
use crate::crud::Described;
use crate::routing::Routes;

pub use document::document;
pub use import::ImportLimits;

/// Adds `/export` and `/import` to a resource's routes. They must come before the route of
/// one record (`/{id}`), which would otherwise take `export` for a key.
pub fn routes<R: Described>(routes: Routes) -> Routes {
    routes
        .get("/export", Access::Read, export::export::<R>)
        .post("/import", Access::Role(R::WRITER), import::import::<R>)
}

/// How a CSV cell of a column is read into JSON: by the JSON type of the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A string (also dates, timestamps and enumerations).
    Text,
    Integer,
    Boolean,
    /// A number, list or object: the cell holds its JSON.
    Json,
}

/// The columns of a resource's files: its record's JSON fields, in the order a record writes
/// them, and how each is read from CSV.
struct Columns {
    names: Vec<String>,
    kinds: HashMap<String, Kind>,
}

impl Columns {
    /// From the record's schema: its `required` list names every field in field order (each
    /// is always sent); properties it leaves out follow, by name.
    fn of<T: ToSchema>() -> Self {
        let schema = serde_json::to_value(T::schema()).unwrap_or_default();
        let mut components = Vec::new();
        T::schemas(&mut components);
        let components: HashMap<String, Value> = components
            .into_iter()
            .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or_default()))
            .collect();
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut names: Vec<String> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|name| properties.contains_key(*name))
            .map(str::to_owned)
            .collect();
        // An export holds live records only: a tombstone's mark is no column.
        for name in properties.keys().filter(|name| *name != "deleted_at") {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let kinds = properties
            .iter()
            .map(|(name, property)| (name.clone(), kind_of(property, &components)))
            .collect();
        Self { names, kinds }
    }

    fn kind(&self, name: &str) -> Option<Kind> {
        self.kinds.get(name).copied()
    }
}

/// The kind of a property's schema: lists and objects win over integers, integers over
/// booleans, and anything else is text; `$ref`, `oneOf`, `anyOf` and `allOf` are followed.
fn kind_of(schema: &Value, components: &HashMap<String, Value>) -> Kind {
    let mut types = Vec::new();
    collect_types(schema, components, &mut types, 0);
    let has = |name: &str| types.iter().any(|t| t == name);
    if has("array") || has("object") || has("number") {
        Kind::Json
    } else if has("integer") {
        Kind::Integer
    } else if has("boolean") {
        Kind::Boolean
    } else {
        Kind::Text
    }
}

fn collect_types(
    schema: &Value,
    components: &HashMap<String, Value>,
    types: &mut Vec<String>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    match &schema["type"] {
        Value::String(kind) => types.push(kind.clone()),
        Value::Array(kinds) => {
            types.extend(kinds.iter().filter_map(Value::as_str).map(str::to_owned))
        }
        _ => {}
    }
    if let Some(target) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .and_then(|name| components.get(name))
    {
        collect_types(target, components, types, depth + 1);
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for member in schema[combinator].as_array().into_iter().flatten() {
            collect_types(member, components, types, depth + 1);
        }
    }
}

/// The file name an export is offered under: `events.csv`.
fn file_name<R: Described>(extension: &str) -> String {
    format!("{}.{extension}", R::PLURAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;

    #[test]
    fn the_columns_of_a_record_are_its_fields_in_their_order() {
        let columns = Columns::of::<Event>();
        assert_eq!(columns.names.first().map(String::as_str), Some("id"));
        assert_eq!(columns.names.last().map(String::as_str), Some("version"));
        assert_eq!(columns.names.len(), 17);
        assert_eq!(columns.kind("id"), Some(Kind::Integer));
        assert_eq!(columns.kind("agreement_id"), Some(Kind::Integer));
        assert_eq!(columns.kind("participants"), Some(Kind::Json));
        assert_eq!(columns.kind("documents"), Some(Kind::Json));
        assert_eq!(columns.kind("translations"), Some(Kind::Json));
        assert_eq!(columns.kind("kind"), Some(Kind::Text));
        assert_eq!(columns.kind("ends_on"), Some(Kind::Text));
        assert_eq!(columns.kind("created_at"), Some(Kind::Text));
        assert_eq!(
            Columns::of::<crate::countries::model::Country>().kind("participant"),
            Some(Kind::Boolean)
        );
    }
}
