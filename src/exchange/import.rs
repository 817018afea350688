//! `POST /api/v1/{resource}/import`: a CSV or NDJSON file of records (the shape an export
//! writes), stored all or nothing, each row checked by the resource's own rules.
//!
//! The rows are checked and written one by one in one transaction, each in a savepoint of its
//! own, so that a later row sees what the earlier ones wrote (a name twice in one file is a
//! conflict, as it is against the database) and every broken row is reported, not only the
//! first. With any broken row, or on a dry run, the transaction's work is undone and only the
//! report is sent.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use chrono::NaiveDateTime;
use diesel::connection::Connection;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::{QueryableByName, RunQueryDsl};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::{Columns, Kind};
use crate::audit::{self, AuditAction};
use crate::auth::Actor;
use crate::crud::Described;
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, FieldError, PROBLEM_JSON, ProblemDetails};
use crate::http::{QueryParams, SERVER_SET_FIELDS, parse_body};
use crate::resource::Resource;

/// How much one import may take (`IMPORT_MAX_BYTES`, `IMPORT_MAX_ROWS`).
#[derive(Clone, Copy, Debug)]
pub struct ImportLimits {
    pub max_bytes: usize,
    pub max_rows: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 << 20,
            max_rows: 10_000,
        }
    }
}

/// The parameters of an import.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `true` checks every row as an import would (field rules, references, uniqueness within
    /// the file and against the database) and writes nothing.
    #[param(default = false)]
    pub dry_run: Option<bool>,
}

/// What an import did, or on a dry run would do.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
#[schema(example = json!({
    "dry_run": false, "batch_id": "0b6c4e1c-3f1d-4d8e-9a53-2f9c1e0a7b45", "rows": 3,
    "created": 1, "updated": 1, "unchanged": 1, "errors": []
}))]
pub struct ImportReport {
    /// Whether nothing was written because it was asked for (`dry_run=true`).
    pub dry_run: bool,
    /// The batch id every audit entry of this import carries; null when nothing was written.
    #[schema(required = true, format = "uuid")]
    pub batch_id: Option<String>,
    /// The records in the file.
    #[schema(minimum = 0)]
    pub rows: u64,
    /// Rows that make a new record (rows without a key, or with one no record has).
    #[schema(minimum = 0)]
    pub created: u64,
    /// Rows that replace a record which differs from them.
    #[schema(minimum = 0)]
    pub updated: u64,
    /// Rows equal to their record already: nothing to write.
    #[schema(minimum = 0)]
    pub unchanged: u64,
    /// Every broken rule of every row, by line; empty when the file was taken.
    pub errors: Vec<RowError>,
}

/// One broken rule of one row of an import.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({"line": 4, "field": "country_code", "code": "validation_failed",
                          "message": "no country with code QQ"}))]
pub struct RowError {
    /// The line of the file the row starts on (the header is line 1 of a CSV file).
    #[schema(minimum = 1)]
    pub line: u64,
    /// The field (a column, or a path into a JSON cell: `participants[0].role`); null when
    /// the rule is about the row as a whole.
    #[schema(required = true)]
    pub field: Option<String>,
    /// The problem code the API answers a single write with: `bad_request`,
    /// `validation_failed`, `conflict` or `precondition_failed`.
    pub code: String,
    pub message: String,
}

/// The 422 answer of an import: a problem with the whole report when rows break rules. The
/// other 422 of a POST, an `Idempotency-Key` reused with another body, has no report.
#[derive(Serialize, ToSchema)]
pub struct ImportProblem {
    #[serde(flatten)]
    pub problem: ProblemDetails,
    /// Every broken row; present when the problem is `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ImportReport>,
}

/// `POST …/import`.
pub async fn import<R: Described>(
    db: web::Data<Db>,
    req: HttpRequest,
    actor: Actor,
    QueryParams(params): QueryParams<ImportParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limits = req
        .app_data::<web::Data<ImportLimits>>()
        .map(|l| *l.get_ref())
        .unwrap_or_default();
    let format = body_format(&req)?;
    let body = read_body(&req, payload, limits.max_bytes).await?;
    let rows = web::block(move || parse::<R>(format, &body, limits.max_rows)).await??;
    let dry_run = params.dry_run.unwrap_or(false);
    let batch = uuid::Uuid::new_v4().to_string();
    let report = db
        .write_alone(move |conn| run::<R>(conn, rows, dry_run, &actor.name, &batch))
        .await?;
    Ok(respond(report))
}

