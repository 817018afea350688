//! Lists: `limit`, keyset `cursor`, `sort`, `with_total`, the page envelope and its `Link` header.
//!
//! A cursor holds the sort key and the tie-breaker of the last row served, so the next page is
//! a range scan from there (`WHERE (key, id) > (…)`), which costs the same at any depth.

use std::borrow::Cow;
use std::marker::PhantomData;

use actix_web::{HttpRequest, HttpResponse, http::header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::ApiError;

/// The page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page a client may ask for.
pub const MAX_LIMIT: u32 = 500;

/// The list parameters every collection takes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–500.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page, to get the page after it; empty is none.
    #[param(max_length = 4096, pattern = r"^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
    /// `true` adds the number of all matching items as `total`.
    #[param(default = false)]
    pub with_total: Option<bool>,
}

impl PageParams {
    /// The page size, checked against its bounds.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit.unwrap_or(DEFAULT_LIMIT) {
            limit @ 1..=MAX_LIMIT => Ok(limit),
            _ => Err(ApiError::bad_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    pub fn with_total(&self) -> bool {
        self.with_total.unwrap_or(false)
    }

    /// The position to continue after, checked to belong to `sort`.
    pub fn cursor<F: SortField>(&self, sort: &Sort<F>) -> Result<Option<Cursor>, ApiError> {
        self.cursor
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(|text| Cursor::decode(text, sort))
            .transpose()
    }
}

/// Ascending or descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// The fields a resource can be sorted by. The first of `FIELDS` is the default sort. Each
/// name is also the record's JSON field, where a cursor takes its position from.
pub trait SortField: Copy + Eq + std::fmt::Debug + 'static {
    const FIELDS: &'static [(&'static str, Self)];
    /// The direction of the default sort.
    const DEFAULT_DIRECTION: Direction = Direction::Asc;
    /// The record's key, which ends every order and breaks ties.
    const TIE: &'static str = "id";
}

/// A `sort` parameter: a field name, with `-` in front for descending order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort<F> {
    pub field: F,
    pub direction: Direction,
}

impl<F: SortField> Sort<F> {
    /// Parses `name` or `-name`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (direction, name) = match text.strip_prefix('-') {
            Some(name) => (Direction::Desc, name),
            None => (Direction::Asc, text),
        };
        F::FIELDS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, field)| Sort { field, direction })
            .ok_or_else(|| {
                let names: Vec<_> = F::FIELDS.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown sort `{text}`: use one of {} (prefix - for descending)",
                    names.join(", ")
                )
            })
    }

    /// The field's name.
    pub fn name(&self) -> &'static str {
        F::FIELDS
            .iter()
            .find(|(_, field)| *field == self.field)
            .map_or("", |(name, _)| *name)
    }

    /// The parameter as a client writes it.
    pub fn as_param(&self) -> String {
        let name = self.name();
        match self.direction {
            Direction::Asc => name.to_owned(),
            Direction::Desc => format!("-{name}"),
        }
    }
}

impl<F: SortField> Default for Sort<F> {
    fn default() -> Self {
        Sort {
            field: F::FIELDS[0].1,
            direction: F::DEFAULT_DIRECTION,
        }
    }
}

impl<'de, F: SortField> Deserialize<'de> for Sort<F> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Sort::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The OpenAPI schema of a `sort` parameter: every field name, plain and with `-`, the default
/// first. The parameter's description comes from the filter's `sort` field.
impl<F: SortField> PartialSchema for Sort<F> {
    fn schema() -> RefOr<Schema> {
        let values: Vec<String> = F::FIELDS
            .iter()
            .flat_map(|(name, _)| [name.to_string(), format!("-{name}")])
            .collect();
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(values))
            .default(Some(Value::String(Sort::<F>::default().as_param())))
            .into()
    }
}

/// Always inlined (`#[param(inline)]`): each resource's sort takes its own names.
impl<F: SortField> ToSchema for Sort<F> {}

/// Where a page ended: the sort it was made for, the last sort key and the last tie-breaker.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    sort: String,
    #[serde(rename = "k")]
    key: Value,
    #[serde(rename = "i")]
    tie: Value,
}

impl Cursor {
    /// A cursor pointing after a row with the given sort key and tie-breaker.
    pub fn after<F: SortField>(sort: &Sort<F>, key: impl Serialize, tie: impl Serialize) -> Self {
        Cursor {
            sort: sort.as_param(),
            key: serde_json::to_value(key).unwrap_or(Value::Null),
            tie: serde_json::to_value(tie).unwrap_or(Value::Null),
        }
    }

