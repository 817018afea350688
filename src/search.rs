//! `q`, the text search of the partners, agreements and events lists, answered from an index.
//!
//! `q` means a case-insensitive substring of the record's texts, in any script, every character
//! taken literally. Each record keeps its texts lower-cased in Rust (`search_text`, see
//! `validation::search_text`); `q` is trimmed and lower-cased the same way (the needle), and the
//! search asks whether the needle is a substring of `search_text`. The indexes find the rows
//! that contain it without reading every row (migration `search_index` builds them and keeps
//! them in step with the table, by triggers on SQLite, inside the writing transaction):
//!
//! | needle | SQLite | PostgreSQL |
//! |---|---|---|
//! | 3 characters or more | FTS5 `trigram` table (`case_sensitive 1`), a MATCH phrase | `pg_trgm` GIN index, `LIKE` |
//! | 1 or 2 characters | FTS5 table of the text's 1- and 2-character grams (hex), one token | GIN index on `search_grams(search_text)`, `@>` |
//!
//! A phrase of trigrams at consecutive positions is a substring; one gram is a substring of one
//! or two characters; so each lookup is exact, with no second check. Countries (about 250 rows)
//! keep a plain `LIKE`, faster there than any index.

use std::collections::BTreeSet;
use std::fmt::Write;

use diesel::dsl::AsExprOf;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel::sqlite::SqliteConnection;

use crate::sql::{Dialects, dialects_with};

/// The SQL of one table's `q` filter, on each backend, for each length of needle. Each binds
/// the needle once (`{}`); the SQL makes of it what its index is asked: an FTS5 phrase (`"`
/// doubled), the hex of a gram, a `LIKE` pattern with `%`, `_` and `\` escaped.
pub struct SearchIndex {
    sqlite_long: &'static str,
    sqlite_short: &'static str,
    postgres_long: &'static str,
    postgres_short: &'static str,
}

macro_rules! index_of {
    ($table:literal) => {
        SearchIndex {
            sqlite_long: concat!(
                $table,
                ".id IN (SELECT rowid FROM ",
                $table,
                "_trigrams WHERE ",
                $table,
                "_trigrams MATCH '\"' || replace({}, '\"', '\"\"') || '\"')"
            ),
            sqlite_short: concat!(
                $table,
                ".id IN (SELECT rowid FROM ",
                $table,
                "_grams WHERE ",
                $table,
                "_grams MATCH '\"' || hex({}) || '\"')"
            ),
            postgres_long: concat!(
                $table,
                ".search_text LIKE '%' || replace(replace(replace({}, '\\', '\\\\'), \
                 '%', '\\%'), '_', '\\_') || '%'"
            ),
            postgres_short: concat!("search_grams(", $table, ".search_text) @> ARRAY[{}]"),
        }
    };
}

pub const PARTNERS: SearchIndex = index_of!("partners");
pub const AGREEMENTS: SearchIndex = index_of!("agreements");
pub const EVENTS: SearchIndex = index_of!("events");

/// The filter of rows whose search text contains `q`; `None` for a blank `q` (no filter).
pub fn filter(index: &SearchIndex, q: &str) -> Option<Dialects<Bool, AsExprOf<String, Text>>> {
    let needle = q.trim().to_lowercase();
    let (sqlite, postgres) = match needle.chars().count() {
        0 => return None,
        1 | 2 => (index.sqlite_short, index.postgres_short),
        _ => (index.sqlite_long, index.postgres_long),
    };
    Some(dialects_with(sqlite, postgres, needle.into_sql::<Text>()))
}

/// The distinct 1- and 2-character grams of `text`, each as the upper-case hex of its UTF-8
/// bytes (what SQLite's `hex()` gives), separated by spaces: the document of the grams index,
/// whose `ascii` tokenizer sees each gram as one token whatever its characters.
pub fn grams(text: &str) -> String {
    let mut grams = BTreeSet::new();
    let mut starts = text.char_indices().map(|(i, _)| i).peekable();
    while let Some(start) = starts.next() {
        let one = text[start..].chars().next().map_or(0, char::len_utf8);
        grams.insert(&text[start..start + one]);
        if let Some(&next) = starts.peek() {
            let two = text[next..].chars().next().map_or(0, char::len_utf8);
            grams.insert(&text[start..next + two]);
        }
    }
    let mut document = String::with_capacity(grams.len() * 7);
    for gram in grams {
        if !document.is_empty() {
            document.push(' ');
        }
        for byte in gram.bytes() {
            let _ = write!(document, "{byte:02X}");
        }
    }
    document
}

diesel::define_sql_function! {
    /// `grams(text)` for SQLite's triggers and migration (registered on every connection).
    fn search_grams(text: Text) -> Text;
}

/// Makes `search_grams` known to an SQLite connection: the triggers that keep the grams index
/// call it, so every connection that writes a searched table needs it.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    search_grams_utils::register_impl(conn, |text: String| grams(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_are_the_distinct_one_and_two_character_substrings_in_hex() {
        assert_eq!(grams(""), "");
        assert_eq!(grams("a"), "61");
        assert_eq!(grams("aaa"), "61 6161");
        // 한 = ED 95 9C, 국 = EA B5 AD
        assert_eq!(grams("한국"), "EAB5AD ED959C ED959CEAB5AD");
        assert_eq!(grams("a%"), "25 61 6125");
    }

    #[test]
    fn blank_queries_filter_nothing() {
        assert!(filter(&EVENTS, "  ").is_none());
        assert!(filter(&EVENTS, " a ").is_some());
    }
}
