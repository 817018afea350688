//! `GET /api/v1/iati/activities.xml` and `GET /api/v1/iati/organisation.xml`: the hub's joint
//! projects as IATI activities, and the hub itself as an IATI organisation, in the IATI Standard
//! 2.03, written with `quick-xml`. CI checks what they write against the standard's own XSD
//! files (`schemas/iati-2.03/`, `.ci/iati-check`).
//!
//! What is published, and how each field maps, is said once here and in docs/guide.md:
//!
//! - agreements of kind `joint_project` matching the agreements list's filters, by id;
//! - not drafts; not one without a party in an IATI role (the standard needs a participating
//!   organisation); not one without `starts_on` (the standard needs a start date);
//! - party roles: `funding` → 1 Funding, `signatory` → 2 Accountable, `coordinating` → 3
//!   Extending, `implementing` → 4 Implementing; `observer` has no IATI role and is left out;
//! - status: `negotiation` → 1 Pipeline/identification, `signed` → 1 before `starts_on` and 2
//!   Implementation from it, `active` → 2, `expired` → 4 Closed, `terminated` → 5 Cancelled;
//! - `starts_on`/`ends_on` → activity dates, actual (2, 4) when on or before today (UTC),
//!   planned (1, 3) after it;
//! - each of `documents` → a `document-link`: its category's IATI DocumentCategory code (see
//!   `documents::DocumentCategory`), the media type its URL's extension names (`text/html`
//!   when none), its language's ISO 639-1 code, its date.
//!
//! The activities are read `CHUNK` agreements a statement, each with the partners not met
//! before, and sent as they are written: memory stays flat however many there are.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use chrono::{NaiveDate, NaiveDateTime, Utc};
use futures_util::StreamExt;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::agreements::Agreements;
use crate::agreements::model::{
    Agreement, AgreementFilter, AgreementKind, AgreementSort, AgreementStatus, AgreementStatuses,
    PartyRole,
};
use crate::auth::Access;
use crate::config::FeedSettings;
use crate::db::Db;
use crate::documents::Document;
use crate::error::{ApiError, responses};
use crate::filter::{AnyOf, CountryCodes};
use crate::http::QueryParams;
use crate::pagination::{Cursor, Sort};
use crate::partners::model::PartnerKinds;
use crate::partners::{Partner, PartnerKind, queries as partner_queries};
use crate::resource;
use crate::routing::Routes;

/// The version of the IATI Standard the files follow.
pub const IATI_VERSION: &str = "2.03";

/// Agreements read by one statement.
const CHUNK: i64 = 200;

/// The IATI routes: reads like every list.
pub fn routes() -> Routes {
    Routes::new("/api/v1/iati")
        .get("/activities.xml", Access::Read, activities)
        .get("/organisation.xml", Access::Read, organisation)
}

/// The IATI activity file's filters: those of the agreements list, less `kind` (always
/// `joint_project`) and its order (by id) and pages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityFilter {
    /// Only agreements in one of these statuses (`draft` is never published).
    #[param(inline)]
    pub status: Option<AgreementStatuses>,
    /// Only agreements this partner is party to (its id).
    pub partner: Option<i64>,
    /// Only agreements with a party of one of these partner kinds.
    #[param(inline)]
    pub partner_kind: Option<PartnerKinds>,
    /// Only agreements covering one of these countries (codes, any case).
    #[param(inline)]
    pub country: Option<CountryCodes>,
    /// Only agreements signed on or after this date.
    #[param(format = Date)]
    pub signed_from: Option<NaiveDate>,
    /// Only agreements signed on or before this date.
    #[param(format = Date)]
    pub signed_to: Option<NaiveDate>,
    /// Only agreements in force on this date: `starts_on` ≤ date and `ends_on` (if any) ≥ date.
    #[param(format = Date)]
    pub active_on: Option<NaiveDate>,
    /// Only agreements with a party in force on this date (as the agreements list's filter of
    /// that name; with `partner`, that partner).
    #[param(format = Date, example = "2025-06-01")]
    pub party_active_on: Option<NaiveDate>,
    /// Case-insensitive search in titles and summaries.
    pub q: Option<String>,
}

