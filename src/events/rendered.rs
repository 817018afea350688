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
