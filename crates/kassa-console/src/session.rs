//! Signing in and out, the session extractor, and CSRF checks.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::{AppState, Auth};
use kassa_secrets::ApiKey;
use kassa_storage::ConsoleSession;
use sha2::{Digest, Sha256};

const COOKIE: &str = "kassa_session";
/// How long a session lasts: a working day.
const LIFETIME_MS: i64 = 8 * 60 * 60 * 1000;

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A signed-in operator.
pub struct Session {
    pub auth: Auth,
    pub csrf: String,
    pub key_label: String,
    token_hash: String,
}

impl Session {
    /// Whether a form carries this session's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, form: &HashMap<String, String>) -> bool {
        let sent = form.get("csrf").map(String::as_bytes).unwrap_or_default();
        sent.len() == self.csrf.len()
            && sent
                .iter()
                .zip(self.csrf.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The answer to a form without the session's CSRF token.
pub fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<!doctype html><title>Refused</title><h1>Refused</h1><p>The form was not sent from this session's page (CSRF check). Reload the page and try again.</p>".to_string()),
    )
        .into_response()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/console/sign-in").into_response();
        let token = cookie_token(&parts.headers).ok_or_else(to_sign_in)?;
        let token_hash = hash(&token);
        let s = match state.store.find_console_session(&token_hash).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => {
                tracing::error!(error = %e, "console session lookup failed");
                return Err(StatusCode::SERVICE_UNAVAILABLE.into_response());
            }
        };
        Ok(Session {
            auth: Auth {
                client_no: s.client_no,
                api_key_id: s.api_key_id,
                key_label: format!("console:{}", s.key_label),
                request_id: None,
            },
            csrf: s.csrf,
            key_label: s.key_label,
            token_hash,
        })
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    error: Option<String>,
}

fn page(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub async fn sign_in_page() -> Response {
    page(&SignInPage { error: None }, StatusCode::OK)
}

/// The public origin (`scheme://host[:port]`) of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // Login CSRF: a browser's cross-site POST carries a foreign Origin.
    let public = origin(&state.config.public_url);
    if let Some(o) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if o != public {
            return (StatusCode::FORBIDDEN, "cross-site sign-in refused").into_response();
        }
    }
    // Guessing keys here counts against the same limit as the API's.
    let ip = kassa_api::client_ip(&extensions)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = std::time::Instant::now();
    if let Err(wait) = state.auth_limiter.check(ip, now) {
        let message =
            format!("Too many invalid API keys from this address; try again in {wait} s.");
        return page(
            &SignInPage {
                error: Some(message),
            },
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let key = form.get("api_key").map(|k| k.trim()).unwrap_or_default();
    let record = match state.store.find_api_key(&ApiKey::hash(key)).await {
        Ok(Some(r)) if !key.is_empty() => r,
        Ok(_) => {
            state.auth_limiter.failed(ip, now);
            return page(
                &SignInPage {
                    error: Some("That API key is not valid.".into()),
                },
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "api key lookup failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let (token, csrf) = match (kassa_secrets::random_token(), kassa_secrets::random_token()) {
        (Ok(t), Ok(c)) => (t, c),
        _ => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let session = ConsoleSession {
        client_no: record.client_no,
        api_key_id: record.id,
        key_label: record.label,
        csrf,
        expires_at: kassa_storage::now_millis() + LIFETIME_MS,
    };
    if let Err(e) = state
        .store
        .create_console_session(&hash(&token), &session)
        .await
    {
        tracing::error!(error = %e, "console session not stored");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let secure = if public.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME_MS / 1000
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/console/gateways".to_string()),
        ],
    )
        .into_response()
}

pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    if let Err(e) = state
        .store
        .delete_console_session(&session.token_hash)
        .await
    {
        tracing::error!(error = %e, "console session not deleted");
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
            ),
            (header::LOCATION, "/console/sign-in".to_string()),
        ],
    )
        .into_response()
}

pub(crate) fn render(t: &impl Template) -> Response {
    page(t, StatusCode::OK)
}

/// A page that may carry a refusal: 400 when it does (the form is shown again), else 200.
pub(crate) fn render_form(t: &impl Template, refused: bool) -> Response {
    if refused {
        (StatusCode::BAD_REQUEST, render(t)).into_response()
    } else {
        render(t)
    }
}
