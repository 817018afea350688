//! `GET /api/v1/{resource}/export`: every record the list's filters match, in the list's order,
//! as CSV or NDJSON, streamed as it is read.
//!
//! The records are read in keyset chunks with the list's own page reading (`resource::list_items`), each
//! chunk one short read on a pooled connection given back at once: no read transaction spans
//! the export (so it is not a snapshot: a record written meanwhile may or may not be in it), and
//! SQLite's WAL is never pinned. Two chunks are read side by side on blocking threads while the
//! worker writes out the one before them; at most three chunks are held, so memory stays flat
//! whatever the size. When the client goes away, actix drops the body and with it the reading.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde::ser::{self, Impossible};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::{IntoParams, ToSchema};

use super::Columns;
use crate::crud::Described;
use crate::db::{self, Db, Pool};
use crate::error::ApiError;
use crate::http::QueryParams;
use crate::pagination::{Cursor, Sort};
use crate::resource::{self, Listed};
use crate::tombstones::Visibility;

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
    QueryParams(visibility): QueryParams<Visibility>,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, params.format)?;
    if visibility.include_deleted == Some(true) {
        return Err(ApiError::bad_field(
            "include_deleted",
            "an export holds live records only; list deleted ones with include_deleted=true",
        ));
    }
    let sort = R::sort(&filter);
    let encoder = match format {
        ExportFormat::Csv => Encoder::csv(Columns::of::<R::Item>().names),
        ExportFormat::Ndjson => Encoder::Ndjson,
    };
    let mut head = Vec::new();
    if format == ExportFormat::Csv {
        if params.bom.unwrap_or(false) {
            head.extend_from_slice("\u{feff}".as_bytes());
        }
        encoder.header(&mut head)?;
    }
    let mut state = Export::<R>::new(db.readers().clone(), filter, sort, encoder);
    // The first chunk is read before answering, so that a database that cannot answer is a
    // 503 with its problem body rather than a broken stream.
    state.ready = state.next_rows().await?;
    state.head = Some(head);
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

/// Chunks read side by side. Reading, not writing out, bounds an export's rate (82% of its CPU
/// time, bench/RESULTS.md), so a second thread reads the chunk after the one being read.
const READERS: usize = 2;

/// A chunk being read, on a blocking thread of its own.
type Reading<T> = Pin<Box<dyn Future<Output = Result<Vec<T>, ApiError>>>>;

/// Where the next chunk to read starts.
enum Start {
    /// After this cursor (the list's beginning when `None`).
    At(Option<Cursor>),
    /// Where the chunk last started ends: its reader says as soon as it knows.
    Told(oneshot::Receiver<Option<Cursor>>),
    /// Nothing is left to read.
    End,
}

/// Starts reading the chunk after `cursor` on a blocking thread at once (not when first
/// polled). Before its rows, the reader reads where the chunk ends from the sort key's columns
/// alone (an index) and sends it on `end`, so the next chunk's reading can start beside it.
/// Both reads see one snapshot, so the next chunk starts right after this chunk's last row.
fn read_chunk<R: Listed>(
    pool: Pool,
    filter: Arc<R::Filter>,
    sort: Sort<R::Sort>,
    cursor: Option<Cursor>,
    end: oneshot::Sender<Option<Cursor>>,
) -> Reading<R::Item> {
    let reading = web::block(move || -> Result<_, ApiError> {
        let mut conn = pool.get()?;
        db::read_snapshot(&mut conn, |conn| {
            let next =
                resource::cursor_after_items::<R>(conn, &filter, sort, cursor.as_ref(), CHUNK)?;
            // The export may have ended meanwhile (the client went away): nobody listens.
            let _ = end.send(next);
            resource::list_items::<R>(conn, &filter, sort, cursor.as_ref(), CHUNK)
        })
    });
    Box::pin(async move { reading.await? })
}

