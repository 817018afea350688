//! SQL the query builder lacks: text the two backends say differently, in a form a connection
//! can keep prepared (diesel parses a raw `sql()` literal again on every call, as it cannot
//! know the text is fixed); row-value comparisons, where keyset pages start; and JSON list
//! columns.

use std::cell::OnceCell;
use std::marker::PhantomData;

use diesel::Queryable;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::dsl::AsExprOf;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryBuilder, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::{DbConnection, MultiBackend};

/// SQL text, one per backend, of SQL type `ST`: for what the two dialects say differently.
/// A `{}` in the text stands for `value`, a bound parameter (or nothing, for `()`).
#[derive(Debug, Clone, Copy)]
pub struct Dialects<ST, V = ()> {
    sqlite: &'static str,
    postgres: &'static str,
    value: V,
    sql_type: PhantomData<ST>,
}

/// `sqlite` on SQLite, `postgres` on PostgreSQL, each with `value` where it says `{}`.
pub const fn dialects_with<ST, V>(
    sqlite: &'static str,
    postgres: &'static str,
    value: V,
) -> Dialects<ST, V> {
    Dialects {
        sqlite,
        postgres,
        value,
        sql_type: PhantomData,
    }
}

/// `text`, with `value` in place of its `{}`.
fn walk_text<'b, DB: Backend>(
    text: &'static str,
    value: &'b impl QueryFragment<DB>,
    mut out: AstPass<'_, 'b, DB>,
) -> diesel::QueryResult<()> {
    match text.split_once("{}") {
        Some((before, after)) => {
            out.push_sql(before);
            value.walk_ast(out.reborrow())?;
            out.push_sql(after);
        }
        None => out.push_sql(text),
    }
    Ok(())
}

impl<ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType, V> Expression
    for Dialects<ST, V>
{
    type SqlType = ST;
}

impl<ST, V: QueryFragment<Pg>> QueryFragment<Pg> for Dialects<ST, V> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        walk_text(self.postgres, &self.value, out)
    }
}

impl<ST, V: QueryFragment<Sqlite>> QueryFragment<Sqlite> for Dialects<ST, V> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> diesel::QueryResult<()> {
        walk_text(self.sqlite, &self.value, out)
    }
}

impl<ST, V> QueryFragment<MultiBackend> for Dialects<ST, V>
where
    Self: QueryFragment<Pg> + QueryFragment<Sqlite>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

/// Not static: two `Dialects` of one SQL type may differ in text, so the cache must key on it.
impl<ST: 'static, V> QueryId for Dialects<ST, V> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, V, GB> ValidGrouping<GB> for Dialects<ST, V> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<ST, V, QS> AppearsOnTable<QS> for Dialects<ST, V> where Self: Expression {}

impl<ST, V, QS> SelectableExpression<QS> for Dialects<ST, V> where Self: AppearsOnTable<QS> {}

/// The expression [`database_now`] gives.
pub type DatabaseNow = Dialects<Timestamp, AsExprOf<chrono::NaiveDateTime, Timestamp>>;

/// The time a write stamps a record with (`created_at`, `updated_at`): the database's clock,
/// so that every service instance behind a load balancer stamps by one clock. On PostgreSQL
/// that is the writing transaction's start (`now()`), in UTC; SQLite runs inside this process,
/// so its clock is this process's clock, bound as a value. Take it once per write and use the
/// copy for both columns, so that a new record's two stamps are equal.
pub fn database_now() -> DatabaseNow {
    use diesel::IntoSql;
    dialects_with(
        "{}",
        "(now() AT TIME ZONE 'UTC')",
        crate::time::now().into_sql::<Timestamp>(),
    )
}

/// Whether a connection's database seeks a `(column, id) > (key, id)` range to its very start
/// in a `(column, id)` index: PostgreSQL does; SQLite seeks to `key` only, as `id` is the rowid
/// (see `pagination::read_page`).
pub fn seeks_row_values(conn: &DbConnection) -> bool {
    matches!(conn, DbConnection::Postgres(_))
}

/// `(column, tie) > (key, tie_value)` (or `<`), a row-value comparison: where a keyset page
/// starts. Both SQLite and PostgreSQL seek straight to it in a `(column, tie)` index, where the
/// same test spelled with OR makes PostgreSQL filter the rows of the cursor's key it passes.
#[derive(Debug, Clone)]
pub struct RowAfter<C, T, K, V> {
    columns: (C, T),
    values: (K, V),
    descending: bool,
}

impl<C, T, K, V> RowAfter<C, T, K, V> {
    /// Rows after `(key, tie_value)` (expressions, e.g. bound values) in `(column, tie)` order.
    pub fn new(columns: (C, T), values: (K, V)) -> Self {
        RowAfter {
            columns,
            values,
            descending: false,
        }
    }

    /// The same, in descending order when `descending`: rows before the values.
    pub fn descending(self, descending: bool) -> Self {
        RowAfter { descending, ..self }
    }
}

impl<C, T, K, V> Expression for RowAfter<C, T, K, V> {
    type SqlType = Bool;
}

