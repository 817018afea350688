//! Lists: `limit`, keyset `cursor`, `sort`, `with_total`, the page envelope and its `Link` header.
//!
//! A cursor holds the sort key and the tie-breaker of the last row served, so the next page is
//! a range scan from there (`WHERE (key, id) > (…)`), which costs the same at any depth.

use std::borrow::Cow;
use std::marker::PhantomData;

use actix_web::http::header::{self, EntityTag};
use actix_web::{HttpRequest, HttpResponse};
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

use diesel::dsl::{self, AsExprOf, SqlTypeOf};
// What the table! macro names its boxed queries with (`events::BoxedQuery`).
use diesel::expression::{
    AppearsOnTable, AsExpression, BoxableExpression, Expression, TypedExpressionType,
};
use diesel::internal::table_macro::{BoxedSelectStatement, FromClause};
use diesel::query_builder::QueryFragment;
use diesel::query_dsl::LoadQuery;
use diesel::query_dsl::methods::{LimitDsl, SelectDsl};
use diesel::sql_types::{Bool, SingleValue, SqlType};
use diesel::{
    BoolExpressionMethods, Column, Connection, ExpressionMethods, QueryDsl, QueryResult,
    RunQueryDsl, Selectable, SelectableHelper, Table,
};

use crate::db::{DbConnection, MultiBackend};
use crate::error::ApiError;
use crate::sql::{self, RowAfter};

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

