//! Events already rendered as JSON, kept by id and version, so that a list page whose events
//! have not changed is answered without decoding and serializing them again: a speed-up for the
//! busiest list, beside the plain way (`resource::render_rows`), which gives the same bytes.
//!
//! The database stays the only source of truth: a page first reads which rows it holds, at which
//! versions (one statement, as before), and only the rendering of a row is reused. A record's
//! version grows on every change and ids are never reused (AUTOINCREMENT on SQLite, identity
//! columns on PostgreSQL), so one key at one version always renders to the same bytes — the
//! promise its strong ETag already makes. Nothing needs invalidating, and instances behind a
//! load balancer need share nothing. The memory is bounded (`RENDERED_CACHE_MIB`).

use std::collections::HashMap;

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde::Serialize;

use super::handlers::Events;
use super::model::{Event, EventFilter, EventSort, EventStub};
use super::queries;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::http::render_json;
use crate::pagination::{Cursor, Pages, RenderedItem, Sort};
use crate::resource;

/// Which event, at which version.
type RowVersion = (i64, i64);

/// The rendered events, up to a number of bytes; the least useful go first (S3-FIFO).
pub struct RenderedEvents {
    cache: Option<Cache<RowVersion, Bytes, ByLength>>,
}

/// An entry weighs about the memory it takes.
#[derive(Clone)]
struct ByLength;

