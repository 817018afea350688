//! Enumerations stored as text: one macro gives each the same shape (serde names, OpenAPI
//! schema, the stored text and its parsing), so no resource writes its own mapping.

/// Declares an enum whose values are the given snake_case texts.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $text)] $variant ),+
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

        // Diesel stores it as text (`serialize_as = String`) and reads it back with
        // `deserialize_as = String`; an unknown stored text is a read error, never a guess.
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
