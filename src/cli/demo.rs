//! `coop-registry seed-demo`: the hub's public record as far as public facts go, plus records
//! that are plainly examples (their titles start with "Example"), loaded through the service's
//! own validation and queries, idempotently (records found by name or title are left as they
//! are), with audit entries by the actor `seed-demo`.
//!
//! docs/demo-data.md says what is here, where the facts come from, and which dates are
//! approximations (a date known only to the month or the year is stored as its first day).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::agreements::{self, AgreementInput, AgreementKind, AgreementStatus, Party, PartyRole};
use crate::audit::{self, AuditAction, ResourceType};
use crate::countries;
use crate::db::DbConnection;
use crate::documents::{Document, DocumentCategory};
use crate::error::ApiError;
use crate::events::{self, EventInput, EventKind, Participant, ParticipantRole};
use crate::partners::identifiers::Identifier;
use crate::partners::{self, PartnerInput, PartnerKind};
use crate::translations::Translations;
use crate::validation::Validator;

use AgreementKind as AK;
use AgreementStatus as AS;
use EventKind as EK;
use ParticipantRole as RO;
use PartyRole as PR;

const ACTOR: &str = "seed-demo";

/// What a run created (zero everywhere on a second run).
#[derive(Debug, Default)]
pub struct SeedReport {
    pub countries_marked: usize,
    pub partners: usize,
    pub agreements: usize,
    pub events: usize,
}

/// A date checked when the program is compiled: a day that does not exist does not build.
const fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        None => panic!("a demo date that does not exist"),
    }
}

/// The seven countries of the 2021–2023 regional project, and Korea (one of the hub's
/// founding members), with the note each gets when it is marked. The dates they joined the
/// hub are not in the sources, so `joined_on` stays null.
const PARTICIPANTS: [(&str, &str); 8] = [
    (
        "KZ",
        "Set up the Astana Civil Service Hub with UNDP; a country of the 2021–2023 regional project on digital government.",
    ),
    (
        "KG",
        "A country of the 2021–2023 regional project on digital government.",
    ),
    (
        "TJ",
        "A country of the 2021–2023 regional project on digital government.",
    ),
    (
        "UZ",
        "A country of the 2021–2023 regional project on digital government.",
    ),
    (
        "AZ",
        "A country of the 2021–2023 regional project on digital government.",
    ),
    (
        "AM",
        "A country of the 2021–2023 regional project on digital government.",
    ),
    (
        "GE",
        "A country of the 2021–2023 regional project on digital government.",
    ),
    (
        "KR",
        "One of the hub's founding members; funded the 2021–2023 regional project on digital government.",
    ),
];

/// The seven countries of the regional project.
const PROJECT_COUNTRIES: [&str; 7] = ["KZ", "KG", "TJ", "UZ", "AZ", "AM", "GE"];

/// A real organisation: only what is certain of it (a website only when certain).
struct PartnerFact {
    /// How the agreements and events below name it.
    key: &'static str,
    name: &'static str,
    acronym: Option<&'static str>,
    kind: PartnerKind,
    country: &'static str,
    website: Option<&'static str>,
    description: Option<&'static str>,
}

const fn org(
    key: &'static str,
    name: &'static str,
    acronym: Option<&'static str>,
    kind: PartnerKind,
    country: &'static str,
    website: Option<&'static str>,
    description: Option<&'static str>,
) -> PartnerFact {
    PartnerFact {
        key,
        name,
        acronym,
        kind,
        country,
        website,
        description,
    }
}

const UNDP_OFFICE: Option<&str> = Some("UNDP's country office.");

/// Partners' official names in Russian, Kazakh and Korean: (partner key, language, name,
/// acronym).
const NAMES: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "UNDP",
        "ru",
        "Программа развития Организации Объединённых Наций",
        Some("ПРООН"),
    ),
    ("MOIS", "ko", "행정안전부", None),
    ("NIA", "ko", "한국지능정보사회진흥원", None),
    ("MPM", "ko", "인사혁신처", None),
    ("NHI", "ko", "국가공무원인재개발원", None),
    ("MOFA-KR", "ko", "외교부", None),
    ("KOICA", "ko", "한국국제협력단", None),
    (
        "MIA",
        "ru",
        "Министерство внутренних дел Республики Казахстан",
        Some("МВД"),
    ),
    (
        "MIA",
        "kk",
        "Қазақстан Республикасы Ішкі істер министрлігі",
        Some("ІІМ"),
    ),
    (
        "ACSA-KZ",
        "ru",
        "Агентство Республики Казахстан по делам государственной службы",
        None,
    ),
    (
        "ACSA-KZ",
        "kk",
        "Қазақстан Республикасының Мемлекеттік қызмет істері агенттігі",
        None,
    ),
    (
        "APA-KZ",
        "ru",
        "Академия государственного управления при Президенте Республики Казахстан",
        None,
    ),
    (
        "APA-KZ",
        "kk",
        "Қазақстан Республикасы Президентінің жанындағы Мемлекеттік басқару академиясы",
        None,
    ),
    (
        "MFA-KZ",
        "ru",
        "Министерство иностранных дел Республики Казахстан",
        Some("МИД"),
    ),
    (
        "MFA-KZ",
        "kk",
        "Қазақстан Республикасы Сыртқы істер министрлігі",
        None,
    ),
];