/// A page size as a client sent it (`DEFAULT_LIMIT` when left out), checked against its bounds:
/// the one rule of every list, the change feed and the webhook lists.
pub fn checked_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit),
        _ => Err(ApiError::bad_field(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

impl PageParams {
    /// The page size, checked against its bounds.
    pub fn limit(&self) -> Result<u32, ApiError> {
        checked_limit(self.limit)
    }

    pub fn with_total(&self) -> bool {
        self.with_total.unwrap_or(false)
    }

    /// The position to continue after, checked to belong to `sort`.
    pub fn cursor<S: SortKeys>(&self, sort: &Sort<S>) -> Result<Option<Cursor>, ApiError> {
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

/// A table a list reads from.
pub trait ListTable: Table + Default + 'static {}

impl<Tab: Table + Default + 'static> ListTable for Tab {}

/// The rows of a table a list reads from, filtered, as a query both backends can run: what
/// `into_boxed()` makes of the table.
pub type Rows<Tab> = BoxedSelectStatement<
    'static,
    SqlTypeOf<<Tab as Table>::AllColumns>,
    FromClause<Tab>,
    MultiBackend,
>;

/// A condition on the rows of `Tab`.
type Predicate<Tab> = Box<dyn BoxableExpression<Tab, MultiBackend, SqlType = Bool>>;

/// The conditions of the statements that read a page after a cursor, in turn.
type Seeks<Tab> = Vec<Predicate<Tab>>;

/// Makes [`Seeks`] from a cursor, the direction, and whether the database seeks row values.
type SeekAfter<Tab> = fn(&Cursor, Direction, bool) -> Result<Seeks<Tab>, ApiError>;

/// The sort table of a list: every order it can be read in, each one line
/// ([`SortKey::by`]). The first key is the default order. A key's name is also the record's
/// JSON field, where a cursor takes its position from.
pub trait SortKeys: Sized + 'static {
    /// The table the list reads.
    type Table: ListTable;
    /// The record's unique key, which ends every order and breaks ties (`id`, a country's
    /// `code`), as a column.
    type Tie: SortColumn<Self::Table>;
    /// The tie-breaker's name in the record's JSON.
    const TIE: &'static str;
    const KEYS: &'static [SortKey<Self>];
    /// The direction of the default order.
    const DEFAULT_DIRECTION: Direction = Direction::Asc;
}

/// One order of a list: the key's name, and how the rows are ordered by it and continued after
/// a cursor.
pub struct SortKey<S: SortKeys> {
    name: &'static str,
    order: fn(Rows<S::Table>, Direction) -> Rows<S::Table>,
    seek: SeekAfter<S::Table>,
    skip: SkipRows<S>,
}

/// Reads where a list stands a number of rows after a cursor (see [`cursor_after_rows`]).
type SkipRows<S> = fn(
    &mut DbConnection,
    &dyn Fn() -> Rows<<S as SortKeys>::Table>,
    Sort<S>,
    Option<&Cursor>,
    i64,
) -> Result<Option<Cursor>, ApiError>;

impl<S: SortKeys> SortKey<S> {
    /// Sorting by the column `C` under the name `name`, then by the tie-breaker.
    pub const fn by<C: SortColumn<S::Table>>(name: &'static str) -> Self
    where
        Rows<S::Table>: SelectDsl<(C, S::Tie)>,
        dsl::Select<Rows<S::Table>, (C, S::Tie)>: LimitDsl,
        sql::Once<dsl::Limit<dsl::Select<Rows<S::Table>, (C, S::Tie)>>>:
            LoadQuery<'static, DbConnection, (C::Key, TieKey<S>)>,
    {
        SortKey {
            name,
            order: order_by::<S, C>,
            seek: seek_after::<S, C>,
            skip: skip_rows::<S, C>,
        }
    }

    /// Sorting by the tie-breaker itself, under the name `name`.
    pub const fn tie(name: &'static str) -> Self
    where
        Rows<S::Table>: SelectDsl<S::Tie>,
        dsl::Select<Rows<S::Table>, S::Tie>: LimitDsl,
        sql::Once<dsl::Limit<dsl::Select<Rows<S::Table>, S::Tie>>>:
            LoadQuery<'static, DbConnection, TieKey<S>>,
    {
        SortKey {
            name,
            order: order_by_tie::<S>,
            seek: seek_after_tie::<S>,
            skip: skip_rows_tie::<S>,
        }
    }
}

/// A column a list can be sorted by: its values can be compared with what a cursor holds
/// (the Rust type [`SqlKey`] gives for its SQL type). Every column whose conditions and orders
/// both backends can run is one.
pub trait SortColumn<Tab: ListTable>:
    Column<Table = Tab>
    + QueryFragment<MultiBackend>
    + AppearsOnTable<Tab>
    + Default
    + Copy
    + Send
    + 'static
{
    /// The Rust value of a key of this column.
    type Key: CursorKey + Serialize + Clone + Send + 'static;
    /// A key bound as a parameter of the column's SQL type.
    type Bound: QueryFragment<MultiBackend> + AppearsOnTable<Tab> + Send + 'static;
    fn bind(key: Self::Key) -> Self::Bound;
    /// `column = key`.
    fn equals(self, key: Self::Key) -> Predicate<Tab>;
    /// `column > key` (`<` when `descending`).
    fn beyond(self, key: Self::Key, descending: bool) -> Predicate<Tab>;
    /// `rows` ordered (further) by this column.
    fn then_order(self, rows: Rows<Tab>, descending: bool) -> Rows<Tab>;
}

/// The Rust value a cursor holds for a column of SQL type `Self`.
pub trait SqlKey {
    type Value: CursorKey + Serialize + Clone + Send + 'static;
}

impl SqlKey for diesel::sql_types::BigInt {
    type Value = i64;
}
impl SqlKey for diesel::sql_types::Text {
    type Value = String;
}
impl SqlKey for diesel::sql_types::Date {
    type Value = chrono::NaiveDate;
}
impl SqlKey for diesel::sql_types::Timestamp {
    type Value = chrono::NaiveDateTime;
}

/// What a cursor holds for the column `C`.
type KeyOf<C> = <<C as Expression>::SqlType as SqlKey>::Value;

impl<Tab, C> SortColumn<Tab> for C
where
    Tab: ListTable,
    C: Column<Table = Tab>
        + QueryFragment<MultiBackend>
        + AppearsOnTable<Tab>
        + Default
        + Copy
        + Send
        + 'static,
    C::SqlType: SqlKey + SqlType + TypedExpressionType + SingleValue,
    KeyOf<C>: AsExpression<C::SqlType>,
    AsExprOf<KeyOf<C>, C::SqlType>: QueryFragment<MultiBackend> + AppearsOnTable<Tab> + Send,
    dsl::Eq<C, KeyOf<C>>: BoxableExpression<Tab, MultiBackend, SqlType = Bool> + 'static,
    dsl::Gt<C, KeyOf<C>>: BoxableExpression<Tab, MultiBackend, SqlType = Bool> + 'static,
    dsl::Lt<C, KeyOf<C>>: BoxableExpression<Tab, MultiBackend, SqlType = Bool> + 'static,
{
    type Key = KeyOf<C>;
    type Bound = AsExprOf<KeyOf<C>, C::SqlType>;

    fn bind(key: KeyOf<C>) -> Self::Bound {
        key.as_expression()
    }

    fn equals(self, key: KeyOf<C>) -> Predicate<Tab> {
        Box::new(self.eq(key))
    }

    fn beyond(self, key: KeyOf<C>, descending: bool) -> Predicate<Tab> {
        if descending {
            Box::new(self.lt(key))
        } else {
            Box::new(self.gt(key))
        }
    }

    fn then_order(self, rows: Rows<Tab>, descending: bool) -> Rows<Tab> {
        if descending {
            rows.then_order_by(self.desc())
        } else {
            rows.then_order_by(self.asc())
        }
    }
}

/// What a cursor holds for the tie-breaker of `S`.
type TieKey<S> = <<S as SortKeys>::Tie as SortColumn<<S as SortKeys>::Table>>::Key;

fn order_by<S: SortKeys, C: SortColumn<S::Table>>(
    rows: Rows<S::Table>,
    direction: Direction,
) -> Rows<S::Table> {
    let descending = direction == Direction::Desc;
    let rows = C::default().then_order(rows, descending);
    S::Tie::default().then_order(rows, descending)
}

fn order_by_tie<S: SortKeys>(rows: Rows<S::Table>, direction: Direction) -> Rows<S::Table> {
    S::Tie::default().then_order(rows, direction == Direction::Desc)
}

/// The conditions of the statements that read the rows after `cursor`, one after the other.
///
/// A row-value comparison, `(column, tie) > (key, tie)`, lets PostgreSQL seek a `(column, tie)`
/// index straight to the cursor's row, so a page deep in the list costs what the first does.
/// SQLite cannot extend such a seek to the rowid (`id`, the tie-breaker of every table but
/// countries): it would seek to `key` and step over every row sharing that key up to the cursor
/// (93 M instructions for a page 40 000 rows into 50 000 events of one day, against 0.31 M for
/// the first page). On SQLite the page is read instead as the rest of the rows sharing `key`
/// (`column = key AND tie > tie`), then the rows after `key` (`column > key`): two seeks.
fn seek_after<S: SortKeys, C: SortColumn<S::Table>>(
    cursor: &Cursor,
    direction: Direction,
    row_values: bool,
) -> Result<Seeks<S::Table>, ApiError> {
    let (key, tie) = cursor.position::<C::Key, TieKey<S>>()?;
    let (column, tie_column) = (C::default(), S::Tie::default());
    let descending = direction == Direction::Desc;
    if row_values {
        let after = RowAfter::new((column, tie_column), (C::bind(key), S::Tie::bind(tie)));
        return Ok(vec![Box::new(after.descending(descending))]);
    }
    let tied = Box::new(
        column
            .equals(key.clone())
            .and(tie_column.beyond(tie, descending)),
    );
    Ok(vec![tied, column.beyond(key, descending)])
}

/// After `cursor` in the order of the tie-breaker itself: one condition on both backends.
fn seek_after_tie<S: SortKeys>(
    cursor: &Cursor,
    direction: Direction,
    _row_values: bool,
) -> Result<Seeks<S::Table>, ApiError> {
    let (_, tie) = cursor.position::<TieKey<S>, TieKey<S>>()?;
    Ok(vec![
        S::Tie::default().beyond(tie, direction == Direction::Desc),
    ])
}

/// One page of `rows` (built again for each statement that needs it) in the order `sort`
/// names, after `cursor`, `fetch` rows at most, each as `select` reads it. Continuing after a
/// cursor may take two statements (see [`seek_after`]); they run in one read transaction, so
/// the page is one consistent view.
pub fn read_page<S, Sel, Row>(
    conn: &mut DbConnection,
    rows: impl Fn() -> Rows<S::Table>,
    sort: Sort<S>,
    cursor: Option<&Cursor>,
    select: impl Fn() -> Sel,
    fetch: i64,
) -> Result<Vec<Row>, ApiError>
where
    S: SortKeys,
    Sel: Expression,
    Rows<S::Table>: SelectDsl<Sel>,
    dsl::Select<Rows<S::Table>, Sel>: LimitDsl,
    sql::Once<dsl::Limit<dsl::Select<Rows<S::Table>, Sel>>>: LoadQuery<'static, DbConnection, Row>,
{
    let key = sort.key();
    let statement = |seek: Option<Predicate<S::Table>>, fetch: i64| {
        let rows = match seek {
            Some(condition) => rows().filter(condition),
            None => rows(),
        };
        let ordered = (key.order)(rows, sort.direction);
        sql::rendered_once(LimitDsl::limit(SelectDsl::select(ordered, select()), fetch))
    };
    let Some(cursor) = cursor else {
        return Ok(statement(None, fetch).load(conn)?);
    };
    let mut seeks = (key.seek)(cursor, sort.direction, sql::seeks_row_values(conn))?;
    if seeks.len() == 1 {
        return Ok(statement(seeks.pop(), fetch).load(conn)?);
    }
    conn.transaction(|conn| {
        let mut found: Vec<Row> = Vec::new();
        for seek in seeks {
            let left = fetch - found.len() as i64;
            if left <= 0 {
                break;
            }
            found.extend(statement(Some(seek), left).load(conn)?);
        }
        Ok(found)
    })
}

/// Where the list of `rows` in `sort` stands `count` rows after `cursor`: the cursor after the
/// last of them, or `None` when fewer are left. Only the sort key and tie-breaker are read, so
/// an index that holds them and the filter's columns answers it alone; lets a reader start on
/// the rows that follow before those rows are read.
pub fn cursor_after_rows<S: SortKeys>(
    conn: &mut DbConnection,
    rows: &dyn Fn() -> Rows<S::Table>,
    sort: Sort<S>,
    cursor: Option<&Cursor>,
    count: i64,
) -> Result<Option<Cursor>, ApiError> {
    (sort.key().skip)(conn, rows, sort, cursor, count)
}

fn skip_rows<S: SortKeys, C: SortColumn<S::Table>>(
    conn: &mut DbConnection,
    rows: &dyn Fn() -> Rows<S::Table>,
    sort: Sort<S>,
    cursor: Option<&Cursor>,
    count: i64,
) -> Result<Option<Cursor>, ApiError>
where
    Rows<S::Table>: SelectDsl<(C, S::Tie)>,
    dsl::Select<Rows<S::Table>, (C, S::Tie)>: LimitDsl,
    sql::Once<dsl::Limit<dsl::Select<Rows<S::Table>, (C, S::Tie)>>>:
        LoadQuery<'static, DbConnection, (C::Key, TieKey<S>)>,
{
    let select = || (C::default(), S::Tie::default());
    let keys: Vec<(C::Key, TieKey<S>)> = read_page(conn, rows, sort, cursor, select, count)?;
    Ok(match keys.last() {
        Some((key, tie)) if keys.len() as i64 == count => Some(Cursor::after(&sort, key, tie)),
        _ => None,
    })
}

fn skip_rows_tie<S: SortKeys>(
    conn: &mut DbConnection,
    rows: &dyn Fn() -> Rows<S::Table>,
    sort: Sort<S>,
    cursor: Option<&Cursor>,
    count: i64,
) -> Result<Option<Cursor>, ApiError>
where
    Rows<S::Table>: SelectDsl<S::Tie>,
    dsl::Select<Rows<S::Table>, S::Tie>: LimitDsl,
    sql::Once<dsl::Limit<dsl::Select<Rows<S::Table>, S::Tie>>>:
        LoadQuery<'static, DbConnection, TieKey<S>>,
{
    let ties: Vec<TieKey<S>> = read_page(conn, rows, sort, cursor, S::Tie::default, count)?;
    Ok(match ties.last() {
        Some(tie) if ties.len() as i64 == count => Some(Cursor::after(&sort, tie, tie)),
        _ => None,
    })
}

/// A sort table whose list reads its rows as `Row`: the pages and counts of a list, for
/// any row type both backends can select.
pub trait Pages<Row>: SortKeys {
    /// One page, as [`read_page`] reads it, each row selected as `Row`.
    fn read(
        conn: &mut DbConnection,
        rows: &dyn Fn() -> Rows<Self::Table>,
        sort: Sort<Self>,
        cursor: Option<&Cursor>,
        fetch: i64,
    ) -> Result<Vec<Row>, ApiError>;
    /// How many of `rows` there are.
    fn count(conn: &mut DbConnection, rows: Rows<Self::Table>) -> QueryResult<i64>;
}

impl<S, Row> Pages<Row> for S
where
    S: SortKeys,
    Row: Selectable<MultiBackend>,
    dsl::AsSelect<Row, MultiBackend>: Expression,
    Rows<S::Table>: SelectDsl<dsl::AsSelect<Row, MultiBackend>> + SelectDsl<dsl::CountStar>,
    dsl::Select<Rows<S::Table>, dsl::AsSelect<Row, MultiBackend>>: LimitDsl,
    sql::Once<dsl::Limit<dsl::Select<Rows<S::Table>, dsl::AsSelect<Row, MultiBackend>>>>:
        LoadQuery<'static, DbConnection, Row>,
    sql::Once<dsl::Select<Rows<S::Table>, dsl::CountStar>>: LoadQuery<'static, DbConnection, i64>,
{
    fn read(
        conn: &mut DbConnection,
        rows: &dyn Fn() -> Rows<S::Table>,
        sort: Sort<S>,
        cursor: Option<&Cursor>,
        fetch: i64,
    ) -> Result<Vec<Row>, ApiError> {
        read_page(conn, rows, sort, cursor, Row::as_select, fetch)
    }

    fn count(conn: &mut DbConnection, rows: Rows<S::Table>) -> QueryResult<i64> {
        sql::rendered_once(rows.count()).get_result(conn)
    }
}

/// A `sort` parameter: a key's name, with `-` in front for descending order.
pub struct Sort<S> {
    index: usize,
    pub direction: Direction,
    keys: PhantomData<S>,
}

impl<S> Clone for Sort<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Sort<S> {}

impl<S> PartialEq for Sort<S> {
    fn eq(&self, other: &Self) -> bool {
        (self.index, self.direction) == (other.index, other.direction)
    }
}

impl<S> std::fmt::Debug for Sort<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sort({}, {:?})", self.index, self.direction)
    }
}

impl<S: SortKeys> Sort<S> {
    /// Parses `name` or `-name`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (direction, name) = match text.strip_prefix('-') {
            Some(name) => (Direction::Desc, name),
            None => (Direction::Asc, text),
        };
        S::KEYS
            .iter()
            .position(|key| key.name == name)
            .map(|index| Sort {
                index,
                direction,
                keys: PhantomData,
            })
            .ok_or_else(|| {
                let names: Vec<_> = S::KEYS.iter().map(|key| key.name).collect();
                format!(
                    "unknown sort `{text}`: use one of {} (prefix - for descending)",
                    names.join(", ")
                )
            })
    }

    fn key(&self) -> &'static SortKey<S> {
        &S::KEYS[self.index]
    }

    /// The key's name.
    pub fn name(&self) -> &'static str {
        self.key().name
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

impl<S: SortKeys> Default for Sort<S> {
    fn default() -> Self {
        Sort {
            index: 0,
            direction: S::DEFAULT_DIRECTION,
            keys: PhantomData,
        }
    }
}

impl<'de, S: SortKeys> Deserialize<'de> for Sort<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Sort::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The OpenAPI schema of a `sort` parameter: every key's name, plain and with `-`, the default
/// first. The parameter's description comes from the filter's `sort` field.
impl<S: SortKeys> PartialSchema for Sort<S> {
    fn schema() -> RefOr<Schema> {
        let values: Vec<String> = S::KEYS
            .iter()
            .flat_map(|key| [key.name.to_string(), format!("-{}", key.name)])
            .collect();
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(values))
            .default(Some(Value::String(Sort::<S>::default().as_param())))
            .into()
    }
}

