//! HTTP conventions every resource shares: JSON bodies, ETags, preconditions and merge patches.

use std::cell::RefCell;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag, IfMatch, IfNoneMatch};
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError, web};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::error::{ApiError, FieldError, backticked};

mod schema;

pub use schema::{BrokenRules, ParameterSchema, document as schema_document};

/// A JSON request body checked against `T`'s OpenAPI schema and parsed into `T` (see
/// [`parse_body`]). Syntax, media type and size errors come from actix's `JsonConfig` (see
/// `error::json_error`).
pub struct JsonBody<T>(pub Checked<T>);

impl<T: DeserializeOwned + ToSchema + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            Ok(JsonBody(parse_body(value)?))
        })
    }
}

/// A JSON Merge Patch body, any JSON value; what it makes is checked once applied (see
/// [`apply_patch`]).
pub struct MergePatch(pub Value);

impl FromRequest for MergePatch {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move { Ok(MergePatch(json.await?.into_inner())) })
    }
}

/// A body that has the JSON types of its schema, parsed, and the schema's other rules it
/// breaks. The resource's own rules still run on such a body (see [`Checked::then`]), so that
/// one 422 lists everything wrong with it.
#[derive(Clone, Debug)]
pub struct Checked<T> {
    pub value: T,
    pub broken: BrokenRules,
}

impl<T> Checked<T> {
    /// A value that breaks no rule of the schema.
    pub fn valid(value: T) -> Self {
        Checked {
            value,
            broken: Vec::new(),
        }
    }

    /// Whether the body breaks a rule of its schema (and so is refused whatever `then` finds).
    pub fn breaks_rules(&self) -> bool {
        !self.broken.is_empty()
    }

    /// `rules` applied to the value: their answer when the schema's rules hold, else one 422
    /// with the schema's broken rules and those of `rules` about fields not named yet.
    pub fn then<D>(self, rules: impl FnOnce(T) -> Result<D, ApiError>) -> Result<D, ApiError> {
        let result = rules(self.value);
        if self.broken.is_empty() {
            return result;
        }
        let mut errors = self.broken;
        if let Err(ApiError::Validation(more)) = result {
            let named: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            errors.extend(more.into_iter().filter(|e| !named.contains(&e.field)));
        }
        Err(ApiError::Validation(errors))
    }
}

/// Query parameters parsed into `T`; a parameter that does not parse is a 400 naming it.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        // PostgreSQL cannot compare text with NUL in it; no parameter has a use for one.
        if let Some((name, _)) = pairs.clone().find(|(_, value)| value.contains('\0')) {
            let error = ApiError::bad_field(name.into_owned(), "must not contain NUL characters");
            return std::future::ready(Err(error.into()));
        }
        let joined = join_repeated(pairs);
        let pairs = match &joined {
            Some(query) => form_urlencoded::parse(query.as_bytes()),
            None => pairs,
        };
        let result = serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs))
            .map(QueryParams)
            .map_err(|error| {
                let field = error.path().to_string();
                let field = if field == "." {
                    "query".to_owned()
                } else {
                    field
                };
                ApiError::bad_field(field, error.inner().to_string()).into()
            });
        std::future::ready(result)
    }
}

/// The query with a repeated parameter's values joined by commas (`kind=a&kind=b` read as
/// `kind=a,b`, see [`crate::filter::AnyOf`]), or `None` when no parameter repeats. Only a
/// parameter that takes several values gets here repeated: `routing` refuses the others.
fn join_repeated(pairs: form_urlencoded::Parse<'_>) -> Option<String> {
    let mut joined: Vec<(String, String)> = Vec::new();
    let mut repeated = false;
    for (name, value) in pairs {
        match joined.iter_mut().find(|(known, _)| *known == name) {
            Some((_, values)) => {
                repeated = true;
                values.push(',');
                values.push_str(&value);
            }
            None => joined.push((name.into_owned(), value.into_owned())),
        }
    }
    repeated.then(|| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(joined)
            .finish()
    })
}

