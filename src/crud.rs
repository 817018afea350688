//! The operations every resource has — list, get, create, replace, update (merge patch),
//! delete, restore — registered and documented once, from what a resource says about itself
//! ([`Described`]). A resource module describes itself and gets its routes and its part of
//! the OpenAPI document from here; the behaviour of each operation is in `crate::resource`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi, PathItem, Ref, RefOr, Required, Schema,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::auth::{Access, Actor, Role};
use crate::db::Db;
use crate::error::ApiError;
use crate::error::operation_errors::{
    ChangeErrors, CreateErrors, DeleteErrors, ListErrors, ReadErrors,
};
use crate::http::{JsonBody, MergePatch, Precondition, QueryParams};
use crate::pagination::PageParams;
use crate::resource::{self, Resource};
use crate::routing::Routes;
use crate::shape::{Embedding, Include, Shape, ShapeParams};
use crate::tombstones::{self, PurgeParams, Visibility};
use crate::translations::Text;

/// What a resource says about itself, from which its routes and its operations in the OpenAPI
/// document are made.
pub trait Described: Resource<Filter: IntoParams + DeserializeOwned> {
    /// The collection's name, which is also its tag: `partners`.
    const PLURAL: &'static str;
    /// One of it, with its article, for summaries: `a partner`, `an event`.
    const ONE: &'static str;
    /// The path parameter: its name and description.
    const KEY: (&'static str, &'static str);
    /// The role that may write it.
    const WRITER: Role;
    /// Said of a read, after "Answers 304 when …" (e.g. how the key may be written).
    const GET_NOTE: &'static str = "";
    /// What a create must respect.
    const CREATE_NOTE: &'static str;
    /// What a replace does with what it is not sent.
    const REPLACE_NOTE: &'static str = "Sends every writable field; fields left out become null.";
    /// When a delete is refused, and what goes with it.
    const DELETE_NOTE: &'static str;
    /// Whether other records can refer to it, so that a delete can be refused with 409.
    const REFERENCED: bool = true;
    /// The create body's schema in the document: the input's (`PartnerInput`), or one that
    /// requires what only a create needs (`CountryCreate`).
    type Create: ToSchema;
    /// The merge-patch schema of the document (`PartnerPatch`).
    type Patch: ToSchema;
    /// The page schema of the document (`PartnerPage`).
    type Page: ToSchema;
    /// The records it refers to that `include=` can embed in it.
    const INCLUDES: &'static [Include] = &[];
    /// Whether a record of it can be merged into another, and so be answered 308 (see
    /// `Resource::absent`).
    const MERGES: bool = false;
    /// Its fields that have texts in other languages (`translations`, `display`).
    const TRANSLATED: &'static [Text];

    /// The key a path names, or the error that answers it.
    fn key_from_path(text: &str) -> Result<Self::Key, ApiError>;

    /// The key Swagger UI puts in the path of an operation (`get`, `put`, `patch`, `delete`),
    /// where one that works there helps.
    fn key_example(_operation: &str) -> Option<&'static str> {
        None
    }
}

/// The resource's routes, each with the access it needs.
pub fn routes<R: Described>() -> Routes {
    let write = Access::Role(R::WRITER);
    let one = key_path::<R>();
    let collection = Routes::new(R::COLLECTION)
        .get("", Access::Read, list::<R>)
        .post("", write, create::<R>);
    // Export and import come before one record's routes, which would take `export` for a key.
    let collection = crate::exchange::routes::<R>(collection);
    crate::history::routes::<R>(collection)
        .get(one, Access::Read, get::<R>)
        .put(one, write, replace::<R>)
        .patch(one, write, update::<R>)
        .delete(one, write, delete::<R>)
        .post(restore_path::<R>(), Access::Role(Role::Admin), restore::<R>)
}

/// `/{id}/restore`: where a tombstone is brought back.
fn restore_path<R: Described>() -> &'static str {
    match R::KEY.0 {
        "code" => "/{code}/restore",
        _ => "/{id}/restore",
    }
}