    /// The opaque text a client gets as `next_cursor`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a cursor back; anything this service did not make for this sort is a 400
    /// `invalid_cursor`. A cursor is client input like any other, even though this service
    /// wrote it: its position is checked again when it is typed (see [`CursorKey`]).
    pub fn decode<F: SortField>(text: &str, sort: &Sort<F>) -> Result<Self, ApiError> {
        let bad = || ApiError::InvalidCursor(NOT_A_CURSOR.to_owned());
        if text.len() > MAX_CURSOR_BYTES {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.sort != sort.as_param() {
            return Err(ApiError::InvalidCursor(format!(
                "the cursor was made for sort `{}`; keep the same sort while paging",
                cursor.sort
            )));
        }
        Ok(cursor)
    }

    /// The sort key and tie-breaker as the column types `K` and `T`, each checked to be a value
    /// the column can hold.
    pub fn position<K: CursorKey, T: CursorKey>(&self) -> Result<(K, T), ApiError> {
        let bad = || ApiError::InvalidCursor(NOT_A_CURSOR.to_owned());
        let key = K::from_json(&self.key).ok_or_else(bad)?;
        let tie = T::from_json(&self.tie).ok_or_else(bad)?;
        Ok((key, tie))
    }
}

/// What a client is told about a cursor that cannot be used.
const NOT_A_CURSOR: &str = "not a cursor from this list; start again without it";

/// The longest cursor accepted (the `cursor` parameter's `maxLength`): a sort key is at most a
/// few hundred characters of text.
const MAX_CURSOR_BYTES: usize = 4096;

/// A column type a cursor's position can hold, read from the record's JSON value of that field
/// (which is what a cursor keeps): `None` unless it is a value the database can compare with
/// (PostgreSQL refuses NUL in text, and dates outside its range, with an error).
pub trait CursorKey: Sized {
    fn from_json(value: &Value) -> Option<Self>;
}

impl CursorKey for i64 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_i64()
    }
}

impl CursorKey for String {
    fn from_json(value: &Value) -> Option<Self> {
        value
            .as_str()
            .filter(|text| !text.contains('\0'))
            .map(str::to_owned)
    }
}

impl CursorKey for chrono::NaiveDate {
    fn from_json(value: &Value) -> Option<Self> {
        let date = chrono::NaiveDate::parse_from_str(value.as_str()?, "%Y-%m-%d").ok()?;
        (1..=9999)
            .contains(&chrono::Datelike::year(&date))
            .then_some(date)
    }
}

/// Written as records write timestamps (RFC 3339, UTC); cursors made by earlier versions wrote
/// them without the zone, and still read.
impl CursorKey for chrono::NaiveDateTime {
    fn from_json(value: &Value) -> Option<Self> {
        let text = value.as_str()?;
        let at = chrono::DateTime::parse_from_rfc3339(text)
            .map(|at| at.naive_utc())
            .or_else(|_| text.parse::<chrono::NaiveDateTime>())
            .ok()?;
        (1..=9999)
            .contains(&chrono::Datelike::year(&at.date()))
            .then_some(at)
    }
}