/// What a file is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

/// The body's format, from its `Content-Type`; 415 for any other (or a CSV charset but UTF-8).
fn body_format(req: &HttpRequest) -> Result<Format, ApiError> {
    let refuse = || {
        ApiError::UnsupportedMediaType(format!(
            "an import is sent as {} (UTF-8) or {}",
            super::export::CSV,
            super::export::NDJSON
        ))
    };
    let value = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let media: mime::Mime = value.parse().map_err(|_| refuse())?;
    let utf8 = media
        .get_param(mime::CHARSET)
        .is_none_or(|charset| charset.as_str().eq_ignore_ascii_case("utf-8"));
    match (media.type_().as_str(), media.subtype().as_str()) {
        ("text", "csv") if utf8 => Ok(Format::Csv),
        ("application", "x-ndjson") if utf8 => Ok(Format::Ndjson),
        _ => Err(refuse()),
    }
}

/// The whole body, up to `limit` bytes; 413 beyond it (known from `Content-Length` before
/// anything is read).
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "an import takes at most {limit} bytes (IMPORT_MAX_BYTES)"
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                ApiError::RequestTimeout
            }
            other => ApiError::BadRequest {
                detail: format!("the body could not be read: {other}"),
                errors: Vec::new(),
            },
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// One record of the file: where it starts, and its fields as JSON, or why they cannot be read.
struct Row {
    line: u64,
    fields: Result<Map<String, Value>, Vec<RowError>>,
}

fn row_error(line: u64, field: Option<&str>, code: &str, message: impl Into<String>) -> RowError {
    RowError {
        line,
        field: field.map(str::to_owned),
        code: code.to_owned(),
        message: message.into(),
    }
}

/// The rows of the body; a CSV header that names an unknown column or lacks a required one is
/// a 400 naming each, more rows than `max_rows` a 413.
fn parse<R: Described>(format: Format, body: &[u8], max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    let too_many = || {
        ApiError::TooLarge(format!(
            "an import takes at most {max_rows} rows (IMPORT_MAX_ROWS)"
        ))
    };
    let mut rows = Vec::new();
    match format {
        Format::Ndjson => {
            for (index, line) in body.split(|b| *b == b'\n').enumerate() {
                let line_number = index as u64 + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if rows.len() >= max_rows {
                    return Err(too_many());
                }
                let fields = match serde_json::from_slice::<Value>(line) {
                    Ok(Value::Object(fields)) => Ok(fields),
                    Ok(_) => Err(vec![row_error(
                        line_number,
                        None,
                        "bad_request",
                        "a line must hold one JSON object",
                    )]),
                    Err(e) => Err(vec![row_error(
                        line_number,
                        None,
                        "bad_request",
                        format!("is not valid JSON: {e}"),
                    )]),
                };
                rows.push(Row {
                    line: line_number,
                    fields,
                });
            }
        }
        Format::Csv => {
            let columns = Columns::of::<R::Item>();
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(body);
            let mut records = reader.byte_records();
            let header = match records.next() {
                Some(Ok(header)) => header,
                Some(Err(e)) => {
                    return Err(ApiError::bad_field(
                        "header",
                        format!("cannot be read: {e}"),
                    ));
                }
                None => {
                    return Err(ApiError::bad_field(
                        "header",
                        "a CSV file starts with a header row naming its columns",
                    ));
                }
            };
            let names = header_names::<R>(&header, &columns)?;
            // The line a record starts on, counted from its byte offset.
            let mut lines = LineCounter::default();
            let mut line_at = |byte: Option<u64>| lines.line_at(body, byte.unwrap_or(0) as usize);
            for record in records {
                if rows.len() >= max_rows {
                    return Err(too_many());
                }
                rows.push(match record {
                    Ok(record) => {
                        let line = line_at(record.position().map(|p| p.byte()));
                        csv_row(line, &record, &names, &columns)
                    }
                    Err(e) => {
                        let line = line_at(e.position().map(|p| p.byte()));
                        Row {
                            line,
                            fields: Err(vec![row_error(
                                line,
                                None,
                                "bad_request",
                                format!("cannot be read: {e}"),
                            )]),
                        }
                    }
                });
            }
        }
    }
    Ok(rows)
}

