//! Timestamps: stored as UTC without a zone (the portable column type), shown as RFC 3339 UTC.
//! Dates and timestamps read from the database go through [`StoredDate`] and
//! [`StoredTimestamp`].

use chrono::{NaiveDate, NaiveDateTime, Timelike, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::{Date, Nullable, Timestamp};
use diesel::sqlite::Sqlite;

use crate::db::MultiBackend;

/// The current UTC time, cut to microseconds so that both backends store it exactly.
pub fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// Writes `number`'s last `width` decimal digits at `start`.
fn put_digits(text: &mut [u8], start: usize, width: usize, mut number: u32) {
    for digit in text[start..start + width].iter_mut().rev() {
        *digit = b'0' + (number % 10) as u8;
        number /= 10;
    }
}

/// The year, if it has four digits (chrono writes others with a sign).
fn four_digit_year(date: &impl chrono::Datelike) -> Option<u32> {
    u32::try_from(date.year()).ok().filter(|year| *year <= 9999)
}

// Dates and timestamps are written by position into a buffer on the stack: chrono's general
// formatter, a character at a time through `fmt`, was a tenth of a list page's instructions.

/// Serde helper: a UTC `NaiveDateTime` as `2024-06-24T09:00:00.000000Z`. Always six fraction
/// digits, so that the texts sort as the times do.
pub mod rfc3339 {
    use chrono::{Datelike, NaiveDateTime, SecondsFormat, Timelike};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &NaiveDateTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let Some(year) = super::four_digit_year(value) else {
            let text = value.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true);
            return serializer.serialize_str(&text);
        };
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        for (start, width, number) in [
            (0, 4, year),
            (5, 2, value.month()),
            (8, 2, value.day()),
            (11, 2, value.hour()),
            (14, 2, value.minute()),
            (17, 2, value.second()),
            (20, 6, value.nanosecond() % 1_000_000_000 / 1_000),
        ] {
            super::put_digits(&mut text, start, width, number);
        }
        // Only ASCII digits and punctuation were written.
        serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

/// Serde helper: a date as `2024-06-24`, as chrono writes it.
pub mod date {
    use chrono::{Datelike, NaiveDate};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(year) = super::four_digit_year(value) else {
            return serializer.collect_str(value);
        };
        let mut text = *b"0000-00-00";
        for (start, width, number) in [(0, 4, year), (5, 2, value.month()), (8, 2, value.day())] {
            super::put_digits(&mut text, start, width, number);
        }
        serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

/// Serde helper: [`date`] for a date that may be null.
pub mod optional_date {
    use chrono::NaiveDate;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &Option<NaiveDate>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(date) => super::date::serialize(date, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// Serde helper: an optional UTC `NaiveDateTime` as [`rfc3339`] writes it, or `null`.
pub mod optional_rfc3339 {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &Option<NaiveDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::rfc3339::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// A date as the database gave it. diesel's SQLite conversion runs chrono's format-string
/// parser (and for timestamps tries several formats in turn): 15% of a list page's
/// instructions. The service stores one format, read here by position; anything else falls
/// back to diesel's conversion. Use as `#[diesel(deserialize_as = StoredDate)]`.
#[derive(FromSqlRow)]
pub struct StoredDate(NaiveDate);

/// A nullable date column, read as [`StoredDate`] is.
#[derive(FromSqlRow)]
pub struct StoredOptionalDate(Option<NaiveDate>);

/// A timestamp as the database gave it; see [`StoredDate`].
#[derive(FromSqlRow)]
pub struct StoredTimestamp(NaiveDateTime);

/// A nullable timestamp column, read as [`StoredTimestamp`] is.
#[derive(FromSqlRow)]
pub struct StoredOptionalTimestamp(Option<NaiveDateTime>);

/// `digits` as a number, if they are all ASCII digits.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// `YYYY-MM-DD`, as diesel writes dates to SQLite.
fn parse_date(text: &[u8]) -> Option<NaiveDate> {
    match text {
        [y @ .., b'-', m1, m2, b'-', d1, d2] if y.len() == 4 => NaiveDate::from_ymd_opt(
            i32::try_from(number(y)?).ok()?,
            number(&[*m1, *m2])?,
            number(&[*d1, *d2])?,
        ),
        _ => None,
    }
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]`, as diesel writes timestamps to SQLite.
fn parse_timestamp(text: &[u8]) -> Option<NaiveDateTime> {
    let (date, rest) = text.split_at_checked(10)?;
    let (time, fraction) = rest.split_at_checked(9)?;
    let [b' ', h1, h2, b':', m1, m2, b':', s1, s2] = time else {
        return None;
    };
    let nanos = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            number(digits)? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    parse_date(date)?.and_hms_nano_opt(
        number(&[*h1, *h2])?,
        number(&[*m1, *m2])?,
        number(&[*s1, *s2])?,
        nanos,
    )
}

impl FromSql<Date, Sqlite> for StoredDate {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(date) = parse_date(value.read_text().as_bytes()) {
            return Ok(StoredDate(date));
        }
        <NaiveDate as FromSql<Date, Sqlite>>::from_sql(value).map(StoredDate)
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTimestamp {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(at) = parse_timestamp(value.read_text().as_bytes()) {
            return Ok(StoredTimestamp(at));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(StoredTimestamp)
    }
}

/// PostgreSQL sends dates and timestamps as binary numbers: diesel's conversion is the fast one.
impl FromSql<Date, Pg> for StoredDate {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDate as FromSql<Date, Pg>>::from_sql(value).map(StoredDate)
    }
}

impl FromSql<Timestamp, Pg> for StoredTimestamp {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(StoredTimestamp)
    }
}

/// The four wrappers on the service's connection type, which dispatches to the backend in use;
/// the nullable ones are NULL-aware forms of the plain ones.
macro_rules! stored {
    ($plain:ident, $optional:ident, $value:ty, $sql:ty) => {
        impl FromSql<$sql, MultiBackend> for $plain {
            fn from_sql(
                value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                value.from_sql::<Self, $sql>()
            }
        }

        impl From<$plain> for $value {
            fn from(stored: $plain) -> Self {
                stored.0
            }
        }

        impl<DB: diesel::backend::Backend> FromSql<Nullable<$sql>, DB> for $optional
        where
            $plain: FromSql<$sql, DB>,
        {
            fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
                <$plain as FromSql<$sql, DB>>::from_sql(value).map(|v| $optional(Some(v.0)))
            }

            fn from_nullable_sql(value: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
                value.map_or(Ok($optional(None)), Self::from_sql)
            }
        }

        impl From<$optional> for Option<$value> {
            fn from(stored: $optional) -> Self {
                stored.0
            }
        }
    };
}

stored!(StoredDate, StoredOptionalDate, NaiveDate, Date);
stored!(
    StoredTimestamp,
    StoredOptionalTimestamp,
    NaiveDateTime,
    Timestamp
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn now_has_no_sub_microsecond_part() {
        assert_eq!(now().nanosecond() % 1_000, 0);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        #[derive(serde::Serialize)]
        struct T(#[serde(with = "rfc3339")] NaiveDateTime);
        let at = chrono::NaiveDate::from_ymd_opt(2024, 6, 24)
            .and_then(|d| d.and_hms_micro_opt(9, 0, 7, 42))
            .expect("valid date");
        assert_eq!(
            serde_json::to_string(&T(at)).expect("serializes"),
            "\"2024-06-24T09:00:07.000042Z\""
        );
    }

    #[test]
    fn years_without_four_digits_are_written_as_chrono_writes_them() {
        #[derive(serde::Serialize)]
        struct D(
            #[serde(with = "date")] NaiveDate,
            #[serde(with = "rfc3339")] NaiveDateTime,
        );
        for year in [-1, 10_000] {
            let day = NaiveDate::from_ymd_opt(year, 1, 2).expect("valid date");
            let at = day.and_hms_opt(3, 4, 5).expect("valid time");
            let expected = format!(
                "[\"{day}\",\"{}\"]",
                at.and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
            assert_eq!(
                serde_json::to_string(&D(day, at)).expect("serializes"),
                expected
            );
        }
    }

    #[test]
    fn stored_texts_are_read_by_position() {
        let date = NaiveDate::from_ymd_opt(2024, 2, 29).expect("valid date");
        assert_eq!(parse_date(b"2024-02-29"), Some(date));
        assert_eq!(
            parse_timestamp(b"2024-02-29 23:59:58.123456"),
            date.and_hms_micro_opt(23, 59, 58, 123_456)
        );
        assert_eq!(
            parse_timestamp(b"2024-02-29 23:59:58"),
            date.and_hms_opt(23, 59, 58)
        );
        assert_eq!(
            parse_timestamp(b"2024-02-29 23:59:58.5"),
            date.and_hms_milli_opt(23, 59, 58, 500)
        );
    }

    #[test]
    fn other_texts_are_left_to_diesel() {
        for text in [
            "2023-02-29",
            "2024-2-29",
            "24-02-29",
            "2024/02/29",
            "2024-02-29T10:00:00",
            "2024-02-29 10:00",
            "2024-02-29 25:00:00",
            "2024-02-29 10:00:00.",
            "2024-02-29 10:00:00.1234567890",
            "é024-02-29 10:00:00",
            "",
        ] {
            assert_eq!(parse_timestamp(text.as_bytes()), None, "{text}");
        }
        assert_eq!(parse_date(b"2024-02-29 "), None);
        assert_eq!(parse_date("2024-0²-29".as_bytes()), None);
    }

    proptest! {
        /// Whatever diesel writes (chrono's `%F %T%.f`), the fast path reads back unchanged,
        /// and the serializer agrees with chrono's RFC 3339 form.
        #[test]
        fn every_written_timestamp_reads_back(seconds in 0i64..253_402_300_799, micros in 0u32..1_000_000) {
            let at = chrono::DateTime::from_timestamp(seconds, micros * 1_000)
                .expect("in range")
                .naive_utc();
            let written = at.format("%F %T%.f").to_string();
            prop_assert_eq!(parse_timestamp(written.as_bytes()), Some(at));
            prop_assert_eq!(parse_date(at.date().format("%F").to_string().as_bytes()), Some(at.date()));
            #[derive(serde::Serialize)]
            struct T(#[serde(with = "rfc3339")] NaiveDateTime);
            let expected = at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            prop_assert_eq!(serde_json::to_string(&T(at)).expect("serializes"), format!("\"{expected}\""));
            #[derive(serde::Serialize)]
            struct D(#[serde(with = "date")] NaiveDate, #[serde(with = "optional_date")] Option<NaiveDate>);
            let day = at.date();
            prop_assert_eq!(
                serde_json::to_string(&D(day, Some(day))).expect("serializes"),
                serde_json::to_string(&(day, Some(day))).expect("serializes")
            );
        }
    }
}