/// One page of a list, as a `QueryResult<Vec<_>>`: the rows `$query` (a boxed query, written
/// again for each statement it is needed in: boxed queries cannot be copied) selects as
/// `$select`, ordered by `$column` then `$tie`, after the position `$after`
/// (`Option<(key, tie)>` typed like the two columns; a cursor's `position` yields it), `$fetch`
/// at most. A macro, expanded for each backend inside `on_backend!`.
///
/// A page after a position starts with a row-value comparison, `($column, $tie) > (key, tie)`:
/// PostgreSQL seeks the `($column, $tie)` index straight to that row, so a page deep in the list
/// costs what the first does. SQLite cannot extend such a seek to the rowid (`id`, the
/// tie-breaker of every table but countries), so it would seek to `key` and step over every
/// row sharing that key up to the cursor: 93 M instructions for a page 40 000 rows into 50 000
/// events of one day, against 0.31 M for the first page (0.47 M as below). On SQLite the page
/// is read instead, in one read transaction, as the rest of the rows sharing `key`
/// (`$column = key AND $tie > tie`, a seek in the same index), then the rows after `key`
/// (`$column > key`, another seek). With `unique` (the sort key is the tie-breaker itself),
/// nothing can share a key and one statement does on both.
#[macro_export]
macro_rules! keyset_page {
    ($conn:expr, $query:expr, ($column:expr, $tie:expr), $direction:expr, $after:expr, $select:expr, $fetch:expr) => {{
        use diesel::{Connection as _, ExpressionMethods as _, QueryDsl as _, RunQueryDsl as _};
        let (conn, fetch) = ($conn, $fetch);
        let descending = $direction == $crate::pagination::Direction::Desc;
        match $after {
            None => $crate::keyset_order!($query, $column, $tie, descending)
                .select($select)
                .limit(fetch)
                .load(conn),
            Some(after) if $crate::sql::seeks_row_values(conn) => $crate::keyset_order!(
                $query.filter($crate::sql::row_after(($column, $tie), after, descending)),
                $column,
                $tie,
                descending
            )
            .select($select)
            .limit(fetch)
            .load(conn),
            Some((key, tie)) => conn.transaction(|conn| {
                let tied = $query.filter($column.eq(key.clone()));
                let tied = if descending {
                    tied.filter($tie.lt(tie)).order_by($tie.desc())
                } else {
                    tied.filter($tie.gt(tie)).order_by($tie.asc())
                };
                let mut rows: Vec<_> = tied.select($select).limit(fetch).load(conn)?;
                let left = fetch - rows.len() as i64;
                if left > 0 {
                    let beyond = if descending {
                        $query.filter($column.lt(key))
                    } else {
                        $query.filter($column.gt(key))
                    };
                    rows.extend(
                        $crate::keyset_order!(beyond, $column, $tie, descending)
                            .select($select)
                            .limit(left)
                            .load(conn)?,
                    );
                }
                Ok(rows)
            }),
        }
    }};
    ($conn:expr, $query:expr, ($column:expr, $tie:expr), $direction:expr, $after:expr, $select:expr, $fetch:expr, unique) => {{
        use diesel::{QueryDsl as _, RunQueryDsl as _};
        let descending = $direction == $crate::pagination::Direction::Desc;
        let query = match $after {
            None => $query,
            Some(after) => {
                $query.filter($crate::sql::row_after(($column, $tie), after, descending))
            }
        };
        $crate::keyset_order!(query, $column, $tie, descending)
            .select($select)
            .limit($fetch)
            .load($conn)
    }};
}

/// One page of the rows `$filtered` selects (a boxed query, built again for each statement that
/// needs it) in the order `$sort` names, after `$cursor` (an `Option<&Cursor>`), as a `Vec` (a
/// `?` inside turns a bad cursor into its 400): one `keyset_page!` per sort field, each given
/// once as `Field => (column, key type)`. `tie:` is the unique column that ends every order,
/// with its type; a field marked `unique` is that column itself.
#[macro_export]
macro_rules! sorted_page {
    (
        $conn:expr, $filtered:expr, $sort:expr, $cursor:expr, $select:expr, $fetch:expr,
        tie: ($tie:expr, $Tie:ty),
        { $($field:path => ($column:expr, $Key:ty) $($unique:ident)?),+ $(,)? }
    ) => {{
        let (base, sort, cursor) = (|| $filtered, $sort, $cursor);
        match sort.field {
            $($field => $crate::keyset_page!(
                $conn,
                base(),
                ($column, $tie),
                sort.direction,
                cursor.map(|c| c.position::<$Key, $Tie>()).transpose()?,
                $select,
                $fetch
                $(, $unique)?
            )?,)+
        }
    }};
}

/// `$query` ordered by `$column` then `$tie`, descending or not (for `keyset_page!`).
#[macro_export]
macro_rules! keyset_order {
    ($query:expr, $column:expr, $tie:expr, $descending:expr) => {{
        use diesel::QueryDsl as _;
        if $descending {
            $query
                .then_order_by(diesel::ExpressionMethods::desc($column))
                .then_order_by(diesel::ExpressionMethods::desc($tie))
        } else {
            $query
                .then_order_by(diesel::ExpressionMethods::asc($column))
                .then_order_by(diesel::ExpressionMethods::asc($tie))
        }
    }};
}

/// A type listed in pages, and how its page is named and shown in the OpenAPI document.
pub trait PageItem: ToSchema {
    /// The name of the page's schema, e.g. `CountryPage`.
    const PAGE_SCHEMA: &'static str;

    /// The `next_cursor` of the example page: the position after the item's own example
    /// in the default sort.
    fn example_cursor() -> String;
}

