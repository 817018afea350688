//! How a route is registered: its method, its pattern and the access it needs, stated once,
//! side by side. Every route gets a gate that runs after the router has matched it and before
//! its handler: it decides access (`auth::admit`), refuses query parameters the operation does
//! not take, and marks authenticated reads as private to caches.
//!
//! The decision is made on the route the router matched, never by parsing the path again, so
//! no spelling of a path (percent-encoded letters, double slashes, dot segments, case) reaches a
//! handler with fewer checks: it either matches the route, gate included, or matches nothing.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{AppService, HttpServiceFactory, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next, from_fn};
use actix_web::{Handler, HttpMessage, Responder, ResponseError, web};
use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use crate::auth::{self, Access, AccessPolicy};
use crate::error::ApiError;
use crate::http::ParameterSchema;
use crate::idempotency::{self, Keys};

/// One registered route: what the router matches and what the gate requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    /// The full pattern, as the OpenAPI document writes the path (`/api/v1/events/{id}`).
    pub pattern: String,
    pub access: Access,
}

/// The routes of one part of the service under a common prefix (`/api/v1/events`, or `""` for
/// routes at the root), built route by route, each with its access.
pub struct Routes {
    prefix: &'static str,
    resources: Vec<(&'static str, actix_web::Resource)>,
    table: Vec<RouteInfo>,
}

impl Routes {
    pub fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            resources: Vec::new(),
            table: Vec::new(),
        }
    }

    /// A GET route; HEAD is answered by the same handler (see [`head_as_get`]).
    pub fn get<F, Args>(self, path: &'static str, access: Access, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::GET, path, access, handler, None)
    }

    /// A POST route; its answers are kept under an `Idempotency-Key` (see `idempotency`).
    pub fn post<F, Args>(self, path: &'static str, access: Access, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::POST, path, access, handler, Some(Keys::Kept))
    }

    /// A POST route whose answer carries a secret: it refuses an `Idempotency-Key`, since
    /// keeping the answer would store the secret.
    pub fn post_with_secret<F, Args>(self, path: &'static str, access: Access, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::POST, path, access, handler, Some(Keys::Refused))
    }

    pub fn put<F, Args>(self, path: &'static str, access: Access, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PUT, path, access, handler, None)
    }

    pub fn patch<F, Args>(self, path: &'static str, access: Access, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PATCH, path, access, handler, None)
    }

    pub fn delete<F, Args>(self, path: &'static str, access: Access, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::DELETE, path, access, handler, None)
    }

    /// Adds `method path` with its gate; routes of one path share one resource, so that a
    /// method the path does not have is a 405 listing those it has.
    fn route<F, Args>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: F,
        keys: Option<Keys>,
    ) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let info = Rc::new(RouteInfo {
            method: method.clone(),
            pattern: format!("{}{path}", self.prefix),
            access,
        });
        self.table.push(RouteInfo::clone(&info));
        let route = web::method(method).to(handler);
        // Inside the gate: keys are scoped to the token the gate has admitted.
        let route = match keys {
            Some(Keys::Kept) => route.wrap(from_fn(idempotency::kept)),
            Some(Keys::Refused) => route.wrap(from_fn(idempotency::refused)),
            None => route,
        };
        let route = route.wrap(from_fn(move |req, next| gate(Rc::clone(&info), req, next)));
        match self.resources.iter_mut().find(|(known, _)| *known == path) {
            Some((_, resource)) => {
                let taken = std::mem::replace(resource, web::resource(path));
                *resource = taken.route(route);
            }
            None => self
                .resources
                .push((path, web::resource(path).route(route))),
        }
        self
    }

    /// The routes as registered, for the route table.
    pub fn table(&self) -> &[RouteInfo] {
        &self.table
    }
}

/// Registers the routes in a scope of their own under the prefix, so that a request is matched
/// against its own part's routes only (a prefix is a string comparison; every `{id}` route
/// tried is a regular expression); routes without a prefix go to the root.
impl HttpServiceFactory for Routes {
    fn register(self, config: &mut AppService) {
        if self.prefix.is_empty() {
            for (_, resource) in self.resources {
                resource.register(config);
            }
        } else {
            let scope = self
                .resources
                .into_iter()
                .fold(web::scope(self.prefix), |scope, (_, resource)| {
                    scope.service(resource)
                });
            scope.register(config);
        }
    }
}