/// The public identifiers of partners in other registries: (partner key, scheme, value).
const IDENTIFIERS: &[(&str, &str, &str)] = &[
    ("UNDP", "iati-org", "XM-DAC-41114"),
    ("UNDP", "xm-dac", "41114"),
];

const PARTNERS: &[PartnerFact] = &[
    org(
        "ACSH",
        "Astana Civil Service Hub",
        Some("ACSH"),
        PartnerKind::Multilateral,
        "KZ",
        Some("https://www.astanacivilservicehub.org"),
        Some(
            "A multilateral platform for personnel administration and the civil service, set up \
             by the Government of Kazakhstan with UNDP; 43 participating countries in 2024.",
        ),
    ),
    org(
        "UNDP",
        "United Nations Development Programme",
        Some("UNDP"),
        PartnerKind::Multilateral,
        "US",
        Some("https://www.undp.org"),
        Some(
            "The United Nations' development agency; with Kazakhstan it set up the Astana Civil Service Hub.",
        ),
    ),
    org(
        "UNDP-KZ",
        "United Nations Development Programme in Kazakhstan",
        None,
        PartnerKind::Multilateral,
        "KZ",
        Some("https://www.undp.org/kazakhstan"),
        Some(
            "UNDP's country office; implemented the 2021–2023 regional project on digital government with the hub.",
        ),
    ),
    org(
        "UNDP-KG",
        "United Nations Development Programme in Kyrgyzstan",
        None,
        PartnerKind::Multilateral,
        "KG",
        Some("https://www.undp.org/kyrgyzstan"),
        UNDP_OFFICE,
    ),
    org(
        "UNDP-TJ",
        "United Nations Development Programme in Tajikistan",
        None,
        PartnerKind::Multilateral,
        "TJ",
        Some("https://www.undp.org/tajikistan"),
        UNDP_OFFICE,
    ),
    org(
        "UNDP-UZ",
        "United Nations Development Programme in Uzbekistan",
        None,
        PartnerKind::Multilateral,
        "UZ",
        Some("https://www.undp.org/uzbekistan"),
        UNDP_OFFICE,
    ),
    org(
        "UNDP-AZ",
        "United Nations Development Programme in Azerbaijan",
        None,
        PartnerKind::Multilateral,
        "AZ",
        Some("https://www.undp.org/azerbaijan"),
        UNDP_OFFICE,
    ),
    org(
        "UNDP-AM",
        "United Nations Development Programme in Armenia",
        None,
        PartnerKind::Multilateral,
        "AM",
        Some("https://www.undp.org/armenia"),
        UNDP_OFFICE,
    ),
    org(
        "UNDP-GE",
        "United Nations Development Programme in Georgia",
        None,
        PartnerKind::Multilateral,
        "GE",
        Some("https://www.undp.org/georgia"),
        UNDP_OFFICE,
    ),
    org(
        "UN DESA",
        "United Nations Department of Economic and Social Affairs",
        Some("UN DESA"),
        PartnerKind::Multilateral,
        "US",
        Some("https://www.un.org/en/desa"),
        Some("Organises the United Nations Public Service Forum with a host country each year."),
    ),
    org(
        "UNPOG",
        "United Nations Project Office on Governance",
        Some("UNPOG"),
        PartnerKind::Multilateral,
        "KR",
        None,
        Some("UN DESA's project office on governance, in Incheon."),
    ),
    org(
        "OECD",
        "Organisation for Economic Co-operation and Development",
        Some("OECD"),
        PartnerKind::Multilateral,
        "FR",
        Some("https://www.oecd.org"),
        None,
    ),
    org(
        "SIGMA",
        "Support for Improvement in Governance and Management",
        Some("SIGMA"),
        PartnerKind::Multilateral,
        "FR",
        None,
        Some(
            "A joint initiative of the OECD and the European Union on public governance and public administration reform.",
        ),
    ),
    org(
        "MOIS",
        "Ministry of the Interior and Safety",
        Some("MOIS"),
        PartnerKind::Government,
        "KR",
        Some("https://www.mois.go.kr"),
        Some(
            "Korea's ministry for government organisation and digital government; a partner of the 2021–2023 regional project.",
        ),
    ),
    org(
        "NIA",
        "National Information Society Agency",
        Some("NIA"),
        PartnerKind::PublicSector,
        "KR",
        Some("https://www.nia.or.kr"),
        Some(
            "Korea's public agency for digital government; a partner of the 2021–2023 regional project.",
        ),
    ),
    org(
        "MPM",
        "Ministry of Personnel Management",
        Some("MPM"),
        PartnerKind::Government,
        "KR",
        Some("https://www.mpm.go.kr"),
        Some("Korea's ministry for the civil service and its personnel administration."),
    ),
    org(
        "NHI",
        "National Human Resources Development Institute",
        Some("NHI"),
        PartnerKind::PublicSector,
        "KR",
        None,
        Some(
            "The training institute for Korea's civil servants, under the Ministry of Personnel Management.",
        ),
    ),
    org(
        "MOFA-KR",
        "Ministry of Foreign Affairs of the Republic of Korea",
        Some("MOFA"),
        PartnerKind::Government,
        "KR",
        Some("https://www.mofa.go.kr"),
        None,
    ),
    org(
        "KOICA",
        "Korea International Cooperation Agency",
        Some("KOICA"),
        PartnerKind::PublicSector,
        "KR",
        Some("https://www.koica.go.kr"),
        Some("Korea's agency for development cooperation."),
    ),
    org(
        "MIA",
        "Ministry of Internal Affairs of the Republic of Kazakhstan",
        Some("MIA"),
        PartnerKind::Government,
        "KZ",
        Some("https://www.gov.kz/memleket/entities/qriim"),
        None,
    ),
    org(
        "ACSA-KZ",
        "Agency of the Republic of Kazakhstan for Civil Service Affairs",
        None,
        PartnerKind::Government,
        "KZ",
        None,
        None,
    ),
    org(
        "APA-KZ",
        "Academy of Public Administration under the President of the Republic of Kazakhstan",
        None,
        PartnerKind::Academic,
        "KZ",
        None,
        None,
    ),
    org(
        "MFA-KZ",
        "Ministry of Foreign Affairs of the Republic of Kazakhstan",
        None,
        PartnerKind::Government,
        "KZ",
        None,
        None,
    ),
    org(
        "CS-KG",
        "State Agency for Civil Service and Local Self-Government under the Cabinet of Ministers of the Kyrgyz Republic",
        None,
        PartnerKind::Government,
        "KG",
        None,
        None,
    ),
    org(
        "CS-TJ",
        "Civil Service Agency under the President of the Republic of Tajikistan",
        None,
        PartnerKind::Government,
        "TJ",
        None,
        None,
    ),
    org(
        "CS-UZ",
        "Civil Service Development Agency under the President of the Republic of Uzbekistan",
        None,
        PartnerKind::Government,
        "UZ",
        None,
        None,
    ),
    org(
        "CS-AZ",
        "Civil Service Commission under the President of the Republic of Azerbaijan",
        None,
        PartnerKind::Government,
        "AZ",
        None,
        None,
    ),
    org(
        "CSB-GE",
        "Civil Service Bureau of Georgia",
        Some("CSB"),
        PartnerKind::PublicSector,
        "GE",
        None,
        None,
    ),
];

