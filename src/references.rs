//! Who refers to whom. Deleting a record that others still point at is refused with a 409 that
//! names them; each resource that holds a reference adds its check here, so the rule lives in
//! one place. Foreign keys in both schemas back this up.

use crate::db::DbConnection;
use crate::error::ApiError;

/// A record that other records can point at.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Country(&'a str),
}

impl Target<'_> {
    fn describe(&self) -> String {
        match self {
            Target::Country(code) => format!("country {code}"),
        }
    }
}

/// Short descriptions (`partner 3`) of the records that point at `target`.
pub fn referrers(_conn: &mut DbConnection, target: Target<'_>) -> diesel::QueryResult<Vec<String>> {
    match target {
        // Partners, agreements and events will point at countries.
        Target::Country(_) => Ok(Vec::new()),
    }
}

/// Fails with 409 naming the referrers when anything still points at `target`.
pub fn ensure_unreferenced(conn: &mut DbConnection, target: Target<'_>) -> Result<(), ApiError> {
    let found = referrers(conn, target)?;
    if found.is_empty() {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "{} is still referenced by {}; remove those references first",
        target.describe(),
        found.join(", ")
    )))
}