/// Always inlined (`#[param(inline)]`): each resource's sort takes its own names.
impl<S: SortKeys> ToSchema for Sort<S> {}

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
    pub fn after<S: SortKeys>(sort: &Sort<S>, key: impl Serialize, tie: impl Serialize) -> Self {
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
    pub fn decode<S: SortKeys>(text: &str, sort: &Sort<S>) -> Result<Self, ApiError> {
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
pub struct PageBuilder<S> {
    sort: Sort<S>,
    limit: usize,
}

impl<S: SortKeys> PageBuilder<S> {
    pub fn new(sort: Sort<S>, limit: u32) -> Self {
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
        cut_page(items, self.limit, |last| {
            let (key, tie) = last.position.as_ref()?;
            Some(Cursor::after(&self.sort, key, tie).encode())
        })
    }
}

/// Cuts rows fetched with `limit + 1` down to `limit`; when the extra row showed that more
/// follow, the next page's cursor is the one `cursor_after` gives for the page's last row.
pub fn cut_page<T>(
    rows: &mut Vec<T>,
    limit: usize,
    cursor_after: impl FnOnce(&T) -> Option<String>,
) -> Option<String> {
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().and_then(cursor_after)
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
    pub fn new<S: SortKeys>(
        json: Bytes,
        index: usize,
        fetch: i64,
        sort: &Sort<S>,
    ) -> Result<Self, ApiError> {
        let at_cursor = i64::try_from(index).is_ok_and(|i| i + 2 == fetch);
        let position = at_cursor
            .then(|| position_in(&json, sort.name(), S::TIE))
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
    tag: &EntityTag,
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
    response.insert_header((header::ETAG, tag.clone()));
    if let Some(cursor) = next_cursor {
        response.insert_header((header::LINK, next_link(req, cursor)));
    }
    response
        .content_type(mime::APPLICATION_JSON)
        .body(crate::http::Sliced(body.into()))
}

/// The weak ETag of every list page while the audit log is at `mark` (`audit::mark`): any
/// committed change moves the mark, so a page's tag changes whenever its content can have.
/// The service's version is part of it, as a new version may render records differently.
pub fn list_etag(mark: &str) -> EntityTag {
    EntityTag::new_weak(format!("{}-{mark}", env!("CARGO_PKG_VERSION")))
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

    /// For every sort, both directions: the cursor after the next `count` rows, read from the
    /// sort's columns alone, continues the list where a page of those rows ends, and is `None`
    /// when fewer rows are left.
    #[test]
    fn the_cursor_after_some_rows_continues_where_a_page_of_them_ends() {
        use crate::events::{EventFilter, EventSort, Events};
        use crate::resource::{cursor_after_items, list_items};
        let (_dir, mut conn) =
            crate::cli::bench_data::seeded_sqlite(crate::cli::bench_data::BenchSizes {
                partners: 5,
                agreements: 5,
                events: 120,
            });
        let filter = EventFilter::default();
        for key in EventSort::KEYS {
            for sort in [key.name.to_owned(), format!("-{}", key.name)] {
                let sort = Sort::<EventSort>::parse(&sort).expect("a sort");
                let all: Vec<i64> = list_items::<Events>(&mut conn, &filter, sort, None, 200)
                    .expect("every event")
                    .iter()
                    .map(|event| event.id)
                    .collect();
                assert_eq!(all.len(), 120);
                let tenth = list_items::<Events>(&mut conn, &filter, sort, None, 10)
                    .expect("a page")
                    .pop()
                    .expect("a tenth event");
                let tenth = serde_json::to_value(&tenth).expect("JSON");
                let start = Cursor::after(&sort, &tenth[sort.name()], &tenth["id"]);
                // (after, rows) -> the position of the row that follows them in `all`.
                for (from, count, next) in [
                    (None, 10, Some(10)),
                    (Some(&start), 50, Some(60)),
                    (Some(&start), 110, Some(120)),
                    (Some(&start), 111, None),
                ] {
                    let cursor =
                        cursor_after_items::<Events>(&mut conn, &filter, sort, from, count)
                            .expect("read");
                    let Some(next) = next else {
                        assert!(cursor.is_none(), "{sort:?} {count}: fewer rows are left");
                        continue;
                    };
                    let cursor = cursor.expect("a cursor");
                    let following: Vec<i64> =
                        list_items::<Events>(&mut conn, &filter, sort, Some(&cursor), 1)
                            .expect("the row after it")
                            .iter()
                            .map(|event| event.id)
                            .collect();
                    assert_eq!(
                        following,
                        all.get(next).into_iter().copied().collect::<Vec<_>>(),
                        "{sort:?} {count}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_page_is_cut_to_its_limit_and_continues_after_its_last_row_only_when_more_follow() {
        let mut rows = vec![1, 2, 3, 4];
        let next = cut_page(&mut rows, 3, |last| Some(format!("after {last}")));
        assert_eq!((rows, next.as_deref()), (vec![1, 2, 3], Some("after 3")));
        let mut rows = vec![1, 2, 3];
        let next = cut_page(&mut rows, 3, |last| Some(format!("after {last}")));
        assert_eq!((rows, next), (vec![1, 2, 3], None));
    }

    use crate::schema::partners;

    /// A sort table of two keys over a real table.
    struct Field;

    impl SortKeys for Field {
        type Table = partners::table;
        type Tie = partners::id;
        const TIE: &'static str = "id";
        const KEYS: &'static [SortKey<Self>] = &[
            SortKey::by::<partners::name>("name"),
            SortKey::by::<partners::created_at>("created_at"),
        ];
    }

    #[test]
    fn sort_parses_names_and_descending_prefix() {
        let sort = Sort::<Field>::parse("-created_at").expect("a key");
        assert_eq!(
            (sort.name(), sort.direction),
            ("created_at", Direction::Desc)
        );
        assert_eq!(
            Sort::<Field>::parse("name").map(|s| s.as_param()),
            Ok("name".to_owned())
        );
        assert!(Sort::<Field>::parse("colour").is_err());
        assert!(Sort::<Field>::parse("--name").is_err());
        assert_eq!(Sort::<Field>::default().name(), "name");
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
        let response = respond(&req, &list_etag("1"), &rows, cursor.as_deref(), Some(9));
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
        let last = respond(&req, &list_etag("1"), &[] as &[RenderedItem], None, None);
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
