//! Timestamps: stored as UTC without a zone (the portable column type), shown as RFC 3339 UTC.

use chrono::{NaiveDateTime, Timelike, Utc};

/// The current UTC time, cut to microseconds so that both backends store it exactly.
pub fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// Serde helper: a UTC `NaiveDateTime` as `2024-06-24T09:00:00.000000Z`. Always six fraction
/// digits, so that the texts sort as the times do.
pub mod rfc3339 {
    use chrono::{NaiveDateTime, SecondsFormat};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &NaiveDateTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_has_no_sub_microsecond_part() {
        assert_eq!(now().nanosecond() % 1_000, 0);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        #[derive(serde::Serialize)]
        struct T(#[serde(with = "rfc3339")] NaiveDateTime);
        let at = chrono::NaiveDate::from_ymd_opt(2024, 6, 24)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .expect("valid date");
        assert_eq!(
            serde_json::to_string(&T(at)).expect("serializes"),
            "\"2024-06-24T09:00:00.000000Z\""
        );
    }
}
