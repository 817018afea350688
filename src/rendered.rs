//! Records already rendered as JSON, kept by key and version, so that a list page whose rows
//! have not changed is answered without decoding and serializing them again.
//!
//! The database stays the only source of truth: a page first reads which rows it holds, at which
//! versions (one statement, as before), and only the rendering of a row is reused. A record's
//! version grows on every change and ids are never reused (AUTOINCREMENT on SQLite, identity
//! columns on PostgreSQL), so one key at one version always renders to the same bytes — the
//! promise its strong ETag already makes. Nothing needs invalidating, and instances behind a
//! load balancer need share nothing. The memory is bounded (`RENDERED_CACHE_MIB`).

use std::cell::RefCell;

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde::Serialize;

use crate::audit::ResourceType;
use crate::error::ApiError;

/// Which record, at which version.
type RowVersion = (ResourceType, i64, i64);

/// The rendered rows, up to a number of bytes; the least useful go first (S3-FIFO).
pub struct RenderedRows {
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

impl RenderedRows {
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
    pub fn get(&self, kind: ResourceType, id: i64, version: i64) -> Option<Bytes> {
        self.cache.as_ref()?.get(&(kind, id, version))
    }

    /// Renders `item` (which is `id` at `version`) and keeps the result.
    pub fn render<T: Serialize>(
        &self,
        kind: ResourceType,
        id: i64,
        version: i64,
        item: &T,
    ) -> Result<Bytes, ApiError> {
        let json = render(item)?;
        if let Some(cache) = &self.cache {
            cache.insert((kind, id, version), json.clone());
        }
        Ok(json)
    }
}

/// `item` as JSON.
pub fn render<T: Serialize>(item: &T) -> Result<Bytes, ApiError> {
    thread_local! {
        /// Where each thread writes: grown once, so rendering does not reallocate as it goes
        /// (from empty, about six times per record).
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        serde_json::to_writer(&mut *scratch, item)
            .map_err(|e| ApiError::internal("cannot render a record as JSON", e))?;
        // Copied out at its exact length: what is kept weighs what it holds.
        let json = Bytes::copy_from_slice(scratch);
        if scratch.capacity() > SCRATCH_LIMIT {
            *scratch = Vec::new();
        }
        Ok(json)
    })
}

/// A thread's scratch buffer is given back when a record needed more than this.
const SCRATCH_LIMIT: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendering_is_found_only_at_its_own_version() {
        let rows = RenderedRows::new(1 << 20);
        let json = rows
            .render(ResourceType::Event, 7, 2, &serde_json::json!({"id": 7}))
            .expect("renders");
        assert_eq!(&json[..], br#"{"id":7}"#);
        assert_eq!(rows.get(ResourceType::Event, 7, 2), Some(json));
        assert_eq!(rows.get(ResourceType::Event, 7, 3), None);
        assert_eq!(rows.get(ResourceType::Event, 8, 2), None);
        assert_eq!(rows.get(ResourceType::Partner, 7, 2), None);
    }

    #[test]
    fn a_zero_capacity_keeps_nothing_but_still_renders() {
        let rows = RenderedRows::new(0);
        assert!(!rows.enabled());
        let json = rows
            .render(ResourceType::Event, 1, 1, &serde_json::json!([1]))
            .expect("renders");
        assert_eq!(&json[..], b"[1]");
        assert_eq!(rows.get(ResourceType::Event, 1, 1), None);
    }

    #[test]
    fn the_kept_bytes_stay_within_the_capacity() {
        let rows = RenderedRows::new(64 * 1024);
        let big = "x".repeat(1000);
        for id in 0..1000 {
            rows.render(ResourceType::Event, id, 1, &big)
                .expect("renders");
        }
        let cache = rows.cache.as_ref().expect("enabled");
        assert!(cache.weight() <= 64 * 1024, "{}", cache.weight());
        assert_eq!(
            rows.get(ResourceType::Event, 999, 1).map(|j| j.len()),
            Some(1002)
        );
        assert!(cache.len() > 10);
    }
}
