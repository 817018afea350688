//! What is particular to events in the common behaviour of `crate::resource`, and how the
//! operations of `crate::crud` describe them.

use actix_web::{HttpRequest, web};

use super::model::{
    Event, EventChanges, EventFilter, EventInput, EventPage, EventPatch, EventSort,
};
use super::queries;
use super::rendered::RenderedEvents;
use crate::agreements::Agreements;
use crate::audit::ResourceType;
use crate::auth::Role;
use crate::countries;
use crate::crud::{self, Described};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::{Rows, Sort};
use crate::partners::Partners;
use crate::references::{self, Target};
use crate::resource::{Listed, PageReader, Resource};
use crate::schema::events;
use crate::shape::{self, Embedding, Include};
use crate::validation::Validator;

/// The event collection, as the common behaviour sees it.
pub struct Events;

impl Listed for Events {
    type Item = Event;
    type Filter = EventFilter;
    type Sort = EventSort;

    fn sort(filter: &EventFilter) -> Sort<EventSort> {
        filter.sort.unwrap_or_default()
    }

    fn plan(conn: &mut DbConnection, filter: &mut EventFilter) -> diesel::QueryResult<()> {
        match &mut filter.q {
            Some(search) => crate::search::plan(conn, &crate::search::EVENTS, search),
            None => Ok(()),
        }
    }

    fn matching(filter: &EventFilter) -> Rows<events::table> {
        queries::matching(filter)
    }

    /// Events are the largest and most polled list: its pages reuse the renderings of events
    /// already kept (`super::rendered`), which the app keeps when `RENDERED_CACHE_MIB` > 0.
    fn read_page(req: &HttpRequest) -> Result<PageReader<Self>, ApiError> {
        let rendered = req
            .app_data::<web::Data<RenderedEvents>>()
            .cloned()
            .ok_or_else(|| ApiError::bug("no kept renderings of events in the app data"))?;
        Ok(Box::new(move |conn, filter, sort, cursor, fetch| {
            super::rendered::read_page(conn, &rendered, filter, sort, cursor, fetch)
        }))
    }
}

impl Resource for Events {
    type Key = i64;
    type Input = EventInput;
    type Draft = EventChanges;

    const COLLECTION: &'static str = "/api/v1/events";
    const AUDIT: ResourceType = ResourceType::Event;

    fn key(item: &Event) -> i64 {
        item.id
    }

    fn version(item: &Event) -> i64 {
        item.version
    }

    fn not_found(id: &i64) -> ApiError {
        ApiError::NotFound(format!("no event with id {id}"))
    }

    fn find(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Event>> {
        queries::find(conn, *id)
    }

    fn find_many(conn: &mut DbConnection, keys: &[i64]) -> diesel::QueryResult<Vec<Event>> {
        queries::find_many(conn, keys)
    }

    /// The field rules, and participants, country and agreement that exist.
    fn prepare(
        conn: &mut DbConnection,
        input: EventInput,
        _: Option<&i64>,
    ) -> Result<EventChanges, ApiError> {
        let mut v = Validator::new();
        let draft = input.check(&mut v);
        check_references(conn, &mut v, &draft)?;
        v.finish()?;
        Ok(draft)
    }

    /// The field rules only: the participants, the country and the agreement all have foreign
    /// keys, which refuse a missing one anyway (`resource::create` then says which). On
    /// PostgreSQL the checks were two round trips per create, planned again each time; on
    /// SQLite they were 15% of the writer thread's work. When other rules are broken, the
    /// references are checked too, so that every error is reported at once.
    fn prepare_new(conn: &mut DbConnection, input: EventInput) -> Result<EventChanges, ApiError> {
        let mut v = Validator::new();
        let draft = input.check(&mut v);
        if !v.is_empty() {
            check_references(conn, &mut v, &draft)?;
        } else {
            let participants = draft.fields.participants.iter().enumerate();
            let mut targets: Vec<(String, Target<'_>)> = participants
                .map(|(i, p)| {
                    let field = format!("participants[{i}].partner_id");
                    (field, Target::Partner(p.partner_id))
                })
                .collect();
            if let Some(code) = &draft.fields.country_code {
                targets.push(("country_code".into(), Target::Country(code)));
            }
            if let Some(id) = draft.fields.agreement_id {
                targets.push(("agreement_id".into(), Target::Agreement(id)));
            }
            references::check_not_gone(conn, &mut v, &targets)?;
        }
        v.finish()?;
        Ok(draft)
    }

    fn insert(conn: &mut DbConnection, draft: EventChanges) -> Result<Event, ApiError> {
        Ok(queries::insert(conn, draft)?)
    }

    fn update(
        conn: &mut DbConnection,
        _: &i64,
        current: &Event,
        draft: EventChanges,
    ) -> diesel::QueryResult<Option<Event>> {
        queries::update(conn, current, draft)
    }

    fn find_deleted(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<Option<Event>> {
        queries::find_deleted(conn, *id)
    }

    fn keep_relations(
        conn: &mut DbConnection,
        event: &Event,
        deleted: bool,
    ) -> Result<(), ApiError> {
        Ok(queries::keep_participants(conn, event, deleted)?)
    }

    fn purge(conn: &mut DbConnection, id: &i64) -> diesel::QueryResult<usize> {
        queries::purge(conn, *id)
    }

    /// Nothing refers to events.
    fn target(_: &i64) -> Option<Target<'_>> {
        None
    }
}

/// Records each participant, country and agreement of `draft` that does not exist.
fn check_references(
    conn: &mut DbConnection,
    v: &mut Validator,
    draft: &EventChanges,
) -> Result<(), ApiError> {
    let participants = draft.fields.participants.iter().enumerate();
    references::check_partners(
        conn,
        v,
        participants.map(|(i, p)| (format!("participants[{i}].partner_id"), p.partner_id)),
    )?;
    if let Some(code) = &draft.fields.country_code {
        references::check_countries(conn, v, [("country_code".to_owned(), code.clone())])?;
    }
    if let Some(agreement_id) = draft.fields.agreement_id {
        references::check_agreement(conn, v, "agreement_id", agreement_id)?;
    }
    Ok(())
}

impl Described for Events {
    const TRANSLATED: &'static [crate::translations::Text] = super::model::TRANSLATED;
    const PLURAL: &'static str = "events";
    const ONE: &'static str = "an event";
    const KEY: (&'static str, &'static str) = ("id", "The event's id");
    const WRITER: Role = Role::Editor;
    const CREATE_NOTE: &'static str = "Participants are stored with it in one transaction; the \
partners, the country and the agreement it names must exist.";
    const REPLACE_NOTE: &'static str = "Sends every writable field; fields left out become null, \
`participants` left out becomes empty.";
    const DELETE_NOTE: &'static str =
        "Its participant links leave their list (`partner=` no longer finds it); it keeps them.";
    const REFERENCED: bool = false;
    type Create = EventInput;
    type Patch = EventPatch;
    type Page = EventPage;
    const INCLUDES: &'static [Include] = &[
        Include {
            path: "participants.partner",
            at: Embedding::EachOf {
                list: "participants",
                from: "partner_id",
                to: "partner",
            },
            schema: "Partner",
            load: shape::load::<Partners>,
        },
        Include {
            path: "agreement",
            at: Embedding::One {
                from: "agreement_id",
                to: "agreement",
            },
            schema: "Agreement",
            load: shape::load::<Agreements>,
        },
        countries::EMBEDDED_BY_CODE,
    ];

    fn key_from_path(text: &str) -> Result<i64, ApiError> {
        crud::id_from_path(text)
    }
}