/// Counts line feeds up to a byte offset, going on from where it last counted (records come in
/// order).
#[derive(Default)]
struct LineCounter {
    byte: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, body: &[u8], byte: usize) -> u64 {
        // A record's position may be that of the line break before it (the `\n` of a CRLF).
        let mut byte = byte.min(body.len());
        while byte < body.len() && matches!(body[byte], b'\r' | b'\n') {
            byte += 1;
        }
        if byte < self.byte {
            *self = Self::default();
        }
        let feeds = body[self.byte..byte]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.line += feeds as u64;
        self.byte = byte;
        self.line + 1
    }
}

/// The columns a header names, checked: each a field of the record, once, and every field a
/// new record needs among them.
fn header_names<R: Described>(
    header: &csv::ByteRecord,
    columns: &Columns,
) -> Result<Vec<String>, ApiError> {
    let mut errors = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let Ok(name) = std::str::from_utf8(name) else {
            errors.push(FieldError::new(
                format!("column {}", i + 1),
                "is not UTF-8 text",
            ));
            continue;
        };
        if columns.kind(name).is_none() {
            errors.push(FieldError::new(
                name,
                format!(
                    "is not a column of {}: use {}",
                    R::PLURAL,
                    columns.names.join(", ")
                ),
            ));
        } else if names.iter().any(|n| n == name) {
            errors.push(FieldError::new(name, "is named twice in the header"));
        }
        names.push(name.to_owned());
    }
    let create = serde_json::to_value(R::Create::schema()).unwrap_or_default();
    for required in create["required"].as_array().into_iter().flatten() {
        if let Some(required) = required.as_str()
            && !names.iter().any(|n| n == required)
        {
            errors.push(FieldError::new(
                required,
                "is a required column, missing from the header",
            ));
        }
    }
    if errors.is_empty() {
        Ok(names)
    } else {
        Err(ApiError::body_errors(errors))
    }
}

/// A CSV record as the JSON object it stands for: each cell read as its column's JSON type, an
/// empty cell as a field left out (null, or the field's default).
fn csv_row(line: u64, record: &csv::ByteRecord, names: &[String], columns: &Columns) -> Row {
    if record.len() != names.len() {
        let message = format!(
            "has {} fields; the header has {}",
            record.len(),
            names.len()
        );
        return Row {
            line,
            fields: Err(vec![row_error(line, None, "bad_request", message)]),
        };
    }
    let mut fields = Map::new();
    let mut errors = Vec::new();
    for (name, cell) in names.iter().zip(record.iter()) {
        if cell.is_empty() {
            continue;
        }
        let Ok(text) = std::str::from_utf8(cell) else {
            errors.push(row_error(
                line,
                Some(name),
                "bad_request",
                "is not UTF-8 text",
            ));
            continue;
        };
        let value = match columns.kind(name).unwrap_or(Kind::Text) {
            Kind::Text => Value::String(text.to_owned()),
            // A cell that is not one is passed on as text: the schema names the wrong type.
            Kind::Integer => text
                .parse::<i64>()
                .map_or_else(|_| Value::String(text.to_owned()), Value::from),
            Kind::Boolean => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => Value::String(other.to_owned()),
            },
            Kind::Json => match serde_json::from_str(text) {
                Ok(value) => value,
                Err(e) => {
                    let message = format!("holds no valid JSON: {e}");
                    errors.push(row_error(line, Some(name), "bad_request", message));
                    continue;
                }
            },
        };
        fields.insert(name.clone(), value);
    }
    Row {
        line,
        fields: if errors.is_empty() {
            Ok(fields)
        } else {
            Err(errors)
        },
    }
}

/// What a row asks for, once read.
struct Plan<R: Resource> {
    line: u64,
    key: Option<R::Key>,
    /// The version the record must be at (a replace), or is given (a record made anew).
    version: Option<i64>,
    created_at: Option<NaiveDateTime>,
    updated_at: Option<NaiveDateTime>,
    /// The writable fields.
    body: Value,
    /// The record the row replaces, when its key has one.
    current: Option<R::Item>,
}

