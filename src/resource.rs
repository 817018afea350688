//! The common behaviour of every resource, written once: lists with
//! cursors, reads with ETags, creates with `Location`, replaces and merge patches under
//! `If-Match`, deletes that respect references — each write in one transaction with its audit
//! entry. A resource module says what is particular to it by implementing [`Listed`] and
//! [`Resource`]; its handlers are thin, documented wrappers around the functions here.

use std::fmt::Display;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;

use crate::audit::{self, AuditAction, ResourceType};
use crate::auth::Actor;
use crate::db::{Db, DbConnection};
use crate::error::ApiError;
use crate::http::{
    Checked, NoneMatch, Precondition, apply_patch, not_modified, render_json, respond_with_etag,
    respond_with_weak_etag, respond_written,
};
use crate::pagination::{
    self, Cursor, PageBuilder, PageParams, Pages, RenderedItem, Rows, Sort, SortKeys,
};
use crate::references::{self, Target};
use crate::shape::{Shape, ShapeParams};
use crate::tombstones;

/// A collection that can be listed with filters, a sort and keyset cursors.
pub trait Listed: 'static {
    /// What a list holds, as its rows are read.
    type Item: Serialize + ToSchema + Send + 'static;
    /// The list's filters, with its `sort`.
    type Filter: Send + Sync + 'static;
    /// The list's sort table, whose rows read as items.
    type Sort: Pages<Self::Item> + Send;

    fn sort(filter: &Self::Filter) -> Sort<Self::Sort>;
    /// The rows `filter` selects, in no order.
    fn matching(filter: &Self::Filter) -> Rows<<Self::Sort as SortKeys>::Table>;
    /// Looks at the data before a page is read, where the best way to read it depends on it
    /// (how common a searched term is: `search::plan`). The count of `with_total` is made
    /// before, the plain way.
    fn plan(_conn: &mut DbConnection, _filter: &mut Self::Filter) -> diesel::QueryResult<()> {
        Ok(())
    }
    /// How a page's rows are read and rendered for `req`: [`render_rows`], unless the
    /// collection has a faster way of its own (events keep renderings, see `events::rendered`).
    fn read_page(_req: &HttpRequest) -> Result<PageReader<Self>, ApiError>
    where
        Self: Sized,
    {
        Ok(Box::new(render_rows::<Self>))
    }
}

/// One page of `L` matching `filter` after `cursor`, `fetch` rows at most.
pub fn list_items<L: Listed>(
    conn: &mut DbConnection,
    filter: &L::Filter,
    sort: Sort<L::Sort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<L::Item>, ApiError> {
    L::Sort::read(conn, &|| L::matching(filter), sort, cursor, fetch)
}

/// Where the list of `L` stands `count` items after `cursor`, read from the sort key's columns
/// alone ([`pagination::cursor_after_rows`]); `None` when fewer are left.
pub fn cursor_after_items<L: Listed>(
    conn: &mut DbConnection,
    filter: &L::Filter,
    sort: Sort<L::Sort>,
    cursor: Option<&Cursor>,
    count: i64,
) -> Result<Option<Cursor>, ApiError> {
    pagination::cursor_after_rows(conn, &|| L::matching(filter), sort, cursor, count)
}

/// How many items of `L` match `filter`.
pub fn count<L: Listed>(conn: &mut DbConnection, filter: &L::Filter) -> diesel::QueryResult<i64> {
    L::Sort::count(conn, L::matching(filter))
}

/// Reads and renders the rows of one page: a connection, the filter, the sort, the cursor and
/// how many rows to fetch.
pub type PageReader<L> = Box<
    dyn FnOnce(
            &mut DbConnection,
            &<L as Listed>::Filter,
            Sort<<L as Listed>::Sort>,
            Option<&Cursor>,
            i64,
        ) -> Result<Vec<RenderedItem>, ApiError>
        + Send,
>;

/// One page of `L`, read with [`list_items`] and rendered item by item.
pub fn render_rows<L: Listed + ?Sized>(
    conn: &mut DbConnection,
    filter: &L::Filter,
    sort: Sort<L::Sort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<RenderedItem>, ApiError> {
    let items = L::Sort::read(conn, &|| L::matching(filter), sort, cursor, fetch)?;
    render_items(&items, fetch, &sort)
}

/// Renders the items of a page, read `fetch` rows at most in `sort`, one by one.
pub fn render_items<T: Serialize, S: SortKeys>(
    items: &[T],
    fetch: i64,
    sort: &Sort<S>,
) -> Result<Vec<RenderedItem>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| RenderedItem::new(render_json(item)?, i, fetch, sort))
        .collect()
}

