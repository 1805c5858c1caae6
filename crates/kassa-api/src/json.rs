//! Request parsing helpers: JSON bodies, query strings and path ids, each failing with an
//! [`ApiError`] that names the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};
use std::collections::HashMap;

use crate::ApiError;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

/// A JSON object from the request body.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !ct.starts_with("application/json") {
                return Err(ApiError::InvalidRequest {
                    param: None,
                    code: "content_type_invalid",
                    message: format!("Send the request body as JSON with `Content-Type: application/json` (got `{ct}`)."),
                });
            }
        }
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::InvalidRequest {
                    param: None,
                    code: "body_invalid",
                    message: format!("The request body could not be read: {e}"),
                })?;
        if bytes.is_empty() {
            return Ok(JsonObject(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::InvalidRequest {
                param: None,
                code: "body_invalid",
                message: "The request body must be a JSON object.".into(),
            }),
            Err(e) => Err(ApiError::InvalidRequest {
                param: None,
                code: "body_invalid",
                message: format!("The request body is not valid JSON: {e}"),
            }),
        }
    }
}

/// The query string as a map; the route says which keys it takes.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let mut map = HashMap::new();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(k)
                .ok_or_else(|| ApiError::invalid(k, "is not valid percent-encoding"))?;
            let v = percent_decode(v)
                .ok_or_else(|| ApiError::invalid(k.clone(), "is not valid percent-encoding"))?;
            map.insert(k, v);
        }
        Ok(QueryMap(map))
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl QueryMap {
    /// Fails on any key not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::InvalidRequest {
                param: Some(k.clone()),
                code: "parameter_unknown",
                message: format!(
                    "unknown query parameter `{k}`; this list takes: {}",
                    allowed.join(", ")
                ),
            }),
            None => Ok(()),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::invalid(key, format!("{key}: `{v}` is not a whole number"))),
        }
    }

    /// `limit` (1–100, default 10) and `starting_after`.
    pub fn page(&self) -> Result<kassa_storage::PageRequest, ApiError> {
        let limit = self.int("limit")?.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                "limit: must be between 1 and 100",
            ));
        }
        Ok(kassa_storage::PageRequest {
            limit,
            starting_after: self.int("starting_after")?,
        })
    }
}

/// A numeric id from the path; anything else is simply not found.
pub fn path_id(raw: &str, what: &'static str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ApiError::NotFound(what))
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%e2%82%ac").as_deref(), Some("€"));
    }
}
