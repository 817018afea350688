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
//!
//! On SQLite, [`plan`] first counts a term's matches: a rare term is read from the index and
//! sorted; a common one is found by walking the list's order, keeping the rows the index lists
//! or, in a small table, testing each row's text. The three give the same rows.

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
    /// On SQLite, a test of each row's own text ([`Plan::Scan`]).
    sqlite_scan: &'static str,
    postgres_long: &'static str,
    postgres_short: &'static str,
    /// On SQLite: the table's largest id, about its size.
    sqlite_size: &'static str,
    /// On SQLite (`?` binds the needle, then the most to count): how many rows it matches.
    sqlite_long_count: &'static str,
    sqlite_short_count: &'static str,
}

/// The most matches [`plan`] counts.
const MOST: i64 = 1000;

/// Up to this many rows, a common term is found by testing each row's text in the list's
/// order ([`Plan::Scan`]): so small a table stays in SQLite's page cache, and the scan stops
/// at the end of its page. (2 000 partners, `ministry`: 0.41 ms scanned, 0.61 ms walked.)
const SCAN_ROWS: i64 = 10_000;

/// The matches from which a term is common in a table of about `rows` rows ([`is_common`]).
fn common_from(rows: i64) -> i64 {
    let root = (rows.max(0) as f64).sqrt() as i64;
    root.clamp(20, MOST)
}

/// Whether a term with `matches` matches in a table of about `rows` rows is common: a page is
/// then found sooner by walking the list's order and testing each row (about 50 × rows /
/// matches rows) than by reading every match and sorting them (`matches` rows, each costing
/// some fifty times a walked one): from about the square root of the table's size. (A million
/// events: 10 000 matches took 78 ms read and sorted, 9 ms walked; 2 matches 6 ms read, 145 ms
/// walked. 2 000 partners, `ministry`: see bench/RESULTS.md.)
pub fn is_common(matches: i64, rows: i64) -> bool {
    matches >= common_from(rows)
}

macro_rules! index_of {
    ($table:literal) => {
        SearchIndex {
            sqlite_long: concat!(
                "+",
                $table,
                ".id IN (SELECT rowid FROM ",
                $table,
                "_trigrams WHERE ",
                $table,
                "_trigrams MATCH '\"' || replace({}, '\"', '\"\"') || '\"')"
            ),
            sqlite_short: concat!(
                "+",
                $table,
                ".id IN (SELECT rowid FROM ",
                $table,
                "_grams WHERE ",
                $table,
                "_grams MATCH '\"' || hex({}) || '\"')"
            ),
            sqlite_scan: concat!("instr(", $table, ".search_text, {}) > 0"),
            postgres_long: concat!(
                $table,
                ".search_text LIKE '%' || replace(replace(replace({}, '\\', '\\\\'), \
                 '%', '\\%'), '_', '\\_') || '%'"
            ),
            postgres_short: concat!("search_grams(", $table, ".search_text) @> ARRAY[{}]"),
            sqlite_size: concat!("SELECT coalesce(max(rowid), 0) AS n FROM ", $table),
            sqlite_long_count: concat!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM ",
                $table,
                "_trigrams WHERE ",
                $table,
                "_trigrams MATCH '\"' || replace(?, '\"', '\"\"') || '\"' LIMIT ?)"
            ),
            sqlite_short_count: concat!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM ",
                $table,
                "_grams WHERE ",
                $table,
                "_grams MATCH '\"' || hex(?) || '\"' LIMIT ?)"
            ),
        }
    };
}

pub const PARTNERS: SearchIndex = index_of!("partners");
pub const AGREEMENTS: SearchIndex = index_of!("agreements");
pub const EVENTS: SearchIndex = index_of!("events");

/// How the rows a search matches are found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plan {
    /// Read the matches from the index, then sort them (a rare term; PostgreSQL always, whose
    /// planner weighs this itself).
    #[default]
    Index,
    /// Walk the list's order and keep the rows the index lists (a common term on SQLite).
    Walk,
    /// Walk the list's order and test each row's text (a common term in a small SQLite table).
    Scan,
}

/// `q` as a list takes it, with how its rows are best found ([`plan`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    pub q: String,
    pub plan: Plan,
}