impl From<ActivityFilter> for AgreementFilter {
    fn from(filter: ActivityFilter) -> Self {
        AgreementFilter {
            status: filter.status,
            kind: Some(AnyOf(vec![AgreementKind::JointProject])),
            partner: filter.partner,
            partner_kind: filter.partner_kind,
            country: filter.country,
            signed_from: filter.signed_from,
            signed_to: filter.signed_to,
            active_on: filter.active_on,
            party_active_on: filter.party_active_on,
            q: filter.q.map(Into::into),
            sort: None,
            updated_after: None,
            updated_before: None,
            include_deleted: None,
        }
    }
}

/// The hub's joint projects as IATI activities
///
/// An IATI Activity Standard 2.03 file (`iati-activities`) of the agreements of kind
/// `joint_project` that match the filters, by id. Each gives `iati-identifier` (the reporting
/// organisation's identifier, `-`, the agreement's id), `reporting-org`, `title` and
/// `description` (the summary, or the title when there is none), a `participating-org` per party
/// (funding → 1, signatory → 2, coordinating → 3, implementing → 4; observers are left out),
/// `activity-status` (negotiation → 1; signed → 1 before its start, 2 from it; active → 2;
/// expired → 4; terminated → 5), `activity-date` (start and end, actual when on or before today,
/// else planned), a `recipient-country` per covered country, a `document-link` per document
/// (its category's IATI code, media type, language and date) and `last-updated-datetime`.
/// Drafts are not published, nor agreements without a party in an IATI role or without a start
/// date. 404 when nothing is left to publish: an IATI file holds at least one activity.
#[utoipa::path(
    get, path = "/api/v1/iati/activities.xml", tag = "agreements", operation_id = "iati_activities",
    params(ActivityFilter),
    responses(
        (status = 200, description = "An IATI 2.03 activity file", content_type = "application/xml",
         body = String,
         example = json!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<iati-activities version=\"2.03\" generated-datetime=\"2026-11-30T08:00:00Z\">\n<iati-activity last-updated-datetime=\"2024-06-24T09:00:00Z\" xml:lang=\"en\">\n  <iati-identifier>XX-COOP-REGISTRY-1</iati-identifier>\n  <reporting-org ref=\"XX-COOP-REGISTRY\" type=\"40\">\n    <narrative xml:lang=\"en\">Cooperation Registry</narrative>\n  </reporting-org>\n  <title>\n    <narrative xml:lang=\"en\">Regional project on digital government</narrative>\n  </title>\n  <description type=\"1\">\n    <narrative xml:lang=\"en\">Regional project on digital government</narrative>\n  </description>\n  <participating-org role=\"3\" type=\"40\">\n    <narrative xml:lang=\"en\">Astana Civil Service Hub</narrative>\n  </participating-org>\n  <activity-status code=\"4\"/>\n  <activity-date type=\"2\" iso-date=\"2021-03-01\"/>\n  <activity-date type=\"4\" iso-date=\"2023-12-31\"/>\n  <recipient-country code=\"KZ\"/>\n  <document-link url=\"https://example.org/documents/project-report.pdf\" format=\"application/pdf\">\n    <title>\n      <narrative xml:lang=\"en\">Final report of the project</narrative>\n    </title>\n    <category code=\"A08\"/>\n    <language code=\"en\"/>\n    <document-date iso-date=\"2024-03-01\"/>\n  </document-link>\n</iati-activity>\n</iati-activities>\n")),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security((), ("bearer" = [])),
)]
pub async fn activities(
    db: web::Data<Db>,
    settings: web::Data<FeedSettings>,
    QueryParams(filter): QueryParams<ActivityFilter>,
) -> Result<HttpResponse, ApiError> {
    let mut file = ActivityFile {
        db: db.into_inner(),
        settings: settings.into_inner(),
        filter: Arc::new(filter.into()),
        partners: HashMap::new(),
        today: Utc::now().date_naive(),
        generated: Utc::now().naive_utc(),
        next: Next::After(None),
    };
    // Read on until one activity is written (or nothing is left), so that a file with none is
    // a 404 rather than a file the schema refuses.
    let mut first = file.head()?;
    loop {
        let written = file.next_part().await?;
        let done = matches!(file.next, Next::Close);
        match written {
            Some(part) => {
                first.extend_from_slice(&part);
                break;
            }
            None if done => {
                return Err(ApiError::NotFound(
                    "no joint project to publish matches these filters (drafts, agreements \
                     without a party in an IATI role and agreements without a start date are \
                     left out); an IATI activity file holds at least one"
                        .to_owned(),
                ));
            }
            None => {}
        }
    }
    let first = futures_util::stream::once(async move { Ok::<_, ApiError>(Bytes::from(first)) });
    let rest = futures_util::stream::unfold(file, |mut file| async move {
        match file.next {
            Next::Done => None,
            Next::Close => {
                file.next = Next::Done;
                Some((Ok(Bytes::from(tail())), file))
            }
            Next::After(_) => match file.next_part().await {
                Ok(part) => Some((Ok(Bytes::from(part.unwrap_or_default())), file)),
                Err(error) => {
                    // The answer has begun: all that can be done is to break it off, so that
                    // the client sees a cut transfer rather than a file that ends early.
                    log::error!("the IATI activity file broke off: {error}");
                    file.next = Next::Done;
                    Some((Err(error), file))
                }
            },
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        ))
        .insert_header(super::inline_file("activities.xml"))
        .streaming(first.chain(rest)))
}

