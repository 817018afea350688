//! Field rules shared by every resource. A `Validator` collects every broken rule so that one
//! 422 lists them all; the checked values come out normalized (trimmed).
//!
//! Text comes in two kinds, each with its rule here and its pattern in the input schemas:
//! single-line text (names, titles, codes, places) holds no control character at all, and
//! multi-line text (descriptions, summaries, notes) may also hold line feeds, tabs, and
//! carriage returns that start a CRLF line break. Either must hold something besides white
//! space: a blank value is refused, not taken for null (send null to clear a field).

use chrono::{Datelike, NaiveDate};

use crate::error::{ApiError, FieldError};

/// The schema pattern of single-line text: no control character (Unicode Cc), and something
/// besides white space. Valid ECMA-262 and Rust regex alike.
pub const SINGLE_LINE: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// The schema pattern of multi-line text: as [`SINGLE_LINE`], but line feeds, tabs and CRLF
/// line breaks are allowed.
pub const MULTI_LINE: &str = r"^(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*$";

/// The schema pattern of a URL field (beside `format: uri`): http or https, with no white
/// space or control character anywhere.
pub const HTTP_URL: &str = r"^https?://[^\s\x00-\x1f\x7f-\x9f]+$";

/// The schema pattern of a BCP 47 language tag, roughly (the service checks the subtags too).
pub const LANGUAGE_TAG: &str = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$";

/// The schema pattern of a text query parameter: anything but NUL, which PostgreSQL cannot
/// compare text with (see `openapi::TextParametersRefuseNul`).
pub const NO_NUL: &str = r"^[^\x00]*$";