impl<C, T, K, V, DB> QueryFragment<DB> for RowAfter<C, T, K, V>
where
    DB: Backend,
    C: QueryFragment<DB>,
    T: QueryFragment<DB>,
    K: QueryFragment<DB>,
    V: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("(");
        self.columns.0.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.columns.1.walk_ast(out.reborrow())?;
        out.push_sql(if self.descending { ") < (" } else { ") > (" });
        self.values.0.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.values.1.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

/// The text depends on the direction, so it is not static; boxed queries never are anyway.
impl<C, T, K, V> QueryId for RowAfter<C, T, K, V> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C, T, K, V, GB> ValidGrouping<GB> for RowAfter<C, T, K, V> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<C, T, K, V, QS> AppearsOnTable<QS> for RowAfter<C, T, K, V>
where
    C: AppearsOnTable<QS>,
    T: AppearsOnTable<QS>,
    K: AppearsOnTable<QS>,
    V: AppearsOnTable<QS>,
{
}

impl<C, T, K, V, QS> SelectableExpression<QS> for RowAfter<C, T, K, V> where Self: AppearsOnTable<QS>
{}

/// A statement run on the multi-backend connection, whose SQL text is rendered once per
/// execution instead of seven times (see [`Once`]).
pub fn rendered_once<Q>(statement: Q) -> Once<Q> {
    Once {
        statement,
        sql: OnceCell::new(),
        safe: OnceCell::new(),
    }
}

/// A whole statement, for the multi-backend connection, that remembers its SQL text and whether
/// it may be cached as a prepared statement. The connection runs a statement on the backend's
/// own connection by walking it three times (to collect its binds, to key the statement cache,
/// to ask whether it may be cached), and each of those walks renders the multi-backend
/// statement's whole text again and asks it again whether it may be cached: seven walks and
/// three texts per execution, where a backend's own statement takes three walks and one text.
/// With this wrapper the text and the answer are made once; only the binds are walked again.
/// The answers are the statement's own, so the wrapper changes nothing but the work. It must be
/// the whole statement (PostgreSQL numbers its parameters from `$1` in the text it keeps).
pub struct Once<Q> {
    statement: Q,
    sql: OnceCell<String>,
    safe: OnceCell<bool>,
}

/// The query builder of the multi-backend connection, for the backend `backend` names.
type MultiQueryBuilder = <MultiBackend as Backend>::QueryBuilder;

fn query_builder(backend: &MultiBackend) -> MultiQueryBuilder {
    match backend {
        MultiBackend::Postgres(_) => MultiQueryBuilder::Postgres(Default::default()),
        MultiBackend::Sqlite(_) => MultiQueryBuilder::Sqlite(Default::default()),
    }
}

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for Once<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        self.statement.walk_ast(pass)
    }

    fn to_sql(
        &self,
        out: &mut MultiQueryBuilder,
        backend: &MultiBackend,
    ) -> diesel::QueryResult<()> {
        let sql = match self.sql.get() {
            Some(sql) => sql,
            None => {
                let mut own = query_builder(backend);
                self.statement.to_sql(&mut own, backend)?;
                self.sql.get_or_init(|| own.finish())
            }
        };
        out.push_sql(sql);
        Ok(())
    }

    fn is_safe_to_cache_prepared(&self, backend: &MultiBackend) -> diesel::QueryResult<bool> {
        if let Some(safe) = self.safe.get() {
            return Ok(*safe);
        }
        let safe = self.statement.is_safe_to_cache_prepared(backend)?;
        Ok(*self.safe.get_or_init(|| safe))
    }
}

/// Keyed by its text, as the statement it wraps.
impl<Q> QueryId for Once<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Once<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for Once<Q> {}

/// A column holding a JSON array: what belongs to a row, kept beside it (an event's
/// participants, an agreement's parties and countries; see the list_reads migration). Read
/// into a `Vec` (`#[diesel(deserialize_as = JsonList<T>)]`), written with [`JsonList::text`].
#[derive(Clone, Debug)]
pub struct JsonList<T>(pub Vec<T>);

impl<T: Serialize> JsonList<T> {
    /// `items` as the column holds them.
    pub fn text(items: &[T]) -> diesel::QueryResult<String> {
        serde_json::to_string(items)
            .map_err(|e| diesel::result::Error::SerializationError(e.into()))
    }
}

impl<T> From<JsonList<T>> for Vec<T> {
    fn from(list: JsonList<T>) -> Self {
        list.0
    }
}

impl<T: DeserializeOwned, DB: Backend> FromSql<Text, DB> for JsonList<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, DB>>::from_sql(value)?;
        Ok(Self(serde_json::from_str(&text)?))
    }
}

impl<T: DeserializeOwned, DB: Backend> Queryable<Text, DB> for JsonList<T>
where
    String: FromSql<Text, DB>,
{
    type Row = Self;

    fn build(row: Self) -> deserialize::Result<Self> {
        Ok(row)
    }
}