/// An export under way.
struct Export<R: Listed> {
    pool: Pool,
    filter: Arc<R::Filter>,
    sort: Sort<R::Sort>,
    encoder: Encoder,
    /// The BOM and header, sent with the first chunk.
    head: Option<Vec<u8>>,
    /// A chunk read and not yet written out.
    ready: Option<Vec<R::Item>>,
    /// The chunks being read, in list order.
    reading: VecDeque<Reading<R::Item>>,
    /// Where the next chunk starts.
    next: Start,
    /// Records written out so far.
    sent: usize,
}

/// Dropped with chunks left to send: the client went away (actix drops a body it can no longer
/// send), and the reading stops with it.
impl<R: Listed> Drop for Export<R> {
    fn drop(&mut self) {
        if self.sent > 0 && (self.ready.is_some() || !self.reading.is_empty()) {
            log::info!(
                "an export of {} records stopped after {}: the client went away",
                <R::Item as utoipa::ToSchema>::name(),
                self.sent
            );
        }
    }
}

impl<R: Listed> Export<R> {
    fn new(pool: Pool, filter: R::Filter, sort: Sort<R::Sort>, encoder: Encoder) -> Self {
        Export {
            pool,
            filter: Arc::new(filter),
            sort,
            encoder,
            head: None,
            ready: None,
            reading: VecDeque::new(),
            next: Start::At(None),
            sent: 0,
        }
    }

    /// Starts reading chunks until [`READERS`] are being read or none is left.
    async fn read_ahead(&mut self) {
        while self.reading.len() < READERS {
            let cursor = match std::mem::replace(&mut self.next, Start::End) {
                Start::At(cursor) => cursor,
                // A reader that failed before it knew sends nothing: its error comes with
                // its rows, and nothing more is read.
                Start::Told(end) => match end.await {
                    Ok(Some(cursor)) => Some(cursor),
                    Ok(None) | Err(_) => return,
                },
                Start::End => return,
            };
            let (end, told) = oneshot::channel();
            let filter = self.filter.clone();
            let pool = self.pool.clone();
            self.reading
                .push_back(read_chunk::<R>(pool, filter, self.sort, cursor, end));
            self.next = Start::Told(told);
        }
    }

    /// The rows of the next chunk, or `None` at the end.
    async fn next_rows(&mut self) -> Result<Option<Vec<R::Item>>, ApiError> {
        self.read_ahead().await;
        // Awaited in place: dropped during the read (the client went away), the export
        // still holds it, and says so.
        let Some(reading) = self.reading.front_mut() else {
            return Ok(None);
        };
        let read = reading.await;
        self.reading.pop_front();
        let rows = read.inspect_err(|e| {
            log::warn!("an export stopped: {}", crate::error::cause_chain(e));
        })?;
        // The next chunk's reading starts before this one is written out.
        self.read_ahead().await;
        Ok(Some(rows))
    }

    /// The next bytes to send, or `None` at the end.
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        let rows = match self.ready.take() {
            Some(rows) => Some(rows),
            None => self.next_rows().await?,
        };
        let mut out = self.head.take().unwrap_or_default();
        if let Some(rows) = &rows {
            self.sent += rows.len();
            self.encoder.rows(&mut out, rows)?;
        }
        Ok(match (out.is_empty(), rows.is_some()) {
            (false, _) => Some(Bytes::from(out)),
            // An empty chunk after a full one: the end is seen with the next.
            (true, true) => Some(Bytes::new()),
            (true, false) => None,
        })
    }
}

/// Writes records in the export's format.
pub(super) enum Encoder {
    Csv(CsvRows),
    Ndjson,
}

impl Encoder {
    /// CSV with these columns, in order.
    pub(super) fn csv(columns: Vec<String>) -> Self {
        Encoder::Csv(CsvRows {
            columns,
            cells: Cells::default(),
        })
    }

    pub(super) fn header(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        if let Encoder::Csv(rows) = self {
            let mut writer = csv_writer(out);
            writer.write_record(&rows.columns).map_err(csv_error)?;
            writer.flush().map_err(|e| csv_error(e.into()))?;
        }
        Ok(())
    }