/// An agreement: a public fact, or an example whose title says so.
struct AgreementFact {
    key: &'static str,
    title: &'static str,
    kind: AgreementKind,
    status: AgreementStatus,
    signed_on: Option<NaiveDate>,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    summary: &'static str,
    parties: &'static [(&'static str, PartyRole)],
    countries: &'static [&'static str],
}

const PROJECT_TITLE: &str =
    "Capacity Building for Innovations in Governance and Digitalization of Public Services";

const AGREEMENTS: &[AgreementFact] = &[
    AgreementFact {
        key: "grant",
        title: "Grant arrangement between UNDP and Korea's Ministry of the Interior and Safety for the regional digital government project",
        kind: AK::Grant,
        status: AS::Signed,
        signed_on: Some(day(2021, 7, 1)),
        starts_on: None,
        ends_on: None,
        summary: "The arrangement under which the Government of Korea financed the 2021–2023 regional project, signed in July 2021.",
        parties: &[("UNDP", PR::Signatory), ("MOIS", PR::Signatory)],
        countries: &[],
    },
    AgreementFact {
        key: "project",
        title: PROJECT_TITLE,
        kind: AK::JointProject,
        status: AS::Expired,
        signed_on: Some(day(2021, 7, 1)),
        starts_on: Some(day(2021, 8, 24)),
        ends_on: Some(day(2023, 12, 31)),
        summary: "The regional project on digital government and public-service innovation for civil servants of Kazakhstan, Kyrgyzstan, Tajikistan, Uzbekistan, Azerbaijan, Armenia and Georgia, 2021–2023: research, seminars, conferences and study visits to Korea. \
                  Initiated by the hub during its chairman's visit to Korea in 2019, financed by the Government of Korea, and run by the hub and UNDP in Kazakhstan with Korea's MOIS and NIA. Launched at a meeting of the partners on 24 August 2021.",
        parties: &[
            ("ACSH", PR::Coordinating),
            ("UNDP-KZ", PR::Implementing),
            ("MOIS", PR::Funding),
            ("NIA", PR::Implementing),
        ],
        countries: &PROJECT_COUNTRIES,
    },
    AgreementFact {
        key: "hub-mpm",
        title: "Memorandum of cooperation between the Astana Civil Service Hub and Korea's Ministry of Personnel Management",
        kind: AK::MemorandumOfCooperation,
        status: AS::Signed,
        signed_on: Some(day(2022, 9, 1)),
        starts_on: None,
        ends_on: None,
        summary: "Signed in Korea in September 2022, when the hub's chairman met the Minister of Personnel Management: joint research, expert meetings, exchange of publications, Korean practice in civil service culture, ethics and the prevention of corruption.",
        parties: &[("ACSH", PR::Signatory), ("MPM", PR::Signatory)],
        countries: &["KR"],
    },
    AgreementFact {
        key: "mou",
        title: "Memorandum of understanding on personnel administration between Kazakhstan and Korea's Ministry of Personnel Management",
        kind: AK::MemorandumOfUnderstanding,
        status: AS::Signed,
        signed_on: Some(day(2024, 6, 1)),
        starts_on: None,
        ends_on: None,
        summary: "Signed in Astana in June 2024, during the state visit of the President of the Republic of Korea: the capacity of civil servants, sharing personnel administration systems and exchanging experience.",
        parties: &[("MPM", PR::Signatory)],
        countries: &["KZ", "KR"],
    },
    AgreementFact {
        key: "moc-kz-kr",
        title: "Memorandum of cooperation between Kazakhstan and Korea (in preparation)",
        kind: AK::MemorandumOfCooperation,
        status: AS::Draft,
        signed_on: None,
        starts_on: None,
        ends_on: None,
        summary: "Being drafted in 2024.",
        parties: &[],
        countries: &["KZ", "KR"],
    },
    AgreementFact {
        key: "readmission",
        title: "Intergovernmental agreement on readmission between Kazakhstan and Korea (in preparation)",
        kind: AK::IntergovernmentalAgreement,
        status: AS::Draft,
        signed_on: None,
        starts_on: None,
        ends_on: None,
        summary: "Being drafted in 2024.",
        parties: &[],
        countries: &["KZ", "KR"],
    },
    AgreementFact {
        key: "ex-grant",
        title: "Example: grant for case studies on public-service innovation",
        kind: AK::Grant,
        status: AS::Active,
        signed_on: Some(day(2024, 3, 15)),
        starts_on: Some(day(2024, 4, 1)),
        ends_on: Some(day(2025, 12, 31)),
        summary: "An example record, not a real agreement: a grant for a series of case studies.",
        parties: &[("UNDP-UZ", PR::Funding), ("ACSH", PR::Implementing)],
        countries: &["UZ"],
    },
    AgreementFact {
        key: "ex-skills",
        title: "Example: joint project on digital skills for civil servants",
        kind: AK::JointProject,
        status: AS::Active,
        signed_on: Some(day(2023, 2, 1)),
        starts_on: Some(day(2023, 3, 1)),
        ends_on: Some(day(2026, 2, 28)),
        summary: "An example record, not a real agreement: training and peer learning on digital skills in the South Caucasus.",
        parties: &[
            ("ACSH", PR::Coordinating),
            ("UNDP-AM", PR::Implementing),
            ("UNDP-GE", PR::Implementing),
            ("UNDP-AZ", PR::Implementing),
        ],
        countries: &["AM", "AZ", "GE"],
    },
    AgreementFact {
        key: "ex-network",
        title: "Example: agreement on a network of public-service centres",
        kind: AK::Other,
        status: AS::Terminated,
        signed_on: Some(day(2022, 5, 10)),
        starts_on: Some(day(2022, 6, 1)),
        ends_on: Some(day(2023, 5, 31)),
        summary: "An example record, not a real agreement: ended early.",
        parties: &[("ACSH", PR::Coordinating), ("UNDP-KG", PR::Implementing)],
        countries: &["KG"],
    },
    AgreementFact {
        key: "ex-exchanges",
        title: "Example: memorandum of understanding on training exchanges",
        kind: AK::MemorandumOfUnderstanding,
        status: AS::Negotiation,
        signed_on: None,
        starts_on: None,
        ends_on: None,
        summary: "An example record, not a real agreement: under negotiation.",
        parties: &[("ACSH", PR::Coordinating), ("UNDP-TJ", PR::Observer)],
        countries: &["TJ"],
    },
    AgreementFact {
        key: "ex-peer",
        title: "Example: framework agreement on peer learning among civil-service academies",
        kind: AK::FrameworkAgreement,
        status: AS::Draft,
        signed_on: None,
        starts_on: None,
        ends_on: None,
        summary: "An example record, not a real agreement: a draft.",
        parties: &[("ACSH", PR::Coordinating)],
        countries: &["KZ", "KG", "TJ", "UZ"],
    },
];

