//! JSON input parsed strictly (request bodies, import lines): a key twice in one object is an
//! error, never "the last one wins", so Tollgate cannot judge a different request than a
//! proxy or a WAF in front of it read from the same bytes, nor load other data than a review
//! of the file saw.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::{Code, Error, Result};

/// Parses a request body: 400 `MALFORMED_JSON` when it is not JSON, 400 `DUPLICATE_KEY` when
/// an object (at any depth) names a key twice.
pub fn parse(body: &[u8]) -> Result<Value> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Strict {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, duplicate.into_inner()) {
        (_, Some(key)) => Err(Error::new(
            Code::DuplicateKey,
            format!("the body names the key `{key}` twice in one object"),
        )),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(Error::new(
            Code::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// A `Value` seed that records the first duplicate key it meets and stops there.
#[derive(Clone, Copy)]
struct Strict<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            match out.entry(key) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(value);
                }
                serde_json::map::Entry::Occupied(e) => {
                    *self.duplicate.borrow_mut() = Some(e.key().clone());
                    return Err(serde::de::Error::custom("duplicate key"));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> &'static str {
        match parse(body.as_bytes()) {
            Ok(_) => "ok",
            Err(Error::Rejected { code, .. }) => code.name(),
            Err(_) => "other",
        }
    }

    #[test]
    fn duplicates_at_any_depth_are_refused_and_the_rest_parses_as_serde_json_does() {
        assert_eq!(code(r#"{"a": 1, "a": 2}"#), "DUPLICATE_KEY");
        assert_eq!(
            code(r#"{"a": [{"b": 1, "c": {"d": 1, "d": 1}}]}"#),
            "DUPLICATE_KEY"
        );
        assert_eq!(code(r#"{"a": 1} x"#), "MALFORMED_JSON");
        assert_eq!(code(r#"{"a": 1,}"#), "MALFORMED_JSON");
        assert_eq!(code(""), "MALFORMED_JSON");
        for text in [
            r#"{"a": 1, "b": [1, -2, 3.5, 18446744073709551615, true, null, "x\u00e9"], "c": {}}"#,
            r#"[{"a": 1}, {"a": 1}]"#,
            "\"\\ud83d\\ude00\"",
        ] {
            let ours = parse(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
        // serde_json's own recursion limit still holds.
        let deep = "[".repeat(10_000);
        assert_eq!(code(&deep), "MALFORMED_JSON");
    }
}