/// `/{id}`, `/{code}`: the path of one record under the collection.
fn key_path<R: Described>() -> &'static str {
    match R::KEY.0 {
        "code" => "/{code}",
        _ => "/{id}",
    }
}

async fn list<R: Described>(
    db: web::Data<Db>,
    req: HttpRequest,
    actor: Option<Actor>,
    QueryParams(page): QueryParams<PageParams>,
    QueryParams(filter): QueryParams<R::Filter>,
    QueryParams(shaping): QueryParams<ShapeParams>,
    QueryParams(visibility): QueryParams<Visibility>,
) -> Result<HttpResponse, ApiError> {
    // The filter takes `include_deleted` (see `matching`); who may ask is decided here.
    visibility.include_deleted(&actor)?;
    let shape = shape::<R>(&req, &shaping)?;
    let read_page = R::read_page(&req)?;
    let page = resource::list_read_by::<R>(&db, &req, page, filter, shape, read_page).await?;
    Ok(varies_by_language(page))
}

async fn get<R: Described>(
    db: web::Data<Db>,
    req: HttpRequest,
    actor: Option<Actor>,
    path: web::Path<String>,
    QueryParams(shaping): QueryParams<ShapeParams>,
    QueryParams(visibility): QueryParams<Visibility>,
) -> Result<HttpResponse, ApiError> {
    let key = R::key_from_path(&path)?;
    let include_deleted = visibility.include_deleted(&actor)?;
    let shape = shape::<R>(&req, &shaping)?;
    let record = resource::get::<R>(&db, &req, key, include_deleted, (shaping, shape)).await?;
    Ok(varies_by_language(record))
}

/// How `fields=`, `include=` and `lang=` (or `Accept-Language`) shape the resource's records.
fn shape<R: Described>(req: &HttpRequest, shaping: &ShapeParams) -> Result<Shape, ApiError> {
    let fields = if shaping.fields.is_some() {
        field_names::<R>()
    } else {
        Vec::new()
    };
    let accept_language = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    Shape::parse(
        shaping,
        &fields,
        R::INCLUDES,
        R::TRANSLATED,
        accept_language,
    )
}

/// A read of records answers by `Accept-Language` too (their `display`), so caches keep one
/// copy per language.
fn varies_by_language(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().append(
        header::VARY,
        header::HeaderValue::from_static("Accept-Language"),
    );
    response
}

/// The members of the resource's records, as its schema names them: its key first.
fn field_names<R: Described>() -> Vec<String> {
    let schema = serde_json::to_value(R::Item::schema()).unwrap_or_default();
    let mut names = vec![R::KEY.0.to_owned()];
    let properties = schema["properties"].as_object().into_iter().flatten();
    names.extend(
        properties
            .map(|(name, _)| name.clone())
            .filter(|n| n != R::KEY.0),
    );
    names
}

async fn create<R: Described>(
    db: web::Data<Db>,
    actor: Actor,
    JsonBody(input): JsonBody<R::Input>,
) -> Result<HttpResponse, ApiError> {
    resource::create::<R>(&db, actor, input).await
}

async fn replace<R: Described>(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
    JsonBody(input): JsonBody<R::Input>,
) -> Result<HttpResponse, ApiError> {
    let key = R::key_from_path(&path)?;
    resource::replace::<R>(&db, actor, key, precondition, input).await
}

async fn update<R: Described>(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, ApiError> {
    let key = R::key_from_path(&path)?;
    resource::update::<R>(&db, actor, key, precondition, patch).await
}

async fn delete<R: Described>(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
    QueryParams(purge): QueryParams<PurgeParams>,
) -> Result<HttpResponse, ApiError> {
    let key = R::key_from_path(&path)?;
    match purge.asked(&actor)? {
        true => tombstones::purge::<R>(&db, actor, key, precondition).await,
        false => resource::delete::<R>(&db, actor, key, precondition).await,
    }
}

async fn restore<R: Described>(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    let key = R::key_from_path(&path)?;
    tombstones::restore::<R>(&db, actor, key, precondition).await
}

/// An integer id from a path, or the 400 that names it.
pub fn id_from_path(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_field("id", "must be a whole number"))
}