/// The legal lifecycle of a demo agreement, by its key: when it entered into force, when it
/// expires, and each party's dates (signed, entered into force, withdrew). The regional
/// project's expiry is the end of the project the sources give; the examples' dates are
/// examples. Agreements not listed have none.
struct LifecycleFact {
    key: &'static str,
    entered_into_force_on: Option<NaiveDate>,
    expires_on: Option<NaiveDate>,
    parties: &'static [PartyDates],
}

/// A party's key, and when it signed, when it entered into force for it, when it withdrew.
type PartyDates = (
    &'static str,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

const LIFECYCLES: &[LifecycleFact] = &[
    LifecycleFact {
        key: "project",
        entered_into_force_on: Some(day(2021, 7, 1)),
        expires_on: Some(day(2023, 12, 31)),
        parties: &[],
    },
    LifecycleFact {
        key: "ex-grant",
        entered_into_force_on: Some(day(2024, 4, 1)),
        expires_on: None,
        parties: &[
            (
                "UNDP-UZ",
                Some(day(2024, 3, 15)),
                Some(day(2024, 4, 1)),
                None,
            ),
            ("ACSH", Some(day(2024, 3, 15)), Some(day(2024, 4, 1)), None),
        ],
    },
    LifecycleFact {
        key: "ex-skills",
        entered_into_force_on: Some(day(2023, 3, 1)),
        expires_on: None,
        parties: &[
            ("ACSH", Some(day(2023, 2, 1)), Some(day(2023, 3, 1)), None),
            (
                "UNDP-AM",
                Some(day(2023, 2, 1)),
                Some(day(2023, 3, 1)),
                None,
            ),
            (
                "UNDP-GE",
                Some(day(2023, 2, 1)),
                Some(day(2023, 3, 1)),
                None,
            ),
            (
                "UNDP-AZ",
                Some(day(2023, 2, 1)),
                Some(day(2023, 4, 15)),
                Some(day(2024, 12, 31)),
            ),
        ],
    },
    LifecycleFact {
        key: "ex-network",
        entered_into_force_on: Some(day(2022, 6, 1)),
        expires_on: Some(day(2025, 5, 31)),
        parties: &[
            ("ACSH", Some(day(2022, 5, 10)), Some(day(2022, 6, 1)), None),
            (
                "UNDP-KG",
                Some(day(2022, 5, 10)),
                Some(day(2022, 6, 1)),
                None,
            ),
        ],
    },
];

/// The lifecycle [`LIFECYCLES`] gives the agreement `key`.
fn lifecycle_of(key: &str) -> Option<&'static LifecycleFact> {
    LIFECYCLES.iter().find(|fact| fact.key == key)
}

