//! The export and import operations of each resource in the OpenAPI document, with their media
//! types, made from the resource's description as `crud` makes its other operations.

use serde_json::{Value, json};
use utoipa::openapi::path::{OperationBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, Required};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::export::{CSV, Encoder, ExportParams, NDJSON};
use super::import::{ImportParams, ImportProblem, ImportReport, RowError};
use super::{Columns, file_name};
use crate::crud::Described;
use crate::error::ProblemDetails;

/// Adds `GET …/export` and `POST …/import` of `R`, and the schemas they name, to `document`.
pub fn document<R: Described>(document: &mut OpenApi) {
    let export = format!("{}/export", R::COLLECTION);
    let import = format!("{}/import", R::COLLECTION);
    document.paths.paths.entry(export).or_default().get = Some(export_operation::<R>());
    document.paths.paths.entry(import).or_default().post = Some(import_operation::<R>());
    let components = document.components.get_or_insert_with(Default::default);
    let mut schemas = Vec::new();
    for (name, schema) in [
        (ImportReport::name(), ImportReport::schema()),
        (RowError::name(), RowError::schema()),
        (ImportProblem::name(), ImportProblem::schema()),
    ] {
        schemas.push((name.into_owned(), schema));
    }
    ImportProblem::schemas(&mut schemas);
    components.schemas.extend(schemas);
}

fn text_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// `items` as an export writes them, in `format`.
fn rendered(mut encoder: Encoder, items: &[Value]) -> String {
    let mut out = Vec::new();
    let _ = encoder.header(&mut out);
    let _ = encoder.rows(&mut out, items);
    String::from_utf8(out).unwrap_or_default()
}

/// An example record as an NDJSON line, its fields in the order the record writes them (a JSON
/// value keeps them by name).
fn ndjson_line(item: &Value, columns: &[String]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .filter_map(|name| {
            let value = item.get(name)?;
            Some(format!("{}:{value}", Value::String(name.clone())))
        })
        .collect();
    format!("{{{}}}\n", fields.join(","))
}

/// The example a schema gives (`example`, or the first of `examples`).
fn example_of<T: PartialSchema>() -> Value {
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    schema
        .get("example")
        .or_else(|| schema["examples"].get(0))
        .cloned()
        .unwrap_or(Value::Null)
}

fn problem(description: &str, example: Value) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/problem+json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ProblemDetails::name())))
            .example(Some(example))
            .build(),
    )
}

fn problem_example(status: u16, title: &str, code: &str, detail: &str) -> Value {
    json!({"type": format!("urn:coop-registry:problem:{code}"), "title": title,
           "status": status, "code": code, "detail": detail, "errors": []})
}

fn export_operation<R: Described>() -> utoipa::openapi::path::Operation {
    let mut parameters = ExportParams::into_params(|| Some(ParameterIn::Query));
    parameters.extend(R::Filter::into_params(|| Some(ParameterIn::Query)));
    let example = example_of::<R::Item>();
    let columns = Columns::of::<R::Item>().names;
    let ndjson = ndjson_line(&example, &columns);
    let csv = rendered(Encoder::csv(columns), std::slice::from_ref(&example));
    let file = |extension: &str| {
        ContentBuilder::new().schema(Some(
            text_schema().description(Some(format!("The file `{}`", file_name::<R>(extension)))),
        ))
    };
    let ok = ResponseBuilder::new()
        .description(format!(
            "The {} the filters match, in the list's order, streamed as they are read",
            R::PLURAL
        ))
        .header(
            "Content-Disposition",
            HeaderBuilder::new()
                .schema(String::schema())
                .description(Some(format!(
                    "`attachment; filename=\"{}\"` (or `.ndjson`)",
                    file_name::<R>("csv")
                )))
                .build(),
        )
        .content(CSV, file("csv").example(Some(Value::String(csv))).build())
        .content(
            NDJSON,
            file("ndjson").example(Some(Value::String(ndjson))).build(),
        );
    let description = format!(
        "Every {plural} the list's filters match, sorted as the list sorts (not paged: no \
`cursor`, `limit` or `with_total`), as CSV (RFC 4180, UTF-8; a header row of the field names; \
a list or object as its JSON in one cell; null as an empty cell) or NDJSON (one record a line, \
as `GET` answers it). `format` chooses, else `Accept`, else CSV. The records are read in chunks \
of {chunk} while they are sent, so the export is not a snapshot: a record written meanwhile \
may or may not be in it.",
        plural = R::PLURAL,
        chunk = super::export::CHUNK,
    );
    OperationBuilder::new()
        .tag(R::PLURAL)
        .operation_id(Some(format!("export_{}", R::PLURAL)))
        .summary(Some(format!("Export {}", R::PLURAL)))
        .description(Some(description))
        .security(SecurityRequirement::default())
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
        .parameters(Some(parameters))
        .responses(
            ResponsesBuilder::new()
                .response("200", ok)
                .response("400", Ref::from_response_name("BadRequest"))
                .response("401", Ref::from_response_name("Unauthorized"))
                .response(
                    "406",
                    problem(
                        "`Accept` allows neither CSV nor NDJSON",
                        problem_example(
                            406,
                            "Not Acceptable",
                            "not_acceptable",
                            "an export is sent as text/csv or application/x-ndjson; Accept \
allows neither (or choose with ?format=csv|ndjson)",
                        ),
                    ),
                )
                .response("503", Ref::from_response_name("Unavailable")),
        )
        .build()
}

