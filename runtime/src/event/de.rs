//! Serde helpers for event fields that AWS (or its console) may send as `null`, and maps whose
//! order matters.
//!
//! Why not `aws_lambda_events`: its query maps are hash maps (the re-encoded QUERY_STRING must
//! follow the event's order), its header maps drop names that `http` rejects, and its types
//! reject `null` where console tests and ALB multi-value events send it (PEERS.md 2.1, 2.16).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// A JSON object as an ordered list of entries; `null` or a missing key is an empty list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairs<V>(pub Vec<(String, V)>);

impl<V> Default for Pairs<V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<V> Pairs<V> {
    /// True when the object was absent, `null` or `{}`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Pairs<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<V> {
            type Value = Pairs<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or null")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Pairs::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Pairs::default())
            }

            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                deserializer.deserialize_any(self)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // JSON gives no size hint: room for a typical header map, so it is not regrown.
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16).min(64));
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    entries.push((key, value));
                }
                Ok(Pairs(entries))
            }
        }

        deserializer.deserialize_option(PairsVisitor(PhantomData))
    }
}

/// A value that may be absent or `null`: both give `T::default()`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A multi-value map entry: AWS sends a list of strings; a `null` list counts as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Values(#[serde(deserialize_with = "nullable")] pub Vec<String>);

/// The entries of `multi` when it has any, else those of `single`. REST sends both maps and
/// `single` keeps only the last value of a repeated name, so the multi-value map wins whenever
/// it is there (lambda_http loses values here, PEERS.md 2.5); ALB sends one of the two.
pub fn prefer_multi(single: Pairs<String>, multi: Pairs<Values>) -> Vec<(String, String)> {
    if multi.is_empty() {
        return single.0;
    }
    let mut lines = Vec::with_capacity(multi.0.len());
    for (name, values) in multi.0 {
        for value in values.0 {
            lines.push((name.clone(), value));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Holder {
        #[serde(default)]
        map: Pairs<String>,
        #[serde(default, deserialize_with = "nullable")]
        text: String,
    }

    #[test]
    fn null_and_missing_are_empty_and_order_is_kept() {
        let h: Holder = serde_json::from_str(r#"{"map": null, "text": null}"#).expect("parses");
        assert!(h.map.is_empty());
        assert_eq!(h.text, "");
        let h: Holder = serde_json::from_str("{}").expect("parses");
        assert!(h.map.is_empty());
        let h: Holder = serde_json::from_str(r#"{"map": {"z": "1", "a": "2", "m": "3"}}"#).expect("parses");
        let keys: Vec<&str> = h.map.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn multi_value_maps_win_and_keep_repeats() {
        let single = Pairs(vec![("a".to_owned(), "2".to_owned())]);
        let multi = Pairs(vec![("a".to_owned(), Values(vec!["1".to_owned(), "2".to_owned()]))]);
        assert_eq!(
            prefer_multi(single.clone(), multi),
            [("a".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())]
        );
        assert_eq!(
            prefer_multi(single, Pairs::default()),
            [("a".to_owned(), "2".to_owned())]
        );
    }

    #[test]
    fn wrong_type_is_an_error() {
        assert!(serde_json::from_str::<Holder>(r#"{"map": "x"}"#).is_err());
    }
}