/// Why the work of a row, or of the whole import, is undone.
enum Undo {
    /// Not an error: the row equals its record once stored as the resource stores it.
    Unchanged,
    /// Nothing is to be kept: a dry run, or a broken row.
    Discard,
    Failed(ApiError),
}

impl From<diesel::result::Error> for Undo {
    fn from(error: diesel::result::Error) -> Self {
        Undo::Failed(error.into())
    }
}

impl From<ApiError> for Undo {
    fn from(error: ApiError) -> Self {
        Undo::Failed(error)
    }
}

/// What a row did.
enum Done {
    Created,
    Updated,
}

/// Who writes, and the import's batch.
struct Writer<'a> {
    actor: &'a str,
    batch: &'a str,
}

/// Checks and writes every row in one transaction; the report says what was (or would be)
/// done. Broken rows or a dry run undo it all.
fn run<R: Described>(
    conn: &mut DbConnection,
    rows: Vec<Row>,
    dry_run: bool,
    actor: &str,
    batch: &str,
) -> Result<ImportReport, ApiError> {
    let mut report = ImportReport {
        dry_run,
        rows: rows.len() as u64,
        ..ImportReport::default()
    };
    let mut plans = plan::<R>(conn, rows, &mut report.errors)?;
    let (table, key_column) = R::AUDIT.table();
    let numbered = key_column == "id";
    // Records made under their own id go first, by id, so that each id can be the next one
    // the table gives; the other rows follow in the order of the file.
    let id_of = |plan: &Plan<R>| -> Option<i64> {
        let key = plan.key.as_ref()?;
        (numbered && plan.current.is_none())
            .then(|| key.to_string().parse().ok())
            .flatten()
    };
    plans.sort_by_key(|plan| match id_of(plan) {
        Some(id) => (0, id, plan.line),
        None => (1, 0, plan.line),
    });
    let writer = Writer { actor, batch };
    let outcome = conn.transaction::<(), Undo, _>(|conn| {
        let mut ids = match plans.iter().any(|p| id_of(p).is_some()) {
            true => Some(Ids::start(conn, table)?),
            false => None,
        };
        for plan in &plans {
            let id = id_of(plan);
            if let (Some(id), Some(ids)) = (id, &ids)
                && id <= ids.highest
            {
                report.errors.push(row_error(
                    plan.line,
                    Some("id"),
                    "conflict",
                    format!(
                        "id {id} was given before to a record since deleted; leave the id \
                         empty to make a new record"
                    ),
                ));
                continue;
            }
            let done = conn.transaction::<Done, Undo, _>(|conn| {
                if let (Some(id), Some(ids)) = (id, ids.as_mut()) {
                    ids.make_next(conn, id)?;
                }
                apply::<R>(conn, plan, &writer)
            });
            match done {
                Ok(Done::Created) => {
                    report.created += 1;
                    if let (Some(id), Some(ids)) = (id, ids.as_mut()) {
                        ids.given(id);
                    }
                }
                Ok(Done::Updated) => report.updated += 1,
                Err(Undo::Unchanged) => report.unchanged += 1,
                Err(Undo::Discard) => {}
                Err(Undo::Failed(error)) => {
                    // The row's savepoint is gone, and with it where the sequence stood.
                    if let Some(ids) = ids.as_mut() {
                        ids.forget();
                    }
                    report.errors.extend(row_errors(plan.line, error)?);
                }
            }
        }
        if dry_run || !report.errors.is_empty() {
            Err(Undo::Discard)
        } else {
            Ok(())
        }
    });
    match outcome {
        Ok(()) => report.batch_id = Some(batch.to_owned()),
        Err(Undo::Discard | Undo::Unchanged) => {}
        Err(Undo::Failed(error)) => return Err(error),
    }
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

/// Reads each row's key, version and timestamps, and finds the record its key names.
fn plan<R: Described>(
    conn: &mut DbConnection,
    rows: Vec<Row>,
    errors: &mut Vec<RowError>,
) -> Result<Vec<Plan<R>>, ApiError> {
    let key_name = R::KEY.0;
    let mut lines_of_keys: HashMap<String, u64> = HashMap::new();
    let mut plans = Vec::with_capacity(rows.len());
    for row in rows {
        let line = row.line;
        let mut fields = match row.fields {
            Ok(fields) => fields,
            Err(broken) => {
                errors.extend(broken);
                continue;
            }
        };
        let mut broken = Vec::new();
        // A key that is a writable field (a country's code) stays in the body as well.
        let key_value = if SERVER_SET_FIELDS.contains(&key_name) {
            fields.remove(key_name)
        } else {
            fields.get(key_name).cloned()
        };
        let key = match key_value {
            None | Some(Value::Null) => None,
            Some(value) => {
                let text = match &value {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) if number.is_i64() => Some(number.to_string()),
                    _ => None,
                };
                match text.map(|t| R::key_from_path(&t)) {
                    Some(Ok(key)) => Some(key),
                    _ => {
                        broken.push(row_error(
                            line,
                            Some(key_name),
                            "bad_request",
                            format!("is not {}'s {key_name}", R::ONE),
                        ));
                        None
                    }
                }
            }
        };
        let version = match fields.remove("version") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 1) => n.as_i64(),
            Some(_) => {
                broken.push(row_error(
                    line,
                    Some("version"),
                    "bad_request",
                    "must be a whole number from 1",
                ));
                None
            }
        };
        let mut stamp = |name: &str| match fields.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => match chrono::DateTime::parse_from_rfc3339(&text) {
                Ok(at) => Some(at.naive_utc()),
                Err(_) => {
                    broken.push(row_error(
                        line,
                        Some(name),
                        "bad_request",
                        "must be an RFC 3339 timestamp",
                    ));
                    None
                }
            },
            Some(_) => {
                broken.push(row_error(
                    line,
                    Some(name),
                    "bad_request",
                    "must be an RFC 3339 timestamp",
                ));
                None
            }
        };
        let created_at = stamp("created_at");
        let updated_at = stamp("updated_at");
        if let Some(key) = &key {
            let text = key.to_string();
            if let Some(first) = lines_of_keys.get(&text) {
                broken.push(row_error(
                    line,
                    Some(key_name),
                    "conflict",
                    format!("{key_name} {text} is on line {first} of the file already"),
                ));
            } else {
                lines_of_keys.insert(text, line);
            }
        }
        if !broken.is_empty() {
            errors.extend(broken);
            continue;
        }
        let current = match &key {
            Some(key) => R::find(conn, key)?,
            None => None,
        };
        if let (Some(key), None) = (&key, &current)
            && R::find_deleted(conn, key)?.is_some()
        {
            errors.push(row_error(
                line,
                Some(key_name),
                "conflict",
                format!(
                    "{} {key} was deleted and is kept as a tombstone: restore it or purge it first",
                    R::AUDIT.as_str()
                ),
            ));
            continue;
        }
        plans.push(Plan {
            line,
            key,
            version,
            created_at,
            updated_at,
            body: Value::Object(fields),
            current,
        });
    }
    Ok(plans)
}

