//! `coop-registry seed-bench`: a large, realistic data set for the benchmark harness
//! (`bench/run.sh`), made deterministically (a fixed-seed generator) and stored through the
//! resources' own rules and queries, in transactions of a thousand records.

use chrono::NaiveDate;
use diesel::Connection;
use diesel::connection::SimpleConnection;

use crate::agreements::{
    self, AgreementInput, AgreementKind, AgreementStatus, Lifecycle, Party, PartyRole,
};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::events::{self, EventInput, EventKind, Participant, ParticipantRole};
use crate::partners::{self, PartnerInput, PartnerKind};
use crate::validation::Validator;

/// How much to make.
#[derive(Clone, Copy, Debug)]
pub struct BenchSizes {
    pub partners: usize,
    pub agreements: usize,
    pub events: usize,
}

/// xorshift64*: small, fast and the same on every machine, which is all a data generator needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `count` different numbers in `0..n`.
    fn distinct(&mut self, count: usize, n: usize) -> Vec<usize> {
        let mut chosen = Vec::with_capacity(count);
        while chosen.len() < count.min(n) {
            let x = self.below(n);
            if !chosen.contains(&x) {
                chosen.push(x);
            }
        }
        chosen
    }

    fn date(&mut self, from_year: i32, years: usize) -> NaiveDate {
        let start = NaiveDate::from_ymd_opt(from_year, 1, 1).unwrap_or_default();
        start + chrono::Days::new(self.below(years * 365) as u64)
    }
}

const COUNTRIES: [&str; 24] = [
    "KZ", "KG", "TJ", "UZ", "TM", "AZ", "AM", "GE", "KR", "MN", "TR", "RU", "UA", "MD", "BY", "CN",
    "JP", "IN", "PK", "AF", "US", "DE", "GB", "FR",
];
const ORGANISATIONS: [&str; 12] = [
    "Ministry of Digital Development",
    "Agency for Civil Service Affairs",
    "Academy of Public Administration",
    "National Information Society Agency",
    "Ministry of Internal Affairs",
    "Ministry of Justice",
    "Regional Development Fund",
    "Министерство цифрового развития",
    "Агентство по делам государственной службы",
    "행정안전부 협력단",
    "Civil Service Commission",
    "Institute of Public Policy",
];
const TOPICS: [&str; 10] = [
    "digital government",
    "civil service reform",
    "public service delivery",
    "e-procurement",
    "anti-corruption",
    "merit-based recruitment",
    "open data",
    "цифровое правительство",
    "государственная служба",
    "전자정부",
];
const FORMATS: [&str; 4] = ["Forum", "Seminar", "Workshop", "Study visit"];
const CITIES: [&str; 10] = [
    "Astana", "Almaty", "Bishkek", "Tashkent", "Dushanbe", "Baku", "Yerevan", "Tbilisi", "Seoul",
    "Incheon",
];