/// The hub as an IATI organisation
///
/// An IATI Organisation Standard 2.03 file (`iati-organisations`) for the reporting
/// organisation the service is set up with (`IATI_REPORTING_ORG_REF`, `…_NAME`, `…_TYPE`).
#[utoipa::path(
    get, path = "/api/v1/iati/organisation.xml", tag = "agreements", operation_id = "iati_organisation",
    responses(
        (status = 200, description = "An IATI 2.03 organisation file", content_type = "application/xml",
         body = String,
         example = json!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<iati-organisations version=\"2.03\" generated-datetime=\"2026-11-30T08:00:00Z\">\n  <iati-organisation xml:lang=\"en\">\n    <organisation-identifier>XX-COOP-REGISTRY</organisation-identifier>\n    <name>\n      <narrative xml:lang=\"en\">Cooperation Registry</narrative>\n    </name>\n    <reporting-org ref=\"XX-COOP-REGISTRY\" type=\"40\">\n      <narrative xml:lang=\"en\">Cooperation Registry</narrative>\n    </reporting-org>\n  </iati-organisation>\n</iati-organisations>\n")),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    ),
    security((), ("bearer" = [])),
)]
pub async fn organisation(settings: web::Data<FeedSettings>) -> Result<HttpResponse, ApiError> {
    let body = organisation_file(&settings, Utc::now().naive_utc()).map_err(write_failed)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        ))
        .insert_header(super::inline_file("organisation.xml"))
        .body(body))
}

/// The organisation file of the hub as `settings` name it.
pub fn organisation_file(
    settings: &FeedSettings,
    generated: NaiveDateTime,
) -> std::io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("iati-organisations")
        .with_attributes([
            ("version", IATI_VERSION),
            ("generated-datetime", timestamp(generated).as_str()),
        ])
        .write_inner_content(|w| {
            w.create_element("iati-organisation")
                .with_attribute(("xml:lang", settings.iati_language.as_str()))
                .write_inner_content(|w| {
                    w.create_element("organisation-identifier")
                        .write_text_content(BytesText::new(&settings.iati_reporting_org_ref))?;
                    w.create_element("name").write_inner_content(|w| {
                        narrative(
                            w,
                            &settings.iati_language,
                            &settings.iati_reporting_org_name,
                        )
                    })?;
                    reporting_org(w, settings)
                })?;
            Ok(())
        })?;
    let mut body = w.into_inner();
    body.push(b'\n');
    Ok(body)
}

/// Where the activity file's reading stands.
enum Next {
    /// Read the agreements after this id (from the first when `None`).
    After(Option<i64>),
    /// Every agreement is written: close the root element.
    Close,
    Done,
}

/// An activity file being written: what it reads, and the partners it has met.
struct ActivityFile {
    db: Arc<Db>,
    settings: Arc<FeedSettings>,
    filter: Arc<AgreementFilter>,
    partners: HashMap<i64, Partner>,
    today: NaiveDate,
    generated: NaiveDateTime,
    next: Next,
}

