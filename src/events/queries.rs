//! Event queries, including its participants. Each takes the caller's connection, so the
//! caller owns the transaction (an event and its participants are always written together).

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::dsl::AsExprOf;
use diesel::prelude::*;
use diesel::sql_types::Date;

use super::model::{
    Event, EventDraft, EventFilter, EventSort, EventStub, Participant, ParticipantRole,
};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::{Cursor, Sort};
use crate::schema::{event_participants, events};
use crate::sorted_page;
use crate::sql::{Dialects, JsonList, dialects_with};
use crate::validation::like_pattern;

#[derive(Insertable)]
#[diesel(table_name = event_participants)]
struct NewParticipant {
    event_id: i64,
    partner_id: i64,
    #[diesel(serialize_as = String)]
    role: ParticipantRole,
    position: i32,
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Event>> {
    crate::on_backend!(conn, |c| events::table
        .find(id)
        .select(Event::as_select())
        .get_result(c)
        .optional())
}

/// The id of the first event titled exactly `title`.
pub fn id_by_title(conn: &mut DbConnection, title: &str) -> QueryResult<Option<i64>> {
    events::table
        .filter(events::title.eq(title))
        .select(events::id)
        .order_by(events::id)
        .first(conn)
        .optional()
}

/// The earliest day an event still going on at `from` can have started: `from` minus the
/// longest event's duration (never before year 1). Implied by the overlap test, it is what lets
/// the database start its walk of a (…, starts_on) index near `from` rather than at the first
/// event ever held; the index on the duration gives the longest in one probe. It is part of the
/// list's own statement, so both see the same rows.
fn earliest_start(from: NaiveDate) -> Dialects<Date, AsExprOf<NaiveDate, Date>> {
    // Each subquery's expression must be the indexed one, word for word, for the index to answer.
    dialects_with(
        "COALESCE(date({}, '-' || COALESCE((SELECT MAX(CAST(julianday(longest.ends_on) \
         - julianday(longest.starts_on) AS INTEGER)) FROM events AS longest), 0) || ' days'), \
         '0001-01-01')",
        "(GREATEST({}, DATE '0001-01-01' + COALESCE((SELECT MAX(longest.ends_on - longest.starts_on) \
         FROM events AS longest), 0)) - COALESCE((SELECT MAX(longest.ends_on - longest.starts_on) \
         FROM events AS longest), 0))",
        from.into_sql::<Date>(),
    )
}

/// The events matching a `&EventFilter`, as a boxed query for the backend it runs on (a macro,
/// expanded for each backend inside `on_backend!`; see there why).
macro_rules! filtered {
    ($filter:expr) => {{
        let filter: &EventFilter = $filter;
        let mut query = events::table.into_boxed();
        if let Some(kind) = filter.kind {
            query = query.filter(events::kind.eq(kind.as_str()));
        }
        if let Some(country) = &filter.country {
            query = query.filter(events::country_code.eq(country.trim().to_ascii_uppercase()));
        }
        if let Some(partner) = filter.partner {
            query = query.filter(
                events::id.eq_any(
                    event_participants::table
                        .filter(event_participants::partner_id.eq(partner))
                        .select(event_participants::event_id),
                ),
            );
        }
        if let Some(agreement) = filter.agreement {
            query = query.filter(events::agreement_id.eq(agreement));
        }
        if let Some(from) = filter.from {
            // The event's last day: `ends_on`, or `starts_on` for a one-day event.
            query = query.filter(
                events::ends_on
                    .ge(from)
                    .or(events::ends_on.is_null().and(events::starts_on.ge(from))),
            );
            if (1..=9999).contains(&from.year()) {
                query = query.filter(events::starts_on.ge(earliest_start(from)));
            }
        }
        if let Some(to) = filter.to {
            query = query.filter(events::starts_on.le(to));
        }
        if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
            query = query.filter(events::search_text.like(like_pattern(q)).escape('\\'));
        }
        query
    }};
}

