//! Event queries, including its participants. Each takes the caller's connection, so the
//! caller owns the transaction (an event and its participants are always written together).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::model::{
    Event, EventDraft, EventFilter, EventRow, EventSort, Participant, ParticipantRole,
};
use crate::db::{DbConnection, MultiBackend};
use crate::error::ApiError;
use crate::keyset;
use crate::pagination::{Cursor, Sort};
use crate::schema::{event_participants, events};
use crate::validation::like_pattern;

#[derive(Queryable, Selectable)]
#[diesel(table_name = event_participants)]
struct ParticipantRow {
    event_id: i64,
    partner_id: i64,
    #[diesel(deserialize_as = String)]
    role: ParticipantRole,
}

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
    if let DbConnection::Postgres(_) = conn {
        return find_joined(conn, id);
    }
    let row = events::table
        .find(id)
        .select(EventRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    // `= id` rather than `IN (ids)`: a statement of fixed shape, which the connection keeps
    // prepared, where the list form would be parsed again on every call. (A join that reads
    // both in one statement was measured slower: 30 µs of CPU per GET against 25.)
    let participants = event_participants::table
        .filter(event_participants::event_id.eq(id))
        .order_by(event_participants::position)
        .select(ParticipantRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|p| Participant {
            partner_id: p.partner_id,
            role: p.role,
        })
        .collect();
    Ok(Some(Event::new(row, participants)))
}

/// `find` in one statement, a join: on PostgreSQL, where each statement is a round trip, that
/// is cheaper than two; on SQLite, where it is not, two simple statements were measured cheaper.
fn find_joined(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Event>> {
    let rows: Vec<(EventRow, Option<ParticipantRow>)> = events::table
        .left_join(event_participants::table)
        .filter(events::id.eq(id))
        .order_by(event_participants::position)
        .select((EventRow::as_select(), Option::<ParticipantRow>::as_select()))
        .load(conn)?;
    let mut rows = rows.into_iter();
    let Some((event, first)) = rows.next() else {
        return Ok(None);
    };
    let participants = first
        .into_iter()
        .chain(rows.filter_map(|(_, participant)| participant))
        .map(|p| Participant {
            partner_id: p.partner_id,
            role: p.role,
        })
        .collect();
    Ok(Some(Event::new(event, participants)))
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

/// Completes rows with their participants: one query for any number of rows.
pub fn attach(conn: &mut DbConnection, rows: Vec<EventRow>) -> QueryResult<Vec<Event>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut participants: HashMap<i64, Vec<Participant>> = HashMap::new();
    for row in event_participants::table
        .filter(event_participants::event_id.eq_any(&ids))
        .order_by((event_participants::event_id, event_participants::position))
        .select(ParticipantRow::as_select())
        .load(conn)?
    {
        participants
            .entry(row.event_id)
            .or_default()
            .push(Participant {
                partner_id: row.partner_id,
                role: row.role,
            });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            Event::new(row, participants.remove(&id).unwrap_or_default())
        })
        .collect())
}

fn filtered(filter: &EventFilter) -> events::BoxedQuery<'static, MultiBackend> {
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
    }
    if let Some(to) = filter.to {
        query = query.filter(events::starts_on.le(to));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        query = query.filter(events::search_text.like(like_pattern(q)).escape('\\'));
    }
    query
}

/// One page of events after `cursor`, `fetch` rows at most, with their participants.
pub fn list(
    conn: &mut DbConnection,
    filter: &EventFilter,
    sort: Sort<EventSort>,
    cursor: Option<&Cursor>,
    fetch: i64,
) -> Result<Vec<Event>, ApiError> {
    use events::*;
    let query = filtered(filter);
    let d = sort.direction;
    let query = match sort.field {
        EventSort::StartsOn => keyset!(
            query,
            starts_on,
            id,
            d,
            cursor.map(|c| c.position::<NaiveDate, i64>()).transpose()?
        ),
        EventSort::Id => keyset!(
            query,
            id,
            id,
            d,
            cursor.map(|c| c.position::<i64, i64>()).transpose()?
        ),
        EventSort::Title => keyset!(
            query,
            title,
            id,
            d,
            cursor.map(|c| c.position::<String, i64>()).transpose()?
        ),
        EventSort::CreatedAt => keyset!(
            query,
            created_at,
            id,
            d,
            cursor
                .map(|c| c.position::<NaiveDateTime, i64>())
                .transpose()?
        ),
        EventSort::UpdatedAt => keyset!(
            query,
            updated_at,
            id,
            d,
            cursor
                .map(|c| c.position::<NaiveDateTime, i64>())
                .transpose()?
        ),
    };
    let rows = query
        .select(EventRow::as_select())
        .limit(fetch)
        .load(conn)?;
    Ok(attach(conn, rows)?)
}

