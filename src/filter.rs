//! Filter parameters every list shares: a parameter that takes several values, and the range
//! of `updated_at` (`updated_after`, `updated_before`).
//!
//! A parameter that takes several values is given either comma-separated (`kind=forum,workshop`)
//! or repeated (`kind=forum&kind=workshop`, as generated clients send an array); both mean any
//! of them. [`crate::http::QueryParams`] joins repeated values with commas before the filter is
//! read, and the parameter check in `routing` checks each value against the items' schema.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::expression::{AsExpression, BoxableExpression, TypedExpressionType};
use diesel::helper_types as dsl;
use diesel::sql_types::{BoolOrNullableBool, SingleValue, SqlType};
use diesel::{Column, ExpressionMethods, QueryDsl};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::db::MultiBackend;
use crate::pagination::{ListTable, Rows, SortColumn};

/// The values a parameter was given, in the order given, each at most once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnyOf<T>(pub Vec<T>);

impl<T: Clone> AnyOf<T> {
    /// The values, to bind as `column IN (…)`.
    pub fn to_vec(&self) -> Vec<T> {
        self.0.clone()
    }
}

impl AnyOf<CountryCode> {
    /// The codes as stored: upper case.
    pub fn country_codes(&self) -> Vec<String> {
        self.0.iter().map(|c| c.0.to_ascii_uppercase()).collect()
    }
}

impl<'de, T: DeserializeOwned + PartialEq> Deserialize<'de> for AnyOf<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut values: Vec<T> = Vec::new();
        for item in text.split(',') {
            let value = T::deserialize(item.trim().into_deserializer())
                .map_err(|e: serde::de::value::Error| serde::de::Error::custom(e))?;
            if !values.contains(&value) {
                values.push(value);
            }
        }
        Ok(AnyOf(values))
    }
}

impl<T: ToSchema> PartialSchema for AnyOf<T> {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name(T::name()))
            .min_items(Some(1))
            .description(Some(
                "One value or several: comma-separated (`a,b`) or the parameter repeated \
                 (`x=a&x=b`); a record matching any of them is listed.",
            ))
            .into()
    }
}

impl<T: ToSchema> ToSchema for AnyOf<T> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("AnyOf{}", T::name()))
    }
}

/// `rows` narrowed to those whose `column` holds one of `values`. One value is asked as `=`:
/// PostgreSQL walks a `(column, sort key)` index in order for `=`, but reads every match of
/// `= ANY(…)` and sorts them (1 415 rows instead of 51 for a page of one country's events).
pub fn any_of<Tab, C, T, Test>(rows: Rows<Tab>, column: C, mut values: Vec<T>) -> Rows<Tab>
where
    Tab: ListTable,
    C: Column<Table = Tab> + ExpressionMethods + Copy,
    C::SqlType: SqlType + TypedExpressionType + SingleValue,
    T: AsExpression<C::SqlType> + 'static,
    Test: BoolOrNullableBool + SingleValue + 'static,
    dsl::Eq<C, T>: BoxableExpression<Tab, MultiBackend, SqlType = Test> + 'static,
    dsl::EqAny<C, Vec<T>>: BoxableExpression<Tab, MultiBackend, SqlType = Test> + 'static,
{
    let condition: Box<dyn BoxableExpression<Tab, MultiBackend, SqlType = Test>> =
        match values.len() {
            1 => Box::new(column.eq(values.remove(0))),
            _ => Box::new(column.eq_any(values)),
        };
    rows.filter(condition)
}

/// A country code as a filter value: ISO 3166-1 alpha-2, in any case.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct CountryCode(pub String);

impl PartialSchema for CountryCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Za-z]{2}$"))
            .description(Some("A country's ISO 3166-1 alpha-2 code, in any case."))
            .examples([Value::from("KZ")])
            .into()
    }
}

impl ToSchema for CountryCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CountryCode")
    }
}

/// Country codes, any of which may match. An alias, so that the OpenAPI derive sees one plain
/// type (as for each resource's enums: `EventKinds`, …).
pub type CountryCodes = AnyOf<CountryCode>;

/// Only records changed strictly after this instant, by their `updated_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct UpdatedAfter(pub DateTime<Utc>);

/// Only records last changed strictly before this instant, by their `updated_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct UpdatedBefore(pub DateTime<Utc>);

/// `rows` narrowed to those whose `column` (their `updated_at`) lies strictly between `after`
/// and `before`, where given.
pub fn updated_between<Tab, C>(
    after: Option<UpdatedAfter>,
    before: Option<UpdatedBefore>,
    mut rows: Rows<Tab>,
    column: C,
) -> Rows<Tab>
where
    Tab: ListTable,
    C: SortColumn<Tab, Key = NaiveDateTime> + Copy,
{
    if let Some(UpdatedAfter(at)) = after {
        rows = rows.filter(column.beyond(at.naive_utc(), false));
    }
    if let Some(UpdatedBefore(at)) = before {
        rows = rows.filter(column.beyond(at.naive_utc(), true));
    }
    rows
}

fn instant_schema(description: &'static str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some(description))
        .examples([Value::from("2024-06-24T09:00:00Z")])
        .into()
}

impl PartialSchema for UpdatedAfter {
    fn schema() -> RefOr<Schema> {
        instant_schema(
            "Only records changed strictly after this instant (RFC 3339, e.g. \
             `2024-06-24T09:00:00Z`), by their `updated_at`.",
        )
    }
}

impl ToSchema for UpdatedAfter {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("UpdatedAfter")
    }
}

impl PartialSchema for UpdatedBefore {
    fn schema() -> RefOr<Schema> {
        instant_schema(
            "Only records last changed strictly before this instant (RFC 3339, e.g. \
             `2024-06-24T09:00:00Z`), by their `updated_at`.",
        )
    }
}

impl ToSchema for UpdatedBefore {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("UpdatedBefore")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Forum,
        Workshop,
    }

    fn read(text: &str) -> Result<AnyOf<Kind>, serde::de::value::Error> {
        AnyOf::deserialize(text.into_deserializer())
    }

    #[test]
    fn values_are_read_comma_separated_once_each_in_order() {
        assert_eq!(read("workshop").ok(), Some(AnyOf(vec![Kind::Workshop])));
        assert_eq!(
            read("workshop, forum,workshop").ok(),
            Some(AnyOf(vec![Kind::Workshop, Kind::Forum]))
        );
    }

    #[test]
    fn an_unknown_or_empty_value_is_refused() {
        assert!(read("forum,party").is_err());
        assert!(read("forum,").is_err());
        assert!(read("").is_err());
    }
}