impl From<String> for Search {
    fn from(q: String) -> Self {
        Search {
            q,
            plan: Plan::Index,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Search {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Search::from)
    }
}

/// The filter of rows whose search text contains `search.q`; `None` for a blank one.
pub fn filter(
    index: &SearchIndex,
    search: &Search,
) -> Option<Dialects<Bool, AsExprOf<String, Text>>> {
    let needle = needle(&search.q);
    let (sqlite, postgres) = match needle.chars().count() {
        0 => return None,
        1 | 2 => (index.sqlite_short, index.postgres_short),
        _ => (index.sqlite_long, index.postgres_long),
    };
    // The leading `+` keeps SQLite from reading the rows by the id list: it walks the order.
    let sqlite = match search.plan {
        Plan::Index => &sqlite[1..],
        Plan::Walk => sqlite,
        Plan::Scan => index.sqlite_scan,
    };
    Some(dialects_with(sqlite, postgres, needle.into_sql::<Text>()))
}

fn needle(q: &str) -> String {
    q.trim().to_lowercase()
}

/// Decides how `search` is best answered, before a page is read: on SQLite a common term
/// ([`is_common`]) is walked, or in a small table scanned. PostgreSQL's planner weighs this
/// itself, from the index's statistics.
pub fn plan(
    conn: &mut crate::db::DbConnection,
    index: &SearchIndex,
    search: &mut Search,
) -> QueryResult<()> {
    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let crate::db::DbConnection::Sqlite(lite) = conn else {
        return Ok(());
    };
    let needle = needle(&search.q);
    let count = match needle.chars().count() {
        0 => return Ok(()),
        1 | 2 => index.sqlite_short_count,
        _ => index.sqlite_long_count,
    };
    let size = diesel::sql_query(index.sqlite_size)
        .get_result::<Number>(lite)?
        .n;
    let common_from = common_from(size);
    let matches = diesel::sql_query(count)
        .bind::<Text, _>(needle)
        .bind::<diesel::sql_types::BigInt, _>(common_from)
        .get_result::<Number>(lite)?
        .n;
    search.plan = choose(matches, size);
    Ok(())
}

/// The plan for a term with `matches` matches (counted up to [`common_from`]) in a table of
/// about `rows` rows.
fn choose(matches: i64, rows: i64) -> Plan {
    match (is_common(matches, rows), rows <= SCAN_ROWS) {
        (false, _) => Plan::Index,
        (true, false) => Plan::Walk,
        (true, true) => Plan::Scan,
    }
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

    /// The same pages, walked, scanned or read from the index, for common and rare terms, long
    /// and short, in two orders and after a cursor; and each plan chosen where it should be.
    #[test]
    fn every_plan_lists_what_the_index_lists() {
        use crate::events::{EventFilter, EventSort, Events};
        use crate::pagination::{Cursor, Sort};
        let (_dir, mut conn) =
            crate::cli::bench_data::seeded_sqlite(crate::cli::bench_data::BenchSizes {
                partners: 20,
                agreements: 20,
                events: 2500,
            });
        let sorts: [Sort<EventSort>; 2] =
            [Default::default(), Sort::parse("-title").expect("a sort")];
        let mut chosen = Vec::new();
        for q in ["on", "o", "seminar", "#12", "friendship", "zzzzqqq", "한국"] {
            for sort in sorts {
                let page =
                    |conn: &mut crate::db::DbConnection, plan: Plan, after: Option<&Cursor>| {
                        let filter = EventFilter {
                            q: Some(Search {
                                q: q.to_owned(),
                                plan,
                            }),
                            ..Default::default()
                        };
                        crate::resource::list_items::<Events>(conn, &filter, sort, after, 40)
                            .expect("a page")
                            .iter()
                            .map(|event| (event.id, event.title.clone()))
                            .collect::<Vec<_>>()
                    };
                let indexed = page(&mut conn, Plan::Index, None);
                for plan in [Plan::Walk, Plan::Scan] {
                    assert_eq!(page(&mut conn, plan, None), indexed, "q={q} {plan:?}");
                }
                let mut planned = Search::from(q.to_owned());
                plan(&mut conn, &EVENTS, &mut planned).expect("planned");
                chosen.push((q, planned.plan));
                if let Some((id, title)) = indexed.get(20) {
                    let cursor = match sort.name() {
                        "title" => Cursor::after(&sort, title.as_str(), *id),
                        _ => continue,
                    };
                    let next = page(&mut conn, Plan::Index, Some(&cursor));
                    for plan in [Plan::Walk, Plan::Scan] {
                        let walked = page(&mut conn, plan, Some(&cursor));
                        assert_eq!(walked, next, "q={q} {plan:?} after");
                    }
                }
            }
        }
        // 2 500 events: a small table, so a common term is scanned, a rare one read by index.
        assert!(chosen.contains(&("seminar", Plan::Scan)), "{chosen:?}");
        assert!(chosen.contains(&("zzzzqqq", Plan::Index)), "{chosen:?}");
    }

    #[test]
    fn the_counts_stop_where_a_term_is_common() {
        for index in [PARTNERS, AGREEMENTS, EVENTS] {
            for count in [index.sqlite_long_count, index.sqlite_short_count] {
                assert!(count.ends_with("LIMIT ?)"), "{count}");
            }
            for filter in [index.sqlite_long, index.sqlite_short] {
                assert!(filter.starts_with('+'), "{filter}");
            }
        }
    }

    #[test]
    fn a_term_is_common_from_about_the_square_root_of_the_table() {
        assert!(is_common(1000, 1_000_000) && !is_common(999, 1_000_000));
        assert!(is_common(1000, 50_000_000), "counted up to 1 000 at most");
        assert!(is_common(44, 2000) && !is_common(43, 2000));
        assert!(!is_common(19, 100) && is_common(20, 100), "at least 20");
        assert!(!is_common(0, 0));
        assert_eq!(common_from(1_000_000), MOST);
        assert_eq!(common_from(2000), 44);
    }

    #[test]
    fn a_common_term_is_scanned_in_a_small_table_and_walked_in_a_large_one() {
        assert_eq!(choose(44, 2000), Plan::Scan);
        assert_eq!(choose(43, 2000), Plan::Index);
        assert_eq!(choose(100, SCAN_ROWS), Plan::Scan);
        assert_eq!(choose(101, SCAN_ROWS + 1), Plan::Walk);
        assert_eq!(choose(1000, 1_000_000), Plan::Walk);
        assert_eq!(choose(2, 1_000_000), Plan::Index);
    }

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
        assert!(filter(&EVENTS, &"  ".to_owned().into()).is_none());
        assert!(filter(&EVENTS, &" a ".to_owned().into()).is_some());
    }
}
