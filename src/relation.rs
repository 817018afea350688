//! Lists that belong to a record (an event's participants, an agreement's parties and
//! countries) and are also kept as rows of a relation table, which filters and references read.
//! How such rows follow the record is written once here; each relation says only how its rows
//! are cleared and added.

use diesel::QueryResult;

use crate::db::DbConnection;

/// A relation table holding a list of a record (its owner), one row per item, in order.
pub trait Relation {
    type Item: PartialEq;

    /// Removes every row of `owner`.
    fn clear(conn: &mut DbConnection, owner: i64) -> QueryResult<()>;
    /// Adds one row per item of `items` (not empty) for `owner`, with its position.
    fn add(conn: &mut DbConnection, owner: i64, items: &[Self::Item]) -> QueryResult<()>;
}

/// Makes the rows of `owner` hold `after`: all of them for a new record (`before` is `None`),
/// and for a changed one only when the list changed, so that a PATCH of a text leaves them
/// alone.
pub fn write<R: Relation>(
    conn: &mut DbConnection,
    owner: i64,
    before: Option<&[R::Item]>,
    after: &[R::Item],
) -> QueryResult<()> {
    if before == Some(after) {
        return Ok(());
    }
    if before.is_some() {
        R::clear(conn, owner)?;
    }
    if !after.is_empty() {
        R::add(conn, owner, after)?;
    }
    Ok(())
}
