//! API-key authentication: `Authorization: Bearer <key>` decides the client.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use kassa_secrets::ApiKey;

use crate::{ApiError, AppState};

/// The caller: which client, through which key, in which request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub client_no: i64,
    pub api_key_id: i64,
    pub key_label: String,
    pub request_id: Option<String>,
}

impl Auth {
    /// The actor named in audit entries.
    pub fn actor(&self) -> String {
        if self.api_key_id == 0 {
            // Work done from the command line, not through an API key.
            return format!("cli:{}", self.key_label);
        }
        format!("api_key:{}", self.key_label)
    }
}

/// The caller's address, when the server was started with connection info.
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Looks the key up, refusing an address that has sent too many wrong keys lately.
pub async fn authenticate(
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    state: &AppState,
) -> Result<Auth, ApiError> {
    // Without connection info (in-process routers), all callers share one count.
    let ip = ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = Instant::now();
    state
        .auth_limiter
        .check(ip, now)
        .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
    let found = lookup(headers, state).await;
    if matches!(found, Err(ApiError::Unauthenticated(_))) {
        state.auth_limiter.failed(ip, now);
    }
    found
}

async fn lookup(headers: &HeaderMap, state: &AppState) -> Result<Auth, ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(
            "No API key provided. Send `Authorization: Bearer <api_key>`.",
        ))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("The Authorization header is not valid text."))?;
    let key = ApiKey::from_authorization(value).ok_or(ApiError::Unauthenticated(
        "Use `Authorization: Bearer <api_key>`.",
    ))?;
    let record = state
        .store
        .find_api_key(&ApiKey::hash(key))
        .await?
        .ok_or(ApiError::Unauthenticated("Invalid API key."))?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Auth {
        client_no: record.client_no,
        api_key_id: record.id,
        key_label: record.label,
        request_id,
    })
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The idempotency layer may have authenticated the request already.
        if let Some(auth) = parts.extensions.get::<Auth>() {
            return Ok(auth.clone());
        }
        authenticate(&parts.headers, client_ip(&parts.extensions), state).await
    }
}