/// Writes one row: a replace of the record its key names, or a new record (under its key,
/// with the file's timestamps and version, when it has one).
fn apply<R: Described>(
    conn: &mut DbConnection,
    plan: &Plan<R>,
    writer: &Writer<'_>,
) -> Result<Done, Undo> {
    let checked = parse_body::<R::Input>(plan.body.clone())?;
    match (&plan.current, &plan.key) {
        (Some(current), Some(key)) => {
            if plan.version.is_some_and(|v| v != R::version(current)) {
                return Err(ApiError::PreconditionFailed.into());
            }
            if !checked.breaks_rules() && same_input::<R>(current, &checked.value) {
                return Err(Undo::Unchanged);
            }
            let draft = checked.then(|input| R::prepare(conn, input, Some(key)))?;
            let updated =
                R::update(conn, key, current, draft)?.ok_or(ApiError::PreconditionFailed)?;
            // Equal once stored as the resource stores it (a code in another case, say).
            if writable(&updated) == writable(current) {
                return Err(Undo::Unchanged);
            }
            record::<R>(conn, writer, AuditAction::Update, Some(current), &updated)?;
            Ok(Done::Updated)
        }
        (_, key) => {
            let draft = checked.then(|input| R::prepare(conn, input, None))?;
            let mut item = R::insert(conn, draft)?;
            if let Some(key) = key {
                if R::key(&item).to_string() != key.to_string() {
                    return Err(ApiError::retry_later(format!(
                        "{} {key} could not be made under its own key: the ids moved meanwhile",
                        R::ONE
                    ))
                    .into());
                }
                if plan.created_at.is_some() || plan.updated_at.is_some() || plan.version.is_some()
                {
                    keep_stamps::<R>(conn, &key.to_string(), plan)?;
                    item = R::find(conn, key)?.ok_or_else(|| R::not_found(key))?;
                }
            }
            record::<R>(conn, writer, AuditAction::Create, None, &item)?;
            Ok(Done::Created)
        }
    }
}