/// A resource with the full common behaviour.
pub trait Resource: Listed<Item: Clone> {
    /// The key in the path: an id, or a country's code.
    type Key: Clone + Display + DeserializeOwned + Send + 'static;
    /// The writable fields; a merge patch is applied to them.
    type Input: DeserializeOwned + Serialize + ToSchema + Clone + Send + 'static;
    /// A checked input, ready to be stored.
    type Draft: Send + 'static;

    /// The collection's path, for `Location` headers.
    const COLLECTION: &'static str;
    /// How the audit log names the resource.
    const AUDIT: ResourceType;

    fn key(item: &Self::Item) -> Self::Key;
    fn version(item: &Self::Item) -> i64;
    fn not_found(key: &Self::Key) -> ApiError;
    /// The answer to a read (`reading`) or a write of `key` when it names no record: its
    /// 404, unless the resource knows where the record went (a partner merged into another).
    fn absent(
        _conn: &mut DbConnection,
        key: &Self::Key,
        _reading: bool,
    ) -> Result<ApiError, ApiError> {
        Ok(Self::not_found(key))
    }
    fn find(conn: &mut DbConnection, key: &Self::Key) -> diesel::QueryResult<Option<Self::Item>>;
    /// The records with these keys, in one statement, in no order (those that exist).
    fn find_many(
        conn: &mut DbConnection,
        keys: &[Self::Key],
    ) -> diesel::QueryResult<Vec<Self::Item>>;
    /// Checks `input` against every rule, including references (422) and uniqueness (409),
    /// for the resource at `key`, or a new one when `key` is `None`.
    fn prepare(
        conn: &mut DbConnection,
        input: Self::Input,
        key: Option<&Self::Key>,
    ) -> Result<Self::Draft, ApiError>;
    /// `prepare` for a new resource, run inside the create's transaction. By default the same;
    /// a resource whose references all have foreign keys may leave them to those (see
    /// `create`) and check only the rest, saving the reference queries on every create.
    fn prepare_new(conn: &mut DbConnection, input: Self::Input) -> Result<Self::Draft, ApiError> {
        Self::prepare(conn, input, None)
    }
    fn insert(conn: &mut DbConnection, draft: Self::Draft) -> Result<Self::Item, ApiError>;
    /// Stores `draft` over `current` if the resource is still at `current`'s version; `None`
    /// when it has moved on.
    fn update(
        conn: &mut DbConnection,
        key: &Self::Key,
        current: &Self::Item,
        draft: Self::Draft,
    ) -> diesel::QueryResult<Option<Self::Item>>;
    /// The tombstone `key` names: the record as it was deleted, unless it was purged.
    fn find_deleted(
        conn: &mut DbConnection,
        key: &Self::Key,
    ) -> diesel::QueryResult<Option<Self::Item>>;
    /// What a delete (`deleted`) or a restore of `item` does besides marking it (see
    /// `crate::tombstones`): a tombstone keeps none of its relation rows and no unique value,
    /// so that it holds nothing; a restore writes them back once nothing live clashes (409).
    fn keep_relations(
        _conn: &mut DbConnection,
        _item: &Self::Item,
        _deleted: bool,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    /// Removes the record, live or a tombstone, and its own relation rows, for good.
    fn purge(conn: &mut DbConnection, key: &Self::Key) -> diesel::QueryResult<usize>;
    /// What other records may point at this one, if anything can.
    fn target(key: &Self::Key) -> Option<Target<'_>>;
}

/// `GET` on a collection: a page, with `Link: rel="next"` when more follow.
pub async fn list<L: Listed>(
    db: &Db,
    req: &HttpRequest,
    page: PageParams,
    filter: L::Filter,
) -> Result<HttpResponse, ApiError> {
    list_read_by::<L>(db, req, page, filter, Shape::plain(), render_rows::<L>).await
}

/// [`list`], with the page's rows read by `read_page` and shaped by `shape`.
///
/// Every page carries the weak ETag of the collection's state ([`pagination::list_etag`]),
/// taken before the page is read, so a page is never older than its tag; when the client's
/// `If-None-Match` holds it, the answer is a 304 and the page is not read.
pub async fn list_read_by<L: Listed>(
    db: &Db,
    req: &HttpRequest,
    page: PageParams,
    filter: L::Filter,
    shape: Shape,
    read_page: impl FnOnce(
        &mut DbConnection,
        &L::Filter,
        Sort<L::Sort>,
        Option<&Cursor>,
        i64,
    ) -> Result<Vec<RenderedItem>, ApiError>
    + Send
    + 'static,
) -> Result<HttpResponse, ApiError> {
    let sort = L::sort(&filter);
    let builder = PageBuilder::new(sort, page.limit()?);
    let (cursor, fetch, with_total) = (page.cursor(&sort)?, builder.fetch(), page.with_total());
    let known = NoneMatch::of(req);
    // A page in other languages is another representation: its tag says which.
    let languages = shape.languages_key();
    let listing = db
        .read(move |conn| {
            let mark = audit::mark(conn)?;
            let tag = match languages.as_str() {
                "" => pagination::list_etag(&mark),
                languages => pagination::list_etag(&format!("{mark}.{languages}")),
            };
            if known.holds(&tag) {
                return Ok(Listing::NotModified(tag));
            }
            let total = with_total.then(|| count::<L>(conn, &filter)).transpose()?;
            let mut filter = filter;
            L::plan(conn, &mut filter)?;
            let mut rows = read_page(conn, &filter, sort, cursor.as_ref(), fetch)?;
            let shaped = shape.apply(conn, rows.iter_mut().map(|row| &mut row.json).collect())?;
            let language = shaped.content_language();
            Ok(Listing::Page {
                tag,
                rows,
                total,
                language,
            })
        })
        .await?;
    let (tag, mut rows, total, language) = match listing {
        Listing::NotModified(tag) => return Ok(not_modified(&tag)),
        Listing::Page {
            tag,
            rows,
            total,
            language,
        } => (tag, rows, total, language),
    };
    let next_cursor = builder.cut(&mut rows);
    let page = pagination::respond(req, &tag, &rows, next_cursor.as_deref(), total);
    Ok(with_content_language(page, language))
}

/// `response` with `Content-Language` when its records are shown in a language.
fn with_content_language(mut response: HttpResponse, language: Option<String>) -> HttpResponse {
    if let Some(value) = language.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response
            .headers_mut()
            .insert(header::CONTENT_LANGUAGE, value);
    }
    response
}

