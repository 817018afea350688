//! Field rules shared by every resource. A `Validator` collects every broken rule so that one
//! 422 lists them all; the checked values come out normalized (trimmed, empty → null).

use chrono::{Datelike, NaiveDate};

use crate::error::{ApiError, FieldError};

/// Collects broken field rules.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` for `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// A required text of `min..=max` characters, trimmed.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let value = value.trim();
        let chars = value.chars().count();
        self.check(
            (min..=max).contains(&chars),
            field,
            format!("must be {min} to {max} characters"),
        );
        self.no_nul(field, value);
        value.to_owned()
    }

    /// An optional text of at most `max` characters, trimmed; blank becomes null.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        self.check(
            value.chars().count() <= max,
            field,
            format!("must be at most {max} characters"),
        );
        self.no_nul(field, value);
        Some(value.to_owned())
    }

    /// Exactly `len` ASCII letters, returned upper-case (ISO codes).
    pub fn letters(&mut self, field: &str, value: &str, len: usize) -> String {
        let value = value.trim().to_ascii_uppercase();
        self.check(
            value.len() == len && value.bytes().all(|b| b.is_ascii_uppercase()),
            field,
            format!("must be {len} letters A-Z"),
        );
        value
    }

    /// Exactly `len` ASCII digits.
    pub fn digits(&mut self, field: &str, value: &str, len: usize) -> String {
        let value = value.trim().to_owned();
        self.check(
            value.len() == len && value.bytes().all(|b| b.is_ascii_digit()),
            field,
            format!("must be {len} digits 0-9"),
        );
        value
    }

    /// An optional absolute http(s) URL.
    pub fn http_url(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = self.optional_text(field, value, 2000)?;
        let ok = url::Url::parse(&value).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        });
        self.check(ok, field, "must be an absolute http or https URL");
        Some(value)
    }

    /// An optional e-mail address.
    pub fn email(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = self.optional_text(field, value, 254)?;
        self.check(
            value.parse::<email_address::EmailAddress>().is_ok(),
            field,
            "must be an e-mail address",
        );
        Some(value)
    }

    /// An optional date in years 1–9999, the range both backends and RFC 3339 share.
    pub fn date(&mut self, field: &str, value: Option<NaiveDate>) -> Option<NaiveDate> {
        if let Some(date) = value {
            self.check(
                (1..=9999).contains(&date.year()),
                field,
                "must be a date in years 0001 to 9999",
            );
        }
        value
    }

    /// `end` must not come before `start`.
    pub fn date_order(
        &mut self,
        end_field: &str,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) {
        if let (Some(start), Some(end)) = (start, end) {
            self.check(end >= start, end_field, "must not be before the start date");
        }
    }

    /// Records `{list}[i]{suffix}` for every item of a list that repeats an earlier one.
    pub fn no_repeats<T: Eq + std::hash::Hash>(
        &mut self,
        list: &str,
        suffix: &str,
        items: impl IntoIterator<Item = T>,
    ) {
        let mut seen = std::collections::HashSet::new();
        for (i, item) in items.into_iter().enumerate() {
            if !seen.insert(item) {
                self.errors.push(FieldError::new(
                    format!("{list}[{i}]{suffix}"),
                    "appears more than once in the list",
                ));
            }
        }
    }

    /// Whether no rule is broken so far.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Ends validation: every recorded rule as one 422, or nothing.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }

    /// PostgreSQL cannot store NUL in text; refuse it here rather than fail in the database.
    fn no_nul(&mut self, field: &str, value: &str) {
        self.check(
            !value.contains('\0'),
            field,
            "must not contain NUL characters",
        );
    }
}

/// The lower-cased text that `q` searches, made in Rust so that case folding is the same for
/// Cyrillic, Kazakh or Korean on both backends (SQLite's `lower()` only knows ASCII).
pub fn search_text<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts
        .into_iter()
        .flatten()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The LIKE pattern for a `q` search: lower-cased, with LIKE's wildcards escaped by `\`.