impl ActivityFile {
    /// The XML declaration and the root element's start.
    fn head(&self) -> Result<Vec<u8>, ApiError> {
        let mut w = Writer::new(Vec::new());
        let written: std::io::Result<()> = (|| {
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
            w.get_mut().push(b'\n');
            let generated = timestamp(self.generated);
            w.write_event(Event::Start(
                BytesStart::new("iati-activities").with_attributes([
                    ("version", IATI_VERSION),
                    ("generated-datetime", generated.as_str()),
                ]),
            ))?;
            w.get_mut().push(b'\n');
            Ok(())
        })();
        written.map_err(write_failed)?;
        Ok(w.into_inner())
    }

    /// Reads the next chunk of agreements and writes those to publish: `None` when it held
    /// none. Moves `next` on.
    async fn next_part(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        let Next::After(after) = self.next else {
            return Ok(None);
        };
        let filter = Arc::clone(&self.filter);
        let partners = std::mem::take(&mut self.partners);
        let (agreements, partners) = self
            .db
            .read(move |conn| {
                let sort = Sort::<AgreementSort>::default();
                let cursor = after.map(|id| Cursor::after(&sort, id, id));
                let rows = resource::list_items::<Agreements>(
                    conn,
                    &filter,
                    sort,
                    cursor.as_ref(),
                    CHUNK,
                )?;
                let partners = with_parties(conn, partners, &rows)?;
                Ok((rows, partners))
            })
            .await?;
        self.partners = partners;
        self.next = match agreements.last() {
            Some(last) if agreements.len() as i64 == CHUNK => Next::After(Some(last.id)),
            _ => Next::Close,
        };
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let mut any = false;
        for agreement in &agreements {
            if let Some(activity) = Activity::of(agreement, &self.partners, self.today) {
                activity
                    .write(&mut w, &self.settings)
                    .map_err(write_failed)?;
                any = true;
            }
        }
        // The writer breaks the line before each activity but the first; the next part's
        // first starts on a line of its own.
        let mut part = w.into_inner();
        part.push(b'\n');
        Ok(any.then_some(part))
    }
}

/// `known` and every partner party to `agreements` not in it yet, read one by one through the
/// partners' own queries (a partner is read once per file).
fn with_parties(
    conn: &mut crate::db::DbConnection,
    mut known: HashMap<i64, Partner>,
    agreements: &[Agreement],
) -> Result<HashMap<i64, Partner>, ApiError> {
    for party in agreements.iter().flat_map(|a| &a.parties) {
        if !known.contains_key(&party.partner_id)
            && let Some(partner) = partner_queries::find(conn, party.partner_id)?
        {
            known.insert(partner.id, partner);
        }
    }
    Ok(known)
}

/// The root element's end.
fn tail() -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    // Writing into memory cannot fail.
    let _ = w.write_event(Event::End(BytesEnd::new("iati-activities")));
    let mut body = w.into_inner();
    body.push(b'\n');
    body
}

/// One agreement as the activity it is published as.
struct Activity<'a> {
    agreement: &'a Agreement,
    /// Role code, organisation type code, name, and its IATI organisation identifier if known.
    organisations: Vec<(&'static str, &'static str, &'a str, Option<&'a str>)>,
    status: &'static str,
    /// Date type code, date.
    dates: Vec<(&'static str, NaiveDate)>,
}

impl<'a> Activity<'a> {
    /// The activity `agreement` is published as, or `None` when it is not published.
    fn of(
        agreement: &'a Agreement,
        partners: &'a HashMap<i64, Partner>,
        today: NaiveDate,
    ) -> Option<Self> {
        let starts_on = agreement.starts_on?;
        let status = activity_status(agreement.status, starts_on, today)?;
        let organisations: Vec<_> = agreement
            .parties
            .iter()
            .filter_map(|party| {
                let role = organisation_role(party.role)?;
                let partner = partners.get(&party.partner_id)?;
                let iati = partner.identifiers.iter().find(|i| i.scheme == "iati-org");
                Some((
                    role,
                    organisation_type(partner.kind),
                    partner.name.as_str(),
                    iati.map(|i| i.value.as_str()),
                ))
            })
            .collect();
        if organisations.is_empty() {
            return None;
        }
        let mut dates = vec![(if starts_on <= today { "2" } else { "1" }, starts_on)];
        if let Some(ends_on) = agreement.ends_on {
            dates.push((if ends_on <= today { "4" } else { "3" }, ends_on));
        }
        Some(Activity {
            agreement,
            organisations,
            status,
            dates,
        })
    }

