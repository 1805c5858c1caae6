//! `Idempotency-Key` handling: save the first response, replay it, reject parameter
//! mismatches (400) and concurrent use (409).

use axum::http::StatusCode;

use crate::error::{ApiError, ErrorType};
use crate::state::Account;

/// Longest key Stripe accepts.
pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone)]
pub enum IdemEntry {
    InFlight,
    Done {
        fingerprint: [u8; 32],
        status: u16,
        body: String,
    },
}

/// A saved response to replay.
#[derive(Debug, Clone)]
pub struct Replay {
    pub status: u16,
    pub body: String,
}

pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::invalid(format!(
            "Invalid idempotency key: must be at most {MAX_KEY_LEN} characters long"
        )));
    }
    Ok(())
}

/// Looks the key up: a replay, an error, or `None` after marking the key in flight.
pub fn begin(
    acct: &mut Account,
    key: &str,
    fingerprint: [u8; 32],
) -> Result<Option<Replay>, ApiError> {
    match acct.idempotency.get(key) {
        None => {
            acct.idempotency
                .insert(key.to_string(), IdemEntry::InFlight);
            Ok(None)
        }
        Some(IdemEntry::InFlight) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorType::IdempotencyError,
            format!("There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."),
        )
        .code("idempotency_key_in_use")),
        Some(IdemEntry::Done {
            fingerprint: saved,
            status,
            body,
        }) => {
            if *saved != fingerprint {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorType::IdempotencyError,
                    format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."),
                ));
            }
            Ok(Some(Replay {
                status: *status,
                body: body.clone(),
            }))
        }
    }
}

/// Saves the response (or forgets the key when the request failed validation).
pub fn finish(acct: &mut Account, key: &str, fingerprint: [u8; 32], save: Option<(u16, String)>) {
    match save {
        Some((status, body)) => {
            acct.idempotency.insert(
                key.to_string(),
                IdemEntry::Done {
                    fingerprint,
                    status,
                    body,
                },
            );
        }
        None => {
            acct.idempotency.remove(key);
        }
    }
}
