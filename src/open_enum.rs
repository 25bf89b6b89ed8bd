//! `open_enum!`: enums of external tools that never fail on a value added later.

/// An enum that GitHub or flyctl may grow: known values, or the text of an unknown one. Adding
/// values is a non-breaking change for both, so deserialization never fails on a new one.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($variant,)*
            /// A value this version of shipgate does not know (empty when absent).
            Other(String),
        }

        impl Default for $name {
            fn default() -> Self {
                $name::Other(String::new())
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $($text => $name::$variant,)*
                    _ => $name::Other(text),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <Option<String> as serde::Deserialize>::deserialize(deserializer)
                    .map(|text| $name::from(text.unwrap_or_default()))
            }
        }
    };
}
