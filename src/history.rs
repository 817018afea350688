//! The history of one record: its versions, newest first, read from the audit log, which keeps
//! every write with the record before and after it. Written once for every resource over what
//! it says about itself (`crud::Described`), as `exchange` is.
//!
//! Whoever may read a record may read its history; the history of a record that is gone
//! (deleted or merged) is for admins, and so is who made each write (`actor`); a purged
//! record has none (404), though its audit entries stay. A version shows the record
//! as the audit log stored it then, in the shape the service wrote at the time.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use diesel::deserialize::{self, Queryable};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, Required};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::audit::{AuditAction, ResourceType};
use crate::auth::{Access, Actor, Role};
use crate::crud::Described;
use crate::db::{Db, DbConnection, MultiBackend};
use crate::error::ApiError;
use crate::error::operation_errors::ReadErrors;
use crate::http::QueryParams;
use crate::pagination::{
    Cursor, Direction, Page, PageItem, PageParams, Rows, Sort, SortKey, SortKeys,
};
use crate::resource::{self, Listed, PageReader};
use crate::routing::Routes;
use crate::schema::audit_log;
use crate::shape::Shape;

/// One version of a record: the write that made it, and the record as it was after it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "version": 2, "at": "2024-06-24T09:30:00.000000Z", "action": "update",
    "record": {"id": 1, "name": "Ministry of Digital Development of Kazakhstan", "version": 2},
    "actor": "editor-anna", "audit_id": 12
}))]
pub struct Version {
    /// The record's version after this write. A delete (which keeps no record) counts as one
    /// more version than the last one the record had.
    #[schema(minimum = 1)]
    pub version: i64,
    /// When the write happened (RFC 3339, UTC).
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
    pub action: AuditAction,
    /// The record as this write left it, as the service wrote records then; null for a delete.
    #[schema(value_type = Option<std::collections::BTreeMap<String, Value>>, additional_properties)]
    #[schema(required = true)]
    pub record: Option<Box<RawValue>>,
    /// The name of the token that made the write: shown to admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The write's entry in the audit log (`GET /api/v1/audit`, for admins); it orders the
    /// history.
    pub audit_id: i64,
}

/// An audit entry as stored, the columns a [`Version`] is made of.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct VersionRow {
    id: i64,
    #[diesel(deserialize_as = crate::time::StoredTimestamp)]
    at: NaiveDateTime,
    #[diesel(deserialize_as = String)]
    action: AuditAction,
    actor: String,
    before_state: Option<String>,
    after_state: Option<String>,
}

/// The version a stored record says it is at.
#[derive(Deserialize)]
struct VersionOf {
    version: i64,
}

fn version_of(state: Option<&str>) -> Option<i64> {
    serde_json::from_str::<VersionOf>(state?)
        .ok()
        .map(|v| v.version)
}

impl From<VersionRow> for Version {
    fn from(row: VersionRow) -> Self {
        let version = match &row.after_state {
            Some(after) => version_of(Some(after)).unwrap_or(0),
            None => version_of(row.before_state.as_deref()).map_or(0, |v| v.saturating_add(1)),
        };
        // Kept as stored, so that its fields keep the order the service wrote them in.
        let record = row
            .after_state
            .and_then(|text| RawValue::from_string(text).ok());
        Version {
            version,
            at: row.at,
            action: row.action,
            record,
            actor: Some(row.actor),
            audit_id: row.id,
        }
    }
}

// A version is read as its row and made from it, so that lists can select it like any record.
impl Selectable<MultiBackend> for Version {
    type SelectExpression = <VersionRow as Selectable<MultiBackend>>::SelectExpression;

    fn construct_selection() -> Self::SelectExpression {
        <VersionRow as Selectable<MultiBackend>>::construct_selection()
    }
}

impl<ST> Queryable<ST, MultiBackend> for Version
where
    VersionRow: Queryable<ST, MultiBackend>,
{
    type Row = <VersionRow as Queryable<ST, MultiBackend>>::Row;

    fn build(row: Self::Row) -> deserialize::Result<Self> {
        VersionRow::build(row).map(Version::from)
    }
}

/// A history is in the order of its writes, newest first.
pub struct HistorySort;