fn import_operation<R: Described>() -> utoipa::openapi::path::Operation {
    let example = example_of::<R::Create>();
    let columns: Vec<String> = Columns::of::<R::Item>()
        .names
        .into_iter()
        .filter(|name| example.get(name).is_some())
        .collect();
    let ndjson = ndjson_line(&example, &columns);
    let csv = rendered(Encoder::csv(columns), std::slice::from_ref(&example));
    let body = RequestBodyBuilder::new()
        .description(Some(
            "Records as an export writes them; `id`, `created_at`, `updated_at` and `version` \
may be left out",
        ))
        .content(
            CSV,
            ContentBuilder::new()
                .schema(Some(text_schema()))
                .example(Some(Value::String(csv)))
                .build(),
        )
        .content(
            NDJSON,
            ContentBuilder::new()
                .schema(Some(text_schema()))
                .example(Some(Value::String(ndjson)))
                .build(),
        )
        .required(Some(Required::True))
        .build();
    let ok = ResponseBuilder::new()
        .description("Every row taken (or, on a dry run, would be): what was done")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ImportReport::name())))
                .build(),
        );
    let broken = ResponseBuilder::new()
        .description(
            "Rows break rules; nothing was written. The report lists every one \
             (or `idempotency_key_reused`, without a report)",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ImportProblem::name())))
                .example(Some(json!({
                    "type": "urn:coop-registry:problem:validation_failed",
                    "title": "Unprocessable Entity", "status": 422, "code": "validation_failed",
                    "detail": "1 of 2 rows break rules; nothing was written",
                    "errors": [{"field": "line 3: country_code", "message": "no country with code QQ"}],
                    "report": {"dry_run": false, "batch_id": null, "rows": 2, "created": 1,
                               "updated": 0, "unchanged": 0,
                               "errors": [{"line": 3, "field": "country_code",
                                           "code": "validation_failed",
                                           "message": "no country with code QQ"}]}
                })))
                .build(),
        );
    let description = format!(
        "Stores the file's {plural} all or nothing, in one transaction: a row without `{key}` \
is created; a row whose `{key}` exists replaces that record (only if it is still at the row's \
`version`, when the file has that column), and one equal to its record is left alone; a row \
whose `{key}` no record has is created under it, keeping the file's `created_at`, \
`updated_at` and `version`, so that an export restores as it was{ids}. Each row is checked as \
a create or replace is; with any broken row nothing is written and the answer is a 422 listing \
every one by line. A CSV header names columns of the export (unknown ones are a 400, and so \
is one missing that a record needs); an empty cell is null. At most IMPORT_MAX_BYTES (10 MiB) \
and IMPORT_MAX_ROWS (10 000 rows) by default; on SQLite other writes wait while an import runs.",
        plural = R::PLURAL,
        key = R::KEY.0,
        ids = if R::KEY.0 == "id" {
            " (an id must be above every id ever given: one of a deleted record is an error)"
        } else {
            ""
        },
    );
    OperationBuilder::new()
        .tag(R::PLURAL)
        .operation_id(Some(format!("import_{}", R::PLURAL)))
        .summary(Some(format!("Import {}", R::PLURAL)))
        .description(Some(description))
        .parameters(Some(ImportParams::into_params(|| Some(ParameterIn::Query))))
        .request_body(Some(body))
        .responses(
            ResponsesBuilder::new()
                .response("200", ok)
                .response("400", Ref::from_response_name("BadRequest"))
                .response("401", Ref::from_response_name("Unauthorized"))
                .response("403", Ref::from_response_name("Forbidden"))
                .response(
                    "413",
                    problem(
                        "The body is larger than IMPORT_MAX_BYTES, or has more rows than \
IMPORT_MAX_ROWS",
                        problem_example(
                            413,
                            "Payload Too Large",
                            "payload_too_large",
                            "an import takes at most 10000 rows (IMPORT_MAX_ROWS)",
                        ),
                    ),
                )
                .response(
                    "415",
                    problem(
                        "The body is not sent as CSV or NDJSON",
                        problem_example(
                            415,
                            "Unsupported Media Type",
                            "unsupported_media_type",
                            "an import is sent as text/csv (UTF-8) or application/x-ndjson",
                        ),
                    ),
                )
                .response("422", broken)
                .response("503", Ref::from_response_name("Unavailable")),
        )
        .build()
}
