//! `coop-registry seed-demo`: the real example the contract describes, loaded through the
//! service's own validation and queries, idempotently (records found by name or title are left
//! as they are), with audit entries by the actor `seed-demo`.

use chrono::NaiveDate;

use crate::agreements::{self, AgreementInput, AgreementKind, AgreementStatus, Party, PartyRole};
use crate::audit::{self, AuditAction, ResourceType};
use crate::countries;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::events::{self, EventInput, EventKind, Participant, ParticipantRole};
use crate::partners::{self, PartnerInput, PartnerKind};
use crate::validation::Validator;

const ACTOR: &str = "seed-demo";

/// The seven countries of the regional project, and Korea.
const PARTICIPANTS: [&str; 8] = ["KZ", "KG", "TJ", "UZ", "AZ", "AM", "GE", "KR"];

/// What a run created (zero everywhere on a second run).
#[derive(Debug, Default)]
pub struct SeedReport {
    pub countries_marked: usize,
    pub partners: usize,
    pub agreements: usize,
    pub events: usize,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// Loads the example in one transaction.
pub fn seed(conn: &mut DbConnection) -> Result<SeedReport, ApiError> {
    diesel::Connection::transaction(conn, |conn| {
        let mut report = SeedReport::default();
        for code in PARTICIPANTS {
            report.countries_marked += mark_participant(conn, code)?;
        }
        let partner = |conn: &mut DbConnection,
                       report: &mut SeedReport,
                       name: &str,
                       acronym: &str,
                       kind,
                       country: &str,
                       website: &str| {
            ensure_partner(
                conn,
                report,
                PartnerInput {
                    name: name.to_owned(),
                    acronym: Some(acronym.to_owned()),
                    kind,
                    country_code: Some(country.to_owned()),
                    website: Some(website.to_owned()),
                    email: None,
                    description: None,
                },
            )
        };
        let hub = partner(
            conn,
            &mut report,
            "Astana Civil Service Hub",
            "ACSH",
            PartnerKind::Multilateral,
            "KZ",
            "https://www.astanacivilservicehub.org",
        )?;
        let undp = partner(
            conn,
            &mut report,
            "United Nations Development Programme",
            "UNDP",
            PartnerKind::Multilateral,
            "US",
            "https://www.undp.org",
        )?;
        let mois = partner(
            conn,
            &mut report,
            "Ministry of the Interior and Safety",
            "MOIS",
            PartnerKind::Government,
            "KR",
            "https://www.mois.go.kr",
        )?;
        let nia = partner(
            conn,
            &mut report,
            "National Information Society Agency",
            "NIA",
            PartnerKind::PublicSector,
            "KR",
            "https://www.nia.or.kr",
        )?;
        let mia = partner(
            conn,
            &mut report,
            "Ministry of Internal Affairs of the Republic of Kazakhstan",
            "MIA",
            PartnerKind::Government,
            "KZ",
            "https://www.gov.kz/memleket/entities/qriim",
        )?;
        let mpm = partner(
            conn,
            &mut report,
            "Ministry of Personnel Management",
            "MPM",
            PartnerKind::Government,
            "KR",
            "https://www.mpm.go.kr",
        )?;

        let project = ensure_agreement(conn, &mut report, AgreementInput {
            title: "Regional project on digital government for Central Asia and the South Caucasus, 2021–2023".to_owned(),
            kind: AgreementKind::JointProject,
            status: AgreementStatus::Expired,
            signed_on: Some(date(2021, 1, 1)),
            starts_on: Some(date(2021, 1, 1)),
            ends_on: Some(date(2023, 12, 31)),
            summary: Some("Capacity building in digital government for seven countries, run by the \
                Astana Civil Service Hub with UNDP and Korea's MOIS and NIA.".to_owned()),
            document_url: None,
            parties: vec![
                Party { partner_id: hub, role: PartyRole::Coordinating },
                Party { partner_id: undp, role: PartyRole::Implementing },
                Party { partner_id: mois, role: PartyRole::Funding },
                Party { partner_id: nia, role: PartyRole::Implementing },
            ],
            country_codes: PARTICIPANTS[..7].iter().map(|c| (*c).to_owned()).collect(),
        })?;
        let mou = ensure_agreement(conn, &mut report, AgreementInput {
            title: "Memorandum of understanding on personnel administration between Kazakhstan and Korea".to_owned(),
            kind: AgreementKind::MemorandumOfUnderstanding,
            status: AgreementStatus::Signed,
            signed_on: Some(date(2024, 1, 1)),
            starts_on: Some(date(2024, 1, 1)),
            ends_on: None,
            summary: Some("Signed in Astana. (Demo data: the dates are placeholders.)".to_owned()),
            document_url: None,
            parties: vec![
                Party { partner_id: mia, role: PartyRole::Signatory },
                Party { partner_id: mpm, role: PartyRole::Signatory },
                Party { partner_id: hub, role: PartyRole::Coordinating },
            ],
            country_codes: vec!["KZ".to_owned(), "KR".to_owned()],
        })?;

        ensure_event(conn, &mut report, EventInput {
            title: "Capacity-building workshop on digital government in Tbilisi".to_owned(),
            kind: EventKind::Workshop,
            starts_on: date(2022, 6, 1),
            ends_on: Some(date(2022, 6, 3)),
            city: Some("Tbilisi".to_owned()),
            venue: None,
            country_code: Some("GE".to_owned()),
            agreement_id: Some(project),
            description: Some("Under the regional digital government project. (Demo data: the dates are placeholders.)".to_owned()),
            url: None,
            participants: vec![
                Participant { partner_id: hub, role: ParticipantRole::Organizer },
                Participant { partner_id: undp, role: ParticipantRole::Organizer },
                Participant { partner_id: nia, role: ParticipantRole::Speaker },
            ],
        })?;
        ensure_event(
            conn,
            &mut report,
            EventInput {
                title: "United Nations Public Service Forum 2024".to_owned(),
                kind: EventKind::Forum,
                starts_on: date(2024, 6, 24),
                ends_on: Some(date(2024, 6, 26)),
                city: Some("Incheon".to_owned()),
                venue: Some("Songdo".to_owned()),
                country_code: Some("KR".to_owned()),
                agreement_id: None,
                description: None,
                url: None,
                participants: vec![
                    Participant {
                        partner_id: mois,
                        role: ParticipantRole::Host,
                    },
                    Participant {
                        partner_id: hub,
                        role: ParticipantRole::Participant,
                    },
                ],
            },
        )?;
        ensure_event(
            conn,
            &mut report,
            EventInput {
                title: "Signing of the Kazakhstan–Korea MOU on personnel administration".to_owned(),
                kind: EventKind::SigningCeremony,
                starts_on: date(2024, 1, 1),
                ends_on: None,
                city: Some("Astana".to_owned()),
                venue: None,
                country_code: Some("KZ".to_owned()),
                agreement_id: Some(mou),
                description: Some("(Demo data: the date is a placeholder.)".to_owned()),
                url: None,
                participants: vec![
                    Participant {
                        partner_id: mia,
                        role: ParticipantRole::Host,
                    },
                    Participant {
                        partner_id: mpm,
                        role: ParticipantRole::Participant,
                    },
                ],
            },
        )?;
        Ok(report)
    })
}

fn mark_participant(conn: &mut DbConnection, code: &str) -> Result<usize, ApiError> {
    let current = countries::queries::find(conn, code)?
        .ok_or_else(|| ApiError::NotFound(format!("country {code} is missing")))?;
    if current.participant {
        return Ok(0);
    }
    let patch = serde_json::json!({"participant": true});
    let input = crate::http::apply_patch::<_, countries::CountryInput>(&current, &patch)?.value;
    let (_, changes) = input.validate(Some(code))?;
    let updated = countries::queries::update(conn, code, current.version, changes)?
        .ok_or(ApiError::PreconditionFailed)?;
    audit::record(
        conn,
        ACTOR,
        AuditAction::Update,
        ResourceType::Country,
        code,
        Some(&current),
        Some(&updated),
    )?;
    Ok(1)
}

fn ensure_partner(
    conn: &mut DbConnection,
    report: &mut SeedReport,
    input: PartnerInput,
) -> Result<i64, ApiError> {
    let mut v = Validator::new();
    let changes = input.check(&mut v);
    v.finish()?;
    if let Some(id) = partners::queries::name_owner(conn, &changes.name_key, None)? {
        return Ok(id);
    }
    let partner = partners::queries::insert(conn, changes)?;
    audit::record(
        conn,
        ACTOR,
        AuditAction::Create,
        ResourceType::Partner,
        &partner.id.to_string(),
        None,
        Some(&partner),
    )?;
    report.partners += 1;
    Ok(partner.id)
}

fn ensure_agreement(
    conn: &mut DbConnection,
    report: &mut SeedReport,
    input: AgreementInput,
) -> Result<i64, ApiError> {
    if let Some(id) = agreements::queries::id_by_title(conn, &input.title)? {
        return Ok(id);
    }
    let mut v = Validator::new();
    let draft = input.check(&mut v);
    v.finish()?;
    let agreement = agreements::queries::insert(conn, draft)?;
    audit::record(
        conn,
        ACTOR,
        AuditAction::Create,
        ResourceType::Agreement,
        &agreement.id.to_string(),
        None,
        Some(&agreement),
    )?;
    report.agreements += 1;
    Ok(agreement.id)
}

fn ensure_event(
    conn: &mut DbConnection,
    report: &mut SeedReport,
    input: EventInput,
) -> Result<i64, ApiError> {
    if let Some(id) = events::queries::id_by_title(conn, &input.title)? {
        return Ok(id);
    }
    let mut v = Validator::new();
    let draft = input.check(&mut v);
    v.finish()?;
    let event = events::queries::insert(conn, draft)?;
    audit::record(
        conn,
        ACTOR,
        AuditAction::Create,
        ResourceType::Event,
        &event.id.to_string(),
        None,
        Some(&event),
    )?;
    report.events += 1;
    Ok(event.id)
}
