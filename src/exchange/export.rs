//! `GET /api/v1/{resource}/export`: every record the list's filters match, in the list's order,
//! as CSV or NDJSON, streamed as it is read.
//!
//! The records are read in keyset chunks with the list's own page reading (`resource::list_items`), each
//! chunk one short read on a pooled connection given back at once: no read transaction spans
//! the export (so it is not a snapshot: a record written meanwhile may or may not be in it), and
//! SQLite's WAL is never pinned. The next chunk is read on a blocking thread while the worker
//! writes out the one before; at most two chunks are held, so memory stays flat whatever the
//! size. When the client goes away, actix drops the body and with it the reading.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::Columns;
use crate::crud::Described;
use crate::db::{Db, Pool};
use crate::error::ApiError;
use crate::http::QueryParams;
use crate::pagination::{Cursor, Sort, SortKeys};
use crate::resource::{self, Listed};

/// Rows read by one statement of an export.
pub const CHUNK: i64 = 1000;

/// The media types an export is sent as.
pub const CSV: &str = "text/csv";
pub const NDJSON: &str = "application/x-ndjson";

/// What an export is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// RFC 4180 CSV, UTF-8, one header row of field names.
    Csv,
    /// One JSON record a line.
    Ndjson,
}

/// The parameters of an export besides the list's filters and sort.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` or `ndjson`. Without it the `Accept` header chooses (`text/csv` or
    /// `application/x-ndjson`), and CSV when it names neither.
    #[param(inline)]
    pub format: Option<ExportFormat>,
    /// `true` starts a CSV file with a UTF-8 byte order mark, which spreadsheet programs need
    /// to read it as UTF-8.
    #[param(default = false)]
    pub bom: Option<bool>,
}

/// `GET …/export`.
pub async fn export<R: Described>(
    db: web::Data<Db>,
    req: HttpRequest,
    QueryParams(params): QueryParams<ExportParams>,
    QueryParams(filter): QueryParams<R::Filter>,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, params.format)?;
    let sort = R::sort(&filter);
    let pool = db.readers().clone();
    // The first chunk is read before answering, so that a database that cannot answer is a
    // 503 with its problem body rather than a broken stream.
    let first = read_chunk::<R>(pool.clone(), filter, sort, None).await?;
    let encoder = match format {
        ExportFormat::Csv => Encoder::Csv(Columns::of::<R::Item>().names),
        ExportFormat::Ndjson => Encoder::Ndjson,
    };
    let mut head = Vec::new();
    if format == ExportFormat::Csv {
        if params.bom.unwrap_or(false) {
            head.extend_from_slice("\u{feff}".as_bytes());
        }
        encoder.header(&mut head)?;
    }
    let state = Export::<R> {
        pool,
        sort,
        encoder,
        head: Some(head),
        ready: Some(first),
        pending: None,
        sent: 0,
    };
    let body = futures_util::stream::unfold(state, |mut state| async move {
        let chunk = state.next().await.transpose()?;
        Some((chunk, state))
    });
    let (media, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Ndjson => (NDJSON, "ndjson"),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, media))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                super::file_name::<R>(extension)
            ),
        ))
        .insert_header((header::VARY, "Accept"))
        .streaming(body))
}

/// The format asked for: `format` when given, else the first of `Accept`'s media ranges
/// (by quality, then order) that an export can be; CSV without `Accept`. 406 when `Accept`
/// allows neither.
fn negotiate(req: &HttpRequest, format: Option<ExportFormat>) -> Result<ExportFormat, ApiError> {
    if let Some(format) = format {
        return Ok(format);
    }
    let values: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return Ok(ExportFormat::Csv);
    }
    let mut ranges: Vec<(f32, usize, ExportFormat)> = Vec::new();
    for (position, range) in values.iter().flat_map(|v| v.split(',')).enumerate() {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, q)| q.trim().parse::<f32>().ok());
        let Some(quality) = quality.filter(|q| *q > 0.0) else {
            continue;
        };
        let format = match media.as_str() {
            "text/csv" | "text/*" | "*/*" => ExportFormat::Csv,
            "application/x-ndjson" | "application/*" => ExportFormat::Ndjson,
            _ => continue,
        };
        ranges.push((quality, position, format));
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.first().map(|r| r.2).ok_or_else(|| {
        ApiError::NotAcceptable(format!(
            "an export is sent as {CSV} or {NDJSON}; Accept allows neither (or choose with \
             ?format=csv|ndjson)"
        ))
    })
}