/// Makes the data set on an empty registry (countries only); returns what it made.
pub fn generate(conn: &mut DbConnection, sizes: BenchSizes) -> Result<BenchSizes, ApiError> {
    let existing: i64 = {
        use diesel::prelude::*;
        crate::schema::partners::table.count().get_result(conn)?
    };
    if existing > 0 {
        return Err(ApiError::Conflict(
            "seed-bench needs a registry without partners".to_owned(),
        ));
    }
    let mut rng = Rng(0x00c0_0b3e_9c0f_fee1);
    let mut partner_ids = Vec::with_capacity(sizes.partners);
    for chunk in chunks(sizes.partners) {
        conn.transaction(|conn| {
            for i in chunk.clone() {
                let input = PartnerInput {
                    name: format!("{} #{i}", rng.pick(&ORGANISATIONS)),
                    acronym: Some(format!("P{i}")),
                    kind: *rng.pick(PartnerKind::ALL),
                    country_code: Some((*rng.pick(&COUNTRIES)).to_owned()),
                    website: Some(format!("https://partner-{i}.example.org")),
                    email: None,
                    description: Some(format!("Works on {}.", rng.pick(&TOPICS))),
                    identifiers: Vec::new(),
                    translations: Default::default(),
                };
                let changes = checked(|v| input.check(v))?;
                partner_ids.push(partners::queries::insert(conn, changes)?.id);
            }
            Ok::<_, ApiError>(())
        })?;
        eprintln!("seed-bench: {} partners", partner_ids.len());
    }
    let mut agreement_ids = Vec::with_capacity(sizes.agreements);
    let lifecycle = Lifecycle::new_today();
    let yesterday = lifecycle.today - chrono::Days::new(1);
    for chunk in chunks(sizes.agreements) {
        conn.transaction(|conn| {
            for i in chunk.clone() {
                let starts_on = rng.date(2015, 12);
                let status = *rng.pick(AgreementStatus::ALL);
                let (party_count, country_count) = (2 + rng.below(4), 1 + rng.below(7));
                let parties = rng.distinct(party_count, partner_ids.len());
                let countries = rng.distinct(country_count, COUNTRIES.len());
                // An active or expired agreement entered into force (and an expired one
                // expired) before today: its legal dates are its start, or yesterday.
                let in_force = matches!(status, AgreementStatus::Active | AgreementStatus::Expired);
                let legal = if in_force {
                    starts_on.min(yesterday)
                } else {
                    starts_on
                };
                let input = AgreementInput {
                    title: format!("Agreement {i} on {}", rng.pick(&TOPICS)),
                    kind: *rng.pick(AgreementKind::ALL),
                    status,
                    signed_on: status.is_signed().then_some(legal),
                    entered_into_force_on: in_force.then_some(legal),
                    expires_on: (status == AgreementStatus::Expired).then_some(legal),
                    starts_on: Some(starts_on),
                    ends_on: Some(starts_on + chrono::Days::new(365 + rng.below(1500) as u64)),
                    summary: Some(format!(
                        "Cooperation in {} between the parties.",
                        rng.pick(&TOPICS)
                    )),
                    document_url: None,
                    parties: parties
                        .into_iter()
                        .map(|p| Party::new(partner_ids[p], *rng.pick(PartyRole::ALL)))
                        .collect(),
                    country_codes: countries
                        .into_iter()
                        .map(|c| COUNTRIES[c].to_owned())
                        .collect(),
                    documents: Vec::new(),
                    translations: Default::default(),
                };
                let draft = checked(|v| input.check(v, lifecycle))?;
                agreement_ids.push(agreements::queries::insert(conn, draft)?.id);
            }
            Ok::<_, ApiError>(())
        })?;
        eprintln!("seed-bench: {} agreements", agreement_ids.len());
    }
    let mut made_events = 0;
    for chunk in chunks(sizes.events) {
        conn.transaction(|conn| {
            for i in chunk.clone() {
                let starts_on = rng.date(2015, 12);
                let under_agreement = rng.below(2) == 0 && !agreement_ids.is_empty();
                let participant_count = 1 + rng.below(6);
                let participants = rng.distinct(participant_count, partner_ids.len());
                let input = EventInput {
                    title: format!("{} on {} #{i}", rng.pick(&FORMATS), rng.pick(&TOPICS)),
                    kind: *rng.pick(EventKind::ALL),
                    starts_on,
                    ends_on: Some(starts_on + chrono::Days::new(rng.below(4) as u64)),
                    city: Some((*rng.pick(&CITIES)).to_owned()),
                    venue: venue(i),
                    country_code: Some((*rng.pick(&COUNTRIES)).to_owned()),
                    agreement_id: under_agreement
                        .then(|| agreement_ids[rng.below(agreement_ids.len())]),
                    description: None,
                    url: None,
                    participants: participants
                        .into_iter()
                        .map(|p| Participant {
                            partner_id: partner_ids[p],
                            role: *rng.pick(ParticipantRole::ALL),
                        })
                        .collect(),
                    documents: Vec::new(),
                    translations: Default::default(),
                };
                let draft = checked(|v| input.check(v))?;
                events::queries::insert(conn, draft)?;
                made_events += 1;
            }
            Ok::<_, ApiError>(())
        })?;
        eprintln!("seed-bench: {made_events} events");
    }
    // A bulk load leaves PostgreSQL's planner statistics and visibility map empty. Autovacuum
    // fills them in at some moment in the next minutes, which in the benchmark fell in the
    // middle of the PostgreSQL scenarios; until it has, the index-only reads of list pages also
    // visit the table. Operators analyze after a bulk load for the same reason. SQLite keeps no
    // statistics that the service uses (it never runs ANALYZE), so it has nothing to do here.
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute("VACUUM ANALYZE")?;
    }
    Ok(BenchSizes {
        partners: partner_ids.len(),
        agreements: agreement_ids.len(),
        events: made_events,
    })
}