    fn write(&self, w: &mut Writer<Vec<u8>>, settings: &FeedSettings) -> std::io::Result<()> {
        let a = self.agreement;
        let lang = settings.iati_language.as_str();
        w.create_element("iati-activity")
            .with_attributes([
                ("last-updated-datetime", timestamp(a.updated_at).as_str()),
                ("xml:lang", lang),
            ])
            .write_inner_content(|w| {
                w.create_element("iati-identifier")
                    .write_text_content(BytesText::new(&format!(
                        "{}-{}",
                        settings.iati_reporting_org_ref, a.id
                    )))?;
                reporting_org(w, settings)?;
                w.create_element("title")
                    .write_inner_content(|w| narrative(w, lang, &a.title))?;
                // Type 1: the general description.
                w.create_element("description")
                    .with_attribute(("type", "1"))
                    .write_inner_content(|w| {
                        narrative(w, lang, a.summary.as_deref().unwrap_or(&a.title))
                    })?;
                for (role, kind, name, iati) in &self.organisations {
                    let mut attributes = vec![("role", *role), ("type", *kind)];
                    if let Some(iati) = iati {
                        attributes.push(("ref", iati));
                    }
                    w.create_element("participating-org")
                        .with_attributes(attributes)
                        .write_inner_content(|w| narrative(w, lang, name))?;
                }
                w.create_element("activity-status")
                    .with_attribute(("code", self.status))
                    .write_empty()?;
                for (kind, date) in &self.dates {
                    w.create_element("activity-date")
                        .with_attributes([
                            ("type", *kind),
                            ("iso-date", date.format("%Y-%m-%d").to_string().as_str()),
                        ])
                        .write_empty()?;
                }
                for code in &a.country_codes {
                    w.create_element("recipient-country")
                        .with_attribute(("code", code.as_str()))
                        .write_empty()?;
                }
                for document in &a.documents {
                    document_link(w, lang, document)?;
                }
                Ok(())
            })?;
        Ok(())
    }
}