/// The audit entry of a row's write, in the import's batch.
fn record<R: Resource>(
    conn: &mut DbConnection,
    writer: &Writer<'_>,
    action: AuditAction,
    before: Option<&R::Item>,
    after: &R::Item,
) -> Result<(), ApiError> {
    let key = R::key(after).to_string();
    let write = audit::Write {
        actor: writer.actor,
        action,
        resource_type: R::AUDIT,
        resource_id: &key,
        batch: Some(writer.batch),
    };
    audit::record_write(conn, &write, before, Some(after))
}

/// A record's JSON without the fields the service sets.
fn writable<T: Serialize>(item: &T) -> Value {
    let mut value = serde_json::to_value(item).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        for field in SERVER_SET_FIELDS {
            fields.remove(field);
        }
    }
    value
}

/// Whether `input` says what `current` holds already.
fn same_input<R: Resource>(current: &R::Item, input: &R::Input) -> bool {
    let Ok(stored) = parse_body::<R::Input>(writable(current)) else {
        return false;
    };
    serde_json::to_value(&stored.value).ok() == serde_json::to_value(input).ok()
}

/// The broken rules an error of one row stands for; an error that is not about the row (the
/// database gone) ends the import.
fn row_errors(line: u64, error: ApiError) -> Result<Vec<RowError>, ApiError> {
    let code = error.code();
    Ok(match error {
        ApiError::Validation(errors) | ApiError::BadRequest { errors, .. }
            if !errors.is_empty() =>
        {
            errors
                .into_iter()
                .map(|e| row_error(line, Some(&e.field), code, e.message))
                .collect()
        }
        ApiError::PreconditionFailed => vec![row_error(
            line,
            Some("version"),
            code,
            "the record is at another version than the row's",
        )],
        ApiError::BadRequest { .. }
        | ApiError::Validation(_)
        | ApiError::Conflict(_)
        | ApiError::BrokenReference(_)
        | ApiError::NotFound(_) => {
            let message = error.to_string();
            vec![row_error(line, None, code, message)]
        }
        other => return Err(other),
    })
}

/// The timestamps and version a restored record keeps from the file.
fn keep_stamps<R: Resource>(
    conn: &mut DbConnection,
    key: &str,
    plan: &Plan<R>,
) -> Result<(), ApiError> {
    let (table, key_column) = R::AUDIT.table();
    let set = "created_at = COALESCE({}, created_at), updated_at = COALESCE({}, updated_at), \
               version = COALESCE({}, version)";
    let (created, updated, version) = (plan.created_at, plan.updated_at, plan.version);
    let id = key.parse::<i64>().ok().filter(|_| key_column == "id");
    match conn {
        DbConnection::Sqlite(c) => {
            let sql = format!(
                "UPDATE {table} SET {} WHERE {key_column} = ?",
                set.replace("{}", "?")
            );
            let query = diesel::sql_query(sql)
                .bind::<Nullable<Timestamp>, _>(created)
                .bind::<Nullable<Timestamp>, _>(updated)
                .bind::<Nullable<BigInt>, _>(version);
            match id {
                Some(id) => query.bind::<BigInt, _>(id).execute(c)?,
                None => query.bind::<Text, _>(key).execute(c)?,
            }
        }
        DbConnection::Postgres(c) => {
            let set = set
                .replacen("{}", "$1", 1)
                .replacen("{}", "$2", 1)
                .replacen("{}", "$3", 1);
            let sql = format!("UPDATE {table} SET {set} WHERE {key_column} = $4");
            let query = diesel::sql_query(sql)
                .bind::<Nullable<Timestamp>, _>(created)
                .bind::<Nullable<Timestamp>, _>(updated)
                .bind::<Nullable<BigInt>, _>(version);
            match id {
                Some(id) => query.bind::<BigInt, _>(id).execute(c)?,
                None => query.bind::<Text, _>(key).execute(c)?,
            }
        }
    };
    Ok(())
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = Nullable<BigInt>)]
    value: Option<i64>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