/// The query and path parameters each operation takes, with their schemas, read from the
/// OpenAPI document, so that the service accepts exactly what the document says.
#[derive(Default)]
pub struct ParameterRules {
    /// By path pattern, then method: found without building a key for each request.
    by_operation: HashMap<String, HashMap<Method, OperationParameters>>,
}

#[derive(Default)]
struct OperationParameters {
    /// The query parameters' names, in the order the document lists them, for the error message.
    names: Vec<String>,
    /// Those that take a list and may be given more than once.
    repeatable: HashSet<String>,
    /// Each query and path parameter's schema, by name.
    schemas: HashMap<String, Parameter>,
}

/// One parameter's schema and how its text is read as a JSON value to check against it.
struct Parameter {
    schema: ParameterSchema,
    reading: Reading,
}

/// How a parameter's text becomes the JSON value its schema describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    Text,
    /// A JSON number; one with an integer value is passed on written as an integer.
    Integer,
    Boolean,
}

impl Reading {
    fn of(schema: &Value) -> Self {
        let kind = match &schema["type"] {
            Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned(),
            kind => Some(kind.clone()),
        };
        match kind.as_ref().and_then(Value::as_str) {
            Some("integer" | "number") => Reading::Integer,
            Some("boolean") => Reading::Boolean,
            _ => Reading::Text,
        }
    }

    /// The value to check, and the text to pass on when it is not the one given; an error
    /// for an integer beyond `i64` (every integer parameter's `format` is `int64`).
    fn read(self, text: &str) -> Result<(Value, Option<String>), String> {
        Ok(match self {
            Reading::Text => (Value::String(text.to_owned()), None),
            Reading::Boolean => match text {
                "true" => (Value::Bool(true), None),
                "false" => (Value::Bool(false), None),
                _ => (Value::String(text.to_owned()), None),
            },
            Reading::Integer => return read_integer(text),
        })
    }
}

/// A parameter's text as the JSON number it writes. One with an integer value is an `i64`,
/// passed on written as one when it was not (`14818.0`, `2e3`).
fn read_integer(text: &str) -> Result<(Value, Option<String>), String> {
    let Ok(Value::Number(number)) = serde_json::from_str::<Value>(text) else {
        // Not a number: the schema's type check says so.
        return Ok((Value::String(text.to_owned()), None));
    };
    if number.is_i64() {
        return Ok((Value::Number(number), None));
    }
    // A fraction of zeros is read exactly, not through a float.
    let whole = text
        .split_once('.')
        .filter(|(_, fraction)| fraction.bytes().all(|b| b == b'0'))
        .map(|(whole, _)| whole);
    let integer = match whole {
        Some(whole) => whole.parse::<i64>().ok(),
        None => crate::http::integral(&number),
    };
    let is_integer = number.is_u64() || number.as_f64().is_some_and(|f| f.fract() == 0.0);
    match integer {
        Some(integer) => Ok((integer.into(), Some(integer.to_string()))),
        None if is_integer => Err(format!(
            "must be a whole number from {} to {} (int64)",
            i64::MIN,
            i64::MAX
        )),
        // 1.5: the schema's type check says it is not an integer.
        None => Ok((Value::Number(number), None)),
    }
}