/// `document-link`: the document's URL, its media type as its name's extension says
/// ([`media_type`]), its title, its category's IATI code, its language (the ISO 639-1 code
/// IATI takes, when the tag's language has one) and its date.
fn document_link(w: &mut Writer<Vec<u8>>, lang: &str, document: &Document) -> std::io::Result<()> {
    w.create_element("document-link")
        .with_attributes([
            ("url", document.url.as_str()),
            ("format", media_type(&document.url)),
        ])
        .write_inner_content(|w| {
            w.create_element("title")
                .write_inner_content(|w| narrative(w, lang, &document.title))?;
            w.create_element("category")
                .with_attribute(("code", document.category.iati_code()))
                .write_empty()?;
            let language = document
                .language
                .as_deref()
                .and_then(|tag| tag.split('-').next())
                .filter(|primary| primary.len() == 2);
            if let Some(code) = language {
                w.create_element("language")
                    .with_attribute(("code", code))
                    .write_empty()?;
            }
            if let Some(date) = document.published_on {
                w.create_element("document-date")
                    .with_attribute(("iso-date", date.format("%Y-%m-%d").to_string().as_str()))
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The IANA media type of a document, from the extension of its URL's path (`.pdf`, `.docx`…);
/// `text/html`, a web page, when the extension says nothing known.
pub fn media_type(url: &str) -> &'static str {
    let path = url::Url::parse(url)
        .map(|u| u.path().to_ascii_lowercase())
        .unwrap_or_default();
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "odt" => "application/vnd.oasis.opendocument.text",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "zip" => "application/zip",
        _ => "text/html",
    }
}

/// `reporting-org`: the hub, as the settings name it.
fn reporting_org(w: &mut Writer<Vec<u8>>, settings: &FeedSettings) -> std::io::Result<()> {
    w.create_element("reporting-org")
        .with_attributes([
            ("ref", settings.iati_reporting_org_ref.as_str()),
            ("type", settings.iati_reporting_org_type.as_str()),
        ])
        .write_inner_content(|w| {
            narrative(
                w,
                &settings.iati_language,
                &settings.iati_reporting_org_name,
            )
        })?;
    Ok(())
}

/// `<narrative xml:lang="…">text</narrative>`.
fn narrative(w: &mut Writer<Vec<u8>>, lang: &str, text: &str) -> std::io::Result<()> {
    w.create_element("narrative")
        .with_attribute(("xml:lang", lang))
        .write_text_content(BytesText::new(&xml_chars(text)))?;
    Ok(())
}

/// `text` with the two characters XML 1.0 cannot hold that the registry's rules let through
/// (U+FFFE and U+FFFF) replaced; the control characters XML refuses are refused on input.
fn xml_chars(text: &str) -> String {
    text.replace(['\u{FFFE}', '\u{FFFF}'], "\u{FFFD}")
}

/// A UTC timestamp as `xsd:dateTime`, to the second.
fn timestamp(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// IATI's OrganisationRole code for a party's role; `None` for a role IATI has no code for.
pub fn organisation_role(role: PartyRole) -> Option<&'static str> {
    match role {
        PartyRole::Funding => Some("1"),
        PartyRole::Signatory => Some("2"),
        PartyRole::Coordinating => Some("3"),
        PartyRole::Implementing => Some("4"),
        PartyRole::Observer => None,
    }
}

/// IATI's OrganisationType code for a partner's kind.
pub fn organisation_type(kind: PartnerKind) -> &'static str {
    match kind {
        PartnerKind::Government => "10",
        PartnerKind::LocalGovernment => "11",
        PartnerKind::PublicSector => "15",
        PartnerKind::InternationalNgo => "21",
        PartnerKind::NationalNgo => "22",
        PartnerKind::RegionalNgo => "23",
        PartnerKind::Multilateral => "40",
        PartnerKind::Foundation => "60",
        PartnerKind::PrivateSector => "70",
        PartnerKind::Academic => "80",
        PartnerKind::Other => "90",
    }
}

/// IATI's ActivityStatus code for an agreement's status (`starts_on` on `today`); `None` for a
/// draft, which is not published.
pub fn activity_status(
    status: AgreementStatus,
    starts_on: NaiveDate,
    today: NaiveDate,
) -> Option<&'static str> {
    match status {
        AgreementStatus::Draft => None,
        AgreementStatus::Negotiation => Some("1"),
        AgreementStatus::Signed if starts_on > today => Some("1"),
        AgreementStatus::Signed | AgreementStatus::Active => Some("2"),
        AgreementStatus::Expired => Some("4"),
        AgreementStatus::Terminated => Some("5"),
    }
}