/// Adds the resource's six operations, and the schemas they name, to `document`.
pub fn document<R: Described>(document: &mut OpenApi) {
    let one = format!("{}{}", R::COLLECTION, key_path::<R>());
    let operations = [
        (
            R::COLLECTION.to_owned(),
            HttpMethod::Get,
            list_operation::<R>(),
        ),
        (
            R::COLLECTION.to_owned(),
            HttpMethod::Post,
            create_operation::<R>(),
        ),
        (one.clone(), HttpMethod::Get, get_operation::<R>()),
        (one.clone(), HttpMethod::Put, replace_operation::<R>()),
        (one.clone(), HttpMethod::Patch, update_operation::<R>()),
        (one, HttpMethod::Delete, delete_operation::<R>()),
        (
            format!("{}{}", R::COLLECTION, restore_path::<R>()),
            HttpMethod::Post,
            restore_operation::<R>(),
        ),
    ];
    for (path, method, operation) in operations {
        let item = document.paths.paths.entry(path).or_default();
        set_operation(item, method, operation);
    }
    let components = document.components.get_or_insert_with(Default::default);
    let mut schemas = Vec::new();
    for (name, schema) in [
        (R::Item::name(), R::Item::schema()),
        (R::Input::name(), R::Input::schema()),
        (R::Create::name(), R::Create::schema()),
        (R::Patch::name(), R::Patch::schema()),
        (R::Page::name(), R::Page::schema()),
    ] {
        schemas.push((name.into_owned(), schema));
    }
    R::Item::schemas(&mut schemas);
    R::Input::schemas(&mut schemas);
    R::Create::schemas(&mut schemas);
    R::Patch::schemas(&mut schemas);
    R::Page::schemas(&mut schemas);
    for (name, schema) in &mut schemas {
        if *name == R::Page::name() {
            *schema = page_of_shaped::<R>(schema);
        }
    }
    let shaped = shaped_schema::<R>(&schemas);
    schemas.push((shaped_name::<R>(), shaped));
    schemas.extend(shape_names::<R>());
    components.schemas.extend(schemas);
    crate::exchange::document::<R>(document);
    crate::history::document::<R>(document);
}

fn set_operation(item: &mut PathItem, method: HttpMethod, operation: Operation) {
    match method {
        HttpMethod::Get => item.get = Some(operation),
        HttpMethod::Post => item.post = Some(operation),
        HttpMethod::Put => item.put = Some(operation),
        HttpMethod::Patch => item.patch = Some(operation),
        HttpMethod::Delete => item.delete = Some(operation),
        HttpMethod::Head => item.head = Some(operation),
        HttpMethod::Options => item.options = Some(operation),
        HttpMethod::Trace => item.trace = Some(operation),
    }
}

/// The start of every operation of the resource: tag, id, summary and description.
fn operation<R: Described>(id: &str, summary: String, description: &str) -> OperationBuilder {
    OperationBuilder::new()
        .tag(R::PLURAL)
        .operation_id(Some(id))
        .summary(Some(summary))
        .description((!description.is_empty()).then(|| description.to_owned()))
}

/// The name of the resource without its article: `partner`.
pub(crate) fn singular<R: Described>() -> &'static str {
    R::ONE.split_once(' ').map_or(R::ONE, |(_, name)| name)
}

/// Reads are open unless READ_REQUIRES_TOKEN: a token is taken, and `{}` is "no token".
fn read_operation(builder: OperationBuilder) -> OperationBuilder {
    builder
        .security(SecurityRequirement::default())
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
}

