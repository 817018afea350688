//! What is particular to agreements in the common behaviour of `crate::resource`, and how the
//! operations of `crate::crud` describe them.

use super::model::{
    Agreement, AgreementChanges, AgreementFilter, AgreementInput, AgreementPage, AgreementPatch,
    AgreementSort, Lifecycle,
};
use super::queries;
use crate::audit::ResourceType;
use crate::auth::Role;
use crate::countries::Countries;
use crate::crud::{self, Described};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::{Rows, Sort};
use crate::partners::Partners;
use crate::references::{self, Target};
use crate::resource::{Listed, Resource};
use crate::schema::agreements;
use crate::shape::{self, Embedding, Include};
use crate::validation::Validator;

/// The agreement collection, as the common behaviour sees it.
pub struct Agreements;

impl Listed for Agreements {
    type Item = Agreement;
    type Filter = AgreementFilter;
    type Sort = AgreementSort;

    fn sort(filter: &AgreementFilter) -> Sort<AgreementSort> {
        filter.sort.unwrap_or_default()
    }

    fn plan(conn: &mut DbConnection, filter: &mut AgreementFilter) -> diesel::QueryResult<()> {
        match &mut filter.q {
            Some(search) => crate::search::plan(conn, &crate::search::AGREEMENTS, search),
            None => Ok(()),
        }
    }

    fn matching(filter: &AgreementFilter) -> Rows<agreements::table> {
        queries::matching(filter)
    }
}

impl Resource for Agreements {
    type Key = i64;
    type Input = AgreementInput;
    type Draft = AgreementChanges;

    const COLLECTION: &'static str = "/api/v1/agreements";
    const AUDIT: ResourceType = ResourceType::Agreement;

    fn key(item: &Agreement) -> i64 {
        item.id
    }

    fn version(item: &Agreement) -> i64 {
        item.version
    }

    fn not_found(id: &i64) -> ApiError {
        ApiError::NotFound(format!("no agreement with id {id}"))
    }

    fn find(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Agreement>> {
        queries::find(conn, *id)
    }

    fn find_many(conn: &mut DbConnection, keys: &[i64]) -> diesel::QueryResult<Vec<Agreement>> {
        queries::find_many(conn, keys)
    }

    /// The field rules, and parties and countries that exist. The lifecycle rules compare the
    /// agreement with its stored self (see `AgreementInput::check_lifecycle`).
    fn prepare(
        conn: &mut DbConnection,
        input: AgreementInput,
        id: Option<&i64>,
    ) -> Result<AgreementChanges, ApiError> {
        let current = match id {
            Some(id) => queries::find(conn, *id)?,
            None => None,
        };
        let lifecycle = Lifecycle {
            current: current.as_ref(),
            ..Lifecycle::new_today()
        };
        let mut v = Validator::new();
        let draft = input.check(&mut v, lifecycle);
        let parties = draft.fields.parties.iter().enumerate();
        references::check_partners(
            conn,
            &mut v,
            parties.map(|(i, p)| (format!("parties[{i}].partner_id"), p.partner_id)),
        )?;
        let codes = draft.fields.country_codes.iter().enumerate();
        references::check_countries(
            conn,
            &mut v,
            codes.map(|(i, c)| (format!("country_codes[{i}]"), c.clone())),
        )?;
        v.finish()?;
        Ok(draft)
    }

    fn insert(conn: &mut DbConnection, draft: AgreementChanges) -> Result<Agreement, ApiError> {
        Ok(queries::insert(conn, draft)?)
    }

    fn update(
        conn: &mut DbConnection,
        _: &i64,
        current: &Agreement,
        draft: AgreementChanges,
    ) -> diesel::QueryResult<Option<Agreement>> {
        queries::update(conn, current, draft)
    }

    fn find_deleted(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Agreement>> {
        queries::find_deleted(conn, *id)
    }

    fn keep_relations(
        conn: &mut DbConnection,
        agreement: &Agreement,
        deleted: bool,
    ) -> Result<(), ApiError> {
        Ok(queries::keep_relations(conn, agreement, deleted)?)
    }

    fn purge(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<usize> {
        queries::purge(conn, *id)
    }

    fn target(id: &i64) -> Option<Target<'_>> {
        Some(Target::Agreement(*id))
    }
}

impl Described for Agreements {
    const TRANSLATED: &'static [crate::translations::Text] = super::model::TRANSLATED;
    const PLURAL: &'static str = "agreements";
    const ONE: &'static str = "an agreement";
    const KEY: (&'static str, &'static str) = ("id", "The agreement's id");
    const WRITER: Role = Role::Editor;
    const CREATE_NOTE: &'static str =
        "Parties and countries are stored with it in one transaction; each must exist.";
    const REPLACE_NOTE: &'static str =
        "Sends every writable field; fields left out become null, lists left out become empty.";
    const DELETE_NOTE: &'static str = "Refused with 409, naming them, while live events belong to it. \
Its party and country links leave their lists (`partner=`, `country=` no longer find it); it keeps them.";
    type Create = AgreementInput;
    type Patch = AgreementPatch;
    type Page = AgreementPage;
    const INCLUDES: &'static [Include] = &[
        Include {
            path: "parties.partner",
            at: Embedding::EachOf {
                list: "parties",
                from: "partner_id",
                to: "partner",
            },
            schema: "Partner",
            load: shape::load::<Partners>,
        },
        Include {
            path: "countries",
            at: Embedding::Many {
                from: "country_codes",
                to: "countries",
            },
            schema: "Country",
            load: shape::load::<Countries>,
        },
    ];

    fn key_from_path(text: &str) -> Result<i64, ApiError> {
        crud::id_from_path(text)
    }
}