/// What a list read found: a page, or that the client's copy is current.
enum Listing {
    NotModified(EntityTag),
    Page {
        tag: EntityTag,
        rows: Vec<RenderedItem>,
        total: Option<i64>,
        language: Option<String>,
    },
}

/// `GET` on one resource: 200 with its ETag, or 304. A shaped representation (`fields=`,
/// `include=`) has a weak ETag of its own (see `crate::shape`). With `include_deleted` (an
/// admin's), a tombstone is answered too.
pub async fn get<R: Resource>(
    db: &Db,
    req: &HttpRequest,
    key: R::Key,
    include_deleted: bool,
    (params, shape): (ShapeParams, Shape),
) -> Result<HttpResponse, ApiError> {
    let read = move |conn: &mut DbConnection, key: &R::Key| {
        tombstones::read_one::<R>(conn, key, include_deleted, true)
    };
    if shape.is_plain() {
        let item = db.read_point(move |conn| read(conn, &key)).await?;
        return Ok(respond_with_etag(req, R::version(&item), &item));
    }
    let (json, tag, language) = db
        .read_point(move |conn| {
            let item = read(conn, &key)?;
            let mut json = render_json(&item)?;
            let shaped = shape.apply(conn, vec![&mut json])?;
            let tag = shape.etag(&params, R::version(&item), &shaped.embedded);
            Ok((json, tag, shaped.content_language()))
        })
        .await?;
    Ok(with_content_language(
        respond_with_weak_etag(req, &tag, json),
        language,
    ))
}