/// What breaking the schema pattern `pattern` means, for people.
pub fn pattern_rule(pattern: &str) -> String {
    match pattern {
        SINGLE_LINE => "must not be blank, and must be one line without control characters (no line breaks or tabs)".to_owned(),
        MULTI_LINE => "must not be blank, and must hold no control characters other than line breaks and tabs".to_owned(),
        HTTP_URL => "must be an absolute http or https URL without spaces or control characters".to_owned(),
        NO_NUL => "must not contain NUL characters".to_owned(),
        LANGUAGE_TAG => "must be a BCP 47 language tag, such as ru, kk-Latn or en-GB".to_owned(),
        other => format!("must match the pattern {other}"),
    }
}

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

    /// A required single-line text of `min..=max` characters, trimmed (see the module's
    /// documentation).
    pub fn single_line(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        self.text(field, value, min, max, is_single_line)
    }

    /// An optional single-line text of at most `max` characters, trimmed; null stays null.
    pub fn optional_single_line(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        self.optional_text(field, value?, max, is_single_line)
    }

    /// An optional multi-line text of at most `max` characters, trimmed; null stays null.
    pub fn optional_multi_line(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        self.optional_text(field, value?, max, is_multi_line)
    }

    /// A text of `min..=max` characters once trimmed, whose characters `allowed` accepts.
    fn text(
        &mut self,
        field: &str,
        value: &str,
        min: usize,
        max: usize,
        allowed: fn(&str) -> bool,
    ) -> String {
        let value = value.trim();
        let chars = value.chars().count();
        self.check(
            (min..=max).contains(&chars),
            field,
            format!("must be {min} to {max} characters"),
        );
        self.check(allowed(value), field, "must not contain control characters");
        value.to_owned()
    }

    /// An optional field's text: as [`Self::text`], but blank is its own mistake, since null
    /// is how a client clears the field.
    fn optional_text(
        &mut self,
        field: &str,
        value: &str,
        max: usize,
        allowed: fn(&str) -> bool,
    ) -> Option<String> {
        if value.trim().is_empty() {
            self.check(false, field, "must not be blank; send null to clear it");
            return None;
        }
        Some(self.text(field, value, 1, max, allowed))
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

    /// An optional absolute http(s) URL, with no white space or control character in it
    /// (the URL parser would quietly encode or drop them; a header or a log must never get them).
    pub fn http_url(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        // The URL rule below names control characters itself.
        let value = self.optional_text(field, value?, 2000, |_| true)?;
        self.url_rule(field, &value);
        Some(value)
    }

    /// A required absolute http(s) URL, as [`Self::http_url`] checks it; `None` when blank.
    pub fn required_http_url(&mut self, field: &str, value: &str) -> Option<String> {
        if value.trim().is_empty() {
            self.check(false, field, "must not be blank");
            return None;
        }
        let value = self.text(field, value, 1, 2000, |_| true);
        self.url_rule(field, &value);
        Some(value)
    }

    fn url_rule(&mut self, field: &str, value: &str) {
        let ok = !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && url::Url::parse(value).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some_and(|h| !h.is_empty())
            });
        self.check(
            ok,
            field,
            "must be an absolute http or https URL without spaces or control characters",
        );
    }

    /// A BCP 47 language tag (`ru`, `kk-Latn`, `en-GB`): well-formed, its subtags in the IANA
    /// registry, returned in canonical case (`KK-latn` → `kk-Latn`).
    pub fn language_tag(&mut self, field: &str, value: &str) -> String {
        let value = value.trim();
        match language_tags::LanguageTag::parse(value) {
            Ok(tag) if tag.is_valid() && value.len() <= 35 => tag.into_string(),
            _ => {
                self.check(
                    false,
                    field,
                    "must be a BCP 47 language tag with registered subtags, such as ru, kk-Latn or en-GB",
                );
                value.to_owned()
            }
        }
    }

    /// An optional e-mail address.
    pub fn email(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = self.optional_single_line(field, value, 254)?;
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

    /// Dates that must come in the order given where present (`signed_on` ≤
    /// `entered_into_force_on` ≤ `expires_on`): each present date that comes before the last
    /// present one above it is recorded at its field, naming the field it clashes with.
    /// A missing date is skipped, so its neighbours are still compared.
    pub fn ordered_dates(&mut self, dates: &[(&str, Option<NaiveDate>)]) {
        let mut latest: Option<(&str, NaiveDate)> = None;
        for (field, date) in dates {
            let Some(date) = *date else { continue };
            match latest {
                Some((earlier, before)) if date < before => {
                    let earlier = earlier.rsplit('.').next().unwrap_or(earlier);
                    self.check(
                        false,
                        *field,
                        format!("must not be before {earlier} ({before})"),
                    );
                }
                _ => latest = Some((field, date)),
            }
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
}

/// Whether `text` holds no control character (Unicode Cc): one line, no tabs. NUL is one of
/// them, which PostgreSQL could not store anyway.
pub fn is_single_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Whether `text`'s only control characters are line feeds, tabs, and carriage returns that
/// start a CRLF line break.
pub fn is_multi_line(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '\n' | '\t' => true,
            '\r' => chars.peek() == Some(&'\n'),
            c => !c.is_control(),
        };
        if !allowed {
            return false;
        }
    }
    true
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
        assert_eq!(v.single_line("name", "  Қазақстан ", 1, 9), "Қазақстан");
        assert!(v.errors.is_empty());
        v.single_line("name", "   ", 1, 9);
        v.single_line("title", "0123456789", 1, 9);
        v.single_line("nul", "a\0b", 1, 9);
        let fields: Vec<_> = v.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "title", "nul"]);
    }

    #[test]
    fn blank_optional_text_is_refused_and_null_stays_null() {
        let mut v = Validator::new();
        assert_eq!(v.optional_single_line("acronym", None, 10), None);
        assert_eq!(v.optional_multi_line("notes", None, 10), None);
        assert_eq!(
            v.optional_multi_line("notes", Some(" x "), 10).as_deref(),
            Some("x")
        );
        assert!(v.errors.is_empty());
        v.optional_single_line("acronym", Some("  "), 10);
        v.optional_multi_line("notes", Some(""), 10);
        v.http_url("website", Some(""));
        v.email("email", Some(" "));
        let messages: Vec<_> = v.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["must not be blank; send null to clear it"; 4]);
    }

    #[test]
    fn single_line_text_refuses_every_control_character() {
        for bad in [
            "a\tb",
            "a\nb",
            "a\r\nb",
            "a\u{1b}[31mb",
            "a\u{7f}",
            "a\u{85}b",
        ] {
            let mut v = Validator::new();
            v.single_line("name", bad, 1, 20);
            v.optional_single_line("city", Some(bad), 20);
            assert_eq!(v.errors.len(), 2, "{bad:?}");
        }
    }

    #[test]
    fn multi_line_text_keeps_line_feeds_tabs_and_crlf_only() {
        let mut v = Validator::new();
        let text = "line one\n\tindented\r\nline three";
        assert_eq!(
            v.optional_multi_line("notes", Some(text), 100).as_deref(),
            Some(text)
        );
        assert!(v.errors.is_empty());
        for bad in ["lone\rreturn", "bell\u{7}", "esc\u{1b}", "nul\0"] {
            v.optional_multi_line("notes", Some(bad), 100);
        }
        assert_eq!(v.errors.len(), 4);
    }

    #[test]
    fn urls_with_white_space_or_control_characters_are_refused() {
        let mut v = Validator::new();
        v.http_url("website", Some("https://example.org/a\r\nSet-Cookie: x=1"));
        v.http_url("website", Some("https://example.org/a b"));
        v.http_url("website", Some("https://example.org/\u{7f}"));
        assert_eq!(v.errors.len(), 3);
    }

    /// The schema patterns say what the Validator's text rules say.
    #[test]
    fn patterns_agree_with_the_text_rules() {
        let single = matches_pattern(SINGLE_LINE);
        let multi = matches_pattern(MULTI_LINE);
        let url = matches_pattern(HTTP_URL);
        for text in [
            "x",
            " x ",
            "a b",
            "\t",
            "a\tb",
            "a\nb",
            "a\r\nb",
            "a\rb",
            "\u{1b}x",
            "Қазақстан",
            " ",
            "",
            "x\u{85}",
            "\u{a0}",
            "a\u{a0}b",
            "x\0",
        ] {
            let single_ok = is_single_line(text) && !text.trim().is_empty();
            let multi_ok = is_multi_line(text) && !text.trim().is_empty();
            assert_eq!(single(text), single_ok, "single-line {text:?}");
            assert_eq!(multi(text), multi_ok, "multi-line {text:?}");
        }
        assert!(url("https://example.org/a?b=c"));
        assert!(!url("https://example.org/a b"));
        assert!(!url("ftp://example.org"));
    }

    /// A matcher for `pattern`, compiled as the body check compiles it.
    fn matches_pattern(pattern: &str) -> impl Fn(&str) -> bool {
        let validator = jsonschema::validator_for(&serde_json::json!({"pattern": pattern}))
            .expect("pattern compiles");
        move |text| validator.is_valid(&serde_json::json!(text))
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
    fn present_dates_must_come_in_order_and_each_clash_names_the_other_field() {
        let day = |d| NaiveDate::from_ymd_opt(2024, 6, d);
        let mut v = Validator::new();
        v.ordered_dates(&[("a", day(1)), ("b", None), ("c", day(1)), ("d", day(2))]);
        v.ordered_dates(&[("a", None), ("b", None), ("c", None)]);
        assert!(v.errors.is_empty());
        v.ordered_dates(&[("signed_on", day(5)), ("x", None), ("expires_on", day(4))]);
        v.ordered_dates(&[("p[0].a", day(3)), ("p[0].b", day(9)), ("p[0].c", day(8))]);
        let found: Vec<_> = v
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("expires_on", "must not be before signed_on (2024-06-05)"),
                ("p[0].c", "must not be before b (2024-06-09)")
            ]
        );
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
            let kept = v.single_line("f", &value, min, max);
            let chars = value.trim().chars().count();
            proptest::prop_assert_eq!(kept.as_str(), value.trim());
            proptest::prop_assert_eq!(v.finish().is_ok(), (min..=max).contains(&chars));
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
            let valid = parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
                && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
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