/// Checks a JSON body against `T`'s schema, then reads it into `T`.
///
/// Wrong JSON types and unknown fields are a 400 listing each; any other broken rule of the
/// schema (a value not in an enum, a date that does not exist, a missing field, a length or a
/// pattern) is a 422 listing each. A body that breaks only rules `T` can still hold is parsed,
/// its broken rules carried along for the resource's own (see [`Checked::then`]); so is one
/// whose values outside their enums are replaced by allowed ones (the answer is a 422 anyway).
pub fn parse_body<T: DeserializeOwned + ToSchema + 'static>(
    mut value: Value,
) -> Result<Checked<T>, ApiError> {
    integers_as_integers(&mut value);
    let schema::Verdict { broken, stand_ins } = schema::check::<T>(&value)?;
    if broken.is_empty() {
        return deserialize(value).map(Checked::valid);
    }
    let mut value = value;
    for (pointer, stand_in) in stand_ins {
        if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = stand_in;
        }
    }
    match deserialize(value) {
        Ok(value) => Ok(Checked { value, broken }),
        Err(_) => Err(ApiError::Validation(broken)),
    }
}

/// Writes every number with an integer value as an integer (`14818.0` as `14818`): JSON Schema
/// counts both as an `integer`, and so does the service. See [`integral`] for which.
pub fn integers_as_integers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(integer) = integral(number) {
                *number = integer.into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integers_as_integers),
        _ => {}
    }
}

/// The `i64` a JSON number written with a fraction or an exponent stands for, up to 2^53 in
/// size: up to there a float holds every integer exactly, beyond it may not hold the one
/// written. A larger one stays a float, refused where an integer is wanted.
pub fn integral(number: &serde_json::Number) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if number.is_i64() || number.is_u64() {
        return None;
    }
    let float = number.as_f64()?;
    (float.fract() == 0.0 && float.abs() <= EXACT).then_some(float as i64)
}

/// Reads a JSON value into `T`, reporting where it does not fit as a 400 naming the field:
/// what the schema could not say (a number too large for its type).
fn deserialize<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // serde names a missing or unknown field in its message, not in the path.
        let field = match (path.as_str(), backticked(&message)) {
            (".", Some(name)) => name,
            (".", None) => "body".to_owned(),
            (path, _) => path.to_owned(),
        };
        ApiError::BadRequest {
            detail: format!("the body does not fit the schema: {field}: {message}"),
            errors: vec![FieldError::new(field, message)],
        }
    })
}

/// Applies a JSON Merge Patch (RFC 7396) to `target`. The patch itself must be an object.
pub fn merge_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_field(
            "body",
            "a merge patch must be a JSON object",
        ));
    }
    json_patch::merge(target, patch);
    Ok(())
}

/// The fields every record has that the service sets itself; the rest are its writable fields.
pub const SERVER_SET_FIELDS: [&str; 4] = ["id", "created_at", "updated_at", "version"];

/// The writable fields of `current` (the record as clients see it, less
/// [`SERVER_SET_FIELDS`]) with a merge patch applied, checked and parsed as the input type `I`
/// (see [`parse_body`]): what a patch makes must be a valid whole input.
pub fn apply_patch<T, I>(current: &T, patch: &Value) -> Result<Checked<I>, ApiError>
where
    T: Serialize,
    I: DeserializeOwned + ToSchema + 'static,
{
    let mut document = serde_json::to_value(current)
        .map_err(|e| ApiError::internal("turning the resource into JSON to patch it", e))?;
    if let Some(fields) = document.as_object_mut() {
        for field in SERVER_SET_FIELDS {
            fields.remove(field);
        }
    }
    refuse_unknown_members::<I>(patch)?;
    merge_patch(&mut document, patch)?;
    parse_body(document)
}

/// A 400 naming each member of a merge patch that is not a field of `I`: its schema refuses
/// them, even one set to `null` that would remove nothing.
fn refuse_unknown_members<I: ToSchema>(patch: &Value) -> Result<(), ApiError> {
    let schema = serde_json::to_value(I::schema()).unwrap_or_default();
    let (Some(members), Some(fields)) = (patch.as_object(), schema["properties"].as_object())
    else {
        return Ok(());
    };
    let errors: Vec<FieldError> = members
        .keys()
        .filter(|name| !fields.contains_key(*name))
        .map(|name| FieldError::new(name.clone(), "is not a field of this body"))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::body_errors(errors))
}