/// `POST` on a collection: 201 with `Location` and `ETag`.
///
/// A foreign key's refusal is answered as [`name_broken_references`] says. A body that breaks a
/// rule of its schema is checked in full, references included, so that its 422 lists everything.
pub async fn create<R: Resource>(
    db: &Db,
    actor: Actor,
    input: Checked<R::Input>,
) -> Result<HttpResponse, ApiError> {
    let recheck = input.value.clone();
    let written = db
        .write(move |conn| {
            let draft = if input.breaks_rules() {
                input.then(|input| R::prepare(conn, input, None))?
            } else {
                R::prepare_new(conn, input.value)?
            };
            let item = R::insert(conn, draft)?;
            let key = R::key(&item).to_string();
            audit::record(
                conn,
                &actor.name,
                AuditAction::Create,
                R::AUDIT,
                &key,
                None,
                Some(&item),
            )?;
            Ok(item)
        })
        .await;
    let recheck = move |conn: &mut DbConnection| R::prepare(conn, recheck, None).map(drop);
    let item = name_broken_references(db, written, recheck).await?;
    let location = format!("{}/{}", R::COLLECTION, R::key(&item));
    Ok(respond_written(
        StatusCode::CREATED,
        Some(location),
        R::version(&item),
        &item,
    ))
}

/// `PUT`: the whole resource replaced by `input`.
pub async fn replace<R: Resource>(
    db: &Db,
    actor: Actor,
    key: R::Key,
    precondition: Precondition,
    input: Checked<R::Input>,
) -> Result<HttpResponse, ApiError> {
    let (recheck, recheck_key) = (input.value.clone(), key.clone());
    let written = db
        .write(move |conn| store::<R>(conn, &actor, &key, &precondition, |_| Ok(input.clone())))
        .await;
    let recheck =
        move |conn: &mut DbConnection| R::prepare(conn, recheck, Some(&recheck_key)).map(drop);
    let item = name_broken_references(db, written, recheck).await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        R::version(&item),
        &item,
    ))
}

/// `PATCH`: a JSON Merge Patch applied to the resource's writable fields.
pub async fn update<R: Resource>(
    db: &Db,
    actor: Actor,
    key: R::Key,
    precondition: Precondition,
    patch: Value,
) -> Result<HttpResponse, ApiError> {
    let (recheck_patch, recheck_key) = (patch.clone(), key.clone());
    let written = db
        .write(move |conn| {
            store::<R>(conn, &actor, &key, &precondition, |current| {
                apply_patch(&current, &patch)
            })
        })
        .await;
    let recheck = move |conn: &mut DbConnection| {
        let current = R::find(conn, &recheck_key)?.ok_or_else(|| R::not_found(&recheck_key))?;
        let input = apply_patch::<_, R::Input>(&current, &recheck_patch)?.value;
        R::prepare(conn, input, Some(&recheck_key)).map(drop)
    };
    let item = name_broken_references(db, written, recheck).await?;
    Ok(respond_written(
        StatusCode::OK,
        None,
        R::version(&item),
        &item,
    ))
}