/// A chunk being read: the filter comes back with the rows, for the next chunk.
type Reading<F, T> = Pin<Box<dyn Future<Output = Result<(F, Vec<T>), ApiError>>>>;

/// Starts reading the chunk after `cursor` on a blocking thread at once (not when first
/// polled), so that it is read while the chunk before is written out.
fn read_chunk<R: Listed>(
    pool: Pool,
    filter: R::Filter,
    sort: Sort<R::Sort>,
    cursor: Option<Cursor>,
) -> Reading<R::Filter, R::Item> {
    let reading = web::block(move || -> Result<_, ApiError> {
        let mut conn = pool.get()?;
        let rows = resource::list_items::<R>(&mut conn, &filter, sort, cursor.as_ref(), CHUNK)?;
        Ok((filter, rows))
    });
    Box::pin(async move { reading.await? })
}

/// An export under way.
struct Export<R: Listed> {
    pool: Pool,
    sort: Sort<R::Sort>,
    encoder: Encoder,
    /// The BOM and header, sent with the first chunk.
    head: Option<Vec<u8>>,
    /// A chunk read and not yet written out.
    ready: Option<(R::Filter, Vec<R::Item>)>,
    /// The chunk being read.
    pending: Option<Reading<R::Filter, R::Item>>,
    /// Records written out so far.
    sent: usize,
}

/// Dropped with chunks left to send: the client went away (actix drops a body it can no longer
/// send), and the reading stops with it.
impl<R: Listed> Drop for Export<R> {
    fn drop(&mut self) {
        if self.sent > 0 && (self.pending.is_some() || self.ready.is_some()) {
            log::info!(
                "an export of {} records stopped after {}: the client went away",
                <R::Item as utoipa::ToSchema>::name(),
                self.sent
            );
        }
    }
}

impl<R: Listed> Export<R> {
    /// The next bytes to send, or `None` at the end.
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        let (filter, rows) = match self.ready.take() {
            Some(ready) => ready,
            // Awaited in place: dropped during the read (the client went away), the export
            // still holds it, and says so.
            None => match self.pending.as_mut() {
                Some(reading) => {
                    let read = reading.await;
                    self.pending = None;
                    read.inspect_err(|e| {
                        log::warn!("an export stopped: {}", crate::error::cause_chain(e));
                    })?
                }
                None => return Ok(None),
            },
        };
        // A full chunk may have more after it: its read starts before this one is written.
        if rows.len() as i64 == CHUNK
            && let Some(last) = rows.last()
        {
            let cursor = cursor_after::<R>(&self.sort, last)?;
            self.pending = Some(read_chunk::<R>(
                self.pool.clone(),
                filter,
                self.sort,
                Some(cursor),
            ));
        }
        let mut out = self.head.take().unwrap_or_default();
        self.sent += rows.len();
        for row in &rows {
            self.encoder.row(&mut out, row)?;
        }
        if out.is_empty() {
            return Ok(if self.pending.is_some() {
                Some(Bytes::new())
            } else {
                None
            });
        }
        Ok(Some(Bytes::from(out)))
    }
}

/// Where a list continues after `item`: its sort key and tie-breaker, read from its JSON as
/// the list's own cursors are.
fn cursor_after<R: Listed>(sort: &Sort<R::Sort>, item: &R::Item) -> Result<Cursor, ApiError> {
    let value = serde_json::to_value(item)
        .map_err(|e| ApiError::internal("an exported record as JSON", e))?;
    let key = value.get(sort.name());
    let tie = value.get(<R::Sort as SortKeys>::TIE);
    match (key, tie) {
        (Some(key), Some(tie)) => Ok(Cursor::after(sort, key, tie)),
        _ => Err(ApiError::bug(format!(
            "an exported record has no `{}` to continue after",
            sort.name()
        ))),
    }
}

/// Writes records in the export's format.
pub(super) enum Encoder {
    /// The columns, in order.
    Csv(Vec<String>),
    Ndjson,
}

impl Encoder {
    pub(super) fn header(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        if let Encoder::Csv(columns) = self {
            let mut writer = csv_writer(out);
            writer.write_record(columns).map_err(csv_error)?;
            writer.flush().map_err(|e| csv_error(e.into()))?;
        }
        Ok(())
    }