/// One page of a list of `T`, as the OpenAPI document describes it: a named schema per item
/// type (`CountryPage`…) whose `items` refer to the item's own schema. [`respond`] writes the
/// bytes.
pub struct Page<T>(PhantomData<T>);

impl<T: PageItem> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        let item = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
        let example = json!({
            "items": [item.get("example").cloned().unwrap_or(Value::Null)],
            "next_cursor": T::example_cursor(),
            "total": 12,
        });
        ObjectBuilder::new()
            .description(Some("One page of a list."))
            .property(
                "items",
                ArrayBuilder::new()
                    .items(Ref::from_schema_name(T::name()))
                    .description(Some("The items of this page, in the requested order.")),
            )
            .required("items")
            .property(
                "next_cursor",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .pattern(Some("^[A-Za-z0-9_-]+$"))
                    .description(Some(
                        "Pass as `cursor` to get the next page; null on the last page.",
                    )),
            )
            .required("next_cursor")
            .property(
                "total",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::Integer))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0))
                    .description(Some(
                        "How many items match the filters in all; only with `with_total=true`.",
                    )),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .examples([example])
            .into()
    }
}

impl<T: PageItem> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::PAGE_SCHEMA)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

/// Collects a page from rows fetched with `limit + 1`: the extra row only tells that more follow.
pub struct PageBuilder<F> {
    sort: Sort<F>,
    limit: usize,
}

impl<F: SortField> PageBuilder<F> {
    pub fn new(sort: Sort<F>, limit: u32) -> Self {
        Self {
            sort,
            limit: limit as usize,
        }
    }

    /// How many rows to fetch.
    pub fn fetch(&self) -> i64 {
        self.limit as i64 + 1
    }

    /// Cuts items fetched with `limit + 1` down to the page, and gives the next page's cursor
    /// when the extra item showed that more follow.
    pub fn cut(&self, items: &mut Vec<RenderedItem>) -> Option<String> {
        if items.len() <= self.limit {
            return None;
        }
        items.truncate(self.limit);
        let (key, tie) = items.last()?.position.as_ref()?;
        Some(Cursor::after(&self.sort, key, tie).encode())
    }
}

/// One item of a page, already rendered as JSON, with its place in the sort order when it is
/// the item a next page's cursor would start after.
pub struct RenderedItem {
    pub json: Bytes,
    pub position: Option<(Value, Value)>,
}

impl RenderedItem {
    /// The item at `index` of rows fetched `fetch` at most (a page's limit and one more),
    /// listed in `sort`. Only the last item of a full page can give the next cursor, so only
    /// there is its position read back from its JSON (for every row it cost 8% of a page).
    pub fn new<F: SortField>(
        json: Bytes,
        index: usize,
        fetch: i64,
        sort: &Sort<F>,
    ) -> Result<Self, ApiError> {
        let at_cursor = i64::try_from(index).is_ok_and(|i| i + 2 == fetch);
        let position = at_cursor
            .then(|| position_in(&json, sort.name(), F::TIE))
            .transpose()?;
        Ok(Self { json, position })
    }
}

/// The values of the fields `key` and `tie` of a record rendered as `json`.
fn position_in(json: &[u8], key: &str, tie: &str) -> Result<(Value, Value), ApiError> {
    let record: serde_json::Map<String, Value> = serde_json::from_slice(json)
        .map_err(|e| ApiError::internal("a rendered record is not a JSON object", e))?;
    match (record.get(key), record.get(tie)) {
        (Some(key), Some(tie)) => Ok((key.clone(), tie.clone())),
        _ => Err(ApiError::bug(format!(
            "a rendered record has no `{key}` or `{tie}` to continue after"
        ))),
    }
}

/// The 200 response for a page of rendered items: the same envelope as [`Page`] (which
/// documents it), written around the items' JSON without parsing it again, with
/// `Link: <…>; rel="next"` when a next page exists.
pub fn respond(
    req: &HttpRequest,
    items: &[RenderedItem],
    next_cursor: Option<&str>,
    total: Option<i64>,
) -> HttpResponse {
    let length: usize = items.iter().map(|item| item.json.len() + 1).sum();
    let mut body = Vec::with_capacity(length + 64 + next_cursor.map_or(0, str::len));
    body.extend_from_slice(b"{\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&item.json);
    }
    body.extend_from_slice(b"],\"next_cursor\":");
    match next_cursor {
        // A cursor is base64url: nothing in it needs escaping.
        Some(cursor) => {
            body.push(b'"');
            body.extend_from_slice(cursor.as_bytes());
            body.push(b'"');
        }
        None => body.extend_from_slice(b"null"),
    }
    if let Some(total) = total {
        body.extend_from_slice(format!(",\"total\":{total}").as_bytes());
    }
    body.push(b'}');
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = next_cursor {
        response.insert_header((header::LINK, next_link(req, cursor)));
    }
    response.content_type(mime::APPLICATION_JSON).body(body)
}