/// A link to a document of a demo record, by the record's title. Only examples link to
/// documents, at `example.org` (a domain kept for examples): the sources give no document
/// addresses that the demo could vouch for.
struct DocumentFact {
    of: &'static str,
    title: &'static str,
    url: &'static str,
    category: DocumentCategory,
    language: Option<&'static str>,
    published_on: Option<NaiveDate>,
}

const DOCUMENTS: &[DocumentFact] = &[
    DocumentFact {
        of: "Example: grant for case studies on public-service innovation",
        title: "Example: signed grant agreement",
        url: "https://example.org/coop-registry/ex-grant/agreement.pdf",
        category: DocumentCategory::AgreementText,
        language: Some("en"),
        published_on: Some(day(2024, 3, 15)),
    },
    DocumentFact {
        of: "Example: grant for case studies on public-service innovation",
        title: "Example: budget of the case studies",
        url: "https://example.org/coop-registry/ex-grant/budget.xlsx",
        category: DocumentCategory::Budget,
        language: Some("ru"),
        published_on: Some(day(2024, 3, 15)),
    },
    DocumentFact {
        of: "Example: joint project on digital skills for civil servants",
        title: "Example: mid-term review of the project",
        url: "https://example.org/coop-registry/ex-skills/review.pdf",
        category: DocumentCategory::Evaluation,
        language: Some("en"),
        published_on: Some(day(2024, 9, 30)),
    },
    DocumentFact {
        of: "Example: joint project on digital skills for civil servants",
        title: "Example: the project's web page",
        url: "https://example.org/coop-registry/ex-skills/",
        category: DocumentCategory::WebPage,
        language: None,
        published_on: None,
    },
    DocumentFact {
        of: "Example: memorandum of understanding on training exchanges",
        title: "Example: draft text of the memorandum",
        url: "https://example.org/coop-registry/ex-exchanges/draft-mou.docx",
        category: DocumentCategory::MemorandumOfUnderstanding,
        language: Some("ru"),
        published_on: None,
    },
    DocumentFact {
        of: "Example: seminar on merit-based recruitment",
        title: "Example: agenda of the seminar",
        url: "https://example.org/coop-registry/seminar-bishkek/agenda.pdf",
        category: DocumentCategory::Agenda,
        language: Some("ky"),
        published_on: Some(day(2024, 9, 2)),
    },
    DocumentFact {
        of: "Example: conference on civil service reform in Central Asia",
        title: "Example: programme of the conference",
        url: "https://example.org/coop-registry/conference-astana/programme.pdf",
        category: DocumentCategory::Agenda,
        language: Some("kk"),
        published_on: Some(day(2025, 9, 1)),
    },
    DocumentFact {
        of: "Example: conference on civil service reform in Central Asia",
        title: "Example: report of the conference",
        url: "https://example.org/coop-registry/conference-astana/report.pdf",
        category: DocumentCategory::Report,
        language: Some("en"),
        published_on: Some(day(2025, 11, 3)),
    },
];

/// The documents [`DOCUMENTS`] lists for the record titled `title`.
fn documents_of(title: &str) -> Vec<Document> {
    DOCUMENTS
        .iter()
        .filter(|fact| fact.of == title)
        .map(|fact| Document {
            title: fact.title.to_owned(),
            url: fact.url.to_owned(),
            category: fact.category,
            language: fact.language.map(str::to_owned),
            published_on: fact.published_on,
        })
        .collect()
}

/// An event: a public fact, or an example whose title says so.
struct EventFact {
    title: &'static str,
    kind: EventKind,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    city: Option<&'static str>,
    country: Option<&'static str>,
    agreement: Option<&'static str>,
    description: Option<&'static str>,
    participants: &'static [(&'static str, ParticipantRole)],
}

