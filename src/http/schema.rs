//! Checks a JSON body against its input type's own OpenAPI schema, so that what the document
//! says is what the service enforces. Each type's schema is compiled once, on first use.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::{Location, LocationSegment};
use jsonschema::{Draft, ValidationError};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};
use crate::validation;

/// What a body that fits its schema's JSON types still breaks: every other rule of the
/// schema (required, enum, format, pattern, lengths…), each at its field's path.
pub type BrokenRules = Vec<FieldError>;

/// What a body whose JSON types fit its schema still breaks.
#[derive(Debug, Default)]
pub struct Verdict {
    pub broken: BrokenRules,
    /// A value that keeps the rule for each value not in its enum, by JSON pointer: with
    /// them put in, the body may parse, so that the resource's own rules (references above
    /// all) can be checked and reported in the same 422.
    pub stand_ins: Vec<(String, Value)>,
}

/// Checks `body` against `T`'s schema: a 400 listing every wrong JSON type and unknown field,
/// or every other broken rule of the schema (none when the body fits).
pub fn check<T: ToSchema + 'static>(body: &Value) -> Result<Verdict, ApiError> {
    let validator = validator::<T>()?;
    let mut wrong_types = Vec::new();
    let mut broken = Vec::new();
    let mut stand_ins = Vec::new();
    for error in validator.iter_errors(body) {
        if let ValidationErrorKind::Enum { options } = error.kind()
            && let Some(first) = options.as_array().and_then(|o| o.first())
        {
            stand_ins.push((error.instance_path().as_str().to_owned(), first.clone()));
        }
        let is_type_error = matches!(
            error.kind(),
            ValidationErrorKind::Type { .. } | ValidationErrorKind::AdditionalProperties { .. }
        );
        let target = if is_type_error {
            &mut wrong_types
        } else {
            &mut broken
        };
        // One error a field: `""` breaks both minLength and the text pattern, say.
        for field_error in field_errors(&error) {
            if !target
                .iter()
                .any(|e: &FieldError| e.field == field_error.field)
            {
                target.push(field_error);
            }
        }
    }
    if wrong_types.is_empty() {
        Ok(Verdict { broken, stand_ins })
    } else {
        Err(ApiError::body_errors(wrong_types))
    }
}

/// The schema document of `T`: a reference to it, beside every component it names.
pub fn document<T: ToSchema>() -> Value {
    let mut components = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut components);
    let schemas: Map<String, Value> = components
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();
    json!({
        "$ref": format!("#/components/schemas/{}", T::name()),
        "components": {"schemas": schemas},
    })
}

type Validators = HashMap<TypeId, Arc<jsonschema::Validator>>;

/// Compiled validators by input type: a schema compiles in about a millisecond, a check takes
/// microseconds.
static VALIDATORS: LazyLock<RwLock<Validators>> = LazyLock::new(Default::default);

/// `T`'s compiled schema, compiled on first use.
fn validator<T: ToSchema + 'static>() -> Result<Arc<jsonschema::Validator>, ApiError> {
    let id = TypeId::of::<T>();
    let cached = VALIDATORS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
        .cloned();
    if let Some(validator) = cached {
        return Ok(validator);
    }
    // OpenAPI 3.1 schemas are JSON Schema 2020-12; formats (date, email, uri) are rules here,
    // not annotations. References stay inside the document: nothing is fetched.
    let validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&document::<T>())
        .map(Arc::new)
        .map_err(|e| ApiError::bug(format!("the schema of {} is broken: {e}", T::name())))?;
    VALIDATORS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, validator.clone());
    Ok(validator)
}

/// A query or path parameter's schema, compiled once when the document is read (see
/// `routing::ParameterRules`).
pub struct ParameterSchema(jsonschema::Validator);