fn list_operation<R: Described>() -> Operation {
    let mut parameters = PageParams::into_params(|| Some(ParameterIn::Query));
    parameters.extend(R::Filter::into_params(|| Some(ParameterIn::Query)));
    parameters.extend(shape_parameters::<R>());
    let page = page_response(format!("A page of {}", R::PLURAL), &R::Page::name());
    read_operation(operation::<R>(
        &format!("list_{}", R::PLURAL),
        format!("List {}", R::PLURAL),
        "Filters combine with AND. Keyset-paginated: follow `next_cursor` (or the `Link` header).",
    ))
    .parameters(Some(parameters))
    .responses(
        ResponsesBuilder::new()
            .response("200", page)
            .responses_from_into_responses::<ListErrors>()
            .response("403", Ref::from_response_name("Forbidden")),
    )
    .build()
}

/// The answer of a list: a page of the schema `page`, with its `Link` to the next.
pub(crate) fn page_response(description: String, page: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .header(
            "Link",
            HeaderBuilder::new()
                .schema(String::schema())
                .description(Some("`<…>; rel=\"next\"` when more pages follow"))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(page)))
                .build(),
        )
}

fn get_operation<R: Described>() -> Operation {
    let description = format!(
        "{}Answers 304 when `If-None-Match` holds the current ETag.",
        note(R::GET_NOTE)
    );
    read_operation(operation::<R>(
        &format!("get_{}", singular::<R>()),
        format!("Get {}", R::ONE),
        &description,
    ))
    .parameters(Some(
        std::iter::once(key_parameter::<R>("get"))
            .chain(shape_parameters::<R>())
            .chain([flag_parameter(
                "include_deleted",
                format!(
                    "Admins only (anyone else gets 403): a deleted {} (a tombstone, with its \
                     `deleted_at`) is answered too.",
                    singular::<R>()
                ),
            )])
            .collect::<Vec<_>>(),
    ))
    .responses({
        let mut responses = ResponsesBuilder::new()
            .response("200", shaped_record_response::<R>())
            .response(
                "304",
                ResponseBuilder::new()
                    .description("Not modified: `If-None-Match` holds the current ETag"),
            );
        if R::MERGES {
            let location = HeaderBuilder::new()
                .schema(String::schema())
                .description(Some("The path of the record it was merged into"))
                .build();
            responses = responses.response(
                "308",
                ResponseBuilder::new()
                    .description(format!(
                        "The {} was merged into another: `Location` names it",
                        singular::<R>()
                    ))
                    .header("Location", location),
            );
        }
        responses
            .responses_from_into_responses::<ReadErrors>()
            .response("403", Ref::from_response_name("Forbidden"))
    })
    .build()
}

fn create_operation<R: Described>() -> Operation {
    let created = record_response::<R>("Created".to_owned(), "The version, quoted").header(
        "Location",
        HeaderBuilder::new()
            .schema(String::schema())
            .description(Some(format!("The new {}'s URL", singular::<R>())))
            .build(),
    );
    operation::<R>(
        &format!("create_{}", singular::<R>()),
        format!("Create {}", R::ONE),
        R::CREATE_NOTE,
    )
    .request_body(Some(body::<R::Create>()))
    .responses(
        ResponsesBuilder::new()
            .response("201", created)
            .responses_from_into_responses::<CreateErrors>(),
    )
    .build()
}

fn replace_operation<R: Described>() -> Operation {
    operation::<R>(
        &format!("replace_{}", singular::<R>()),
        format!("Replace {}", R::ONE),
        R::REPLACE_NOTE,
    )
    .parameters(Some(vec![key_parameter::<R>("put"), if_match("replace")]))
    .request_body(Some(body::<R::Input>()))
    .responses(
        ResponsesBuilder::new()
            .response(
                "200",
                record_response::<R>("Replaced".to_owned(), "The new version, quoted"),
            )
            .responses_from_into_responses::<ChangeErrors>(),
    )
    .build()
}

