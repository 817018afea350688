//! Partners' identifiers in other registries (`iati-org:XM-DAC-41114`, `wikidata:Q7817`…), the
//! schemes they come from, and the routes admins extend the schemes with.
//!
//! A partner's list reads as a JSON copy beside its row (`partners.identifiers`) and is kept as
//! rows of `partner_identifiers` too, where each (scheme, value) belongs to one partner.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use regex::Regex;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::auth::{Access, Role};
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, responses};
use crate::http::JsonBody;
use crate::relation::Relation;
use crate::routing::Routes;
use crate::schema::{identifier_schemes, partner_identifiers};
use crate::validation::Validator;

/// A scheme's code: lower-case letters, digits and dashes.
const SCHEME_CODE: &str = "^[a-z][a-z0-9-]{1,31}$";

/// The most identifiers one partner has.
const MAX_IDENTIFIERS: usize = 20;

/// A partner's code in another registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"scheme": "iati-org", "value": "XM-DAC-41114"}))]
pub struct Identifier {
    /// One of the schemes `GET /api/v1/identifier-schemes` lists.
    #[schema(pattern = "^[a-z][a-z0-9-]{1,31}$", example = "iati-org")]
    pub scheme: String,
    /// The code in that scheme, in the format the scheme sets (where it sets one): one line,
    /// trimmed. Each (scheme, value) belongs to one partner.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "XM-DAC-41114"
    )]
    pub value: String,
}

/// Checks the rules of a list of identifiers that need no database; the list, trimmed.
pub fn check(v: &mut Validator, identifiers: Vec<Identifier>) -> Vec<Identifier> {
    v.check(
        identifiers.len() <= MAX_IDENTIFIERS,
        "identifiers",
        format!("holds at most {MAX_IDENTIFIERS} identifiers"),
    );
    let checked: Vec<Identifier> = identifiers
        .into_iter()
        .enumerate()
        .map(|(i, identifier)| Identifier {
            value: v.single_line(
                &format!("identifiers[{i}].value"),
                &identifier.value,
                1,
                200,
            ),
            scheme: identifier.scheme,
        })
        .collect();
    v.no_repeats("identifiers", "", checked.iter());
    checked
}

/// Checks each identifier against its scheme: that the scheme exists, and the value's format
/// where the scheme sets one.
pub fn check_schemes(
    conn: &mut DbConnection,
    v: &mut Validator,
    identifiers: &[Identifier],
) -> Result<(), ApiError> {
    if identifiers.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = identifiers.iter().map(|i| i.scheme.as_str()).collect();
    let schemes: Vec<IdentifierScheme> = identifier_schemes::table
        .filter(identifier_schemes::code.eq_any(codes))
        .select(IdentifierScheme::as_select())
        .load(conn)?;
    for (i, identifier) in identifiers.iter().enumerate() {
        let Some(scheme) = schemes.iter().find(|s| s.code == identifier.scheme) else {
            v.check(
                false,
                format!("identifiers[{i}].scheme"),
                format!(
                    "{:?} is not a known identifier scheme (GET /api/v1/identifier-schemes)",
                    identifier.scheme
                ),
            );
            continue;
        };
        if let Some(pattern) = &scheme.pattern {
            // A stored pattern compiled when it was stored; one that no longer does checks nothing.
            let fits = Regex::new(pattern).map_or(true, |re| re.is_match(&identifier.value));
            v.check(
                fits,
                format!("identifiers[{i}].value"),
                format!("is not a {} (it must match {pattern})", scheme.name),
            );
        }
    }
    Ok(())
}

/// The first of `identifiers` that another partner than `except` holds, with that partner.
pub fn held_elsewhere(
    conn: &mut DbConnection,
    identifiers: &[Identifier],
    except: Option<i64>,
) -> QueryResult<Option<(Identifier, i64)>> {
    for identifier in identifiers {
        let holder: Option<i64> = partner_identifiers::table
            .filter(partner_identifiers::scheme.eq(&identifier.scheme))
            .filter(partner_identifiers::value.eq(&identifier.value))
            .filter(partner_identifiers::partner_id.ne(except.unwrap_or(0)))
            .select(partner_identifiers::partner_id)
            .first(conn)
            .optional()?;
        if let Some(holder) = holder {
            return Ok(Some((identifier.clone(), holder)));
        }
    }
    Ok(None)
}

#[derive(Insertable)]
#[diesel(table_name = partner_identifiers)]
struct NewIdentifier<'a> {
    partner_id: i64,
    scheme: &'a str,
    value: &'a str,
    position: i32,
}

/// The identifiers of partners, as rows.
pub struct PartnerIdentifiers;

impl Relation for PartnerIdentifiers {
    type Item = Identifier;