    /// Appends records: each a line of JSON exactly as a GET renders it, or a CSV record whose
    /// cells are the JSON's values (text as itself, null as an empty cell, lists and objects
    /// as their JSON).
    pub(super) fn rows<T: Serialize>(
        &mut self,
        out: &mut Vec<u8>,
        items: &[T],
    ) -> Result<(), ApiError> {
        match self {
            Encoder::Ndjson => {
                for item in items {
                    serde_json::to_writer(&mut *out, item)
                        .map_err(|e| ApiError::internal("an exported record as JSON", e))?;
                    out.push(b'\n');
                }
            }
            Encoder::Csv(rows) => {
                let mut writer = csv_writer(out);
                for item in items {
                    rows.row(&mut writer, item)?;
                }
                writer.flush().map_err(|e| csv_error(e.into()))?;
            }
        }
        Ok(())
    }
}

/// The CSV side of an [`Encoder`].
pub(super) struct CsvRows {
    columns: Vec<String>,
    /// The record being written, reused from one record to the next.
    cells: Cells,
}

impl CsvRows {
    fn row<T: Serialize>(
        &mut self,
        writer: &mut csv::Writer<&mut Vec<u8>>,
        item: &T,
    ) -> Result<(), ApiError> {
        let cells = &mut self.cells;
        cells.clear();
        item.serialize(Record(cells))
            .map_err(|e| ApiError::internal("an exported record as CSV cells", e))?;
        for (i, column) in self.columns.iter().enumerate() {
            let at = match cells.names.get(i) {
                Some(name) if name == column => Some(i),
                _ => cells.names.iter().position(|name| name == column),
            };
            writer
                .write_field(at.map_or(&[][..], |at| cells.get(at)))
                .map_err(csv_error)?;
        }
        writer.write_record(None::<&[u8]>).map_err(csv_error)
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

/// A record's members as CSV cells, in the order written: a string as its text, null as
/// nothing, any other value as its JSON. Written straight from the record's `Serialize`: the
/// JSON text and the parse of it that CSV took before cost as much as the rest of an export.
#[derive(Default)]
struct Cells {
    names: Vec<Cow<'static, str>>,
    /// Where each cell ends in `text`.
    ends: Vec<usize>,
    text: Vec<u8>,
}

impl Cells {
    fn clear(&mut self) {
        self.names.clear();
        self.ends.clear();
        self.text.clear();
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// Appends the cell of `value`: a scalar written as one, anything else as its JSON.
    fn push<T: Serialize + ?Sized>(
        &mut self,
        name: Cow<'static, str>,
        value: &T,
    ) -> Result<(), CellError> {
        let start = self.text.len();
        match value.serialize(Cell(&mut self.text)) {
            Ok(()) => {}
            Err(CellError::Json) => {
                self.text.truncate(start);
                serde_json::to_writer(&mut self.text, value)
                    .map_err(|e| CellError::Custom(e.to_string()))?;
            }
            Err(e) => return Err(e),
        }
        self.names.push(name);
        self.ends.push(self.text.len());
        Ok(())
    }
}

#[derive(Debug)]
enum CellError {
    /// Not a scalar: the cell is the value's JSON.
    Json,
    Custom(String),
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellError::Json => f.write_str("a value that is not a scalar"),
            CellError::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CellError {}

impl ser::Error for CellError {
    fn custom<M: std::fmt::Display>(message: M) -> Self {
        CellError::Custom(message.to_string())
    }
}

/// Serializes a record (a struct, or a map with string keys) into [`Cells`].
struct Record<'a>(&'a mut Cells);

/// Serializes one scalar into a cell's text; anything else is [`CellError::Json`]. Numbers and
/// booleans are written by serde_json, so that they read as in the JSON.
struct Cell<'a>(&'a mut Vec<u8>);

impl Cell<'_> {
    fn json<T: Serialize>(self, value: T) -> Result<(), CellError> {
        serde_json::to_writer(self.0, &value).map_err(|e| CellError::Custom(e.to_string()))
    }
}

impl ser::Serializer for Cell<'_> {
    type Ok = ();
    type Error = CellError;
    type SerializeSeq = Impossible<(), CellError>;
    type SerializeTuple = Impossible<(), CellError>;
    type SerializeTupleStruct = Impossible<(), CellError>;
    type SerializeTupleVariant = Impossible<(), CellError>;
    type SerializeMap = Impossible<(), CellError>;
    type SerializeStruct = Impossible<(), CellError>;
    type SerializeStructVariant = Impossible<(), CellError>;

