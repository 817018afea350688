//! What is particular to partners in the common behaviour of `crate::resource`, and how the
//! operations of `crate::crud` describe them.

use super::model::{
    Partner, PartnerChanges, PartnerFilter, PartnerInput, PartnerPage, PartnerPatch, PartnerSort,
};
use super::{identifiers, queries};
use crate::audit::ResourceType;
use crate::auth::Role;
use crate::countries;
use crate::crud::{self, Described};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::{Rows, Sort};
use crate::references::{self, Target};
use crate::resource::{Listed, Resource};
use crate::schema::partners;
use crate::shape::Include;
use crate::validation::Validator;

/// The partner collection, as the common behaviour sees it.
pub struct Partners;

impl Listed for Partners {
    type Item = Partner;
    type Filter = PartnerFilter;
    type Sort = PartnerSort;

    fn sort(filter: &PartnerFilter) -> Sort<PartnerSort> {
        filter.sort.unwrap_or_default()
    }

    fn plan(conn: &mut DbConnection, filter: &mut PartnerFilter) -> diesel::QueryResult<()> {
        match &mut filter.q {
            Some(search) => crate::search::plan(conn, &crate::search::PARTNERS, search),
            None => Ok(()),
        }
    }

    fn matching(filter: &PartnerFilter) -> Rows<partners::table> {
        queries::matching(filter)
    }
}

impl Resource for Partners {
    type Key = i64;
    type Input = PartnerInput;
    type Draft = PartnerChanges;

    const COLLECTION: &'static str = "/api/v1/partners";
    const AUDIT: ResourceType = ResourceType::Partner;

    fn key(item: &Partner) -> i64 {
        item.id
    }

    fn version(item: &Partner) -> i64 {
        item.version
    }

    fn not_found(id: &i64) -> ApiError {
        ApiError::NotFound(format!("no partner with id {id}"))
    }

    fn find(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Partner>> {
        queries::find(conn, *id)
    }

    /// A partner merged into another: a read is sent to it, a write refused naming it.
    fn absent(conn: &mut DbConnection, id: &i64, reading: bool) -> Result<ApiError, ApiError> {
        Ok(match queries::merged_into(conn, *id)? {
            Some(target) if reading => ApiError::Moved {
                location: format!("{}/{target}", Self::COLLECTION),
                message: format!("partner {id} was merged into partner {target}"),
            },
            Some(target) => ApiError::MergedInto(format!(
                "partner {id} was merged into partner {target}: write to {}/{target} if the \
                 change is meant for it",
                Self::COLLECTION
            )),
            None => Self::not_found(id),
        })
    }

    fn find_many(conn: &mut DbConnection, keys: &[i64]) -> diesel::QueryResult<Vec<Partner>> {
        queries::find_many(conn, keys)
    }

    /// The field rules, the headquarters country, the identifiers' schemes, the name unique
    /// ignoring case and each identifier held by one partner.
    fn prepare(
        conn: &mut DbConnection,
        input: PartnerInput,
        id: Option<&i64>,
    ) -> Result<PartnerChanges, ApiError> {
        let mut v = Validator::new();
        let changes = input.check(&mut v);
        if let Some(code) = &changes.fields.country_code {
            references::check_countries(conn, &mut v, [("country_code".to_owned(), code.clone())])?;
        }
        identifiers::check_schemes(conn, &mut v, &changes.fields.identifiers)?;
        v.finish()?;
        if let Some(owner) = queries::name_owner(conn, &changes.name_key, id.copied())? {
            return Err(ApiError::Conflict(format!(
                "partner {owner} already has the name {:?} (names are unique ignoring case)",
                changes.fields.name
            )));
        }
        let held = identifiers::held_elsewhere(conn, &changes.fields.identifiers, id.copied())?;
        if let Some((identifier, holder)) = held {
            return Err(ApiError::Conflict(format!(
                "partner {holder} already holds the identifier {}:{}",
                identifier.scheme, identifier.value
            )));
        }
        Ok(changes)
    }

    fn insert(conn: &mut DbConnection, changes: PartnerChanges) -> Result<Partner, ApiError> {
        Ok(queries::insert(conn, changes)?)
    }

    fn update(
        conn: &mut DbConnection,
        _id: &i64,
        current: &Partner,
        changes: PartnerChanges,
    ) -> diesel::QueryResult<Option<Partner>> {
        queries::update(conn, current, changes)
    }

    fn find_deleted(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Partner>> {
        queries::find_deleted(conn, *id)
    }

    /// A restore is refused (409) when a live partner now has its name or one of its
    /// identifiers.
    fn keep_relations(
        conn: &mut DbConnection,
        partner: &Partner,
        deleted: bool,
    ) -> Result<(), ApiError> {
        if !deleted {
            let id = partner.id;
            let mut v = Validator::new();
            identifiers::check_schemes(conn, &mut v, &partner.identifiers)?;
            if v.finish().is_err() {
                return Err(ApiError::Conflict(format!(
                    "cannot restore partner {id}: the scheme of one of its identifiers was removed"
                )));
            }
            if let Some(owner) = queries::name_owner(conn, &partner.name.to_lowercase(), Some(id))?
            {
                return Err(ApiError::Conflict(format!(
                    "cannot restore partner {id}: partner {owner} now has the name {:?}",
                    partner.name
                )));
            }
            let held = identifiers::held_elsewhere(conn, &partner.identifiers, Some(id))?;
            if let Some((identifier, holder)) = held {
                return Err(ApiError::Conflict(format!(
                    "cannot restore partner {id}: partner {holder} now holds the identifier {}:{}",
                    identifier.scheme, identifier.value
                )));
            }
        }
        Ok(queries::keep_relations(conn, partner, deleted)?)
    }

    fn purge(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<usize> {
        queries::purge(conn, *id)
    }

    fn target(id: &i64) -> Option<Target<'_>> {
        Some(Target::Partner(*id))
    }
}

impl Described for Partners {
    const TRANSLATED: &'static [crate::translations::Text] = super::model::TRANSLATED;
    const MERGES: bool = true;
    const PLURAL: &'static str = "partners";
    const ONE: &'static str = "a partner";
    const KEY: (&'static str, &'static str) = ("id", "The partner's id");
    const WRITER: Role = Role::Editor;
    const CREATE_NOTE: &'static str =
        "The name must be unique ignoring case; the headquarters country must exist.";
    const DELETE_NOTE: &'static str = "Refused with 409, naming them, while live agreements or events refer to the partner. Its \
name and identifiers are free for another partner while it is deleted.";
    type Create = PartnerInput;
    type Patch = PartnerPatch;
    type Page = PartnerPage;
    const INCLUDES: &'static [Include] = &[countries::EMBEDDED_BY_CODE];

    fn key_from_path(text: &str) -> Result<i64, ApiError> {
        crud::id_from_path(text)
    }
}
