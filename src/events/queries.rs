//! Event queries, including its participants. Each takes the caller's connection, so the
//! caller owns the transaction (an event and its participants are always written together).

use chrono::{Datelike, NaiveDate};
use diesel::dsl::AsExprOf;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Date};

use super::model::{Event, EventChanges, EventFilter, Participant, ParticipantRole};
use crate::db::DbConnection;
use crate::pagination::Rows;
use crate::relation::{self, Relation};
use crate::schema::{event_participants, events};
use crate::sql::{Dialects, JsonList, dialects_with};

#[derive(Insertable)]
#[diesel(table_name = event_participants)]
struct NewParticipant {
    event_id: i64,
    partner_id: i64,
    role: ParticipantRole,
    position: i32,
}

/// The event `id`, unless it was deleted.
pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Event>> {
    crate::on_backend!(conn, |c| events::table
        .find(id)
        .filter(events::deleted_at.is_null())
        .select(Event::as_select())
        .get_result(c)
        .optional())
}

/// The tombstone of the event `id`, if it was deleted (and not purged).
pub fn find_deleted(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Event>> {
    events::table
        .find(id)
        .filter(events::deleted_at.is_not_null())
        .select(Event::as_select())
        .get_result(conn)
        .optional()
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

/// That an event starts no earlier than an event still going on at `from` can have: `from`
/// minus the longest event's duration (never before year 1). Implied by the overlap test, it is
/// what lets the database start its walk of a (…, starts_on) index near `from` rather than at
/// the first event ever held; the index on the duration gives the longest in one probe. It is
/// part of the list's own statement, so both see the same rows.
///
/// SQLite starts the walk at one lower bound, of two it deems alike the first written; a page
/// after a cursor has the cursor's too, written after this one. Said to hold nine times in ten
/// (`likelihood`), this bound gives way to the cursor's, so a page no longer walks every row
/// before it; without a cursor the walk still starts here.
fn starts_late_enough(from: NaiveDate) -> Dialects<Bool, AsExprOf<NaiveDate, Date>> {
    // Each subquery's expression must be the indexed one, word for word, for the index to answer.
    dialects_with(
        "likelihood(\"events\".\"starts_on\" >= COALESCE(date({}, '-' || COALESCE((SELECT \
         MAX(CAST(julianday(longest.ends_on) - julianday(longest.starts_on) AS INTEGER)) FROM \
         events AS longest), 0) || ' days'), '0001-01-01'), 0.9)",
        "(\"events\".\"starts_on\" >= (GREATEST({}, DATE '0001-01-01' + COALESCE((SELECT \
         MAX(longest.ends_on - longest.starts_on) FROM events AS longest), 0)) - \
         COALESCE((SELECT MAX(longest.ends_on - longest.starts_on) FROM events AS longest), 0)))",
        from.into_sql::<Date>(),
    )
}

/// That an event starts on or before `to`: said to hold nine times in ten on SQLite, for the
/// reason [`starts_late_enough`] is, so that a page of a descending list after a cursor starts
/// its walk at the cursor's bound rather than at `to`.
fn starts_early_enough(to: NaiveDate) -> Dialects<Bool, AsExprOf<NaiveDate, Date>> {
    dialects_with(
        "likelihood(\"events\".\"starts_on\" <= {}, 0.9)",
        "(\"events\".\"starts_on\" <= {})",
        to.into_sql::<Date>(),
    )
}

/// The events `filter` selects.
pub fn matching(filter: &EventFilter) -> Rows<events::table> {
    let mut query = events::table.into_boxed();
    if filter.include_deleted != Some(true) {
        query = query.filter(events::deleted_at.is_null());
    }
    if let Some(kind) = &filter.kind {
        query = crate::filter::any_of(query, events::kind, kind.to_vec());
    }
    if let Some(country) = &filter.country {
        query = crate::filter::any_of(query, events::country_code, country.country_codes());
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
    match filter.has_agreement {
        Some(true) => query = query.filter(events::agreement_id.is_not_null()),
        Some(false) => query = query.filter(events::agreement_id.is_null()),
        None => {}
    }
    if let Some(from) = filter.from {
        // The event's last day: `ends_on`, or `starts_on` for a one-day event.
        query = query.filter(
            events::ends_on
                .ge(from)
                .or(events::ends_on.is_null().and(events::starts_on.ge(from))),
        );
        if (1..=9999).contains(&from.year()) {
            query = query.filter(starts_late_enough(from));
        }
    }
    if let Some(to) = filter.to {
        query = query.filter(starts_early_enough(to));
    }
    if let Some(q) = filter
        .q
        .as_ref()
        .and_then(|q| crate::search::filter(&crate::search::EVENTS, q))
    {
        query = query.filter(q);
    }
    crate::filter::updated_between(
        filter.updated_after,
        filter.updated_before,
        query,
        events::updated_at,
    )
}

/// The events with these ids, in no particular order; ids that do not exist are left out.
pub fn find_many(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Event>> {
    crate::on_backend!(conn, |c| events::table
        .filter(events::id.eq_any(ids))
        .select(Event::as_select())
        .load(c))
}

/// Stores a new event with its participants.
pub fn insert(conn: &mut DbConnection, mut draft: EventChanges) -> QueryResult<Event> {
    let now = crate::sql::database_now();
    let list = std::mem::take(&mut draft.fields.participants);
    let participants = JsonList::text(&list)?;
    let documents = JsonList::text(&std::mem::take(&mut draft.fields.documents))?;
    let translations = draft.fields.translations.text()?;
    let event: Event = crate::on_backend!(conn, |c| diesel::insert_into(events::table)
        .values((
            draft,
            events::participants.eq(&participants),
            events::documents.eq(&documents),
            events::translations.eq(&translations),
            events::created_at.eq(now),
            events::updated_at.eq(now),
            events::version.eq(1),
        ))
        .returning(Event::as_returning())
        .get_result(c))?;
    relation::write::<Participants>(conn, event.id, None, &list)?;
    Ok(event)
}

/// Replaces the event if it is still at `current`'s version; `None` when it has moved on.
pub fn update(
    conn: &mut DbConnection,
    current: &Event,
    mut draft: EventChanges,
) -> QueryResult<Option<Event>> {
    let id = current.id;
    let list = std::mem::take(&mut draft.fields.participants);
    let participants = JsonList::text(&list)?;
    let documents = JsonList::text(&std::mem::take(&mut draft.fields.documents))?;
    let translations = draft.fields.translations.text()?;
    let updated: Option<Event> = crate::on_backend!(conn, |c| diesel::update(
        events::table
            .find(id)
            .filter(events::version.eq(current.version)),
    )
    .set((
        draft,
        events::participants.eq(&participants),
        events::documents.eq(&documents),
        events::translations.eq(&translations),
        events::updated_at.eq(crate::sql::database_now()),
        events::version.eq(current.version + 1),
    ))
    .returning(Event::as_returning())
    .get_result(c)
    .optional())?;
    if updated.is_some() {
        let before = Some(current.participants.as_slice());
        relation::write::<Participants>(conn, id, before, &list)?;
    }
    Ok(updated)
}

/// A tombstone keeps no participant rows (`deleted`); a restore writes them back from its list.
pub fn keep_participants(conn: &mut DbConnection, event: &Event, deleted: bool) -> QueryResult<()> {
    match deleted {
        true => Participants::clear(conn, event.id),
        false => relation::write::<Participants>(conn, event.id, None, &event.participants),
    }
}

/// Removes the event with its participant links, for good.
pub fn purge(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    Participants::clear(conn, id)?;
    crate::on_backend!(conn, |c| diesel::delete(events::table.find(id)).execute(c))
}

/// The partners taking part in events, as rows.
struct Participants;

impl Relation for Participants {
    type Item = Participant;

    fn clear(conn: &mut DbConnection, event: i64) -> QueryResult<()> {
        crate::on_backend!(conn, |c| diesel::delete(
            event_participants::table.filter(event_participants::event_id.eq(event))
        )
        .execute(c))?;
        Ok(())
    }

    fn add(conn: &mut DbConnection, event: i64, participants: &[Participant]) -> QueryResult<()> {
        let rows: Vec<NewParticipant> = (0..)
            .zip(participants)
            .map(|(position, p)| NewParticipant {
                event_id: event,
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
}