/// The venue of event `i`, for the search benchmark: a word in 1% of events (`friendship`) and
/// short non-Latin terms in 0.01% each (`МВД`, `한국`). Taken from `i`, not from the generator,
/// so that the rest of the data set stays what it was.
fn venue(i: usize) -> Option<String> {
    match (i % 100, i % 10_000) {
        (_, 2) => Some("МВД Республики Казахстан".to_owned()),
        (_, 3) => Some("한국 서울 정부청사".to_owned()),
        (1, _) => Some("Hall of Friendship".to_owned()),
        _ => None,
    }
}

/// Ranges of at most a thousand, one transaction each.
fn chunks(total: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..total)
        .step_by(1000)
        .map(move |start| start..(start + 1000).min(total))
}

/// Applies the resource's own rules; generated data that broke one would be a bug here.
fn checked<T>(check: impl FnOnce(&mut Validator) -> T) -> Result<T, ApiError> {
    let mut v = Validator::new();
    let value = check(&mut v);
    v.finish()?;
    Ok(value)
}

/// A migrated SQLite file in a temporary directory holding `sizes` of the data set, for the unit
/// tests that need real statements; the file goes with the directory guard.
#[cfg(test)]
pub(crate) fn seeded_sqlite(sizes: BenchSizes) -> (tempfile::TempDir, DbConnection) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("seeded.db");
    let factory = crate::db::ConnectionFactory::new(path.to_str().expect("a UTF-8 path"))
        .expect("an SQLite path");
    let mut conn = factory.connect().expect("opens the SQLite file");
    crate::db::migrate(&mut conn, crate::app::load_reference_data).expect("migrates");
    if sizes.partners + sizes.agreements + sizes.events > 0 {
        generate(&mut conn, sizes).expect("generates");
    }
    (dir, conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        let first: Vec<u64> = (0..5).map(|_| a.next()).collect();
        let second: Vec<u64> = (0..5).map(|_| b.next()).collect();
        assert_eq!(first, second);
        let picks = a.distinct(5, 6);
        assert_eq!(picks.len(), 5);
        assert!(picks.iter().all(|p| *p < 6));
        let mut sorted = picks.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 5, "distinct");
        assert_eq!(
            chunks(2500).collect::<Vec<_>>(),
            [0..1000, 1000..2000, 2000..2500]
        );
    }

    type EventSummary = (
        String,
        NaiveDate,
        Option<NaiveDate>,
        Option<String>,
        Option<i64>,
    );

    /// Loads a tiny data set into a fresh SQLite file; returns the events and participant count.
    fn load(dir: &std::path::Path, name: &str, sizes: BenchSizes) -> (Vec<EventSummary>, i64) {
        use crate::schema::{event_participants, events};
        use diesel::prelude::*;
        let path = dir.join(name);
        let factory = crate::db::ConnectionFactory::new(path.to_str().expect("a UTF-8 path"))
            .expect("an SQLite path");
        let mut conn = factory.connect().expect("opens the SQLite file");
        crate::db::migrate(&mut conn, crate::app::load_reference_data).expect("migrates");
        let made = generate(&mut conn, sizes).expect("generates");
        assert_eq!(
            (made.partners, made.agreements, made.events),
            (sizes.partners, sizes.agreements, sizes.events)
        );
        assert!(
            matches!(generate(&mut conn, sizes), Err(ApiError::Conflict(_))),
            "a registry that has partners is refused"
        );
        let rows = events::table
            .select((
                events::title,
                events::starts_on,
                events::ends_on,
                events::country_code,
                events::agreement_id,
            ))
            .order(events::id)
            .load::<EventSummary>(&mut conn)
            .expect("reads the events");
        let participants: i64 = event_participants::table
            .count()
            .get_result(&mut conn)
            .expect("counts participants");
        (rows, participants)
    }

    #[test]
    fn the_same_seed_stores_the_same_data_set() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sizes = BenchSizes {
            partners: 30,
            agreements: 60,
            events: 1100, // more than one transaction
        };
        let (first, participants) = load(dir.path(), "a.db", sizes);
        let (second, participants_again) = load(dir.path(), "b.db", sizes);
        assert_eq!(first, second);
        assert_eq!(participants, participants_again);
        assert_eq!(first.len(), 1100);
        assert!(
            (1100..=6600).contains(&participants),
            "1–6 participants each"
        );
        let from = NaiveDate::from_ymd_opt(2015, 1, 1).expect("a date");
        let to = NaiveDate::from_ymd_opt(2027, 1, 1).expect("a date");
        assert!(first.iter().all(|e| (from..to).contains(&e.1)));
        let under_agreement = first.iter().filter(|e| e.4.is_some()).count();
        assert!(
            (400..=700).contains(&under_agreement),
            "about half under an agreement"
        );
    }
}
