//! `GET /api/v1/calendar.ics`: the events as an iCalendar file (RFC 5545) that calendar programs
//! subscribe to, written with the `icalendar` crate.
//!
//! Each event is one all-day `VEVENT` whose `UID` is made of its id and a configured domain, so
//! that every instance and every restart names it the same way, and whose every other property
//! comes from the event's own row (`DTSTAMP` and `LAST-MODIFIED` are its `updated_at`,
//! `SEQUENCE` its version). The file is therefore a function of which events match and at which
//! versions; its `ETag` is a digest of that list, which one short statement reads (ids and
//! versions only), so a program polling with `If-None-Match` gets its 304 without a single event
//! being read whole or written.
//!
//! Bounded: the list of matching events is read once, `calendar_max_events` at most (the
//! earliest first, as the events list orders them); the events themselves are read `CHUNK` at a
//! time by id, each chunk a statement of its own on a connection taken and given back.

use actix_web::http::header::{self, HeaderValue, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Months, NaiveDate, Utc};
use icalendar::{Calendar, Component, EventLike};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use crate::auth::Access;
use crate::config::FeedSettings;
use crate::db::Db;
use crate::error::{ApiError, responses};
use crate::events::model::{Event, EventFilter, EventKinds, EventSort, EventStub};
use crate::events::queries;
use crate::filter::CountryCodes;
use crate::http::QueryParams;
use crate::pagination::{Pages, Sort};
use crate::routing::Routes;

/// Where the calendar is served.
pub const PATH: &str = "/api/v1/calendar.ics";

/// Events read whole by one statement.
const CHUNK: usize = 500;

/// Part of every ETag: changed whenever the way an event is written changes, so that calendars
/// fetched before are fetched again.
const FORMAT_REVISION: &str = "coop-registry calendar 1";

/// The header that says the calendar holds only the first `calendar_max_events` events.
pub const TRUNCATED: &str = "x-calendar-truncated";

/// The calendar's route: a read like every list.
pub fn routes() -> Routes {
    Routes::new(PATH).get("", Access::Read, calendar)
}

/// The events calendar's filters: those of the events list, without its order and pages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarFilter {
    /// Only events of one of these kinds.
    #[param(inline)]
    pub kind: Option<EventKinds>,
    /// Only events taking place in one of these countries (codes, any case).
    #[param(inline)]
    pub country: Option<CountryCodes>,
    /// Only events this partner takes part in (its id).
    pub partner: Option<i64>,
    /// Only events held under this agreement (its id).
    pub agreement: Option<i64>,
    /// Only events held under an agreement (`true`) or under none (`false`).
    pub has_agreement: Option<bool>,
    /// Only events still going on at or after this date; when not given, one year before
    /// today (UTC).
    #[param(format = Date)]
    pub from: Option<NaiveDate>,
    /// Only events starting on or before this date.
    #[param(format = Date)]
    pub to: Option<NaiveDate>,
    /// Case-insensitive search in titles, cities, venues and descriptions.
    pub q: Option<String>,
}

impl CalendarFilter {
    /// The events list's filter, with `from` one year before `today` when not given.
    fn into_event_filter(self, today: NaiveDate) -> EventFilter {
        let from = self
            .from
            .or_else(|| today.checked_sub_months(Months::new(12)));
        EventFilter {
            kind: self.kind,
            country: self.country,
            partner: self.partner,
            agreement: self.agreement,
            has_agreement: self.has_agreement,
            from,
            to: self.to,
            q: self.q.map(Into::into),
            sort: None,
            updated_after: None,
            updated_before: None,
            include_deleted: None,
        }
    }
}