impl ParameterRules {
    /// Reads every operation's query and path parameters from the document (as JSON). A
    /// parameter whose schema does not compile is a bug of the document, reported at start.
    pub fn from_document(document: &Value) -> Result<Self, String> {
        let components = &document["components"];
        let any = Value::Object(serde_json::Map::new());
        let mut by_operation: HashMap<String, HashMap<Method, OperationParameters>> =
            HashMap::new();
        let paths = document["paths"].as_object().into_iter().flatten();
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                    continue;
                };
                let mut parameters = OperationParameters::default();
                let listed = operation["parameters"].as_array().into_iter().flatten();
                for parameter in listed.filter(|p| p["in"] == "query" || p["in"] == "path") {
                    let Some(name) = parameter["name"].as_str() else {
                        continue;
                    };
                    let mut schema = &parameter["schema"];
                    if parameter["in"] == "query" {
                        if schema["type"] == "array" {
                            parameters.repeatable.insert(name.to_owned());
                            // Given once per item: each is checked against the items' schema.
                            schema = schema.get("items").unwrap_or(&any);
                        }
                        parameters.names.push(name.to_owned());
                    }
                    let resolved = resolve(schema, components);
                    let compiled = ParameterSchema::compile(resolved, components)
                        .map_err(|e| format!("{method} {path}: parameter {name}: {e}"))?;
                    let reading = Reading::of(resolved);
                    parameters.schemas.insert(
                        name.to_owned(),
                        Parameter {
                            schema: compiled,
                            reading,
                        },
                    );
                }
                by_operation
                    .entry(path.clone())
                    .or_default()
                    .insert(method, parameters);
            }
        }
        Ok(Self { by_operation })
    }

    fn operation(&self, route: &RouteInfo) -> Option<&OperationParameters> {
        self.by_operation.get(&route.pattern)?.get(&route.method)
    }

    /// Whether the document describes the operation at all.
    pub fn describes(&self, route: &RouteInfo) -> bool {
        self.operation(route).is_some()
    }

    /// Refuses a parameter the operation does not take, a single-valued one given twice, and
    /// a value its schema does not allow. What the handler is to read, when it differs from
    /// what was sent: the query string, and the path parameters, with every integer written
    /// as one (`14818.0` as `14818`).
    fn check<'a>(
        &self,
        route: &RouteInfo,
        query: &str,
        path: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Rewritten, ApiError> {
        let none = OperationParameters::default();
        let taken = self.operation(route).unwrap_or(&none);
        let mut seen = HashSet::new();
        let mut pairs = Vec::new();
        let mut rewritten = Rewritten::default();
        let mut query_changed = false;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if !taken.names.iter().any(|known| *known == name) {
                return Err(ApiError::UnknownParameter {
                    name: name.into_owned(),
                    accepted: taken.names.clone(),
                });
            }
            if !seen.insert(name.clone()) && !taken.repeatable.contains(name.as_ref()) {
                return Err(ApiError::bad_field(
                    name.into_owned(),
                    "is given more than once; it takes one value",
                ));
            }
            let canonical = if taken.repeatable.contains(name.as_ref()) {
                // Several values, comma-separated or repeated (see `filter::AnyOf`).
                for item in value.split(',') {
                    taken.value(&name, item.trim())?;
                }
                None
            } else {
                taken.value(&name, &value)?
            };
            query_changed |= canonical.is_some();
            pairs.push((name, canonical.map_or(value, Into::into)));
        }
        if query_changed {
            let mut serializer = form_urlencoded::Serializer::new(String::new());
            serializer.extend_pairs(pairs);
            rewritten.query = Some(serializer.finish());
        }
        let path: Vec<(&str, &str)> = path.collect();
        for (i, (name, value)) in path.iter().enumerate() {
            if let Some(canonical) = taken.value(name, value)? {
                let values = rewritten.path.get_or_insert_with(|| {
                    path.iter()
                        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                        .collect()
                });
                values[i].1 = canonical;
            }
        }
        Ok(rewritten)
    }
}

impl OperationParameters {
    /// Checks one parameter's value against its schema: `Some` text to pass on instead.
    fn value(&self, name: &str, text: &str) -> Result<Option<String>, ApiError> {
        let Some(parameter) = self.schemas.get(name) else {
            return Ok(None);
        };
        let (value, canonical) = parameter
            .reading
            .read(text)
            .map_err(|message| ApiError::bad_field(name, message))?;
        match parameter.schema.check(name, &value) {
            Some(error) => Err(ApiError::bad_field(error.field, error.message)),
            None => Ok(canonical),
        }
    }
}

/// What a handler reads instead of what was sent (see [`ParameterRules::check`]).
#[derive(Debug, Default, PartialEq, Eq)]
struct Rewritten {
    query: Option<String>,
    path: Option<Vec<(String, String)>>,
}

impl Rewritten {
    fn apply(self, req: &mut ServiceRequest) {
        if let Some(query) = self.query {
            let path = req.uri().path().to_owned();
            let text = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            if let Ok(uri) = text.parse() {
                req.head_mut().uri = uri;
            }
        }
        if let Some(values) = self.path {
            let info = req.match_info_mut();
            info.reset();
            for (name, value) in values {
                info.add_static(name, value);
            }
        }
    }
}

/// The schema a `$ref` into the document's components names, or `schema` itself.
fn resolve<'a>(schema: &'a Value, components: &'a Value) -> &'a Value {
    schema["$ref"]
        .as_str()
        .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
        .map_or(schema, |name| &components["schemas"][name])
}

/// The route that matched a request, kept in its extensions for the metrics.
#[derive(Clone, Debug)]
pub struct MatchedRoute(pub Rc<RouteInfo>);