    /// Appends one record: a line of JSON exactly as a GET renders it, or a CSV record whose
    /// cells are the JSON's values (text as itself, null as an empty cell, lists and objects
    /// as their JSON).
    pub(super) fn row<T: Serialize>(&self, out: &mut Vec<u8>, item: &T) -> Result<(), ApiError> {
        match self {
            Encoder::Ndjson => {
                serde_json::to_writer(&mut *out, item)
                    .map_err(|e| ApiError::internal("an exported record as JSON", e))?;
                out.push(b'\n');
            }
            Encoder::Csv(columns) => {
                let json = serde_json::to_string(item)
                    .map_err(|e| ApiError::internal("an exported record as JSON", e))?;
                let fields: Fields<'_> = serde_json::from_str(&json)
                    .map_err(|e| ApiError::internal("an exported record as fields", e))?;
                let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(columns.len());
                for (i, column) in columns.iter().enumerate() {
                    let raw = match fields.0.get(i) {
                        Some((name, raw)) if name == column => Some(*raw),
                        _ => fields
                            .0
                            .iter()
                            .find(|(name, _)| name == column)
                            .map(|(_, raw)| *raw),
                    };
                    cells.push(match raw {
                        Some(raw) => cell(raw)?,
                        None => Cow::Borrowed(""),
                    });
                }
                let mut writer = csv_writer(out);
                writer
                    .write_record(cells.iter().map(|c| c.as_bytes()))
                    .map_err(csv_error)?;
                writer.flush().map_err(|e| csv_error(e.into()))?;
            }
        }
        Ok(())
    }
}

/// A CSV writer appending to `out`: RFC 4180 (CRLF after each record, fields quoted when
/// they hold a comma, quote or line break).
fn csv_writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

fn csv_error(error: csv::Error) -> ApiError {
    ApiError::internal("writing CSV", error)
}

/// A JSON value as a CSV cell: a string as its text, null as nothing, any other value as its
/// JSON.
fn cell(raw: &RawValue) -> Result<Cow<'_, str>, ApiError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'_, str>>(text)
            .map_err(|e| ApiError::internal("an exported string", e)),
        _ if text == "null" => Ok(Cow::Borrowed("")),
        _ => Ok(Cow::Borrowed(text)),
    }
}

/// A JSON object's members in the order written, each value as its JSON text.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((name, value)) = map.next_entry::<Cow<'de, str>, &RawValue>()? {
                    members.push((name, value));
                }
                Ok(Fields(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use serde_json::json;

    fn accept(value: &str) -> Result<ExportFormat, ApiError> {
        let req = TestRequest::get()
            .insert_header((header::ACCEPT, value))
            .to_http_request();
        negotiate(&req, None)
    }

    #[test]
    fn accept_chooses_the_format_by_quality_then_order() {
        assert_eq!(accept("text/csv").ok(), Some(ExportFormat::Csv));
        assert_eq!(
            accept("application/x-ndjson").ok(),
            Some(ExportFormat::Ndjson)
        );
        assert_eq!(
            accept("text/csv;q=0.5, application/x-ndjson").ok(),
            Some(ExportFormat::Ndjson)
        );
        assert_eq!(
            accept("application/json, */*;q=0.1").ok(),
            Some(ExportFormat::Csv)
        );
        assert!(matches!(
            accept("application/json"),
            Err(ApiError::NotAcceptable(_))
        ));
        assert!(matches!(
            accept("text/csv;q=0"),
            Err(ApiError::NotAcceptable(_))
        ));
        let plain = TestRequest::get().to_http_request();
        assert_eq!(negotiate(&plain, None).ok(), Some(ExportFormat::Csv));
        let req = TestRequest::get()
            .insert_header((header::ACCEPT, "application/json"))
            .to_http_request();
        assert_eq!(
            negotiate(&req, Some(ExportFormat::Ndjson)).ok(),
            Some(ExportFormat::Ndjson)
        );
    }

    #[test]
    fn a_record_is_one_csv_row_with_nested_values_as_json() {
        let encoder = Encoder::Csv(vec![
            "id".into(),
            "title".into(),
            "ends_on".into(),
            "participants".into(),
            "flag".into(),
        ]);
        let mut out = Vec::new();
        encoder.header(&mut out).expect("a header");
        let item = json!({"id": 7, "title": "Forum, \"2024\"\nday one", "ends_on": null,
                          "participants": [{"partner_id": 1, "role": "host"}], "flag": true});
        encoder.row(&mut out, &item).expect("a row");
        // serde_json's map is ordered by name here; the columns are found by name.
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(
            text,
            "id,title,ends_on,participants,flag\r\n7,\"Forum, \"\"2024\"\"\nday one\",,\"[{\"\"partner_id\"\":1,\"\"role\"\":\"\"host\"\"}]\",true\r\n"
        );
    }
}
