//! Finds the line and column of a value in the YAML source, given its path.
//!
//! serde_yaml_ng attaches a location to any error raised while a node is being deserialized. To
//! locate a path we walk the document along it with a `DeserializeSeed` and raise an error at the
//! target node; the location the library attaches to that error is the answer. This keeps one
//! YAML parser in the build and follows the parser's own idea of positions.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path such as `environments.production.health.endpoints[0].path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YamlPath(pub Vec<Segment>);

impl YamlPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if n == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Line and column (1-based) of the node at `path`, or of its deepest existing ancestor.
pub fn locate(source: &str, path: &YamlPath) -> Option<(usize, usize)> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(source);
    let error = match (Seek { rest: &path.0 }).deserialize(deserializer) {
        Ok(()) => return None,
        Err(error) => error,
    };
    error.location().map(|l| (l.line(), l.column()))
}

struct Seek<'p> {
    rest: &'p [Segment],
}

const HERE: &str = "shipgate-locate";

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Segment::Key(wanted), rest)) = self.rest.split_first() else {
            return Err(de::Error::custom(HERE));
        };
        while let Some(key) = map.next_key::<KeyText>()? {
            if key.0 == *wanted {
                return map.next_value_seed(Seek { rest });
            }
            map.next_value::<IgnoredAny>()?;
        }
        // The key is not there (a missing field): the mapping itself is the best location.
        Err(de::Error::custom(HERE))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Segment::Index(wanted), rest)) = self.rest.split_first() else {
            return Err(de::Error::custom(HERE));
        };
        for _ in 0..*wanted {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom(HERE));
            }
        }
        seq.next_element_seed(Seek { rest })?;
        Err(de::Error::custom(HERE))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(HERE))
    }
}

/// A mapping key of any scalar type, as text (YAML allows `1:` or `true:` as keys).
struct KeyText(String);

impl<'de> de::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version: 1\nwindows:\n  allow:\n    - days: mon\n      hours: \"17:00-09:00\"\n    - days: tue\n      hours: b\nenvironments:\n  production:\n    requires: [staging, nope]\n";

    #[test]
    fn finds_scalars_mappings_and_sequence_items() {
        let root = YamlPath::root();
        let allow = root.key("windows").key("allow");
        assert_eq!(locate(DOC, &allow.index(1).key("hours")), Some((7, 14)));
        assert_eq!(locate(DOC, &allow.index(1)), Some((6, 7)));
        let requires = root.key("environments").key("production").key("requires");
        assert_eq!(locate(DOC, &requires.index(1)), Some((10, 25)));
        assert_eq!(locate(DOC, &root.key("version")), Some((1, 10)));
    }

    #[test]
    fn a_missing_key_points_at_its_parent() {
        let path = YamlPath::root()
            .key("environments")
            .key("production")
            .key("app");
        assert_eq!(locate(DOC, &path), Some((10, 5)));
    }

    #[test]
    fn paths_display_like_serde_paths() {
        let path = YamlPath::root()
            .key("windows")
            .key("allow")
            .index(1)
            .key("hours");
        assert_eq!(path.to_string(), "windows.allow[1].hours");
    }
}
