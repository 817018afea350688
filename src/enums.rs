//! Enumerations stored as text: one macro gives each the same shape (serde names, OpenAPI
//! schema, the stored text and its parsing), so no resource writes its own mapping.

/// Implemented by every `text_enum!`: its values and their texts.
pub trait TextEnum: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
}

/// Declares an enum whose values are the given texts, which must be the snake_case of the
/// variant names: serde and the OpenAPI schema derive the names from `rename_all`, and a test
/// checks that they agree with the texts.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema, diesel::AsExpression)]
        #[serde(rename_all = "snake_case")]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $crate::enums::TextEnum for $name {
            const ALL: &'static [Self] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database and sent in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// The value a stored text names.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        // Diesel stores it as its text, and reads it back with `deserialize_as = String`; an
        // unknown stored text is a read error, never a guess.
        impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl TryFrom<String> for $name {
            type Error = Box<dyn std::error::Error + Send + Sync>;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                $name::parse(&text)
                    .ok_or_else(|| format!("unknown {} {text:?} in the database", stringify!($name)).into())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::TextEnum;

    /// serde's name, the OpenAPI schema's and the stored text are one and the same.
    fn names_agree<T: TextEnum + serde::Serialize + utoipa::PartialSchema>() {
        let schema = serde_json::to_value(T::schema()).expect("schema");
        let listed: Vec<String> =
            serde_json::from_value(schema["enum"].clone()).expect("enum values");
        let texts: Vec<&str> = T::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(listed, texts);
        for value in T::ALL {
            assert_eq!(
                serde_json::to_value(value).expect("serializes"),
                value.as_str()
            );
        }
    }

    #[test]
    fn every_enumeration_uses_its_texts_everywhere() {
        names_agree::<Colour>();
        names_agree::<crate::partners::PartnerKind>();
        names_agree::<crate::agreements::AgreementKind>();
        names_agree::<crate::agreements::AgreementStatus>();
        names_agree::<crate::agreements::PartyRole>();
        names_agree::<crate::events::EventKind>();
        names_agree::<crate::events::ParticipantRole>();
        names_agree::<crate::audit::AuditAction>();
        names_agree::<crate::audit::ResourceType>();
        names_agree::<crate::auth::Role>();
    }

    crate::text_enum! {
        /// A test enumeration.
        pub enum Colour {
            Red => "red",
            DarkBlue => "dark_blue",
        }
    }

    #[test]
    fn texts_round_trip_through_parse_serde_and_as_str() {
        for colour in Colour::ALL {
            assert_eq!(Colour::parse(colour.as_str()), Some(*colour));
            let json = serde_json::to_string(colour).expect("serializes");
            assert_eq!(json, format!("\"{}\"", colour.as_str()));
        }
        assert_eq!(Colour::parse("green"), None);
        assert!(serde_json::from_str::<Colour>("\"Red\"").is_err());
    }
}