/// The events calendar
///
/// The events as an iCalendar file (RFC 5545) for calendar programs to subscribe to: one
/// all-day event each, with a `UID` that stays the same across instances and restarts,
/// `SUMMARY` (the title), `DTSTART`/`DTEND` (dates; the end is the day after the last),
/// `LOCATION` (venue and city), `DESCRIPTION`, `URL`, `CATEGORIES` (the kind), `SEQUENCE` (the
/// version), `DTSTAMP` and `LAST-MODIFIED` (when it last changed), `CREATED`. Without `from`,
/// events from one year back onward. At most `CALENDAR_MAX_EVENTS` events (10 000 unless the
/// service is set otherwise), the earliest first; when more match, the answer says so in
/// `X-Calendar-Truncated`. Poll with `If-None-Match`: 304 while nothing in it changed.
#[utoipa::path(
    get, path = "/api/v1/calendar.ics", tag = "events", operation_id = "events_calendar",
    params(
        CalendarFilter,
        ("If-None-Match" = Option<String>, Header, nullable = false,
         description = "The `ETag` of a calendar fetched before: 304 while it is unchanged"),
    ),
    responses(
        (status = 200, description = "The events as an iCalendar file",
         content_type = "text/calendar", body = String,
         headers(
             ("ETag" = String, description = "A digest of the events it holds and their versions"),
             ("X-Calendar-Truncated" = String,
              description = "`true` when more events matched than the calendar holds"),
         ),
         example = json!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Cooperation Registry//Events//EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nNAME:Cooperation Registry events\r\nX-WR-CALNAME:Cooperation Registry events\r\nBEGIN:VEVENT\r\nCATEGORIES:forum\r\nCREATED:20240624T090000Z\r\nDTEND;VALUE=DATE:20240627\r\nDTSTAMP:20240624T090000Z\r\nDTSTART;VALUE=DATE:20240624\r\nLAST-MODIFIED:20240624T090000Z\r\nLOCATION:Songdo Convensia\\, Incheon\r\nSEQUENCE:1\r\nSUMMARY:United Nations Public Service Forum 2024\r\nUID:event-2@coop-registry.invalid\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag",
         headers(("ETag" = String, description = "The current ETag"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    ),
    security((), ("bearer" = [])),
)]
pub async fn calendar(
    db: web::Data<Db>,
    settings: web::Data<FeedSettings>,
    req: HttpRequest,
    QueryParams(filter): QueryParams<CalendarFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_event_filter(Utc::now().date_naive());
    let max = settings.calendar_max_events as usize;
    let fetch = i64::try_from(max).unwrap_or(i64::MAX).saturating_add(1);
    let mut listed = db
        .read(move |conn| {
            let rows = || queries::matching(&filter);
            <EventSort as Pages<EventStub>>::read(conn, &rows, Sort::default(), None, fetch)
        })
        .await?;
    let truncated = listed.len() > max;
    listed.truncate(max);
    let listed: Vec<(i64, i64)> = listed.iter().map(|s| (s.id, s.version)).collect();
    let tag = etag(&settings.calendar_uid_domain, &listed);
    if not_modified(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag.to_string()))
            .finish());
    }
    let events = read_events(&db, &listed).await?;
    // The events as read: one changed or deleted since the list was read is written as it is
    // now, and the ETag says so.
    let tag = etag(
        &settings.calendar_uid_domain,
        &events.iter().map(|e| (e.id, e.version)).collect::<Vec<_>>(),
    );
    let body = render(&events, &settings.calendar_uid_domain)?;
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        ))
        .insert_header((header::ETAG, tag.to_string()))
        .insert_header(super::inline_file("calendar.ics"));
    if truncated {
        response.insert_header((TRUNCATED, HeaderValue::from_static("true")));
    }
    Ok(response.body(body))
}

/// The events `listed` by id, in that order, read `CHUNK` at a time; one deleted meanwhile is
/// left out.
async fn read_events(db: &Db, listed: &[(i64, i64)]) -> Result<Vec<Event>, ApiError> {
    let mut events = Vec::with_capacity(listed.len());
    for chunk in listed.chunks(CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        let mut read = db
            .read(move |conn| Ok(queries::find_many(conn, &ids)?))
            .await?;
        let order: std::collections::HashMap<i64, usize> = chunk
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        read.sort_by_key(|e| order.get(&e.id).copied().unwrap_or(usize::MAX));
        events.extend(read);
    }
    Ok(events)
}

/// A strong ETag naming the calendar of these events at these versions, for this UID domain.
fn etag(domain: &str, events: &[(i64, i64)]) -> header::EntityTag {
    let mut digest = Sha256::new();
    digest.update(FORMAT_REVISION.as_bytes());
    digest.update([0]);
    digest.update(domain.as_bytes());
    for (id, version) in events {
        digest.update(id.to_le_bytes());
        digest.update(version.to_le_bytes());
    }
    let hex: String = digest.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    header::EntityTag::new_strong(hex)
}

/// Whether the request's `If-None-Match` holds `tag` (or `*`).
fn not_modified(req: &HttpRequest, tag: &header::EntityTag) -> bool {
    if !req.headers().contains_key(header::IF_NONE_MATCH) {
        return false;
    }
    match <IfNoneMatch as header::Header>::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(tag)),
        Err(_) => false,
    }
}

