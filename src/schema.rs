//! The database schema, written in the portable subset of types both backends share.

diesel::table! {
    countries (code) {
        code -> Text,
        alpha3 -> Text,
        numeric_code -> Text,
        name -> Text,
        region -> Nullable<Text>,
        subregion -> Nullable<Text>,
        participant -> Bool,
        joined_on -> Nullable<Date>,
        notes -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        translations -> Text,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    partners (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        acronym -> Nullable<Text>,
        kind -> Text,
        country_code -> Nullable<Text>,
        website -> Nullable<Text>,
        email -> Nullable<Text>,
        description -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        identifiers -> Text,
        translations -> Text,
        merged_into -> Nullable<BigInt>,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reference_data (name) {
        name -> Text,
        version -> Text,
    }
}

diesel::table! {
    identifier_schemes (code) {
        code -> Text,
        name -> Text,
        pattern -> Nullable<Text>,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    partner_identifiers (scheme, value) {
        partner_id -> BigInt,
        scheme -> Text,
        value -> Text,
        position -> Integer,
    }
}

diesel::table! {
    agreements (id) {
        id -> BigInt,
        title -> Text,
        kind -> Text,
        status -> Text,
        signed_on -> Nullable<Date>,
        starts_on -> Nullable<Date>,
        entered_into_force_on -> Nullable<Date>,
        expires_on -> Nullable<Date>,
        ends_on -> Nullable<Date>,
        summary -> Nullable<Text>,
        document_url -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        parties -> Text,
        country_codes -> Text,
        documents -> Text,
        translations -> Text,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    agreement_parties (agreement_id, partner_id) {
        agreement_id -> BigInt,
        partner_id -> BigInt,
        role -> Text,
        position -> Integer,
        signed_on -> Nullable<Date>,
        entered_into_force_on -> Nullable<Date>,
        withdrew_on -> Nullable<Date>,
    }
}

diesel::table! {
    agreement_countries (agreement_id, country_code) {
        agreement_id -> BigInt,
        country_code -> Text,
        position -> Integer,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        title -> Text,
        kind -> Text,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        city -> Nullable<Text>,
        venue -> Nullable<Text>,
        country_code -> Nullable<Text>,
        agreement_id -> Nullable<BigInt>,
        description -> Nullable<Text>,
        url -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        participants -> Text,
        documents -> Text,
        translations -> Text,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    event_participants (event_id, partner_id) {
        event_id -> BigInt,
        partner_id -> BigInt,
        role -> Text,
        position -> Integer,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        name -> Text,
        role -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        batch_id -> Nullable<Text>,
        txid -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (id) {
        id -> BigInt,
        token_hash -> Text,
        method -> Text,
        path -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        claim -> Nullable<Text>,
        status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        location -> Nullable<Text>,
        etag -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        event_types -> Text,
        active -> Bool,
        description -> Nullable<Text>,
        secret -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        audit_id -> BigInt,
        txid -> BigInt,
        event_type -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(partners -> countries (country_code));
diesel::joinable!(agreement_parties -> agreements (agreement_id));
diesel::joinable!(agreement_parties -> partners (partner_id));
diesel::joinable!(partner_identifiers -> partners (partner_id));
diesel::joinable!(partner_identifiers -> identifier_schemes (scheme));
diesel::joinable!(agreement_countries -> agreements (agreement_id));
diesel::joinable!(agreement_countries -> countries (country_code));
diesel::joinable!(events -> agreements (agreement_id));
diesel::joinable!(events -> countries (country_code));
diesel::joinable!(event_participants -> events (event_id));
diesel::joinable!(event_participants -> partners (partner_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    countries,
    partners,
    identifier_schemes,
    partner_identifiers,
    agreements,
    agreement_parties,
    agreement_countries,
    events,
    event_participants,
    api_tokens,
    audit_log,
    webhooks,
    webhook_deliveries,
);