/// The request's own URL with `cursor` replaced by the next one.
fn next_link(req: &HttpRequest, cursor: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if name != "cursor" {
            query.append_pair(&name, &value);
        }
    }
    query.append_pair("cursor", cursor);
    format!("<{}?{}>; rel=\"next\"", req.path(), query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Field {
        Name,
        CreatedAt,
    }

    impl SortField for Field {
        const FIELDS: &'static [(&'static str, Self)] =
            &[("name", Field::Name), ("created_at", Field::CreatedAt)];
    }

    #[test]
    fn sort_parses_names_and_descending_prefix() {
        assert_eq!(
            Sort::<Field>::parse("-created_at"),
            Ok(Sort {
                field: Field::CreatedAt,
                direction: Direction::Desc
            })
        );
        assert_eq!(
            Sort::<Field>::parse("name").map(|s| s.as_param()),
            Ok("name".to_owned())
        );
        assert!(Sort::<Field>::parse("colour").is_err());
        assert!(Sort::<Field>::parse("--name").is_err());
        assert_eq!(Sort::<Field>::default().field, Field::Name);
    }

    /// Rows fetched with `limit + 1`: the page keeps `limit`, and the cursor comes from the
    /// last kept row, the only one whose position is worked out.
    fn fetched(count: usize, limit: u32) -> (PageBuilder<Field>, Vec<RenderedItem>) {
        let builder = PageBuilder::new(Sort::<Field>::default(), limit);
        let rows = (0..count)
            .map(|i| {
                let json = Bytes::from(format!("{{\"id\":{i},\"name\":\"row {i}\"}}"));
                RenderedItem::new(json, i, builder.fetch(), &Sort::<Field>::default())
                    .expect("an item")
            })
            .collect();
        (builder, rows)
    }

    #[test]
    fn a_position_is_read_from_the_record_even_when_the_key_is_the_tie() {
        let json = br#"{"id": 7, "name": "Astana"}"#;
        assert_eq!(
            position_in(json, "name", "id").expect("both fields"),
            (Value::from("Astana"), Value::from(7))
        );
        assert_eq!(
            position_in(json, "id", "id").expect("the key twice"),
            (Value::from(7), Value::from(7))
        );
        assert!(position_in(json, "title", "id").is_err());
    }

    #[test]
    fn a_full_page_gives_the_cursor_of_its_last_row() {
        let (builder, mut rows) = fetched(4, 3);
        assert_eq!(
            rows.iter()
                .map(|r| r.position.is_some())
                .collect::<Vec<_>>(),
            [false, false, true, false]
        );
        let cursor = builder.cut(&mut rows).expect("more rows follow");
        assert_eq!(rows.len(), 3);
        let decoded = Cursor::decode(&cursor, &Sort::<Field>::default()).expect("valid");
        assert_eq!(
            decoded.position::<String, i64>().expect("position"),
            ("row 2".to_owned(), 2)
        );
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        for count in 0..=3 {
            let (builder, mut rows) = fetched(count, 3);
            assert_eq!(builder.cut(&mut rows), None);
            assert_eq!(rows.len(), count);
        }
    }

    #[test]
    fn a_page_is_written_in_the_documented_envelope() {
        let req = actix_web::test::TestRequest::get()
            .uri("/api/v1/events?limit=2&cursor=old")
            .to_http_request();
        let (builder, mut rows) = fetched(3, 2);
        let cursor = builder.cut(&mut rows);
        let response = respond(&req, &rows, cursor.as_deref(), Some(9));
        let link = response.headers().get(header::LINK).expect("a Link header");
        assert!(link.to_str().expect("text").ends_with("; rel=\"next\""));
        assert!(!link.to_str().expect("text").contains("cursor=old"));
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .expect("a body in memory")
            .expect("bytes");
        let page: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            page,
            serde_json::json!({"items": [{"id": 0, "name": "row 0"}, {"id": 1, "name": "row 1"}], "next_cursor": cursor, "total": 9})
        );
        let last = respond(&req, &[] as &[RenderedItem], None, None);
        assert!(last.headers().get(header::LINK).is_none());
        let body =
            futures_util::FutureExt::now_or_never(actix_web::body::to_bytes(last.into_body()))
                .expect("a body in memory")
                .expect("bytes");
        assert_eq!(&body[..], br#"{"items":[],"next_cursor":null}"#);
    }

    #[test]
    fn cursor_round_trips() {
        let sort = Sort::<Field>::parse("-name").expect("valid sort");
        let text = Cursor::after(&sort, "Kazakhstan", 7).encode();
        let cursor = Cursor::decode(&text, &sort).expect("decodes");
        assert_eq!(
            cursor.position::<String, i64>().expect("typed"),
            ("Kazakhstan".to_owned(), 7)
        );
    }

    #[test]
    fn cursor_for_another_sort_or_tampered_is_rejected() {
        let sort = Sort::<Field>::parse("name").expect("valid sort");
        let other = Sort::<Field>::parse("-name").expect("valid sort");
        let text = Cursor::after(&sort, "A", 1).encode();
        assert!(Cursor::decode(&text, &other).is_err());
        assert!(Cursor::decode("not base64!", &sort).is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("{}"), &sort).is_err());
        let cursor = Cursor::decode(&text, &sort).expect("decodes");
        assert!(cursor.position::<i64, i64>().is_err());
    }

    #[test]
    fn forged_positions_the_database_cannot_compare_are_invalid_cursors() {
        let sort = Sort::<Field>::default();
        let forged = |key: Value| {
            let text = URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&serde_json::json!({"s": "name", "k": key, "i": 1}))
                    .expect("JSON"),
            );
            Cursor::decode(&text, &sort).expect("well-formed")
        };
        let nul = forged(Value::from("a\u{0}b")).position::<String, i64>();
        assert!(matches!(nul, Err(ApiError::InvalidCursor(_))));
        let far =
            forged(Value::from("+12345-01-01T00:00:00")).position::<chrono::NaiveDateTime, i64>();
        assert!(matches!(far, Err(ApiError::InvalidCursor(_))));
        let day = forged(Value::from("0000-12-31")).position::<chrono::NaiveDate, i64>();
        assert!(matches!(day, Err(ApiError::InvalidCursor(_))));
        let fine = forged(Value::from("2024-06-24")).position::<chrono::NaiveDate, i64>();
        assert!(fine.is_ok());
        let long = "A".repeat(MAX_CURSOR_BYTES + 1);
        assert!(matches!(
            Cursor::decode(&long, &sort),
            Err(ApiError::InvalidCursor(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_position_round_trips(key in "[^\\x00]*", tie in proptest::num::i64::ANY, desc in proptest::bool::ANY) {
            let sort = if desc { Sort::<Field>::parse("-name") } else { Sort::<Field>::parse("name") };
            let sort = sort.expect("valid sort");
            let text = Cursor::after(&sort, &key, tie).encode();
            let back = Cursor::decode(&text, &sort).expect("decodes").position::<String, i64>().expect("typed");
            proptest::prop_assert_eq!(back, (key, tie));
        }

        #[test]
        fn tampered_cursors_are_rejected_without_panicking(text in ".*") {
            let sort = Sort::<Field>::default();
            // Arbitrary text is either not a cursor (an error for the client), or by chance a
            // well-formed one; it never panics.
            if let Ok(cursor) = Cursor::decode(&text, &sort) {
                let _ = cursor.position::<String, i64>();
            }
        }

        #[test]
        fn flipping_a_character_of_a_cursor_never_panics(key in "[a-z]{1,20}", tie in 0i64..1000, at in 0usize..40, c in proptest::char::any()) {
            let sort = Sort::<Field>::default();
            let mut text: Vec<char> = Cursor::after(&sort, &key, tie).encode().chars().collect();
            let at = at % text.len();
            text[at] = c;
            let text: String = text.into_iter().collect();
            if let Ok(cursor) = Cursor::decode(&text, &sort) {
                let _ = cursor.position::<String, i64>();
            }
        }
    }

    #[test]
    fn limit_bounds_are_enforced() {
        let limit = |n| {
            PageParams {
                limit: Some(n),
                ..Default::default()
            }
            .limit()
        };
        assert!(limit(0).is_err());
        assert!(limit(501).is_err());
        assert_eq!(limit(500).ok(), Some(500));
        assert_eq!(PageParams::default().limit().ok(), Some(DEFAULT_LIMIT));
    }
}