/// The calendar of `events`, in their order.
///
/// The crate writes the calendar's own properties and each event; the events are written one
/// by one into the calendar's text, so that they are never all held as components at once.
pub fn render(events: &[Event], domain: &str) -> Result<String, ApiError> {
    let failed = |e| ApiError::internal("cannot write the events calendar", e);
    let shell = Calendar::empty()
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", "-//Cooperation Registry//Events//EN"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .name("Cooperation Registry events")
        .done()
        .to_string();
    const END: &str = "END:VCALENDAR\r\n";
    let head = shell
        .strip_suffix(END)
        .ok_or_else(|| ApiError::bug("the calendar's text does not end with END:VCALENDAR"))?;
    let mut text = String::with_capacity(head.len() + END.len() + events.len() * 512);
    text.push_str(head);
    for event in events {
        text.push_str(&vevent(event, domain).try_into_string().map_err(failed)?);
    }
    text.push_str(END);
    Ok(text)
}

/// One event as a `VEVENT`.
fn vevent(event: &Event, domain: &str) -> icalendar::Event {
    let updated = event.updated_at.and_utc();
    let mut vevent = icalendar::Event::new();
    vevent
        .uid(&uid(event.id, domain))
        .summary(&text(&event.title))
        .sequence(u32::try_from(event.version).unwrap_or(u32::MAX))
        .timestamp(updated)
        .last_modified(updated)
        .created(event.created_at.and_utc())
        .starts(event.starts_on)
        .categories([event.kind.as_str()]);
    // DTEND is the day after the last (RFC 5545 §3.6.1: an all-day event's end is exclusive).
    if let Some(after) = event.ends_on.unwrap_or(event.starts_on).succ_opt() {
        vevent.ends(after);
    }
    if let Some(location) = location(event) {
        vevent.location(&text(&location));
    }
    if let Some(description) = &event.description {
        vevent.description(&text(description));
    }
    if let Some(url) = &event.url {
        vevent.url(url);
    }
    vevent.done()
}

/// The UID of the event with this id: the same on every instance and after every restart.
pub fn uid(id: i64, domain: &str) -> String {
    format!("event-{id}@{domain}")
}

/// Venue and city, as far as they are known.
fn location(event: &Event) -> Option<String> {
    let parts: Vec<&str> = [event.venue.as_deref(), event.city.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Text with line breaks as iCalendar writes them: the crate escapes a line feed as `\n`, but
/// would pass a carriage return through, which ends a content line.
fn text(value: &str) -> String {
    value.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let at = NaiveDate::from_ymd_opt(2024, 6, 1)
            .and_then(|d| d.and_hms_opt(9, 30, 0))
            .expect("a time");
        Event {
            id: 7,
            title: "Forum; with, specials".into(),
            kind: crate::events::model::EventKind::Forum,
            starts_on: NaiveDate::from_ymd_opt(2024, 6, 24).expect("a date"),
            ends_on: NaiveDate::from_ymd_opt(2024, 6, 26),
            city: Some("Incheon".into()),
            venue: None,
            country_code: Some("KR".into()),
            agreement_id: None,
            description: Some("line one\r\nline two".into()),
            url: None,
            participants: Vec::new(),
            documents: Vec::new(),
            created_at: at,
            updated_at: at,
            version: 3,
            deleted_at: None,
            translations: Default::default(),
        }
    }

    #[test]
    fn an_event_is_written_with_an_exclusive_end_and_escaped_text() {
        let text = render(&[event()], "example.invalid").expect("a calendar");
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(text.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        for line in [
            "UID:event-7@example.invalid",
            "DTSTART;VALUE=DATE:20240624",
            "DTEND;VALUE=DATE:20240627",
            "SUMMARY:Forum\\; with\\, specials",
            "DESCRIPTION:line one\\nline two",
            "SEQUENCE:3",
            "DTSTAMP:20240601T093000Z",
            "LOCATION:Incheon",
        ] {
            assert!(
                text.contains(&format!("\r\n{line}\r\n")),
                "{line} in {text}"
            );
        }
        assert!(!text.contains("URL:"));
        assert!(!text.replace("\r\n", "").contains('\r'));
    }

    #[test]
    fn the_etag_follows_ids_versions_and_the_domain() {
        let one = etag("a.invalid", &[(1, 1), (2, 1)]);
        assert_eq!(one, etag("a.invalid", &[(1, 1), (2, 1)]));
        assert_ne!(one, etag("a.invalid", &[(1, 1), (2, 2)]));
        assert_ne!(one, etag("a.invalid", &[(1, 1)]));
        assert_ne!(one, etag("b.invalid", &[(1, 1), (2, 1)]));
    }

    #[test]
    fn without_from_the_calendar_starts_a_year_back() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
        let filter = CalendarFilter::default().into_event_filter(today);
        assert_eq!(filter.from, NaiveDate::from_ymd_opt(2025, 11, 30));
        let given = NaiveDate::from_ymd_opt(2020, 1, 1);
        let filter = CalendarFilter {
            from: given,
            ..Default::default()
        }
        .into_event_filter(today);
        assert_eq!(filter.from, given);
    }
}
