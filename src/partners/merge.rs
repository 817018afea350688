//! Merging a duplicate partner into the one that stays: every agreement party, event
//! participant and identifier of the source moves to the target in one transaction, and the
//! source is kept as a redirect to it (see `Partners::absent`).
//!
//! When both were parties of one agreement (or took part in one event), the two entries become
//! one, in the target's place: the stronger role of the two (signatory, coordinating, funding,
//! implementing, observer; host, organizer, speaker, participant), and for each date of a
//! party the earlier one for signing and entering into force, the later one for withdrawing
//! (none when either never withdrew). The entries as they were stay in the audit log.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::handlers::Partners;
use super::identifiers::PartnerIdentifiers;
use super::model::Partner;
use super::queries;
use crate::agreements::model::{Agreement, Lifecycle, Party, PartyRole};
use crate::audit::{self, AuditAction, ResourceType};
use crate::auth::Actor;
use crate::crud::id_from_path;
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, FieldError, responses};
use crate::events::model::{Event, Participant, ParticipantRole};
use crate::http::{JsonBody, apply_patch};
use crate::relation::Relation;
use crate::resource::{Resource, found};
use crate::schema::{agreement_parties, event_participants, partners};
use crate::validation::Validator;

/// The body of a merge.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"into": 3}))]
pub struct MergeInput {
    /// The partner that stays and takes the merged one's place: another existing partner.
    #[schema(minimum = 1)]
    pub into: i64,
}

/// What a merge changed.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "merged": 9, "into": {"id": 3, "name": "Ministry of the Interior and Safety", "acronym": "MOIS",
    "kind": "government", "country_code": "KR", "website": null, "email": null, "description": null,
    "identifiers": [], "translations": {}, "created_at": "2024-06-24T09:00:00.000000Z",
    "updated_at": "2024-06-25T09:00:00.000000Z", "version": 2},
    "agreements": [4, 7], "events": [12]
}))]
pub struct MergeReport {
    /// The partner merged: its path now redirects to the target.
    pub merged: i64,
    /// The target as it is after the merge.
    pub into: Partner,
    /// The agreements whose parties moved (each at a new version).
    pub agreements: Vec<i64>,
    /// The events whose participants moved (each at a new version).
    pub events: Vec<i64>,
}

/// Merge a duplicate partner into another
///
/// Moves every agreement party, event participant and identifier of the partner to `into`, in
/// one transaction, and keeps the partner as a redirect: a GET or HEAD of its path answers 308
/// with `Location` of the target; a write to it answers 409 `merged_into`; it leaves every
/// list. When both were parties of one agreement (or took part in one event) their entries
/// become one: the stronger role, the earlier signature and entry into force, the later
/// withdrawal (none if either never withdrew). The target, and every agreement and event whose
/// parties or participants moved, get a new version; each change has its audit entry, the
/// merged partner's a `delete`. Needs an `admin` token.
#[utoipa::path(
    post, path = "/api/v1/partners/{id}/merge", tag = "partners", operation_id = "merge_partner",
    params(("id" = i64, Path, description = "The partner to merge (the duplicate)", example = 9)),
    request_body = MergeInput,
    responses(
        (status = 200, description = "Merged", body = MergeReport),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn merge(
    db: web::Data<Db>,
    actor: Actor,
    path: web::Path<String>,
    JsonBody(input): JsonBody<MergeInput>,
) -> Result<HttpResponse, ApiError> {
    let source = id_from_path(&path)?;
    let target = input.then(|input| {
        if input.into == source {
            return Err(ApiError::Validation(vec![FieldError::new(
                "into",
                "must be another partner than the one merged",
            )]));
        }
        Ok(input.into)
    })?;
    let report = db
        .write(move |conn| merge_partners(conn, &actor, source, target))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

fn merge_partners(
    conn: &mut DbConnection,
    actor: &Actor,
    source: i64,
    target: i64,
) -> Result<MergeReport, ApiError> {
    let merged = found::<Partners>(conn, &source, false)?;
    let Some(kept) = queries::find(conn, target)? else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "into",
            format!("no partner with id {target}"),
        )]));
    };
    let agreements = move_parties(conn, actor, source, target)?;
    let events = move_participants(conn, actor, source, target)?;

    // The target takes the source's identifiers, after its own.
    let mut identifiers = kept.identifiers.clone();
    identifiers.extend(merged.identifiers.iter().cloned());
    // Its rows go first: each identifier belongs to one partner.
    PartnerIdentifiers::clear(conn, source)?;
    let patch = json!({ "identifiers": identifiers });
    let into = rewrite::<Partners>(conn, actor, &target, &kept, &patch, |input, v| {
        input.check(v)
    })?;

    // The source stays as a redirect; its name is free again.
    diesel::update(partners::table.find(source))
        .set((
            partners::merged_into.eq(target),
            partners::identifiers.eq("[]"),
            partners::name_key.eq(format!("\u{1}merged {source}")),
            partners::updated_at.eq(crate::sql::database_now()),
            partners::version.eq(merged.version + 1),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        &actor.name,
        AuditAction::Delete,
        ResourceType::Partner,
        &source.to_string(),
        Some(&merged),
        None::<&Partner>,
    )?;
    Ok(MergeReport {
        merged: source,
        into,
        agreements,
        events,
    })
}

