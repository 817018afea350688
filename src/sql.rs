//! SQL that the two backends say differently, in a form a connection can keep prepared
//! (diesel parses a raw `sql()` literal again on every call, as it cannot know the text is
//! fixed), and JSON list columns.

use std::marker::PhantomData;

use diesel::Queryable;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::MultiBackend;

/// Fixed SQL text, one per backend, of SQL type `ST`: for what the two dialects say differently.
#[derive(Debug, Clone, Copy)]
pub struct Dialects<ST> {
    sqlite: &'static str,
    postgres: &'static str,
    sql_type: PhantomData<ST>,
}

/// `sqlite` on SQLite, `postgres` on PostgreSQL.
pub const fn dialects<ST>(sqlite: &'static str, postgres: &'static str) -> Dialects<ST> {
    Dialects {
        sqlite,
        postgres,
        sql_type: PhantomData,
    }
}

impl<ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType> Expression
    for Dialects<ST>
{
    type SqlType = ST;
}

impl<ST> QueryFragment<Pg> for Dialects<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql(self.postgres);
        Ok(())
    }
}

impl<ST> QueryFragment<Sqlite> for Dialects<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> diesel::QueryResult<()> {
        out.push_sql(self.sqlite);
        Ok(())
    }
}

impl<ST> QueryFragment<MultiBackend> for Dialects<ST> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

/// Not static: two `Dialects` of one SQL type may differ in text, so the cache must key on it.
impl<ST: 'static> QueryId for Dialects<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, GB> ValidGrouping<GB> for Dialects<ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<ST, QS> AppearsOnTable<QS> for Dialects<ST> where Self: Expression {}

impl<ST, QS> SelectableExpression<QS> for Dialects<ST> where Self: AppearsOnTable<QS> {}

/// A column holding a JSON array (what belongs to a row, kept beside it: an event's
/// participants), read as a `Vec<T>`. Use as `#[diesel(deserialize_as = JsonList<T>)]` on a
/// `Vec<T>` field; [`json_list`] writes it.
#[derive(Debug)]
pub struct JsonList<T>(Vec<T>);

impl<T: DeserializeOwned, DB: Backend> FromSql<Text, DB> for JsonList<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, DB>>::from_sql(value)?;
        Ok(JsonList(serde_json::from_str(&text)?))
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

/// `items` as the JSON text a [`JsonList`] column holds.
pub fn json_list<T: Serialize>(items: &[T]) -> diesel::QueryResult<String> {
    serde_json::to_string(items).map_err(|e| diesel::result::Error::SerializationError(e.into()))
}

impl<T> From<JsonList<T>> for Vec<T> {
    fn from(list: JsonList<T>) -> Self {
        list.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::query_builder::debug_query;
    use diesel::sql_types::BigInt;

    #[test]
    fn each_backend_gets_its_own_text() {
        const ANSWER: Dialects<BigInt> = dialects("41 + 1", "CAST(42 AS BIGINT)");
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
}