const EVENTS: &[EventFact] = &[
    EventFact {
        title: "First Korea–Central Asia Cooperation Forum",
        kind: EK::Forum,
        starts_on: day(2007, 1, 1),
        ends_on: None,
        city: None,
        country: None,
        agreement: None,
        description: Some("The forum Korea launched in 2007 with the countries of Central Asia."),
        participants: &[("MOFA-KR", RO::Host)],
    },
    EventFact {
        title: "Visit of the hub's chairman to Korea, initiating the regional digital government project",
        kind: EK::Meeting,
        starts_on: day(2019, 11, 1),
        ends_on: None,
        city: None,
        country: Some("KR"),
        agreement: None,
        description: Some(
            "The chairman of the hub's steering committee met the leadership of MOIS and NIA; the regional project on digital government began here.",
        ),
        participants: &[
            ("ACSH", RO::Participant),
            ("MOIS", RO::Participant),
            ("NIA", RO::Participant),
        ],
    },
    EventFact {
        title: "Launch meeting of the partners of the regional digital government project",
        kind: EK::Meeting,
        starts_on: day(2021, 8, 24),
        ends_on: None,
        city: None,
        country: None,
        agreement: Some("project"),
        description: Some("The project was presented and approved, and officially launched."),
        participants: &[
            ("ACSH", RO::Organizer),
            ("UNDP-KZ", RO::Organizer),
            ("MOIS", RO::Participant),
            ("NIA", RO::Participant),
        ],
    },
    EventFact {
        title: "First capacity-building seminar on governance innovation and digitalisation",
        kind: EK::Seminar,
        starts_on: day(2021, 11, 4),
        ends_on: Some(day(2021, 11, 5)),
        city: None,
        country: None,
        agreement: Some("project"),
        description: Some(
            "The first of the project's seminars, on ecosystems and conducive environments for innovation: over 70 representatives of government agencies from 12 countries; experts from Estonia, Finland and Korea.",
        ),
        participants: &[
            ("ACSH", RO::Organizer),
            ("UNDP-KZ", RO::Organizer),
            ("NIA", RO::Speaker),
        ],
    },
    EventFact {
        title: "International capacity-building event on digital government in Tbilisi",
        kind: EK::Training,
        starts_on: day(2022, 1, 1),
        ends_on: None,
        city: Some("Tbilisi"),
        country: Some("GE"),
        agreement: None,
        description: Some(
            "The hub's chairman met Korea's Minister of the Interior and Safety; they discussed the regional project and its extension.",
        ),
        participants: &[("ACSH", RO::Participant), ("MOIS", RO::Participant)],
    },
    EventFact {
        title: "Study visit to Korea on digital public services, 2022",
        kind: EK::StudyVisit,
        starts_on: day(2022, 9, 1),
        ends_on: None,
        city: None,
        country: Some("KR"),
        agreement: Some("project"),
        description: Some(
            "More than 20 officials of the seven project countries visited Korean government institutions over three days, with a seminar on public services using the latest digital technologies.",
        ),
        participants: &[
            ("MOIS", RO::Organizer),
            ("NIA", RO::Organizer),
            ("UNDP-KZ", RO::Organizer),
            ("ACSH", RO::Organizer),
        ],
    },
    EventFact {
        title: "Signing of the memorandum of cooperation between the hub and Korea's Ministry of Personnel Management",
        kind: EK::SigningCeremony,
        starts_on: day(2022, 9, 1),
        ends_on: None,
        city: None,
        country: Some("KR"),
        agreement: Some("hub-mpm"),
        description: Some(
            "During the 2022 study visit, the hub's chairman met the Minister of Personnel Management.",
        ),
        participants: &[("MPM", RO::Host), ("ACSH", RO::Participant)],
    },
    EventFact {
        title: "Study visit to Korea on digital government, 2023",
        kind: EK::StudyVisit,
        starts_on: day(2023, 9, 1),
        ends_on: None,
        city: None,
        country: Some("KR"),
        agreement: Some("project"),
        description: Some(
            "More than 20 officials of the seven project countries visited specialised Korean government agencies.",
        ),
        participants: &[
            ("MOIS", RO::Host),
            ("NIA", RO::Speaker),
            ("ACSH", RO::Participant),
        ],
    },
    EventFact {
        title: "Visit of Kazakhstan's Minister of Internal Affairs to Seoul",
        kind: EK::Meeting,
        starts_on: day(2023, 10, 1),
        ends_on: None,
        city: Some("Seoul"),
        country: Some("KR"),
        agreement: None,
        description: None,
        participants: &[("MIA", RO::Participant)],
    },
    EventFact {
        title: "Launch of the Korea–Central Asia Civil Service Network",
        kind: EK::Meeting,
        starts_on: day(2024, 3, 7),
        ends_on: None,
        city: Some("Seoul"),
        country: Some("KR"),
        agreement: None,
        description: Some(
            "Korea's Minister of Personnel Management met the heads of the Central Asian countries' diplomatic missions in Seoul.",
        ),
        participants: &[("MPM", RO::Host)],
    },
    EventFact {
        title: "Signing of the Kazakhstan–Korea memorandum of understanding on personnel administration",
        kind: EK::SigningCeremony,
        starts_on: day(2024, 6, 1),
        ends_on: None,
        city: Some("Astana"),
        country: Some("KZ"),
        agreement: Some("mou"),
        description: Some(
            "During the state visit of the President of the Republic of Korea to Kazakhstan.",
        ),
        participants: &[("MPM", RO::Participant)],
    },
    EventFact {
        title: "United Nations Public Service Forum 2024",
        kind: EK::Forum,
        starts_on: day(2024, 6, 24),
        ends_on: Some(day(2024, 6, 26)),
        city: Some("Incheon"),
        country: Some("KR"),
        agreement: None,
        description: Some(
            "Held in Songdo, Incheon; the forum has met every year since 2003. About 2,000 officials from about 100 countries.",
        ),
        participants: &[
            ("UN DESA", RO::Organizer),
            ("MOIS", RO::Host),
            ("ACSH", RO::Participant),
            ("MIA", RO::Participant),
        ],
    },
    EventFact {
        title: "Example: seminar on merit-based recruitment",
        kind: EK::Seminar,
        starts_on: day(2024, 9, 17),
        ends_on: Some(day(2024, 9, 18)),
        city: Some("Bishkek"),
        country: Some("KG"),
        agreement: None,
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer), ("UNDP-KG", RO::Organizer)],
    },
    EventFact {
        title: "Example: workshop on performance appraisal in the civil service",
        kind: EK::Workshop,
        starts_on: day(2024, 10, 8),
        ends_on: Some(day(2024, 10, 10)),
        city: Some("Dushanbe"),
        country: Some("TJ"),
        agreement: Some("ex-exchanges"),
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer), ("UNDP-TJ", RO::Participant)],
    },
    EventFact {
        title: "Example: training on one-stop public service centres",
        kind: EK::Training,
        starts_on: day(2024, 11, 12),
        ends_on: Some(day(2024, 11, 14)),
        city: Some("Tashkent"),
        country: Some("UZ"),
        agreement: Some("ex-grant"),
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer), ("UNDP-UZ", RO::Organizer)],
    },
    EventFact {
        title: "Example: online seminar on digital identity",
        kind: EK::Seminar,
        starts_on: day(2025, 1, 22),
        ends_on: None,
        city: None,
        country: None,
        agreement: None,
        description: Some("An example record, not a real event: held online."),
        participants: &[("ACSH", RO::Organizer)],
    },
    EventFact {
        title: "Example: conference on innovation in public service delivery",
        kind: EK::Conference,
        starts_on: day(2025, 2, 25),
        ends_on: Some(day(2025, 2, 26)),
        city: Some("Baku"),
        country: Some("AZ"),
        agreement: Some("ex-skills"),
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer), ("UNDP-AZ", RO::Organizer)],
    },
    EventFact {
        title: "Example: seminar on ethics and integrity in the civil service",
        kind: EK::Seminar,
        starts_on: day(2025, 3, 11),
        ends_on: None,
        city: Some("Yerevan"),
        country: Some("AM"),
        agreement: Some("ex-skills"),
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer), ("UNDP-AM", RO::Organizer)],
    },
    EventFact {
        title: "Example: workshop on open government data",
        kind: EK::Workshop,
        starts_on: day(2025, 3, 19),
        ends_on: Some(day(2025, 3, 20)),
        city: Some("Tbilisi"),
        country: Some("GE"),
        agreement: Some("ex-skills"),
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer), ("UNDP-GE", RO::Organizer)],
    },
    EventFact {
        title: "Example: study visit on e-government services",
        kind: EK::StudyVisit,
        starts_on: day(2025, 4, 14),
        ends_on: Some(day(2025, 4, 18)),
        city: Some("Seoul"),
        country: Some("KR"),
        agreement: None,
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer)],
    },
    EventFact {
        title: "Example: meeting of the hub's partners",
        kind: EK::Meeting,
        starts_on: day(2025, 5, 27),
        ends_on: None,
        city: Some("Astana"),
        country: Some("KZ"),
        agreement: None,
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Host), ("UNDP-KZ", RO::Participant)],
    },
    EventFact {
        title: "Example: training on data-driven policy making",
        kind: EK::Training,
        starts_on: day(2025, 6, 10),
        ends_on: Some(day(2025, 6, 12)),
        city: Some("Almaty"),
        country: Some("KZ"),
        agreement: Some("ex-peer"),
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer)],
    },
    EventFact {
        title: "Example: conference on civil service reform in Central Asia",
        kind: EK::Conference,
        starts_on: day(2025, 9, 23),
        ends_on: Some(day(2025, 9, 24)),
        city: Some("Astana"),
        country: Some("KZ"),
        agreement: None,
        description: Some("An example record, not a real event."),
        participants: &[
            ("ACSH", RO::Host),
            ("UNDP", RO::Speaker),
            ("SIGMA", RO::Speaker),
        ],
    },
    EventFact {
        title: "Example: workshop on artificial intelligence in public administration",
        kind: EK::Workshop,
        starts_on: day(2025, 10, 14),
        ends_on: Some(day(2025, 10, 15)),
        city: Some("Tashkent"),
        country: Some("UZ"),
        agreement: Some("ex-grant"),
        description: Some("An example record, not a real event."),
        participants: &[("ACSH", RO::Organizer), ("UNDP-UZ", RO::Participant)],
    },
];