/// Moves the source's agreement parties to the target; the agreements changed.
fn move_parties(
    conn: &mut DbConnection,
    actor: &Actor,
    source: i64,
    target: i64,
) -> Result<Vec<i64>, ApiError> {
    let ids: Vec<i64> = agreement_parties::table
        .filter(agreement_parties::partner_id.eq(source))
        .select(agreement_parties::agreement_id)
        .order(agreement_parties::agreement_id)
        .load(conn)?;
    let today = chrono::Utc::now().date_naive();
    for id in &ids {
        let current: Agreement = found::<crate::agreements::Agreements>(conn, id, false)?;
        let parties = merged_list(
            &current.parties,
            source,
            target,
            |p| p.partner_id,
            merge_party,
        );
        let patch = json!({ "parties": parties });
        let lifecycle = Lifecycle {
            today,
            current: Some(&current),
        };
        rewrite::<crate::agreements::Agreements>(conn, actor, id, &current, &patch, |input, v| {
            input.check(v, lifecycle)
        })?;
    }
    Ok(ids)
}

/// Moves the source's event participations to the target; the events changed.
fn move_participants(
    conn: &mut DbConnection,
    actor: &Actor,
    source: i64,
    target: i64,
) -> Result<Vec<i64>, ApiError> {
    let ids: Vec<i64> = event_participants::table
        .filter(event_participants::partner_id.eq(source))
        .select(event_participants::event_id)
        .order(event_participants::event_id)
        .load(conn)?;
    for id in &ids {
        let current: Event = found::<crate::events::Events>(conn, id, false)?;
        let participants = merged_list(
            &current.participants,
            source,
            target,
            |p| p.partner_id,
            merge_participant,
        );
        let patch = json!({ "participants": participants });
        rewrite::<crate::events::Events>(conn, actor, id, &current, &patch, |input, v| {
            input.check(v)
        })?;
    }
    Ok(ids)
}

/// `list` with the source's entry moved to the target: renamed where the target is not in it,
/// else merged into the target's entry (in the target's place) by `merge`.
fn merged_list<T: Clone>(
    list: &[T],
    source: i64,
    target: i64,
    partner: impl Fn(&T) -> i64,
    merge: impl Fn(&T, &T, i64) -> T,
) -> Vec<T> {
    let from = list.iter().find(|item| partner(item) == source);
    let has_target = list.iter().any(|item| partner(item) == target);
    list.iter()
        .filter_map(|item| match (partner(item), from) {
            (id, _) if id == source && has_target => None,
            (id, Some(from)) if id == source => Some(merge(from, from, target)),
            (id, Some(from)) if id == target => Some(merge(item, from, target)),
            _ => Some(item.clone()),
        })
        .collect()
}