fn update_operation<R: Described>() -> Operation {
    let patch = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(R::Patch::name())))
            .build()
    };
    let body = RequestBodyBuilder::new()
        .description(Some(
            "Any of the writable fields; `null` clears an optional one",
        ))
        .content("application/json", patch())
        .content("application/merge-patch+json", patch())
        .required(Some(Required::True))
        .build();
    operation::<R>(
        &format!("update_{}", singular::<R>()),
        format!("Update {}", R::ONE),
        "A JSON Merge Patch (RFC 7396): fields present are set, `null` clears, others stay.",
    )
    .parameters(Some(vec![key_parameter::<R>("patch"), if_match("update")]))
    .request_body(Some(body))
    .responses(
        ResponsesBuilder::new()
            .response(
                "200",
                record_response::<R>("Updated".to_owned(), "The new version, quoted"),
            )
            .responses_from_into_responses::<ChangeErrors>(),
    )
    .build()
}

fn delete_operation<R: Described>() -> Operation {
    let mut responses = ResponsesBuilder::new()
        .response("204", ResponseBuilder::new().description("Deleted"))
        .responses_from_into_responses::<DeleteErrors>();
    if R::REFERENCED {
        responses = responses.response("409", Ref::from_response_name("Conflict"));
    }
    let description = format!(
        "{}The {} is kept as a tombstone: reads and lists no longer answer it, and an admin can \
         restore it (`POST …/restore`) or purge it. With `purge=true` (admins) it is removed for \
         good, a tombstone too; its id is never given again.",
        note(R::DELETE_NOTE),
        singular::<R>()
    );
    operation::<R>(
        &format!("delete_{}", singular::<R>()),
        format!("Delete {}", R::ONE),
        &description,
    )
    .parameters(Some(vec![
        key_parameter::<R>("delete"),
        if_match("delete"),
        flag_parameter(
            "purge",
            "Admins only (anyone else gets 403): remove it for good, live or deleted, with its \
             own relation rows. Live records that refer to it still prevent that (409)."
                .to_owned(),
        ),
    ]))
    .responses(responses)
    .build()
}

fn restore_operation<R: Described>() -> Operation {
    let description = format!(
        "Admins only. Brings a deleted {one} back, with its relations, at a version one higher. \
         409 when it is not deleted, when a live record now has one of its unique values, or when \
         a record it refers to is deleted, merged or purged: each is named.",
        one = singular::<R>()
    );
    operation::<R>(
        &format!("restore_{}", singular::<R>()),
        format!("Restore a deleted {}", singular::<R>()),
        &description,
    )
    .parameters(Some(vec![
        key_parameter::<R>("restore"),
        if_match("restore"),
    ]))
    .responses(
        ResponsesBuilder::new()
            .response(
                "200",
                record_response::<R>("Restored".to_owned(), "The new version, quoted"),
            )
            .responses_from_into_responses::<DeleteErrors>()
            .response("409", Ref::from_response_name("Conflict")),
    )
    .build()
}

/// An optional `true`/`false` query parameter.
fn flag_parameter(name: &str, description: String) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .description(Some(description))
        .required(Required::False)
        .schema(Some(bool::schema()))
        .build()
}

/// `note` followed by a space, when there is one.
fn note(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!("{note} ")
    }
}

/// A 200 or 201 with the record and its `ETag`.
fn record_response<R: Described>(description: String, etag: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .header(
            "ETag",
            HeaderBuilder::new()
                .schema(String::schema())
                .description(Some(etag))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(R::Item::name())))
                .build(),
        )
}

/// The 200 of a read: the record, or with `fields=` or `include=` its shaped form, whose ETag
/// is weak.
fn shaped_record_response<R: Described>() -> ResponseBuilder {
    ResponseBuilder::new()
        .description(format!(
            "The {}; shaped by `fields=` or `include=` when they are given",
            singular::<R>()
        ))
        .header(
            "ETag",
            HeaderBuilder::new()
                .schema(String::schema())
                .description(Some(
                    "The version, quoted; for a shaped representation a weak tag \
                     (`W/\"<version>-<hash>\"`) that changes with the version, the shaping and \
                     the records embedded",
                ))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(shaped_or_full::<R>()))
                .build(),
        )
}