/// One page of the events matching `filter`, after `cursor`, `fetch` rows at most, each row as
/// `$select` gives it (a macro like `filtered!`, expanded for each backend).
macro_rules! page {
    ($c:expr, $filter:expr, $sort:expr, $cursor:expr, $fetch:expr, $select:expr) => {{
        sorted_page!(
            $c,
            filtered!($filter),
            $sort,
            $cursor,
            $select,
            $fetch,
            tie: (events::id, i64),
            {
                EventSort::StartsOn => (events::starts_on, NaiveDate),
                EventSort::Id => (events::id, i64) unique,
                EventSort::Title => (events::title, String),
                EventSort::CreatedAt => (events::created_at, NaiveDateTime),
                EventSort::UpdatedAt => (events::updated_at, NaiveDateTime),
            }
        )
    }};
}

/// One page of events after `cursor`, `fetch` rows at most, with their participants.
pub fn list(
    conn: &mut DbConnection,
    filter: &EventFilter,
    sort: Sort<EventSort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<Event>, ApiError> {
    Ok(crate::on_backend!(conn, |c| page!(
        c,
        filter,
        sort,
        cursor,
        fetch,
        Event::as_select()
    )))
}

/// The same page as `list`, as the events' ids, versions and sort keys only.
pub fn list_stubs(
    conn: &mut DbConnection,
    filter: &EventFilter,
    sort: Sort<EventSort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<EventStub>, ApiError> {
    Ok(crate::on_backend!(conn, |c| page!(
        c,
        filter,
        sort,
        cursor,
        fetch,
        EventStub::as_select()
    )))
}

/// The events with these ids, in no particular order; ids that do not exist are left out.
pub fn find_many(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Event>> {
    crate::on_backend!(conn, |c| events::table
        .filter(events::id.eq_any(ids))
        .select(Event::as_select())
        .load(c))
}

pub fn count(conn: &mut DbConnection, filter: &EventFilter) -> QueryResult<i64> {
    crate::on_backend!(conn, |c| filtered!(filter).count().get_result(c))
}

/// Stores a new event with its participants.
pub fn insert(conn: &mut DbConnection, draft: EventDraft) -> QueryResult<Event> {
    let now = crate::time::now();
    let participants = JsonList::text(&draft.participants)?;
    let event: Event = crate::on_backend!(conn, |c| diesel::insert_into(events::table)
        .values((
            draft.changes,
            events::participants.eq(&participants),
            events::created_at.eq(now),
            events::updated_at.eq(now),
            events::version.eq(1),
        ))
        .returning(Event::as_returning())
        .get_result(c))?;
    insert_participants(conn, event.id, draft.participants)?;
    Ok(event)
}

/// Replaces the event if it is still at `current`'s version; `None` when it has moved on.
/// Participants are rewritten only when they changed.
pub fn update(
    conn: &mut DbConnection,
    current: &Event,
    draft: EventDraft,
) -> QueryResult<Option<Event>> {
    let id = current.id;
    let participants = JsonList::text(&draft.participants)?;
    let updated: Option<Event> = crate::on_backend!(conn, |c| diesel::update(
        events::table
            .find(id)
            .filter(events::version.eq(current.version)),
    )
    .set((
        draft.changes,
        events::participants.eq(&participants),
        events::updated_at.eq(crate::time::now()),
        events::version.eq(current.version + 1),
    ))
    .returning(Event::as_returning())
    .get_result(c)
    .optional())?;
    if updated.is_some() && draft.participants != current.participants {
        delete_participants(conn, id)?;
        insert_participants(conn, id, draft.participants)?;
    }
    Ok(updated)
}

/// Deletes the event with its participant links.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    delete_participants(conn, id)?;
    crate::on_backend!(conn, |c| diesel::delete(events::table.find(id)).execute(c))
}

fn delete_participants(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    crate::on_backend!(conn, |c| diesel::delete(
        event_participants::table.filter(event_participants::event_id.eq(id))
    )
    .execute(c))?;
    Ok(())
}

fn insert_participants(
    conn: &mut DbConnection,
    id: i64,
    participants: Vec<Participant>,
) -> QueryResult<()> {
    if participants.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewParticipant> = (0..)
        .zip(participants)
        .map(|(position, p)| NewParticipant {
            event_id: id,
            partner_id: p.partner_id,
            role: p.role,
            position,
        })
        .collect();
    crate::on_backend!(conn, |c| diesel::insert_into(event_participants::table)
        .values(rows)
        .execute(c))?;
    Ok(())
}