    fn clear(conn: &mut DbConnection, partner: i64) -> QueryResult<()> {
        diesel::delete(
            partner_identifiers::table.filter(partner_identifiers::partner_id.eq(partner)),
        )
        .execute(conn)?;
        Ok(())
    }

    fn add(conn: &mut DbConnection, partner: i64, identifiers: &[Identifier]) -> QueryResult<()> {
        let rows: Vec<NewIdentifier> = (0..)
            .zip(identifiers)
            .map(|(position, identifier)| NewIdentifier {
                partner_id: partner,
                scheme: &identifier.scheme,
                value: &identifier.value,
                position,
            })
            .collect();
        crate::on_backend!(conn, |c| diesel::insert_into(partner_identifiers::table)
            .values(&rows)
            .execute(c))?;
        Ok(())
    }
}

/// `identifier=<scheme>:<value>`: the partner holding that identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifierFilter(pub Identifier);

impl<'de> Deserialize<'de> for IdentifierFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (scheme, value) = text
            .split_once(':')
            .filter(|(scheme, value)| !scheme.is_empty() && !value.trim().is_empty())
            .ok_or_else(|| {
                D::Error::custom("must be <scheme>:<value>, e.g. iati-org:XM-DAC-41114")
            })?;
        Ok(Self(Identifier {
            scheme: scheme.trim().to_owned(),
            value: value.trim().to_owned(),
        }))
    }
}

impl PartialSchema for IdentifierFilter {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[a-z][a-z0-9-]{1,31}:[^\\x00]*[^\\s\\x00][^\\x00]*$"))
            .description(Some(
                "An identifier as `<scheme>:<value>`: the partner that holds it (the value is \
                 compared exactly).",
            ))
            .examples([serde_json::Value::from("iati-org:XM-DAC-41114")])
            .into()
    }
}

impl ToSchema for IdentifierFilter {}

/// A registry that identifiers come from.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = identifier_schemes)]
#[schema(example = json!({
    "code": "wikidata", "name": "Wikidata item", "pattern": "^Q[1-9][0-9]*$",
    "description": "The Wikidata item about the organisation, e.g. Q7817 (WHO)."
}))]
pub struct IdentifierScheme {
    /// What identifiers name it by: lower-case letters, digits and dashes.
    #[schema(pattern = "^[a-z][a-z0-9-]{1,31}$")]
    pub code: String,
    pub name: String,
    /// A regular expression every value must match (Rust `regex` syntax); null: any value.
    #[schema(required = true)]
    pub pattern: Option<String>,
    #[schema(required = true)]
    pub description: Option<String>,
}

/// A scheme as an admin sets it: the body of `PUT /api/v1/identifier-schemes/{code}`.
#[derive(Clone, Debug, Deserialize, ToSchema, AsChangeset)]
#[diesel(table_name = identifier_schemes, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Tajikistan taxpayer identification number (INN)", "pattern": "^[0-9]{9}$",
    "description": "The 9-digit number of a taxpayer registered in Tajikistan."
}))]
pub struct SchemeInput {
    /// One line, trimmed.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// A regular expression values must match (Rust `regex` syntax; anchor it with `^…$`);
    /// null or left out: any value. It applies to writes from now on: identifiers already
    /// stored stay as they are.
    #[serde(default)]
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub pattern: Option<String>,
    /// Text that may hold line feeds, tabs and CRLF line breaks but no other control
    /// characters; trimmed.
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = r"^(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x08\x0b-\x1f\x7f-\x9f]|\r\n)*$"
    )]
    pub description: Option<String>,
}

impl SchemeInput {
    fn check(self) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        let name = v.single_line("name", &self.name, 1, 200);
        let pattern = v.optional_single_line("pattern", self.pattern.as_deref(), 500);
        if let Some(pattern) = &pattern {
            let compiled = regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build();
            v.check(
                compiled.is_ok(),
                "pattern",
                "is not a regular expression (Rust regex syntax)",
            );
        }
        let description = v.optional_multi_line("description", self.description.as_deref(), 2000);
        v.finish()?;
        Ok(Self {
            name,
            pattern,
            description,
        })
    }
}

fn scheme_code(text: &str) -> Result<String, ApiError> {
    let code = text.trim();
    let valid = Regex::new(SCHEME_CODE).is_ok_and(|re| re.is_match(code));
    if valid {
        Ok(code.to_owned())
    } else {
        Err(ApiError::bad_field(
            "code",
            "must be 2–32 lower-case letters, digits and dashes, starting with a letter",
        ))
    }
}

/// The routes of the identifier schemes: everyone reads them, admins change them.
pub fn routes() -> Routes {
    Routes::new("/api/v1/identifier-schemes")
        .get("", Access::Read, list_schemes)
        .put("/{code}", Access::Role(Role::Admin), put_scheme)
        .delete("/{code}", Access::Role(Role::Admin), delete_scheme)
}