/// A table's id sequence, moved so that the next id it gives is the one a row asks for.
struct Ids {
    table: &'static str,
    /// The highest id the table ever gave: a row's own id must be above it.
    highest: i64,
    /// PostgreSQL: the sequence, and the id its next value is known to be.
    sequence: Option<String>,
    next: Option<i64>,
}

impl Ids {
    fn start(conn: &mut DbConnection, table: &'static str) -> Result<Self, ApiError> {
        let (highest, sequence) = match conn {
            DbConnection::Sqlite(c) => {
                let highest = diesel::sql_query(format!(
                    "SELECT MAX(value) AS value FROM (SELECT seq AS value FROM sqlite_sequence \
                     WHERE name = ? UNION ALL SELECT MAX(id) FROM {table})"
                ))
                .bind::<Text, _>(table)
                .get_result::<Number>(c)?
                .value;
                (highest, None)
            }
            DbConnection::Postgres(c) => {
                let sequence =
                    diesel::sql_query("SELECT pg_get_serial_sequence($1, 'id') AS value")
                        .bind::<Text, _>(table)
                        .get_result::<Name>(c)?
                        .value
                        .ok_or_else(|| ApiError::bug(format!("{table} has no id sequence")))?;
                let highest = diesel::sql_query(format!(
                    "SELECT GREATEST(pg_sequence_last_value(CAST($1 AS regclass)), \
                     (SELECT MAX(id) FROM {table})) AS value"
                ))
                .bind::<Text, _>(&sequence)
                .get_result::<Number>(c)?
                .value;
                (highest, Some(sequence))
            }
        };
        Ok(Self {
            table,
            highest: highest.unwrap_or(0),
            sequence,
            next: None,
        })
    }

    /// Makes `id` the next id the table gives (it is above every id it gave).
    fn make_next(&mut self, conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        match conn {
            DbConnection::Sqlite(c) => {
                // SQLite gives the larger of this and the largest id, plus one.
                let moved = diesel::sql_query("UPDATE sqlite_sequence SET seq = ? WHERE name = ?")
                    .bind::<BigInt, _>(id - 1)
                    .bind::<Text, _>(self.table)
                    .execute(c)?;
                if moved == 0 {
                    diesel::sql_query("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)")
                        .bind::<Text, _>(self.table)
                        .bind::<BigInt, _>(id - 1)
                        .execute(c)?;
                }
            }
            DbConnection::Postgres(c) => {
                if self.next != Some(id)
                    && let Some(sequence) = &self.sequence
                {
                    // Unlike setval, this is undone with the transaction (a dry run, a broken
                    // row). The name is the one PostgreSQL gave, quoted where it needs it.
                    diesel::sql_query(format!("ALTER SEQUENCE {sequence} RESTART WITH {id}"))
                        .execute(c)?;
                }
            }
        }
        Ok(())
    }

    /// `id` was given: the next one follows it.
    fn given(&mut self, id: i64) {
        self.next = Some(id + 1);
    }

    /// Where the sequence stands is no longer known.
    fn forget(&mut self) {
        self.next = None;
    }
}

/// The report: 200, or 422 with the problem and the report when any row is broken.
fn respond(report: ImportReport) -> HttpResponse {
    if report.errors.is_empty() {
        return HttpResponse::Ok().json(report);
    }
    let broken_rows = {
        let mut lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
        lines.dedup();
        lines.len()
    };
    let errors = report
        .errors
        .iter()
        .map(|e| {
            let field = match &e.field {
                Some(field) => format!("line {}: {field}", e.line),
                None => format!("line {}", e.line),
            };
            FieldError::new(field, e.message.clone())
        })
        .collect();
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let problem = ProblemDetails {
        problem_type: "urn:coop-registry:problem:validation_failed".to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        code: "validation_failed".to_owned(),
        detail: format!(
            "{broken_rows} of {} rows break rules; nothing was written",
            report.rows
        ),
        errors,
    };
    HttpResponse::build(status)
        .content_type(PROBLEM_JSON)
        .json(ImportProblem {
            problem,
            report: Some(report),
        })
}