/// The schema of the resource's records as `fields=` and `include=` shape them.
fn shaped_name<R: Described>() -> String {
    format!("{}Shaped", R::Item::name())
}

/// Either the plain record or its shaped form.
fn shaped_or_full<R: Described>() -> RefOr<Schema> {
    let any_of = json!({"anyOf": [
        {"$ref": format!("#/components/schemas/{}", R::Item::name())},
        {"$ref": format!("#/components/schemas/{}", shaped_name::<R>())},
    ]});
    serde_json::from_value(any_of).unwrap_or_else(|_| Ref::from_schema_name(R::Item::name()).into())
}

/// The page schema with items that may be shaped.
fn page_of_shaped<R: Described>(page: &RefOr<Schema>) -> RefOr<Schema> {
    let mut json = serde_json::to_value(page).unwrap_or_default();
    json["properties"]["items"]["items"] =
        serde_json::to_value(shaped_or_full::<R>()).unwrap_or_default();
    serde_json::from_value(json).unwrap_or_else(|_| page.clone())
}

/// The record's schema with every member optional, as `fields=` may leave any out, and with
/// the records `include=` embeds. `schemas` are those the record's schema refers to.
fn shaped_schema<R: Described>(schemas: &[(String, RefOr<Schema>)]) -> RefOr<Schema> {
    let item = R::Item::name();
    let mut json = serde_json::to_value(R::Item::schema()).unwrap_or_default();
    let Some(object) = json.as_object_mut() else {
        return R::Item::schema();
    };
    object.remove("required");
    object.remove("example");
    object.remove("examples");
    object.insert(
        "description".into(),
        format!(
            "{item} as `fields=` and `include=` shape it: only the fields named (and `{}`), \
             with the records named by `include=` embedded.",
            R::KEY.0
        )
        .into(),
    );
    let reference = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let mut example = serde_json::Map::new();
    let full = serde_json::to_value(R::Item::schema()).unwrap_or_default();
    for name in field_names::<R>().iter().take(2) {
        let value = full["example"].get(name).cloned().unwrap_or_default();
        example.insert(name.clone(), value);
    }
    for include in R::INCLUDES {
        let properties = &mut object["properties"];
        match include.at {
            Embedding::One { to, .. } => {
                properties[to] = json!({
                    "oneOf": [reference(include.schema), {"type": "null"}],
                    "description": format!("With `include={}`.", include.path),
                });
            }
            Embedding::Many { to, .. } => {
                properties[to] = json!({
                    "type": "array",
                    "items": reference(include.schema),
                    "description": format!("With `include={}`, in the same order.", include.path),
                });
            }
            Embedding::EachOf { list, to, .. } => {
                // The item's own schema, with one more member (it may forbid others).
                let items = &mut properties[list]["items"];
                let name = items["$ref"].as_str().and_then(|r| r.rsplit('/').next());
                let own = schemas
                    .iter()
                    .find(|(known, _)| Some(known.as_str()) == name);
                if let Some((_, own)) = own {
                    *items = serde_json::to_value(own).unwrap_or_default();
                }
                items["properties"][to] = reference(include.schema);
                items["properties"][to]["description"] =
                    format!("With `include={}`.", include.path).into();
            }
        }
    }
    object["properties"]["display"] =
        serde_json::to_value(crate::translations::display_schema(R::TRANSLATED))
            .unwrap_or_default();
    object.insert("examples".into(), json!([example]));
    serde_json::from_value(json).unwrap_or_else(|_| R::Item::schema())
}