/// The OpenAPI schema of a JSON Merge Patch of the input type `I`, the body a PATCH documents:
/// every field of `I` with its rules, none required; `null` allowed where it clears a field
/// (those `I` does not require) and nowhere else; unknown fields refused as `I` refuses them.
/// The service checks what a patch makes against `I` itself (see [`apply_patch`]).
pub fn merge_patch_schema<I: ToSchema>(example: Value) -> RefOr<Schema> {
    let mut schema = serde_json::to_value(I::schema()).unwrap_or_default();
    if let Some(object) = schema.as_object_mut() {
        let required: Vec<Value> = match object.remove("required") {
            Some(Value::Array(names)) => names,
            _ => Vec::new(),
        };
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                if !required.contains(&Value::String(name.clone())) {
                    allow_null(property);
                }
            }
        }
        object.remove("example");
        object.insert(
            "description".to_owned(),
            Value::String(format!(
                "A JSON Merge Patch (RFC 7396) of a `{name}`: any of its fields, each with its \
                 rules; `null` clears an optional field. What the patch makes must be a valid \
                 `{name}`.",
                name = I::name()
            )),
        );
        object.insert("examples".to_owned(), Value::Array(vec![example]));
    }
    serde_json::from_value(schema).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// The OpenAPI schema of `I` with `fields` required and not `null`: the body of an operation
/// that needs fields `I` leaves optional for others (a country's code on create). The service
/// checks such a body as an `I`, then refuses a missing field with the same 422 as the schema.
pub fn schema_requiring<I: ToSchema>(fields: &[&str], description: &str) -> RefOr<Schema> {
    let mut schema = serde_json::to_value(I::schema()).unwrap_or_default();
    if let Some(object) = schema.as_object_mut() {
        let required = object
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(names) = required {
            for field in fields {
                if !names.iter().any(|name| name == field) {
                    names.push(Value::String((*field).to_owned()));
                }
            }
        }
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for field in fields {
                if let Some(Value::Array(types)) = properties
                    .get_mut(*field)
                    .and_then(|property| property.get_mut("type"))
                {
                    types.retain(|kind| kind != "null");
                    if let [only] = types.as_slice() {
                        let only = only.clone();
                        properties[*field]["type"] = only;
                    }
                }
            }
        }
        object.insert(
            "description".to_owned(),
            Value::String(description.to_owned()),
        );
    }
    serde_json::from_value(schema).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// Lets a property's schema take `null` as well.
fn allow_null(property: &mut Value) {
    let null = Value::String("null".to_owned());
    match property.get_mut("type") {
        Some(Value::Array(types)) => {
            if !types.contains(&null) {
                types.push(null);
            }
        }
        Some(single @ Value::String(_)) => {
            let kind = single.take();
            *single = Value::Array(vec![kind, null]);
        }
        _ => {
            let inner = property.take();
            *property = serde_json::json!({"oneOf": [{"type": "null"}, inner]});
        }
    }
}

/// The strong ETag of a resource at `version`.
pub fn etag(version: i64) -> EntityTag {
    EntityTag::new_strong(version.to_string())
}

/// The `If-Match` condition of a write: `None` when the client sent none.
#[derive(Clone, Debug, Default)]
pub struct Precondition(Option<IfMatch>);

impl Precondition {
    /// Whether `If-Match` names versions (rather than being absent or `*`).
    pub fn names_a_version(&self) -> bool {
        matches!(self.0, Some(IfMatch::Items(_)))
    }

    /// Fails with 412 unless the resource's current version satisfies `If-Match`.
    pub fn check(&self, current_version: i64) -> Result<(), ApiError> {
        match &self.0 {
            None | Some(IfMatch::Any) => Ok(()),
            Some(IfMatch::Items(tags)) => {
                let current = etag(current_version);
                if tags.iter().any(|tag| tag.strong_eq(&current)) {
                    Ok(())
                } else {
                    Err(ApiError::PreconditionFailed)
                }
            }
        }
    }
}

impl FromRequest for Precondition {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = if req.headers().contains_key(header::IF_MATCH) {
            <IfMatch as header::Header>::parse(req)
                .map(|h| Precondition(Some(h)))
                .map_err(|_| {
                    ApiError::bad_field("If-Match", "must be * or a list of quoted ETags").into()
                })
        } else {
            Ok(Precondition(None))
        };
        std::future::ready(result)
    }
}

/// A request's `If-None-Match`, read before its work leaves the request's thread; an unreadable
/// one is no condition.
#[derive(Clone, Debug, Default)]
pub struct NoneMatch(Option<IfNoneMatch>);

impl NoneMatch {
    pub fn of(req: &HttpRequest) -> Self {
        if !req.headers().contains_key(header::IF_NONE_MATCH) {
            return Self(None);
        }
        Self(<IfNoneMatch as header::Header>::parse(req).ok())
    }

    /// Whether it holds `current`, compared weakly (RFC 9110, 13.1.2).
    pub fn holds(&self, current: &EntityTag) -> bool {
        match &self.0 {
            None => false,
            Some(IfNoneMatch::Any) => true,
            Some(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(current)),
        }
    }
}