fn merge_party(kept: &Party, moved: &Party, target: i64) -> Party {
    let earlier = |a: Option<chrono::NaiveDate>, b| match (a, b) {
        (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
        (a, b) => a.or(b),
    };
    // Still a party unless both withdrew (a lone entry is merged with itself: its own date).
    let withdrew_on = match (kept.withdrew_on, moved.withdrew_on) {
        (Some(a), Some(b)) => Some(std::cmp::max(a, b)),
        _ => None,
    };
    Party {
        partner_id: target,
        role: stronger(kept.role, moved.role, &PARTY_ROLES),
        signed_on: earlier(kept.signed_on, moved.signed_on),
        entered_into_force_on: earlier(kept.entered_into_force_on, moved.entered_into_force_on),
        withdrew_on,
    }
}

fn merge_participant(kept: &Participant, moved: &Participant, target: i64) -> Participant {
    Participant {
        partner_id: target,
        role: stronger(kept.role, moved.role, &PARTICIPANT_ROLES),
    }
}

/// Roles from the strongest: what a merged entry keeps.
const PARTY_ROLES: [PartyRole; 5] = [
    PartyRole::Signatory,
    PartyRole::Coordinating,
    PartyRole::Funding,
    PartyRole::Implementing,
    PartyRole::Observer,
];
const PARTICIPANT_ROLES: [ParticipantRole; 4] = [
    ParticipantRole::Host,
    ParticipantRole::Organizer,
    ParticipantRole::Speaker,
    ParticipantRole::Participant,
];

fn stronger<T: PartialEq + Copy>(a: T, b: T, order: &[T]) -> T {
    let rank = |role: T| order.iter().position(|r| *r == role).unwrap_or(order.len());
    if rank(b) < rank(a) { b } else { a }
}

/// Stores `patch` applied to `current` (the record `key`) at a new version with its audit
/// entry. The stored rules that `check` reports are not the merge's to enforce (the record
/// was accepted as it is), so they do not stop it.
fn rewrite<R: Resource>(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &R::Key,
    current: &R::Item,
    patch: &serde_json::Value,
    check: impl FnOnce(R::Input, &mut Validator) -> R::Draft,
) -> Result<R::Item, ApiError> {
    let input = apply_patch::<_, R::Input>(current, patch)?.value;
    let draft = check(input, &mut Validator::new());
    let updated = R::update(conn, key, current, draft)?.ok_or(ApiError::PreconditionFailed)?;
    audit::record(
        conn,
        &actor.name,
        AuditAction::Update,
        R::AUDIT,
        &key.to_string(),
        Some(current),
        Some(&updated),
    )?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2024, 1, d)
    }

    fn party(partner_id: i64, role: PartyRole, dates: [Option<NaiveDate>; 3]) -> Party {
        Party {
            partner_id,
            role,
            signed_on: dates[0],
            entered_into_force_on: dates[1],
            withdrew_on: dates[2],
        }
    }

    #[test]
    fn two_entries_keep_the_stronger_role_the_earlier_start_and_the_later_withdrawal() {
        let kept = party(2, PartyRole::Implementing, [day(5), None, day(20)]);
        let moved = party(1, PartyRole::Signatory, [day(3), day(4), day(25)]);
        let merged = merge_party(&kept, &moved, 2);
        assert_eq!(
            merged,
            party(2, PartyRole::Signatory, [day(3), day(4), day(25)])
        );
        // One never withdrew: the merged party has not.
        let staying = party(1, PartyRole::Observer, [None, None, None]);
        assert_eq!(merge_party(&kept, &staying, 2).withdrew_on, None);
    }

    #[test]
    fn a_lone_entry_moves_as_it_is_and_the_target_keeps_its_place() {
        let lone = party(1, PartyRole::Funding, [day(1), day(2), day(9)]);
        assert_eq!(
            merge_party(&lone, &lone, 7),
            Party {
                partner_id: 7,
                ..lone.clone()
            }
        );
        let list = [
            party(1, PartyRole::Observer, [None; 3]),
            party(3, PartyRole::Funding, [None; 3]),
            party(2, PartyRole::Coordinating, [None; 3]),
        ];
        let moved = merged_list(&list, 1, 2, |p| p.partner_id, merge_party);
        let ids: Vec<(i64, PartyRole)> = moved.iter().map(|p| (p.partner_id, p.role)).collect();
        assert_eq!(ids, [(3, PartyRole::Funding), (2, PartyRole::Coordinating)]);
        let renamed = merged_list(&list[..2], 1, 9, |p| p.partner_id, merge_party);
        assert_eq!(renamed[0].partner_id, 9);
        assert_eq!(renamed.len(), 2);
    }
}