impl SortKeys for HistorySort {
    type Table = audit_log::table;
    type Tie = audit_log::id;
    const TIE: &'static str = "audit_id";
    const KEYS: &'static [SortKey<Self>] = &[SortKey::tie("audit_id")];
    const DEFAULT_DIRECTION: Direction = Direction::Desc;
}

/// A page of versions, as the OpenAPI document names it.
pub type VersionPage = Page<Version>;

impl PageItem for Version {
    const PAGE_SCHEMA: &'static str = "VersionPage";

    fn example_cursor() -> String {
        Cursor::after(&Sort::<HistorySort>::default(), 12, 12).encode()
    }
}

/// Whose history: the record as the audit log names it.
pub struct HistoryFilter {
    resource_type: ResourceType,
    resource_id: String,
}

/// The versions of one record, as the common list behaviour sees them.
pub struct History;

impl Listed for History {
    type Item = Version;
    type Filter = HistoryFilter;
    type Sort = HistorySort;

    fn sort(_: &HistoryFilter) -> Sort<HistorySort> {
        Sort::default()
    }

    fn matching(filter: &HistoryFilter) -> Rows<audit_log::table> {
        audit_log::table
            .into_boxed()
            .filter(audit_log::resource_type.eq(filter.resource_type.as_str()))
            .filter(audit_log::resource_id.eq(filter.resource_id.clone()))
    }
}

/// Adds `/{id}/history` and `/{id}/history/{version}` to a resource's routes.
pub fn routes<R: Described>(routes: Routes) -> Routes {
    let (list, one) = paths::<R>();
    routes
        .get(list, Access::Read, list_history::<R>)
        .get(one, Access::Read, get_version::<R>)
}

fn paths<R: Described>() -> (&'static str, &'static str) {
    match R::KEY.0 {
        "code" => ("/{code}/history", "/{code}/history/{version}"),
        _ => ("/{id}/history", "/{id}/history/{version}"),
    }
}

fn is_admin(actor: &Option<Actor>) -> bool {
    actor.as_ref().is_some_and(|a| a.role.covers(Role::Admin))
}

/// Whether the caller may read the history of `key`: of a live record, whoever reached the
/// route; of one that is gone, an admin, if the audit log knows it. Else the record's 404.
async fn check_visible<R: Described>(db: &Db, key: R::Key, admin: bool) -> Result<(), ApiError> {
    let id = key.to_string();
    let missing = key.clone();
    let visible = db
        .read_point(move |conn| {
            if R::find(conn, &key)?.is_some() {
                return Ok(true);
            }
            // A purged record's entries stay in the audit log, but it has no history to read.
            let last = crate::audit::last_entry(conn, R::AUDIT, &id)?;
            Ok(admin && last.is_some_and(|(action, _)| action != AuditAction::Purge))
        })
        .await?;
    if visible {
        Ok(())
    } else {
        Err(R::not_found(&missing))
    }
}

/// Reads and renders a page of versions, with who made each write for admins only.
fn reader(admin: bool) -> PageReader<History> {
    Box::new(move |conn, filter, sort, cursor, fetch| {
        let mut versions = resource::list_items::<History>(conn, filter, sort, cursor, fetch)?;
        if !admin {
            versions.iter_mut().for_each(|v| v.actor = None);
        }
        resource::render_items(&versions, fetch, &sort)
    })
}

async fn list_history<R: Described>(
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<String>,
    actor: Option<Actor>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let key = R::key_from_path(&path)?;
    let admin = is_admin(&actor);
    let filter = HistoryFilter {
        resource_type: R::AUDIT,
        resource_id: key.to_string(),
    };
    check_visible::<R>(&db, key, admin).await?;
    resource::list_read_by::<History>(&db, &req, page, filter, Shape::plain(), reader(admin)).await
}

async fn get_version<R: Described>(
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    actor: Option<Actor>,
) -> Result<HttpResponse, ApiError> {
    let (key, version) = path.into_inner();
    let key = R::key_from_path(&key)?;
    let version: i64 = version
        .parse()
        .map_err(|_| ApiError::bad_field("version", "must be a whole number"))?;
    let admin = is_admin(&actor);
    let filter = HistoryFilter {
        resource_type: R::AUDIT,
        resource_id: key.to_string(),
    };
    check_visible::<R>(&db, key.clone(), admin).await?;
    let found = db
        .read(move |conn| Ok(find_version(conn, &filter, version)?))
        .await?;
    let Some(mut found) = found else {
        return Err(ApiError::NotFound(format!(
            "{} {key} has no version {version}",
            crate::crud::singular::<R>()
        )));
    };
    if !admin {
        found.actor = None;
    }
    Ok(HttpResponse::Ok().json(found))
}