/// Whether the request's `If-None-Match` holds `current`.
pub fn none_match_holds(req: &HttpRequest, current: &EntityTag) -> bool {
    NoneMatch::of(req).holds(current)
}

/// A 304 for a representation whose tag `If-None-Match` holds.
pub fn not_modified(tag: &EntityTag) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::ETAG, tag.clone()))
        .finish()
}

/// A 200 with `json` and the weak ETag `tag`, or a 304 when `If-None-Match` already holds it:
/// the answer for a representation that is not the record's plain one (see `crate::shape`).
pub fn respond_with_weak_etag(req: &HttpRequest, tag: &EntityTag, json: Bytes) -> HttpResponse {
    if none_match_holds(req, tag) {
        return not_modified(tag);
    }
    HttpResponse::Ok()
        .insert_header((header::ETAG, tag.clone()))
        .content_type(mime::APPLICATION_JSON)
        .body(json)
}

/// A 200 with the resource and its ETag, or a 304 when `If-None-Match` already holds it.
pub fn respond_with_etag<T: Serialize>(req: &HttpRequest, version: i64, body: &T) -> HttpResponse {
    let fresh =
        req.headers().contains_key(header::IF_NONE_MATCH) && none_match_holds(req, &etag(version));
    if fresh {
        return HttpResponse::NotModified()
            .insert_header(etag_header(version))
            .finish();
    }
    let mut response = HttpResponse::Ok();
    response.insert_header(etag_header(version));
    json_response(response, body)
}

/// The `ETag` header of a resource at `version` (what [`etag`] says), written straight into
/// the header's value: an `EntityTag` formats its text twice on the way, 0.9 k instructions of
/// a GET. A quoted number is always a valid value; were it not, `"0"` matches no version, so a
/// client would only fetch again.
fn etag_header(version: i64) -> (header::HeaderName, header::HeaderValue) {
    let value = header::HeaderValue::try_from(format!("\"{version}\""))
        .unwrap_or_else(|_| header::HeaderValue::from_static("\"0\""));
    (header::ETAG, value)
}

/// A write's answer: the stored resource with its ETag, and on create a `Location`.
pub fn respond_written<T: Serialize>(
    status: StatusCode,
    location: Option<String>,
    version: i64,
    body: &T,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header(etag_header(version));
    if let Some(location) = location {
        response.insert_header((header::LOCATION, location));
    }
    json_response(response, body)
}

/// `response` with `body` as JSON. Rendered in the thread's scratch buffer (see
/// [`render_json`]): actix's own `json` grows a new string from empty, reallocating about
/// six times for an event.
fn json_response<T: Serialize>(mut response: HttpResponseBuilder, body: &T) -> HttpResponse {
    match render_json(body) {
        Ok(json) => response
            .insert_header((
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            ))
            .body(json),
        Err(error) => error.error_response(),
    }
}

/// `item` as JSON, written in the thread's scratch buffer and copied out at its exact length.
pub fn render_json<T: Serialize>(item: &T) -> Result<Bytes, ApiError> {
    thread_local! {
        /// Where each thread writes: grown once, so rendering does not reallocate as it goes
        /// (from empty, about six times per record).
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        serde_json::to_writer(&mut *scratch, item)
            .map_err(|e| ApiError::internal("cannot render a record as JSON", e))?;
        let json = Bytes::copy_from_slice(scratch);
        if scratch.capacity() > SCRATCH_LIMIT {
            *scratch = Vec::new();
        }
        Ok(json)
    })
}

/// A thread's scratch buffer is given back when a record needed more than this.
const SCRATCH_LIMIT: usize = 64 * 1024;

/// A body sent in 16 KiB slices: a connection's write buffer keeps the size of any body put in whole.
pub struct Sliced(pub Bytes);