    fn serialize_str(self, v: &str) -> Result<(), CellError> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), CellError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_none(self) -> Result<(), CellError> {
        Ok(())
    }
    fn serialize_unit(self) -> Result<(), CellError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), CellError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), CellError> {
        self.serialize_str(variant)
    }
    fn serialize_bool(self, v: bool) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), CellError> {
        self.json(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), CellError> {
        Err(CellError::Json)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), CellError> {
        Err(CellError::Json)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CellError> {
        Err(CellError::Json)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CellError> {
        Err(CellError::Json)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, CellError> {
        Err(CellError::Json)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CellError> {
        Err(CellError::Json)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CellError> {
        Err(CellError::Json)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, CellError> {
        Err(CellError::Json)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CellError> {
        Err(CellError::Json)
    }
}

/// A record that is not a struct or map has no columns.
fn not_a_record() -> CellError {
    CellError::Custom("an exported record is not a JSON object".into())
}

impl<'a> ser::Serializer for Record<'a> {
    type Ok = ();
    type Error = CellError;
    type SerializeSeq = Impossible<(), CellError>;
    type SerializeTuple = Impossible<(), CellError>;
    type SerializeTupleStruct = Impossible<(), CellError>;
    type SerializeTupleVariant = Impossible<(), CellError>;
    type SerializeMap = RecordMap<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), CellError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, CellError> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<RecordMap<'a>, CellError> {
        Ok(RecordMap {
            cells: self.0,
            key: None,
        })
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_bool(self, _: bool) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_i8(self, _: i8) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_i16(self, _: i16) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_i32(self, _: i32) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_i64(self, _: i64) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_u8(self, _: u8) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_u16(self, _: u16) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_u32(self, _: u32) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_u64(self, _: u64) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_f32(self, _: f32) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_f64(self, _: f64) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_char(self, _: char) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_str(self, _: &str) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_none(self) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_unit(self) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), CellError> {
        Err(not_a_record())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CellError> {
        Err(not_a_record())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CellError> {
        Err(not_a_record())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, CellError> {
        Err(not_a_record())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CellError> {
        Err(not_a_record())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CellError> {
        Err(not_a_record())
    }
}

impl ser::SerializeStruct for Record<'_> {
    type Ok = ();
    type Error = CellError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        self.0.push(Cow::Borrowed(name), value)
    }
    fn end(self) -> Result<(), CellError> {
        Ok(())
    }
}

/// A record written as a map (a JSON value, or a struct with flattened members).
struct RecordMap<'a> {
    cells: &'a mut Cells,
    key: Option<String>,
}

impl ser::SerializeMap for RecordMap<'_> {
    type Ok = ();
    type Error = CellError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CellError> {
        let mut text = Vec::new();
        key.serialize(Cell(&mut text))
            .map_err(|_| CellError::Custom("a record's member name is not text".into()))?;
        self.key = Some(String::from_utf8(text).map_err(|e| CellError::Custom(e.to_string()))?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CellError> {
        let key = self.key.take().unwrap_or_default();
        self.cells.push(Cow::Owned(key), value)
    }
    fn end(self) -> Result<(), CellError> {
        Ok(())
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
        let mut encoder = Encoder::csv(vec![
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
        encoder.rows(&mut out, &[item]).expect("a row");
        // serde_json's map is ordered by name here; the columns are found by name.
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(
            text,
            "id,title,ends_on,participants,flag\r\n7,\"Forum, \"\"2024\"\"\nday one\",,\"[{\"\"partner_id\"\":1,\"\"role\"\":\"\"host\"\"}]\",true\r\n"
        );
    }
}