/// The answer to a write: when a foreign key refused it (`prepare_new` may leave references to
/// the foreign keys, and a referenced record may go between the checks and the write), the
/// input is checked again in full by `recheck`, so that the answer is the usual 422 naming each
/// field whose record does not exist; a 409 if that finds nothing (a record deleted and made
/// again in between). The one rule for every write of every resource.
async fn name_broken_references<T>(
    db: &Db,
    written: Result<T, ApiError>,
    recheck: impl FnOnce(&mut DbConnection) -> Result<(), ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match written {
        Err(ApiError::BrokenReference(reason)) => {
            let checked = db.read(recheck).await;
            Err(checked.err().unwrap_or(ApiError::BrokenReference(reason)))
        }
        other => other,
    }
}

/// `DELETE`: 204, or 409 naming the live records that still refer to the resource. The record
/// is kept as a tombstone (`crate::tombstones`), which the audit entry has as `after`.
pub async fn delete<R: Resource>(
    db: &Db,
    actor: Actor,
    key: R::Key,
    precondition: Precondition,
) -> Result<HttpResponse, ApiError> {
    db.write(move |conn| {
        for _ in 0..tombstones::ATTEMPTS {
            let current = found::<R>(conn, &key, false)?;
            precondition.check(R::version(&current))?;
            if let Some(target) = R::target(&key) {
                references::ensure_unreferenced(conn, target)?;
            }
            let Some(tombstone) = tombstones::mark::<R>(conn, &current, true)? else {
                continue;
            };
            let id = key.to_string();
            return audit::record(
                conn,
                &actor.name,
                AuditAction::Delete,
                R::AUDIT,
                &id,
                Some(&current),
                Some(&tombstone),
            );
        }
        Err(tombstones::kept_changing())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The record `key` names, or the answer for a read (`reading`) or a write when there is none
/// (`Resource::absent`).
pub fn found<R: Resource>(
    conn: &mut DbConnection,
    key: &R::Key,
    reading: bool,
) -> Result<R::Item, ApiError> {
    match R::find(conn, key)? {
        Some(item) => Ok(item),
        None => Err(R::absent(conn, key, reading)?),
    }
}

/// How often a write without a version in `If-Match` is applied again to a resource that
/// another instance changed between its read and its update. Each round lets at least one of
/// the competing writers through, so this many writers on one record at once all succeed.
const ATTEMPTS: usize = 32;

/// Replaces the stored resource with the input `make_input` derives from the current one, under
/// `If-Match`, and records the change in the audit log.
///
/// The update only lands on the version that was read. When another writer got in between: with
/// `If-Match: "<version>"` the client asked for that version, so it is a 412; without one (or
/// with `*`) the change is derived again from the new current version, as if it had come later.
fn store<R: Resource>(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &R::Key,
    precondition: &Precondition,
    make_input: impl Fn(R::Item) -> Result<Checked<R::Input>, ApiError>,
) -> Result<R::Item, ApiError> {
    for _ in 0..ATTEMPTS {
        let current = found::<R>(conn, key, false)?;
        precondition.check(R::version(&current))?;
        let draft =
            make_input(current.clone())?.then(|input| R::prepare(conn, input, Some(key)))?;
        match R::update(conn, key, &current, draft)? {
            Some(updated) => {
                let id = key.to_string();
                audit::record(
                    conn,
                    &actor.name,
                    AuditAction::Update,
                    R::AUDIT,
                    &id,
                    Some(&current),
                    Some(&updated),
                )?;
                return Ok(updated);
            }
            None if precondition.names_a_version() => return Err(ApiError::PreconditionFailed),
            None => continue,
        }
    }
    Err(ApiError::retry_later(
        "the resource kept changing while this write was applied; try again",
    ))
}