impl actix_web::body::MessageBody for Sliced {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.0.len() as u64)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, Self::Error>>> {
        let rest = &mut self.get_mut().0;
        if rest.is_empty() {
            return std::task::Poll::Ready(None);
        }
        let slice = rest.split_to(rest.len().min(16 * 1024));
        std::task::Poll::Ready(Some(Ok(slice)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sliced_body_is_the_same_bytes_in_slices_of_16_kib() {
        use actix_web::body::{BodySize, MessageBody};
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = Sliced(Bytes::from(bytes.clone()));
        assert_eq!(body.size(), BodySize::Sized(40_000));
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut slices = Vec::new();
        while let std::task::Poll::Ready(Some(slice)) =
            std::pin::Pin::new(&mut body).poll_next(&mut context)
        {
            slices.push(slice.expect("infallible"));
        }
        let sizes: Vec<usize> = slices.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [16_384, 16_384, 7_232]);
        assert_eq!(slices.concat(), bytes);
        let mut empty = Sliced(Bytes::new());
        assert!(matches!(
            std::pin::Pin::new(&mut empty).poll_next(&mut context),
            std::task::Poll::Ready(None)
        ));
    }

    #[test]
    fn merge_patch_sets_removes_and_replaces_arrays() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "list": [1, 2]});
        merge_patch(&mut doc, &json!({"a": null, "b": {"c": 5}, "list": [9]}))
            .expect("object patch");
        assert_eq!(doc, json!({"b": {"c": 5, "d": 3}, "list": [9]}));
        assert!(merge_patch(&mut doc, &json!([1])).is_err());
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn an_empty_patch_changes_nothing(doc in proptest::collection::btree_map("[a-d]", json_value(), 0..4)) {
            // Resources are objects; RFC 7396 turns any other target into an object first.
            let doc = Value::Object(doc.into_iter().collect());
            let mut patched = doc.clone();
            merge_patch(&mut patched, &json!({})).expect("object patch");
            proptest::prop_assert_eq!(patched, doc);
        }

        #[test]
        fn patches_are_idempotent(doc in json_value(), patch in proptest::collection::btree_map("[a-d]", json_value(), 0..4)) {
            let patch = Value::Object(patch.into_iter().collect());
            let mut once = doc.clone();
            merge_patch(&mut once, &patch).expect("object patch");
            let mut twice = once.clone();
            merge_patch(&mut twice, &patch).expect("object patch");
            proptest::prop_assert_eq!(&once, &twice);
            // Every member the patch sets to a non-object value ends up with that value; null removes it.
            for (key, value) in patch.as_object().into_iter().flatten() {
                match value {
                    Value::Null => proptest::prop_assert!(once.get(key).is_none()),
                    Value::Object(_) => proptest::prop_assert!(once.get(key).is_some_and(Value::is_object)),
                    other => proptest::prop_assert_eq!(once.get(key), Some(other)),
                }
            }
        }

        #[test]
        fn patches_that_are_not_objects_are_refused(doc in json_value(), patch in json_value()) {
            let mut target = doc;
            proptest::prop_assert_eq!(merge_patch(&mut target, &patch).is_ok(), patch.is_object());
        }
    }

    #[test]
    fn preconditions_compare_strong_etags() {
        let tags = |v: &str| {
            Precondition(Some(IfMatch::Items(vec![EntityTag::new_strong(
                v.to_owned(),
            )])))
        };
        assert!(tags("3").check(3).is_ok());
        assert!(matches!(
            tags("2").check(3),
            Err(ApiError::PreconditionFailed)
        ));
        assert!(Precondition(Some(IfMatch::Any)).check(9).is_ok());
        assert!(Precondition::default().check(9).is_ok());
    }

    #[test]
    fn parse_body_answers_400_for_types_and_422_for_rules() {
        #[derive(Clone, Debug, serde::Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Input {
            #[schema(max_length = 3)]
            name: String,
            count: u32,
        }
        let fields = |errors: &[FieldError]| -> Vec<String> {
            errors.iter().map(|e| e.field.clone()).collect()
        };
        let err = parse_body::<Input>(json!({"name": 1, "count": "many", "extra": 1}))
            .expect_err("type errors");
        assert!(
            matches!(&err, ApiError::BadRequest { errors, .. } if fields(errors) == ["count", "name", "extra"])
        );
        let err = parse_body::<Input>(json!({})).expect_err("missing");
        assert!(
            matches!(&err, ApiError::Validation(errors) if fields(errors) == ["name", "count"])
        );
        // Too long, but an `Input` can hold it: parsed, and the broken rule carried along.
        let checked = parse_body::<Input>(json!({"name": "long", "count": 1})).expect("parses");
        assert_eq!(fields(&checked.broken), ["name"]);
        let answer = checked.then(|_| {
            Err::<(), _>(ApiError::Validation(vec![
                FieldError::new("name", "again"),
                FieldError::new("count", "odd"),
            ]))
        });
        assert!(
            matches!(&answer, Err(ApiError::Validation(errors)) if fields(errors) == ["name", "count"])
        );
    }
}
