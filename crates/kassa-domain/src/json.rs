//! Reading API documents: typed parsing that names the offending field, and JSON merge patch.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ValidationError;

/// Deserializes `value` into `T`, turning any mismatch into a [`ValidationError`] whose `param`
/// is the JSON path of the field (`limits.discount_rate`, `webhook_secrets[0]`).
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        from_serde_message(path, inner)
    })
}

fn from_serde_message(path: String, message: String) -> ValidationError {
    let path = if path == "." { String::new() } else { path };
    // serde says "unknown field `x`, expected one of …"; the path then points at the object
    // holding it, so name the field itself.
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, _)) = rest.split_once('`') {
            let param = if path.is_empty() || path.ends_with(field) {
                if path.is_empty() {
                    field.to_string()
                } else {
                    path.clone()
                }
            } else {
                format!("{path}.{field}")
            };
            return ValidationError::new(param, format!("unknown field `{field}`"))
                .with_code("parameter_unknown");
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((field, _)) = rest.split_once('`') {
            let param = if path.is_empty() {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            return ValidationError::new(param, "is required").with_code("parameter_missing");
        }
    }
    // Drop serde's trailing " at line 1 column 5" that means nothing for a parsed Value.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    ValidationError::new(path, message)
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes a key, anything else
/// replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(patch_map) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(target_map) = target {
                for (k, v) in patch_map {
                    if v.is_null() {
                        target_map.remove(k);
                    } else {
                        merge_patch(target_map.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        rate: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        title: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[test]
    fn names_nested_type_errors() {
        let e = parse::<Outer>(json!({"title": "x", "inner": {"rate": "high"}})).unwrap_err();
        assert_eq!(e.param, "inner.rate");
    }

    #[test]
    fn names_unknown_fields() {
        let e = parse::<Outer>(json!({"title": "x", "bogus": 1})).unwrap_err();
        assert_eq!(e.param, "bogus");
        assert!(e.message.contains("unknown field"));
        let e = parse::<Outer>(json!({"title": "x", "inner": {"rate": 1, "nope": 2}})).unwrap_err();
        assert_eq!(e.param, "inner.nope");
    }

    #[test]
    fn names_missing_fields() {
        let e = parse::<Outer>(json!({})).unwrap_err();
        assert_eq!(e.param, "title");
        assert_eq!(e.message, "is required");
    }

    #[test]
    fn merge_patch_rfc7386() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut doc, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(doc, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }
}