/// Loads the demo data in one transaction.
pub fn seed(conn: &mut DbConnection) -> Result<SeedReport, ApiError> {
    diesel::Connection::transaction(conn, |conn| {
        let mut report = SeedReport::default();
        for (code, note) in PARTICIPANTS {
            report.countries_marked += mark_participant(conn, code, note)?;
        }
        let mut partner_ids = HashMap::new();
        for fact in PARTNERS {
            let id = ensure_partner(conn, &mut report, partner_input(fact))?;
            partner_ids.insert(fact.key, id);
        }
        let partner = |key: &str| {
            partner_ids
                .get(key)
                .copied()
                .ok_or_else(|| ApiError::NotFound(format!("demo partner {key} is not listed")))
        };
        let mut agreement_ids = HashMap::new();
        for fact in AGREEMENTS {
            let input = AgreementInput {
                title: fact.title.to_owned(),
                kind: fact.kind,
                status: fact.status,
                signed_on: fact.signed_on,
                entered_into_force_on: lifecycle_of(fact.key).and_then(|l| l.entered_into_force_on),
                expires_on: lifecycle_of(fact.key).and_then(|l| l.expires_on),
                starts_on: fact.starts_on,
                ends_on: fact.ends_on,
                summary: Some(fact.summary.to_owned()),
                document_url: None,
                parties: fact
                    .parties
                    .iter()
                    .map(|(key, role)| {
                        let mut party = Party::new(partner(key)?, *role);
                        let dates = lifecycle_of(fact.key)
                            .and_then(|l| l.parties.iter().find(|(k, ..)| k == key));
                        if let Some((_, signed, entered, withdrew)) = dates {
                            party.signed_on = *signed;
                            party.entered_into_force_on = *entered;
                            party.withdrew_on = *withdrew;
                        }
                        Ok(party)
                    })
                    .collect::<Result<_, ApiError>>()?,
                country_codes: fact.countries.iter().map(|c| (*c).to_owned()).collect(),
                documents: documents_of(fact.title),
                translations: Translations::default(),
            };
            let id = ensure_agreement(conn, &mut report, input)?;
            agreement_ids.insert(fact.key, id);
        }
        for fact in EVENTS {
            let agreement_id = match fact.agreement {
                Some(key) => Some(agreement_ids.get(key).copied().ok_or_else(|| {
                    ApiError::NotFound(format!("demo agreement {key} is not listed"))
                })?),
                None => None,
            };
            let input = EventInput {
                title: fact.title.to_owned(),
                kind: fact.kind,
                starts_on: fact.starts_on,
                ends_on: fact.ends_on,
                city: fact.city.map(str::to_owned),
                venue: None,
                country_code: fact.country.map(str::to_owned),
                agreement_id,
                description: fact.description.map(str::to_owned),
                url: None,
                translations: Translations::default(),
                participants: fact
                    .participants
                    .iter()
                    .map(|(key, role)| {
                        Ok(Participant {
                            partner_id: partner(key)?,
                            role: *role,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
                documents: documents_of(fact.title),
            };
            ensure_event(conn, &mut report, input)?;
        }
        Ok(report)
    })
}

fn partner_input(fact: &PartnerFact) -> PartnerInput {
    PartnerInput {
        name: fact.name.to_owned(),
        acronym: fact.acronym.map(str::to_owned),
        kind: fact.kind,
        country_code: Some(fact.country.to_owned()),
        website: fact.website.map(str::to_owned),
        email: None,
        description: fact.description.map(str::to_owned),
        identifiers: IDENTIFIERS
            .iter()
            .filter(|(key, _, _)| *key == fact.key)
            .map(|(_, scheme, value)| Identifier {
                scheme: (*scheme).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
        translations: Translations(
            NAMES
                .iter()
                .filter(|(key, ..)| *key == fact.key)
                .map(|(_, tag, name, acronym)| {
                    let mut texts = BTreeMap::from([("name".to_owned(), (*name).to_owned())]);
                    if let Some(acronym) = acronym {
                        texts.insert("acronym".to_owned(), (*acronym).to_owned());
                    }
                    ((*tag).to_owned(), texts)
                })
                .collect(),
        ),
    }
}

fn mark_participant(conn: &mut DbConnection, code: &str, note: &str) -> Result<usize, ApiError> {
    let current = countries::queries::find(conn, code)?
        .ok_or_else(|| ApiError::NotFound(format!("country {code} is missing")))?;
    if current.participant {
        return Ok(0);
    }
    // Keeps a note an admin already wrote.
    let mut patch = serde_json::json!({"participant": true});
    if current.notes.is_none() {
        patch["notes"] = serde_json::Value::from(note);
    }
    let input = crate::http::apply_patch::<_, countries::CountryInput>(&current, &patch)?.value;
    let mut v = crate::validation::Validator::new();
    let (_, changes) = input.check(&mut v, Some(code));
    v.finish()?;
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
    let draft = input.check(&mut v, agreements::Lifecycle::new_today());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_lifecycle_belongs_to_an_agreement_and_its_parties() {
        for fact in LIFECYCLES {
            let agreement = AGREEMENTS.iter().find(|a| a.key == fact.key);
            let agreement = agreement.unwrap_or_else(|| panic!("{} is no agreement", fact.key));
            for (party, ..) in fact.parties {
                assert!(agreement.parties.iter().any(|(key, _)| key == party));
            }
        }
    }

    #[test]
    fn every_demo_document_belongs_to_an_example_record() {
        for fact in DOCUMENTS {
            let known = AGREEMENTS.iter().any(|a| a.title == fact.of)
                || EVENTS.iter().any(|e| e.title == fact.of);
            assert!(known, "{} names no demo record", fact.of);
            assert!(fact.of.starts_with("Example:") && fact.title.starts_with("Example:"));
        }
    }
}