/// The names `fields=` and `include=` take, as schemas of their own (`PartnerField`,
/// `AgreementInclude`), so that a generated client has one type for each.
fn shape_names<R: Described>() -> Vec<(String, RefOr<Schema>)> {
    let item = R::Item::name();
    let enumeration = |description: String, names: Vec<String>| {
        let schema = json!({"type": "string", "enum": names, "description": description});
        serde_json::from_value::<RefOr<Schema>>(schema).ok()
    };
    let mut schemas = Vec::new();
    let fields = enumeration(format!("A field of {}", R::ONE), field_names::<R>());
    schemas.extend(fields.map(|schema| (format!("{item}Field"), schema)));
    if !R::INCLUDES.is_empty() {
        let paths = R::INCLUDES.iter().map(|i| i.path.to_owned()).collect();
        let description = format!("A record `include=` can embed in {}", R::ONE);
        let includes = enumeration(description, paths);
        schemas.extend(includes.map(|schema| (format!("{item}Include"), schema)));
    }
    schemas
}

/// `fields` and, where the resource can embed records, `include`.
fn shape_parameters<R: Described>() -> Vec<Parameter> {
    let item = R::Item::name();
    let names = field_names::<R>();
    let mut parameters = vec![list_parameter(
        "fields",
        format!(
            "Only these fields of each {} (and its `{}`): comma-separated or repeated. \
             The answer's ETag is then weak.",
            singular::<R>(),
            R::KEY.0
        ),
        &format!("{item}Field"),
        json!(names.iter().take(2).collect::<Vec<_>>()),
    )];
    parameters.push(
        ParameterBuilder::new()
            .name("lang")
            .parameter_in(ParameterIn::Query)
            .description(Some(
                "Adds `display`: the translatable fields in the first of these languages \
                 (BCP 47 tags, comma-separated, best first) the record has texts in, else their \
                 canonical text. Without it, `Accept-Language` asks the same. The answer then \
                 says `Content-Language`, and its ETag is weak.",
            ))
            .required(Required::False)
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(200))
                    .pattern(Some(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*( *, *[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*)*$")),
            ))
            .example(Some(json!("ru")))
            .build(),
    );
    if let Some(first) = R::INCLUDES.first() {
        parameters.push(list_parameter(
            "include",
            "Embeds the records these references name, each beside its reference: \
             comma-separated or repeated. The records of a whole page are read at once. \
             The answer's ETag is then weak."
                .to_owned(),
            &format!("{item}Include"),
            json!([first.path]),
        ));
    }
    parameters
}

/// A query parameter taking one or more values of the schema `items`.
fn list_parameter(name: &str, description: String, items: &str, example: Value) -> Parameter {
    let schema = json!({
        "type": "array",
        "items": {"$ref": format!("#/components/schemas/{items}")},
        "minItems": 1,
    });
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .description(Some(description))
        .required(Required::False)
        .schema(serde_json::from_value::<RefOr<Schema>>(schema).ok())
        .example(Some(example))
        .build()
}

/// A JSON body of the schema `T`: the body of create and replace.
fn body<T: ToSchema>() -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(T::name())))
                .build(),
        )
        .required(Some(Required::True))
        .build()
}

pub(crate) fn key_parameter<R: Described>(operation: &str) -> Parameter {
    let (name, description) = R::KEY;
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .description(Some(description))
        .required(Required::True)
        .schema(Some(key_schema::<R>()))
        .example(R::key_example(operation).map(serde_json::Value::from))
        .build()
}

/// The key's schema in a path: an integer id, or a two-letter code.
fn key_schema<R: Described>() -> RefOr<Schema> {
    match R::KEY.0 {
        "code" => ObjectBuilder::new().schema_type(Type::String).into(),
        _ => i64::schema(),
    }
}

fn if_match(verb: &str) -> Parameter {
    ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .description(Some(format!(
            "Only {verb} if this is still the current ETag"
        )))
        .required(Required::False)
        .schema(Some(String::schema()))
        .build()
}