/// A row's position under `field`, for the next page's cursor.
pub fn position(event: &Event, field: EventSort) -> (serde_json::Value, i64) {
    let key = match field {
        EventSort::StartsOn => serde_json::to_value(event.starts_on).unwrap_or_default(),
        EventSort::Id => event.id.into(),
        EventSort::Title => event.title.clone().into(),
        EventSort::CreatedAt => serde_json::to_value(event.created_at).unwrap_or_default(),
        EventSort::UpdatedAt => serde_json::to_value(event.updated_at).unwrap_or_default(),
    };
    (key, event.id)
}

pub fn count(conn: &mut DbConnection, filter: &EventFilter) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn)
}

/// Stores a new event with its participants.
pub fn insert(conn: &mut DbConnection, draft: EventDraft) -> QueryResult<Event> {
    let now = crate::time::now();
    let id: i64 = diesel::insert_into(events::table)
        .values((
            draft.changes.clone(),
            events::created_at.eq(now),
            events::updated_at.eq(now),
            events::version.eq(1),
        ))
        .returning(events::id)
        .get_result(conn)?;
    insert_participants(conn, id, draft.participants.clone())?;
    // Everything stored is known here; reading it back would cost two more queries.
    Ok(draft.into_event(id, now))
}

/// Replaces the event if it is still at `current`'s version; `None` when it has moved on.
/// Participants are rewritten only when they changed.
pub fn update(
    conn: &mut DbConnection,
    current: &Event,
    draft: EventDraft,
) -> QueryResult<Option<Event>> {
    let (id, now) = (current.id, crate::time::now());
    let updated = diesel::update(
        events::table
            .find(id)
            .filter(events::version.eq(current.version)),
    )
    .set((
        draft.changes.clone(),
        events::updated_at.eq(now),
        events::version.eq(current.version + 1),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    if draft.participants != current.participants {
        delete_participants(conn, id)?;
        insert_participants(conn, id, draft.participants.clone())?;
    }
    // Everything stored is known here; reading it back would cost two more queries.
    Ok(Some(Event {
        created_at: current.created_at,
        version: current.version + 1,
        ..draft.into_event(id, now)
    }))
}

/// Deletes the event with its participant links.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    delete_participants(conn, id)?;
    diesel::delete(events::table.find(id)).execute(conn)
}

fn delete_participants(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    diesel::delete(event_participants::table.filter(event_participants::event_id.eq(id)))
        .execute(conn)?;
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

/// Up to `limit` events `partner_id` takes part in.
pub fn with_participant(
    conn: &mut DbConnection,
    partner_id: i64,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    event_participants::table
        .filter(event_participants::partner_id.eq(partner_id))
        .select(event_participants::event_id)
        .order_by(event_participants::event_id)
        .limit(limit)
        .load(conn)
}

/// Up to `limit` events taking place in country `code`.
pub fn in_country(conn: &mut DbConnection, code: &str, limit: i64) -> QueryResult<Vec<i64>> {
    events::table
        .filter(events::country_code.eq(code))
        .select(events::id)
        .order_by(events::id)
        .limit(limit)
        .load(conn)
}

/// Up to `limit` events held under agreement `id`.
pub fn under_agreement(conn: &mut DbConnection, id: i64, limit: i64) -> QueryResult<Vec<i64>> {
    events::table
        .filter(events::agreement_id.eq(id))
        .select(events::id)
        .order_by(events::id)
        .limit(limit)
        .load(conn)
}
