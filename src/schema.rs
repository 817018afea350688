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
    }
}