impl ParameterSchema {
    /// Compiles one parameter's schema; `$ref`s into `components` resolve against it.
    pub fn compile(schema: &Value, components: &Value) -> Result<Self, String> {
        let mut document = schema.clone();
        // Only a schema that refers into the components carries them: a copy of all of them
        // in each of some 150 parameters' validators cost about 25 MiB.
        let refers = schema.to_string().contains("\"$ref\"");
        if let Some(object) = document.as_object_mut().filter(|_| refers) {
            object.insert("components".to_owned(), components.clone());
        }
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&document)
            .map(ParameterSchema)
            .map_err(|e| e.to_string())
    }

    /// The first rule of the schema `value` breaks, as an error of the parameter `name`.
    pub fn check(&self, name: &str, value: &Value) -> Option<FieldError> {
        if self.0.is_valid(value) {
            return None;
        }
        self.0
            .iter_errors(value)
            .next()
            .map(|error| FieldError::new(name, message(error.kind())))
    }
}

/// The field errors one schema error stands for: one per missing or unknown field.
fn field_errors(error: &ValidationError<'_>) -> Vec<FieldError> {
    let at = field_path(error.instance_path());
    let inside = |name: &str| {
        if at == "body" {
            name.to_owned()
        } else {
            format!("{at}.{name}")
        }
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            vec![FieldError::new(inside(&name), "is required")]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| FieldError::new(inside(name), "is not a field of this body"))
            .collect(),
        kind => vec![FieldError::new(at, message(kind))],
    }
}

/// `/parties/1/role` as `parties[1].role`; the whole body is `body`.
fn field_path(location: &Location) -> String {
    let mut path = String::new();
    for segment in location.segments() {
        match segment {
            LocationSegment::Index(i) => path.push_str(&format!("[{i}]")),
            LocationSegment::Property(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name);
            }
        }
    }
    if path.is_empty() {
        "body".to_owned()
    } else {
        path
    }
}

/// What a broken rule means, for people.
fn message(kind: &ValidationErrorKind) -> String {
    use ValidationErrorKind as K;
    match kind {
        K::Type { kind } => {
            let names: Vec<&str> = match kind {
                TypeKind::Single(t) => vec![t.as_str()],
                TypeKind::Multiple(set) => set.iter().map(|t| t.as_str()).collect(),
            };
            format!("must be of JSON type {}", names.join(" or "))
        }
        K::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                .collect();
            format!("must be one of: {}", options.join(", "))
        }
        K::Format { format } => match format.as_str() {
            "date" => "must be an existing date written YYYY-MM-DD".to_owned(),
            "email" => "must be an e-mail address".to_owned(),
            "uri" => "must be an absolute http or https URL".to_owned(),
            other => format!("must be in the format {other}"),
        },
        K::Pattern { pattern } => validation::pattern_rule(pattern),
        K::MinLength { limit } => format!("must be at least {limit} characters"),
        K::MaxLength { limit } => format!("must be at most {limit} characters"),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::MinItems { limit } => format!("must have at least {limit} items"),
        K::MaxItems { limit } => format!("must have at most {limit} items"),
        K::UniqueItems => "must not repeat an item".to_owned(),
        other => format!("breaks the schema's `{}` rule", other.keyword()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        #[schema(min_length = 1, max_length = 5)]
        name: String,
        #[schema(format = Date)]
        on: Option<chrono::NaiveDate>,
    }

    #[derive(serde::Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        count: u32,
        items: Vec<Item>,
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn wrong_types_and_unknown_fields_are_all_a_400() {
        let body = json!({"count": "many", "items": [{"name": 5}], "extra": 1});
        let Err(ApiError::BadRequest { errors, .. }) = check::<Order>(&body) else {
            panic!("expected a 400");
        };
        assert_eq!(fields(&errors), ["count", "items[0].name", "extra"]);
    }

    #[test]
    fn other_rules_are_listed_with_their_paths() {
        let body = json!({"items": [{"name": "ok"}, {"name": "", "on": "2021-02-30"},
                                    {"name": "toolong", "on": "2024-6-26"}]});
        let broken = check::<Order>(&body).expect("types fit").broken;
        let mut listed = fields(&broken);
        listed.sort_unstable();
        assert_eq!(
            listed,
            [
                "count",
                "items[1].name",
                "items[1].on",
                "items[2].name",
                "items[2].on"
            ]
        );
        let fits = check::<Order>(&json!({"count": 1, "items": []})).expect("fits");
        assert!(fits.broken.is_empty());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_named_body() {
        let Err(ApiError::BadRequest { errors, .. }) = check::<Order>(&json!([1])) else {
            panic!("expected a 400");
        };
        assert_eq!(fields(&errors), ["body"]);
    }
}