/// Runs before a route's handler, in this order (after the router's 404 and 405): access
/// (401, 403), then the query parameters' names and the query and path parameters' values
/// against their schemas (400); the handler then checks parameter
/// values and the body. A refusal becomes the response here, so that every layer outside sees
/// an answer (logged, counted, with its request id).
async fn gate(
    route: Rc<RouteInfo>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    req.extensions_mut().insert(MatchedRoute(Rc::clone(&route)));
    let policy = req
        .app_data::<web::Data<AccessPolicy>>()
        .map(|p| *p.get_ref())
        .unwrap_or_default();
    let actor = match auth::admit(req.request(), route.access, policy).await {
        Ok(actor) => actor,
        Err(error) => return Ok(req.error_response(error).map_into_right_body()),
    };
    let mut req = req;
    if let Some(rules) = req.app_data::<web::Data<ParameterRules>>().cloned() {
        let path = req.match_info().iter();
        match rules.check(&route, req.query_string(), path) {
            Ok(rewritten) => rewritten.apply(&mut req),
            Err(error) => return Ok(req.error_response(error).map_into_right_body()),
        }
    }
    let authenticated = actor.is_some();
    if let Some(actor) = actor {
        req.extensions_mut().insert(actor);
    }
    // Only the methods whose routes read a body; a GET leaves its body (if any) unread.
    if matches!(route.method, Method::POST | Method::PUT | Method::PATCH) {
        let timeout = req
            .app_data::<web::Data<BodyTimeout>>()
            .map(|t| *t.get_ref())
            .unwrap_or_default();
        let body = req.take_payload();
        req.set_payload(BodyDeadline::start(body, timeout));
    }
    let mut response = next.call(req).await?;
    // An answer that depended on who asked must not be kept by shared caches; the client's own
    // cache may keep it, revalidating with the ETag.
    if authenticated
        && route.method == Method::GET
        && !response.headers().contains_key(header::CACHE_CONTROL)
    {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    Ok(response.map_into_left_body())
}

/// How long a request's body may take to arrive once its headers have (`BODY_TIMEOUT_SECS`): a
/// client that sends a body slowly would otherwise hold a handler for as long as it likes.
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeout(pub Duration);

impl Default for BodyTimeout {
    fn default() -> Self {
        Self(Duration::from_secs(10))
    }
}

/// A request body that must arrive whole within its [`BodyTimeout`]; after it, reading fails
/// with a timeout, which the body's reader answers 408.
struct BodyDeadline {
    body: Payload,
    deadline: Pin<Box<actix_web::rt::time::Sleep>>,
}

impl BodyDeadline {
    fn start(body: Payload, timeout: BodyTimeout) -> Payload {
        let timed = BodyDeadline {
            body,
            deadline: Box::pin(actix_web::rt::time::sleep(timeout.0)),
        };
        Payload::Stream {
            payload: Box::pin(timed),
        }
    }
}

impl Stream for BodyDeadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(chunk) = Pin::new(&mut self.body).poll_next(cx) {
            return Poll::Ready(chunk);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Answers HEAD with the GET route of the same path (RFC 9110 §9.3.2): same status and
/// headers; the HTTP layer leaves the body out, because the request it read was a HEAD.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

/// actix answers a known path with an unknown method by an empty 405 with `Allow`; give it the
/// problem body, and name HEAD wherever GET is allowed.
pub fn method_not_allowed<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (req, response) = res.into_parts();
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut problem = ApiError::MethodNotAllowed.error_response();
    if let Some(allow) = allow.and_then(|v| v.to_str().ok().map(with_head))
        && let Ok(value) = HeaderValue::from_str(&allow)
    {
        problem.headers_mut().insert(header::ALLOW, value);
    }
    let res = ServiceResponse::new(req, problem).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// An `Allow` list with HEAD added after GET, when GET is in it.
fn with_head(allow: &str) -> String {
    let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    if !methods.contains(&"GET") || methods.contains(&"HEAD") {
        return methods.join(", ");
    }
    methods
        .iter()
        .flat_map(|m| {
            if *m == "GET" {
                vec!["GET", "HEAD"]
            } else {
                vec![*m]
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, pattern: &str) -> RouteInfo {
        RouteInfo {
            method,
            pattern: pattern.to_owned(),
            access: Access::Read,
        }
    }

    fn rules() -> ParameterRules {
        ParameterRules::from_document(&serde_json::json!({"paths": {"/api/v1/things": {
            "get": {"parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "kind", "in": "query", "schema": {"type": "array"}},
                {"name": "state", "in": "query", "schema": {"$ref": "#/components/schemas/State"}},
                {"name": "states", "in": "query", "schema": {"type": "array", "items": {"$ref": "#/components/schemas/State"}}},
                {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}
            ]},
            "post": {}
        }, "/api/v1/things/{id}": {
            "get": {"parameters": [
                {"name": "id", "in": "path", "schema": {"type": "integer", "format": "int64"}}
            ]}
        }}, "components": {"schemas": {"State": {"type": "string", "enum": ["on", "off"]}}}}))
        .expect("the schemas compile")
    }

    fn query(
        rules: &ParameterRules,
        route: &RouteInfo,
        query: &str,
    ) -> Result<Rewritten, ApiError> {
        rules.check(route, query, std::iter::empty())
    }

    #[test]
    fn only_the_documented_query_parameters_are_taken() {
        let rules = rules();
        let list = route(Method::GET, "/api/v1/things");
        let create = route(Method::POST, "/api/v1/things");
        assert!(query(&rules, &list, "").is_ok());
        assert!(query(&rules, &list, "limit=3&kind=a&kind=b").is_ok());
        assert!(query(&rules, &list, "limit=3&kind=a,b").is_ok());
        let unknown = query(&rules, &list, "limit=3&partner_id=9");
        assert!(
            matches!(&unknown, Err(ApiError::UnknownParameter { name, accepted })
                if name == "partner_id" && accepted == &["limit", "kind", "state", "states"])
        );
        // A header parameter is not a query parameter.
        assert!(query(&rules, &list, "If-None-Match=x").is_err());
        assert!(matches!(
            query(&rules, &list, "limit=3&limit=4"),
            Err(ApiError::BadRequest { .. })
        ));
        assert!(matches!(
            query(&rules, &create, "dry_run=true"),
            Err(ApiError::UnknownParameter { accepted, .. }) if accepted.is_empty()
        ));
        assert!(rules.describes(&create));
        assert!(!rules.describes(&route(Method::DELETE, "/api/v1/things")));
    }

    #[test]
    fn parameter_values_are_checked_against_their_schemas() {
        let rules = rules();
        let list = route(Method::GET, "/api/v1/things");
        let refused = |q: &str| matches!(query(&rules, &list, q), Err(ApiError::BadRequest { .. }));
        assert!(refused("limit=0"));
        assert!(refused("limit=many"));
        assert!(refused("limit=1.5"));
        assert!(refused("state=dim"));
        // Each of several values is checked, comma-separated or repeated.
        assert!(query(&rules, &list, "states=on,off&states=on").is_ok());
        assert!(refused("states=on,dim"));
        assert!(refused("states=on&states=dim"));
        assert_eq!(
            query(&rules, &list, "state=on&limit=2").ok(),
            Some(Rewritten::default())
        );
        // JSON Schema counts 3.0 as an integer; the handler is given it written as one.
        assert_eq!(
            query(&rules, &list, "state=on&limit=3.0")
                .ok()
                .map(|r| r.query),
            Some(Some("state=on&limit=3".to_owned()))
        );
        let one = route(Method::GET, "/api/v1/things/{id}");
        let path = |id: &'static str| rules.check(&one, "", [("id", id)].into_iter());
        assert_eq!(path("7").ok(), Some(Rewritten::default()));
        assert_eq!(
            path("14818.0").ok().map(|r| r.path),
            Some(Some(vec![("id".to_owned(), "14818".to_owned())]))
        );
        assert!(path("x").is_err());
        assert!(path("9223372036854775807.0").is_ok());
        assert!(path("-9223372036854775809").is_err());
        assert!(path("9223372036854775808").is_err());
        assert!(path("-9223372036854775809.0").is_err());
        assert_eq!(
            path("2e3").ok().map(|r| r.path),
            Some(Some(vec![("id".to_owned(), "2000".to_owned())]))
        );
    }

    #[test]
    fn head_is_allowed_wherever_get_is() {
        assert_eq!(with_head("GET, POST"), "GET, HEAD, POST");
        assert_eq!(with_head("PUT,DELETE"), "PUT, DELETE");
        assert_eq!(with_head("GET, HEAD"), "GET, HEAD");
    }
}