impl Weighter<RowVersion, Bytes> for ByLength {
    fn weight(&self, _: &RowVersion, json: &Bytes) -> u64 {
        json.len() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

/// What an entry costs besides its JSON: its key, its handle, its slot in the table and the
/// allocator's header, roughly.
const ENTRY_OVERHEAD_BYTES: u64 = 96;

/// A typical rendered record's length, to size the cache's table.
const TYPICAL_ROW_BYTES: u64 = 512;

impl RenderedEvents {
    /// Keeps up to `capacity_bytes` of rendered rows; 0 keeps none.
    pub fn new(capacity_bytes: u64) -> Self {
        let cache = (capacity_bytes > 0).then(|| {
            let rows = (capacity_bytes / TYPICAL_ROW_BYTES).max(16) as usize;
            Cache::with_weighter(rows, capacity_bytes, ByLength)
        });
        Self { cache }
    }

    /// Whether renderings are kept at all.
    pub fn enabled(&self) -> bool {
        self.cache.is_some()
    }

    /// The rendering of `id` at `version`, if one is kept.
    pub fn get(&self, id: i64, version: i64) -> Option<Bytes> {
        self.cache.as_ref()?.get(&(id, version))
    }

    /// Renders `item` (which is `id` at `version`) and keeps the result.
    pub fn render<T: Serialize>(&self, id: i64, version: i64, item: &T) -> Result<Bytes, ApiError> {
        let json = render_json(item)?;
        if let Some(cache) = &self.cache {
            cache.insert((id, version), json.clone());
        }
        Ok(json)
    }
}

/// One page of events, as [`resource::render_rows`] gives it (byte for byte), reusing the
/// renderings of events already kept at the versions the page holds: the page first reads
/// which events and versions it holds, then whole rows only for those not kept. A row that
/// changed or went between the two statements makes it read the page the plain way.
pub fn read_page(
    conn: &mut DbConnection,
    rendered: &RenderedEvents,
    filter: &EventFilter,
    sort: Sort<EventSort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<RenderedItem>, ApiError> {
    if !rendered.enabled() {
        return resource::render_rows::<Events>(conn, filter, sort, cursor, fetch);
    }
    let stubs: Vec<EventStub> =
        EventSort::read(conn, &|| queries::matching(filter), sort, cursor, fetch)?;
    let mut found: Vec<_> = stubs
        .iter()
        .map(|stub| rendered.get(stub.id, stub.version))
        .collect();
    let missing: Vec<i64> = stubs
        .iter()
        .zip(&found)
        .filter(|(_, json)| json.is_none())
        .map(|(stub, _)| stub.id)
        .collect();
    if !missing.is_empty() {
        let mut fresh: HashMap<i64, Event> = queries::find_many(conn, &missing)?
            .into_iter()
            .map(|event| (event.id, event))
            .collect();
        for (stub, json) in stubs.iter().zip(found.iter_mut()) {
            if json.is_some() {
                continue;
            }
            match fresh.remove(&stub.id) {
                Some(event) if event.version == stub.version => {
                    *json = Some(rendered.render(event.id, event.version, &event)?);
                }
                _ => return resource::render_rows::<Events>(conn, filter, sort, cursor, fetch),
            }
        }
    }
    found
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, json)| RenderedItem::new(json, i, fetch, &sort))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendering_is_found_only_at_its_own_version() {
        let rows = RenderedEvents::new(1 << 20);
        let json = rows
            .render(7, 2, &serde_json::json!({"id": 7}))
            .expect("renders");
        assert_eq!(&json[..], br#"{"id":7}"#);
        assert_eq!(rows.get(7, 2), Some(json));
        assert_eq!(rows.get(7, 3), None);
        assert_eq!(rows.get(8, 2), None);
    }

    /// A page's stubs come from a range index alone, without a table lookup per row: what
    /// this module's speed stands on (migrations 000006 and 000029). SQLite's plan says so.
    #[test]
    fn stubs_are_read_from_an_index_alone() {
        use diesel::connection::InstrumentationEvent;
        use diesel::prelude::*;
        use std::sync::{Arc, Mutex};

        #[derive(QueryableByName)]
        struct PlanStep {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }

        let (_dir, mut conn) =
            crate::cli::bench_data::seeded_sqlite(crate::cli::bench_data::BenchSizes {
                partners: 0,
                agreements: 0,
                events: 0,
            });
        let started = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = started.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                let text = query.to_string();
                let sql = text.split(" -- binds:").next().unwrap_or_default();
                seen.lock().expect("not poisoned").push(sql.to_owned());
            }
        });
        let filters: Vec<EventFilter> = [
            "",
            "country=KZ",
            "kind=forum",
            "agreement=1",
            "include_deleted=true",
        ]
        .into_iter()
        .map(|query| serde_urlencoded::from_str(query).expect("a filter"))
        .collect();
        let sort = Sort::<EventSort>::default();
        let cursor = Cursor::after(&sort, "2024-06-24", 2);
        for filter in &filters {
            for after in [None, Some(&cursor)] {
                started.lock().expect("not poisoned").clear();
                let _: Vec<EventStub> =
                    EventSort::read(&mut conn, &|| queries::matching(filter), sort, after, 20)
                        .expect("a page of stubs");
                let statements = started.lock().expect("not poisoned").clone();
                let pages: Vec<&String> =
                    statements.iter().filter(|s| s.contains("SELECT")).collect();
                assert!(!pages.is_empty(), "{filter:?}: no statement seen");
                for sql in pages {
                    let plan: Vec<PlanStep> =
                        diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                            .load(&mut conn)
                            .expect("a query plan");
                    let plan: Vec<String> = plan.into_iter().map(|step| step.detail).collect();
                    assert!(
                        plan.iter()
                            .any(|step| step.contains("USING COVERING INDEX events_")),
                        "{filter:?} after {after:?}: {sql}\n{plan:?}"
                    );
                    assert!(
                        !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                        "{filter:?} after {after:?}: sorted apart: {plan:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_zero_capacity_keeps_nothing_but_still_renders() {
        let rows = RenderedEvents::new(0);
        assert!(!rows.enabled());
        let json = rows.render(1, 1, &serde_json::json!([1])).expect("renders");
        assert_eq!(&json[..], b"[1]");
        assert_eq!(rows.get(1, 1), None);
    }

    #[test]
    fn the_kept_bytes_stay_within_the_capacity() {
        let rows = RenderedEvents::new(64 * 1024);
        let big = "x".repeat(1000);
        for id in 0..1000 {
            rows.render(id, 1, &big).expect("renders");
        }
        let cache = rows.cache.as_ref().expect("enabled");
        assert!(cache.weight() <= 64 * 1024, "{}", cache.weight());
        assert_eq!(rows.get(999, 1).map(|j| j.len()), Some(1002));
        assert!(cache.len() > 10);
    }
}
