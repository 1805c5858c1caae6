//! `Idempotency-Key` handling: save the first response, replay it, reject parameter
//! mismatches (400) and concurrent use (409). Keys are pruned after 24 hours, as at Stripe, and
//! beyond [`MAX_KEYS`] per account (oldest first), so memory stays bounded under load.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::error::{ApiError, ErrorType};

/// Longest key Stripe accepts.
pub const MAX_KEY_LEN: usize = 255;
/// Saved keys per account before the oldest are dropped.
pub const MAX_KEYS: usize = 100_000;
/// How long a saved response is kept.
pub const TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
enum State {
    InFlight,
    Done {
        fingerprint: [u8; 32],
        status: u16,
        body: String,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    state: State,
}

/// The saved keys of one account.
#[derive(Debug, Default)]
pub struct IdemStore {
    map: HashMap<String, Entry>,
    order: VecDeque<(String, u64, Instant)>,
    next_seq: u64,
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

impl IdemStore {
    fn prune(&mut self) {
        while let Some((_, _, at)) = self.order.front() {
            if self.order.len() <= MAX_KEYS && at.elapsed() < TTL {
                break;
            }
            if let Some((key, seq, _)) = self.order.pop_front() {
                if self.map.get(&key).is_some_and(|e| e.seq == seq) {
                    self.map.remove(&key);
                }
            }
        }
    }

    /// Looks the key up: a replay, an error, or `None` after marking the key in flight.
    pub fn begin(&mut self, key: &str, fingerprint: [u8; 32]) -> Result<Option<Replay>, ApiError> {
        self.prune();
        let Some(entry) = self.map.get(key) else {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.map.insert(
                key.to_string(),
                Entry {
                    seq,
                    state: State::InFlight,
                },
            );
            self.order.push_back((key.to_string(), seq, Instant::now()));
            return Ok(None);
        };
        match &entry.state {
            State::InFlight => Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorType::IdempotencyError,
                format!("There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."),
            )
            .code("idempotency_key_in_use")),
            State::Done {
                fingerprint: saved,
                status,
                body,
            } => {
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

    /// Saves the response, or forgets the key when the request failed validation.
    pub fn finish(&mut self, key: &str, fingerprint: [u8; 32], save: Option<(u16, String)>) {
        match save {
            Some((status, body)) => {
                if let Some(e) = self.map.get_mut(key) {
                    e.state = State::Done {
                        fingerprint,
                        status,
                        body,
                    };
                }
            }
            None => {
                self.map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_keys_are_dropped_beyond_the_cap() {
        let mut s = IdemStore::default();
        for i in 0..=MAX_KEYS {
            let k = i.to_string();
            assert!(s.begin(&k, [0; 32]).unwrap().is_none());
            s.finish(&k, [0; 32], Some((200, "{}".into())));
        }
        s.prune();
        assert_eq!(s.map.len(), MAX_KEYS);
        assert!(s.begin("0", [1; 32]).unwrap().is_none(), "key 0 was pruned");
        assert!(s.begin("5", [1; 32]).is_err(), "key 5 is kept (mismatch)");
    }
}