/// A nullable column holding a JSON document (an audit entry's states): read as
/// `Option<Value>` (`#[diesel(deserialize_as = StoredJson)]`); text that is not JSON reads as
/// null rather than failing the whole list.
pub struct StoredJson(Option<serde_json::Value>);

impl From<StoredJson> for Option<serde_json::Value> {
    fn from(json: StoredJson) -> Self {
        json.0
    }
}

impl<DB: Backend> Queryable<Nullable<Text>, DB> for StoredJson
where
    Option<String>: FromSql<Nullable<Text>, DB>,
{
    type Row = Option<String>;

    fn build(text: Option<String>) -> deserialize::Result<Self> {
        Ok(Self(text.and_then(|t| serde_json::from_str(&t).ok())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::IntoSql;
    use diesel::query_builder::debug_query;
    use diesel::sql_types::{BigInt, Date};

    #[test]
    fn a_json_list_is_written_compactly_and_read_with_any_spacing() {
        assert_eq!(
            JsonList::text(&["KZ", "KR"]).expect("serializes"),
            r#"["KZ","KR"]"#
        );
        let read: Vec<String> = serde_json::from_str::<Vec<String>>(r#"[ "FR" ,"KZ"]"#)
            .map(|items| JsonList(items).into())
            .expect("JSON");
        assert_eq!(read, ["FR", "KZ"]);
    }

    #[test]
    fn a_statement_rendered_once_reads_what_it_reads_alone() {
        use crate::db::DbConnection;
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        use diesel::sql_types::Integer;
        diesel::table! { numbers (n) { n -> Integer, } }
        let mut conn = DbConnection::Sqlite(
            diesel::SqliteConnection::establish(":memory:").expect("in memory"),
        );
        conn.batch_execute("CREATE TABLE numbers (n INTEGER PRIMARY KEY); INSERT INTO numbers VALUES (1), (2), (3), (4);")
            .expect("table");
        let statement = |above: i32| {
            numbers::table
                .into_boxed::<MultiBackend>()
                .filter(numbers::n.gt(above.into_sql::<Integer>()))
                .order_by(numbers::n.desc())
                .select(numbers::n)
                .limit(2)
        };
        for above in [0, 2, 3] {
            let alone: Vec<i32> = statement(above).load(&mut conn).expect("alone");
            let once: Vec<i32> = rendered_once(statement(above))
                .load(&mut conn)
                .expect("once");
            assert_eq!(once, alone);
        }
        let once = rendered_once(statement(1));
        let text = |query: &dyn QueryFragment<MultiBackend>| {
            let backend = MultiBackend::Sqlite(Default::default());
            let mut builder = query_builder(&backend);
            query.to_sql(&mut builder, &backend).expect("text");
            builder.finish()
        };
        assert_eq!(text(&once), text(&statement(1)));
        assert_eq!(
            text(&once),
            text(&once),
            "kept, and the same the second time"
        );
    }

    #[test]
    fn each_backend_gets_its_own_text() {
        const ANSWER: Dialects<BigInt> = dialects_with("41 + 1", "CAST(42 AS BIGINT)", ());
        let sqlite = diesel::select(ANSWER);
        assert_eq!(
            debug_query::<Sqlite, _>(&sqlite).to_string(),
            "SELECT 41 + 1 -- binds: []"
        );
        assert_eq!(
            debug_query::<Pg, _>(&sqlite).to_string(),
            "SELECT CAST(42 AS BIGINT) -- binds: []"
        );
    }

    #[test]
    fn a_value_goes_where_the_text_says() {
        let doubled = dialects_with::<BigInt, _>("{} * 2", "2 * {}", 21i64.into_sql::<BigInt>());
        let query = diesel::select(doubled);
        assert_eq!(
            debug_query::<Sqlite, _>(&query).to_string(),
            "SELECT ? * 2 -- binds: [21]"
        );
        assert_eq!(
            debug_query::<Pg, _>(&query).to_string(),
            "SELECT 2 * $1 -- binds: [21]"
        );
    }

    #[test]
    fn a_keyset_page_starts_after_a_row_value() {
        use crate::schema::events;
        use diesel::QueryDsl;
        let day = chrono::NaiveDate::from_ymd_opt(2024, 6, 24).expect("valid date");
        let after = |descending| {
            events::table.select(events::id).filter(
                RowAfter::new(
                    (events::starts_on, events::id),
                    (day.into_sql::<Date>(), 7i64.into_sql::<BigInt>()),
                )
                .descending(descending),
            )
        };
        let sqlite = debug_query::<Sqlite, _>(&after(false)).to_string();
        assert!(
            sqlite.contains("(`events`.`starts_on`, `events`.`id`) > (?, ?)"),
            "{sqlite}"
        );
        let postgres = debug_query::<Pg, _>(&after(true)).to_string();
        assert!(
            postgres.contains(r#"("events"."starts_on", "events"."id") < ($1, $2)"#),
            "{postgres}"
        );
        assert!(
            postgres.ends_with("-- binds: [2024-06-24, 7]"),
            "{postgres}"
        );
    }
}