fn write_failed(error: std::io::Error) -> ApiError {
    ApiError::internal("cannot write an IATI file", error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreements::model::Party;
    use crate::partners::identifiers::Identifier;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    fn partner(id: i64, kind: PartnerKind) -> Partner {
        let at = day(2024, 1, 1).and_hms_opt(0, 0, 0).expect("a time");
        Partner {
            id,
            name: format!("Partner <{id}> & co"),
            acronym: None,
            kind,
            country_code: None,
            website: None,
            email: None,
            description: None,
            identifiers: Vec::new(),
            created_at: at,
            updated_at: at,
            version: 1,
            deleted_at: None,
            translations: Default::default(),
        }
    }

    fn agreement(status: AgreementStatus, roles: &[PartyRole]) -> Agreement {
        let at = day(2024, 6, 24).and_hms_opt(9, 0, 0).expect("a time");
        Agreement {
            id: 5,
            title: "Joint project".into(),
            kind: AgreementKind::JointProject,
            status,
            signed_on: Some(day(2021, 3, 1)),
            entered_into_force_on: None,
            expires_on: None,
            starts_on: Some(day(2021, 3, 1)),
            ends_on: Some(day(2027, 12, 31)),
            summary: None,
            document_url: None,
            parties: roles
                .iter()
                .enumerate()
                .map(|(i, role)| Party::new(i as i64 + 1, *role))
                .collect(),
            country_codes: vec!["KZ".into(), "GE".into()],
            documents: Vec::new(),
            created_at: at,
            updated_at: at,
            version: 2,
            deleted_at: None,
            translations: Default::default(),
        }
    }

    #[test]
    fn observers_drafts_and_missing_start_dates_are_not_published() {
        let partners: HashMap<i64, Partner> = (1..=3)
            .map(|id| (id, partner(id, PartnerKind::Government)))
            .collect();
        let today = day(2026, 11, 30);
        let observer = agreement(AgreementStatus::Active, &[PartyRole::Observer]);
        assert!(Activity::of(&observer, &partners, today).is_none());
        let draft = agreement(AgreementStatus::Draft, &[PartyRole::Funding]);
        assert!(Activity::of(&draft, &partners, today).is_none());
        let undated = Agreement {
            starts_on: None,
            ..agreement(AgreementStatus::Active, &[PartyRole::Funding])
        };
        assert!(Activity::of(&undated, &partners, today).is_none());
        let mixed = agreement(
            AgreementStatus::Active,
            &[PartyRole::Observer, PartyRole::Implementing],
        );
        let activity = Activity::of(&mixed, &partners, today).expect("published");
        assert_eq!(
            activity.organisations,
            [("4", "10", "Partner <2> & co", None)]
        );
        assert_eq!(
            activity.dates,
            [("2", day(2021, 3, 1)), ("3", day(2027, 12, 31))]
        );
    }

    #[test]
    fn a_signed_agreement_is_in_the_pipeline_until_it_starts() {
        let start = day(2026, 1, 1);
        let status = |today| activity_status(AgreementStatus::Signed, start, today);
        assert_eq!(status(day(2025, 12, 31)), Some("1"));
        assert_eq!(status(start), Some("2"));
    }

    #[test]
    fn texts_are_escaped_and_narratives_carry_their_language() {
        let mut known = partner(1, PartnerKind::Academic);
        known.identifiers.push(Identifier {
            scheme: "iati-org".into(),
            value: "XM-DAC-41114".into(),
        });
        let partners: HashMap<i64, Partner> = [(1, known)].into_iter().collect();
        let a = agreement(AgreementStatus::Expired, &[PartyRole::Signatory]);
        let activity = Activity::of(&a, &partners, day(2030, 1, 1)).expect("published");
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        activity
            .write(&mut w, &FeedSettings::default())
            .expect("written");
        let xml = String::from_utf8(w.into_inner()).expect("UTF-8");
        assert!(xml.contains("<iati-identifier>XX-COOP-REGISTRY-5</iati-identifier>"));
        assert!(xml.contains(r#"<participating-org role="2" type="80" ref="XM-DAC-41114">"#));
        assert!(xml.contains(r#"<narrative xml:lang="en">Partner &lt;1&gt; &amp; co</narrative>"#));
        assert!(xml.contains(r#"<activity-status code="4"/>"#));
        assert!(xml.contains(r#"<activity-date type="4" iso-date="2027-12-31"/>"#));
        assert!(xml.contains(r#"<recipient-country code="GE"/>"#));
    }

    #[test]
    fn documents_are_linked_with_their_category_format_language_and_date() {
        let partners: HashMap<i64, Partner> = [(1, partner(1, PartnerKind::Academic))]
            .into_iter()
            .collect();
        let a = Agreement {
            documents: vec![
                Document {
                    title: "Report & annex".into(),
                    url: "https://example.org/r.PDF?a=1&b=2".into(),
                    category: crate::documents::DocumentCategory::Report,
                    language: Some("kk-Latn".into()),
                    published_on: Some(day(2024, 3, 1)),
                },
                Document {
                    title: "Page".into(),
                    url: "https://example.org/page".into(),
                    category: crate::documents::DocumentCategory::WebPage,
                    language: Some("kok".into()),
                    published_on: None,
                },
            ],
            ..agreement(AgreementStatus::Expired, &[PartyRole::Signatory])
        };
        let activity = Activity::of(&a, &partners, day(2030, 1, 1)).expect("published");
        let mut w = Writer::new(Vec::new());
        activity
            .write(&mut w, &FeedSettings::default())
            .expect("written");
        let xml = String::from_utf8(w.into_inner()).expect("UTF-8");
        assert!(xml.contains(concat!(
            r#"<document-link url="https://example.org/r.PDF?a=1&amp;b=2" format="application/pdf">"#,
            r#"<title><narrative xml:lang="en">Report &amp; annex</narrative></title>"#,
            r#"<category code="A08"/><language code="kk"/><document-date iso-date="2024-03-01"/>"#,
            "</document-link>",
            r#"<document-link url="https://example.org/page" format="text/html">"#,
            r#"<title><narrative xml:lang="en">Page</narrative></title>"#,
            r#"<category code="A12"/></document-link>"#,
        )), "{xml}");
    }
}
