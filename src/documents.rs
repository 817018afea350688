//! Links to documents about a record — the signed memorandum, an agenda, a report — kept by
//! agreements and events alike (`documents`, a JSON list beside the row, like `parties`). One
//! type and one rule set for both; the categories map to the IATI DocumentCategory codelist,
//! which the IATI activity file writes (`feeds::iati`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::text_enum;
use crate::validation::Validator;

/// How many documents one record may link to.
pub const MAX_DOCUMENTS: usize = 50;

text_enum! {
    /// What a linked document is. Each category is one code of the IATI DocumentCategory
    /// codelist, written in the IATI activity file:
    /// `memorandum_of_understanding` → A09 Memorandum of understanding,
    /// `agreement_text` → A04 Conditions (the signed text of an agreement other than a
    /// memorandum), `agenda` → A02 Objectives / Purpose of activity (an event's agenda or
    /// programme), `report` → A08 Results, outcomes and outputs (a progress or event report),
    /// `evaluation` → A07 Review of project performance and evaluation, `budget` → A05 Budget,
    /// `web_page` → A12 Activity web page.
    pub enum DocumentCategory {
        MemorandumOfUnderstanding => "memorandum_of_understanding",
        AgreementText => "agreement_text",
        Agenda => "agenda",
        Report => "report",
        Evaluation => "evaluation",
        Budget => "budget",
        WebPage => "web_page",
    }
}

impl DocumentCategory {
    /// The code of the IATI DocumentCategory codelist this category is published as.
    pub fn iati_code(self) -> &'static str {
        match self {
            Self::MemorandumOfUnderstanding => "A09",
            Self::AgreementText => "A04",
            Self::Agenda => "A02",
            Self::Report => "A08",
            Self::Evaluation => "A07",
            Self::Budget => "A05",
            Self::WebPage => "A12",
        }
    }
}

/// A link to a document about the record.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Memorandum of understanding, signed text", "url": "https://example.org/documents/mou-2025-uz-kr.pdf",
    "category": "memorandum_of_understanding", "language": "ru", "published_on": "2025-04-15"
}))]
pub struct Document {
    /// One line without control characters; trimmed, and must not be blank.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Agenda of the forum"
    )]
    pub title: String,
    /// Where the document is: an absolute http or https URL, without spaces or control
    /// characters.
    #[schema(
        format = "uri",
        max_length = 2000,
        pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]+$",
        example = "https://example.org/documents/agenda.pdf"
    )]
    pub url: String,
    pub category: DocumentCategory,
    /// The document's language: a BCP 47 tag (`ru`, `kk`, `kk-Latn`, `en`), stored in
    /// canonical case; null when not known.
    #[serde(default)]
    #[schema(
        max_length = 35,
        pattern = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
        example = "kk-Latn"
    )]
    pub language: Option<String>,
    /// When the document was published or signed; null when not known.
    #[serde(default, serialize_with = "crate::time::optional_date::serialize")]
    #[schema(format = Date, example = "2025-04-15")]
    pub published_on: Option<NaiveDate>,
}

/// Checks `documents` (the field `field`), recording broken rules in `v`: at most
/// [`MAX_DOCUMENTS`], each with a title, an http(s) URL, a well-formed and known language tag
/// and a date in years 1–9999. Returns them normalized (trimmed, tags in canonical case).
pub fn check(v: &mut Validator, field: &str, documents: Vec<Document>) -> Vec<Document> {
    v.check(
        documents.len() <= MAX_DOCUMENTS,
        field,
        format!("must hold at most {MAX_DOCUMENTS} documents"),
    );
    documents
        .into_iter()
        .enumerate()
        .map(|(i, document)| {
            let at = |name: &str| format!("{field}[{i}].{name}");
            Document {
                title: v.single_line(&at("title"), &document.title, 1, 300),
                url: v
                    .required_http_url(&at("url"), &document.url)
                    .unwrap_or(document.url),
                category: document.category,
                language: document
                    .language
                    .map(|tag| v.language_tag(&at("language"), &tag)),
                published_on: v.date(&at("published_on"), document.published_on),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Document {
        Document {
            title: " Agenda ".into(),
            url: "https://example.org/agenda.pdf".into(),
            category: DocumentCategory::Agenda,
            language: Some("KK-latn".into()),
            published_on: NaiveDate::from_ymd_opt(2025, 10, 6),
        }
    }

    #[test]
    fn documents_are_trimmed_and_their_language_put_in_canonical_case() {
        let mut v = Validator::new();
        let checked = check(&mut v, "documents", vec![document()]);
        assert!(v.finish().is_ok());
        assert_eq!(checked[0].title, "Agenda");
        assert_eq!(checked[0].language.as_deref(), Some("kk-Latn"));
    }

    #[test]
    fn every_broken_rule_is_named_at_its_document() {
        let mut v = Validator::new();
        let bad = Document {
            title: "\n".into(),
            url: "ftp://example.org/x".into(),
            language: Some("not a tag".into()),
            published_on: NaiveDate::from_ymd_opt(10_000, 1, 1),
            ..document()
        };
        check(&mut v, "documents", vec![document(), bad]);
        let Err(crate::error::ApiError::Validation(errors)) = v.finish() else {
            panic!("expected validation errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "documents[1].title",
                "documents[1].url",
                "documents[1].language",
                "documents[1].published_on"
            ]
        );
        let mut v = Validator::new();
        check(&mut v, "documents", vec![document(); MAX_DOCUMENTS + 1]);
        assert!(v.finish().is_err());
    }

    #[test]
    fn every_category_has_an_iati_code() {
        let codes: Vec<_> = DocumentCategory::ALL
            .iter()
            .map(|c| c.iati_code())
            .collect();
        assert_eq!(codes, ["A09", "A04", "A02", "A08", "A07", "A05", "A12"]);
    }
}