pub fn like_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded_in_characters() {
        let mut v = Validator::new();
        assert_eq!(v.text("name", "  Қазақстан ", 1, 9), "Қазақстан");
        assert!(v.errors.is_empty());
        v.text("name", "   ", 1, 9);
        v.text("title", "0123456789", 1, 9);
        v.text("nul", "a\0b", 1, 9);
        let fields: Vec<_> = v.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "title", "nul"]);
    }

    #[test]
    fn blank_optional_text_becomes_null() {
        let mut v = Validator::new();
        assert_eq!(v.optional_text("notes", Some("  "), 10), None);
        assert_eq!(v.optional_text("notes", None, 10), None);
        assert_eq!(
            v.optional_text("notes", Some(" x "), 10).as_deref(),
            Some("x")
        );
        assert!(v.finish().is_ok());
    }

    #[test]
    fn codes_urls_emails_and_dates_are_checked() {
        let mut v = Validator::new();
        assert_eq!(v.letters("code", "kz", 2), "KZ");
        v.digits("numeric", "398", 3);
        v.http_url("website", Some("https://www.undp.org/kazakhstan"));
        v.email("email", Some("info@astanahub.com"));
        assert!(v.errors.is_empty());
        v.letters("code", "K1", 2);
        v.letters("code", "KAZ", 2);
        v.digits("numeric", "39", 3);
        v.http_url("website", Some("ftp://example.org"));
        v.http_url("website", Some("/relative"));
        v.email("email", Some("not an address"));
        let start = NaiveDate::from_ymd_opt(2024, 6, 26);
        let end = NaiveDate::from_ymd_opt(2024, 6, 24);
        v.date_order("ends_on", start, end);
        v.date_order("ends_on", end, start);
        assert_eq!(v.errors.len(), 7);
    }

    #[test]
    fn repeats_are_reported_at_their_position() {
        let mut v = Validator::new();
        v.no_repeats("parties", ".partner_id", [3, 5, 3, 3]);
        let fields: Vec<_> = v.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["parties[2].partner_id", "parties[3].partner_id"]);
    }

    proptest::proptest! {
        #[test]
        fn text_is_accepted_exactly_when_its_trimmed_length_fits(value in "\\PC{0,12}", min in 0usize..4, max in 4usize..10) {
            let mut v = Validator::new();
            let kept = v.text("f", &value, min, max);
            let chars = value.trim().chars().count();
            proptest::prop_assert_eq!(kept.as_str(), value.trim());
            proptest::prop_assert_eq!(v.finish().is_ok(), (min..=max).contains(&chars) && !value.contains('\0'));
        }

        #[test]
        fn letters_come_out_upper_case_and_are_checked(value in "[a-zA-Z0-9 ]{0,4}") {
            let mut v = Validator::new();
            let code = v.letters("code", &value, 2);
            let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
            proptest::prop_assert_eq!(code.clone(), code.to_ascii_uppercase());
            proptest::prop_assert_eq!(v.finish().is_ok(), ok);
        }

        #[test]
        fn like_patterns_match_only_literally(q in "\\PC{0,10}") {
            let pattern = like_pattern(&q);
            proptest::prop_assert!(pattern.starts_with('%') && pattern.ends_with('%'));
            // Inside the outer wildcards, every %, _ and \ is escaped.
            let inner: Vec<char> = pattern[1..pattern.len() - 1].chars().collect();
            let mut i = 0;
            while i < inner.len() {
                if inner[i] == '\\' {
                    proptest::prop_assert!(i + 1 < inner.len() && matches!(inner[i + 1], '%' | '_' | '\\'));
                    i += 2;
                } else {
                    proptest::prop_assert!(!matches!(inner[i], '%' | '_'));
                    i += 1;
                }
            }
        }

        #[test]
        fn urls_must_be_absolute_http(url in "\\PC{0,30}") {
            let mut v = Validator::new();
            v.http_url("u", Some(&url));
            let trimmed = url.trim();
            let parsed = url::Url::parse(trimmed).ok();
            let valid = trimmed.is_empty()
                || (parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
                    && !trimmed.contains('\0'));
            proptest::prop_assert_eq!(v.finish().is_ok(), valid);
        }
    }

    #[test]
    fn search_patterns_are_lowercase_and_escaped() {
        assert_eq!(like_pattern(" ҚАЗ "), "%қаз%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
        assert_eq!(
            search_text([Some("Korea"), None, Some("МВД")]),
            "korea\nмвд"
        );
    }
}