/// The version `version` of the record, reading its history newest first, a chunk at a time,
/// until the versions fall below it (a record's versions only grow).
fn find_version(
    conn: &mut DbConnection,
    filter: &HistoryFilter,
    version: i64,
) -> QueryResult<Option<Version>> {
    const CHUNK: i64 = 100;
    let mut older_than = i64::MAX;
    loop {
        let chunk: Vec<Version> = History::matching(filter)
            .filter(audit_log::id.lt(older_than))
            .order(audit_log::id.desc())
            .limit(CHUNK)
            .select(Version::as_select())
            .load(conn)?;
        for found in &chunk {
            if found.version == version {
                return Ok(Some(found.clone()));
            }
            if found.version < version {
                return Ok(None);
            }
        }
        match chunk.last() {
            Some(last) if chunk.len() as i64 == CHUNK => older_than = last.audit_id,
            _ => return Ok(None),
        }
    }
}

/// Adds the two history operations of `R`, and the schemas they name, to `document`.
pub fn document<R: Described>(document: &mut OpenApi) {
    let key = R::KEY.0;
    let list = format!("{}/{{{key}}}/history", R::COLLECTION);
    let one = format!("{list}/{{version}}");
    document.paths.paths.entry(list).or_default().get = Some(list_operation::<R>());
    document.paths.paths.entry(one).or_default().get = Some(get_operation::<R>());
    let components = document.components.get_or_insert_with(Default::default);
    components.schemas.extend([
        (Version::name().into_owned(), Version::schema()),
        (VersionPage::name().into_owned(), VersionPage::schema()),
    ]);
}

fn operation<R: Described>(id: String, summary: String, description: String) -> OperationBuilder {
    OperationBuilder::new()
        .tag(R::PLURAL)
        .operation_id(Some(id.replace("{}", crate::crud::singular::<R>())))
        .summary(Some(summary))
        .description(Some(description))
        .security(SecurityRequirement::default())
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
}

const WHO_MAY_READ: &str = "Whoever may read the record may read its history; the history of \
     a deleted record is for admins, and so is `actor`, who made each write. A version shows \
     the record as the service stored it then, in the shape of that time.";

fn list_operation<R: Described>() -> Operation {
    let mut parameters = vec![crate::crud::key_parameter::<R>("get")];
    parameters.extend(PageParams::into_params(|| Some(ParameterIn::Query)));
    let page = crate::crud::page_response(
        "A page of versions, newest first".to_owned(),
        &VersionPage::name(),
    );
    operation::<R>(
        "list_{}_history".to_owned(),
        format!("List the versions of {}", R::ONE),
        format!(
            "Every write of the record, newest first, keyset-paginated. {WHO_MAY_READ} \
             Answers 304 when `If-None-Match` holds the page's current ETag."
        ),
    )
    .parameters(Some(parameters))
    .responses(
        ResponsesBuilder::new()
            .response("200", page)
            .response(
                "304",
                ResponseBuilder::new()
                    .description("Not modified: `If-None-Match` holds the current ETag"),
            )
            .responses_from_into_responses::<ReadErrors>(),
    )
    .build()
}

fn get_operation<R: Described>() -> Operation {
    let version = ParameterBuilder::new()
        .name("version")
        .parameter_in(ParameterIn::Path)
        .description(Some("A version of the record, from 1"))
        .required(Required::True)
        .schema(Some(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(1)),
        ))
        .example(Some(Value::from(1)))
        .build();
    operation::<R>(
        "get_{}_version".to_owned(),
        format!("Get one version of {}", R::ONE),
        format!("The write that made this version, and the record as it left it. {WHO_MAY_READ}"),
    )
    .parameters(Some(vec![crate::crud::key_parameter::<R>("get"), version]))
    .responses(
        ResponsesBuilder::new()
            .response(
                "200",
                ResponseBuilder::new().description("The version").content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(Version::name())))
                        .build(),
                ),
            )
            .responses_from_into_responses::<ReadErrors>(),
    )
    .build()
}