/// The identifier schemes, as one list.
#[derive(Serialize, ToSchema)]
pub struct SchemeList {
    pub items: Vec<IdentifierScheme>,
}

/// List identifier schemes
///
/// Every scheme a partner's identifiers can come from, by code: those the service comes with
/// (`iati-org`, `xm-dac`, `wikidata`, `ror`, `lei`, `kz-bin`, `kg-inn`, `uz-inn`, `kr-brn`) and
/// those admins added.
#[utoipa::path(
    get, path = "/api/v1/identifier-schemes", tag = "partners", operation_id = "list_identifier_schemes",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Every scheme", body = SchemeList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn list_schemes(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let items = db
        .read(|conn| {
            Ok(identifier_schemes::table
                .order(identifier_schemes::code)
                .select(IdentifierScheme::as_select())
                .load(conn)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SchemeList { items }))
}

/// Add or change an identifier scheme
///
/// Creates the scheme (201) or replaces its name, pattern and description (200). A new pattern
/// applies to writes from now on. Needs an `admin` token.
#[utoipa::path(
    put, path = "/api/v1/identifier-schemes/{code}", tag = "partners", operation_id = "put_identifier_scheme",
    params(("code" = String, Path, description = "The scheme's code: lower-case letters, digits and dashes", pattern = "^[a-z][a-z0-9-]{1,31}$", example = "tj-inn")),
    request_body = SchemeInput,
    responses(
        (status = 200, description = "Replaced", body = IdentifierScheme),
        (status = 201, description = "Created", body = IdentifierScheme),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::Unprocessable),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn put_scheme(
    db: web::Data<Db>,
    path: web::Path<String>,
    JsonBody(input): JsonBody<SchemeInput>,
) -> Result<HttpResponse, ApiError> {
    let code = scheme_code(&path)?;
    let input = input.then(SchemeInput::check)?;
    let (created, scheme) = db
        .write(move |conn| {
            conn.transaction(|conn| {
                let replaced = diesel::update(identifier_schemes::table.find(&code))
                    .set(&input)
                    .execute(conn)?;
                if replaced == 0 {
                    diesel::insert_into(identifier_schemes::table)
                        .values((
                            identifier_schemes::code.eq(&code),
                            identifier_schemes::name.eq(&input.name),
                            identifier_schemes::pattern.eq(&input.pattern),
                            identifier_schemes::description.eq(&input.description),
                        ))
                        .execute(conn)?;
                }
                let scheme = identifier_schemes::table
                    .find(&code)
                    .select(IdentifierScheme::as_select())
                    .first(conn)?;
                Ok((replaced == 0, scheme))
            })
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(scheme))
}

/// Remove an identifier scheme
///
/// Refused with 409 while a partner holds an identifier of it. Needs an `admin` token.
#[utoipa::path(
    delete, path = "/api/v1/identifier-schemes/{code}", tag = "partners", operation_id = "delete_identifier_scheme",
    params(("code" = String, Path, description = "The scheme's code", pattern = "^[a-z][a-z0-9-]{1,31}$", example = "tj-inn")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 503, response = responses::Unavailable),
    )
)]
pub async fn delete_scheme(
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = scheme_code(&path)?;
    db.write(move |conn| {
        conn.transaction(|conn| {
            let holder: Option<i64> = partner_identifiers::table
                .filter(partner_identifiers::scheme.eq(&code))
                .select(partner_identifiers::partner_id)
                .first(conn)
                .optional()?;
            if let Some(partner) = holder {
                return Err(ApiError::Conflict(format!(
                    "partner {partner} holds an identifier of the scheme {code:?}"
                )));
            }
            let removed = diesel::delete(identifier_schemes::table.find(&code)).execute(conn)?;
            if removed == 0 {
                return Err(ApiError::NotFound(format!("no identifier scheme {code:?}")));
            }
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_a_scheme_and_a_value() {
        let read = |text: &str| {
            IdentifierFilter::deserialize(
                serde::de::IntoDeserializer::<serde::de::value::Error>::into_deserializer(text),
            )
        };
        let filter = read("iati-org:XM-DAC-41114").expect("reads");
        assert_eq!(filter.0.scheme, "iati-org");
        assert_eq!(filter.0.value, "XM-DAC-41114");
        assert_eq!(read("ror:0:1").expect("reads").0.value, "0:1");
        for bad in ["iati-org", ":x", "wikidata: ", ""] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_list_is_trimmed_and_repeats_are_refused() {
        let mut v = Validator::new();
        let one = Identifier {
            scheme: "wikidata".to_owned(),
            value: " Q7817 ".to_owned(),
        };
        let checked = check(&mut v, vec![one.clone()]);
        assert_eq!(checked[0].value, "Q7817");
        assert!(v.is_empty());
        check(&mut v, vec![one.clone(), one]);
        assert!(!v.is_empty());
    }
}
