//! Secrets at rest and API keys.
//!
//! * [`MasterKey`] seals secrets (Stripe keys, webhook secrets, bank account numbers) with
//!   AES-256-GCM. Each value gets a fresh random nonce, and the sealed value is bound to what it is
//!   (its *purpose*, used as associated data), so a sealed webhook secret cannot be swapped into the
//!   secret-key column and decrypt there.
//! * [`ApiKey`] makes client API keys; the database keeps only their SHA-256.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;

pub mod standard_webhooks;
mod webhook;
pub use webhook::{sign_stripe, verify_stripe_signature, SignatureError};

const SEALED_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the master key must be the base64 encoding of exactly 32 bytes")]
    BadMasterKey,
    #[error("a sealed secret is malformed")]
    Malformed,
    #[error("a sealed secret did not decrypt: the master key is not the one it was sealed with, or the data was altered")]
    Undecryptable,
    #[error("the system random source failed: {0}")]
    Random(String),
}

fn random_bytes<const N: usize>() -> Result<[u8; N], SecretsError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| SecretsError::Random(e.to_string()))?;
    Ok(buf)
}

/// How many of the OS's random bytes a thread fetches at once for [`pooled_random`].
const POOL: usize = 4096;

thread_local! {
    /// The OS's random bytes fetched ahead, and how many of them are used.
    static POOLED: std::cell::RefCell<([u8; POOL], usize)> =
        const { std::cell::RefCell::new(([0; POOL], POOL)) };
}

/// `N` (at most 4,096) of the OS's random bytes, fetched ahead a few KiB at a time per thread
/// and each handed out once: the same randomness as [`random_bytes`] without a system call each
/// time — for ids, made several times a request. Keys, nonces and tokens take theirs straight
/// from the OS.
pub fn pooled_random<const N: usize>() -> Result<[u8; N], SecretsError> {
    const { assert!(N <= POOL) };
    POOLED.with(|cell| {
        let (pool, used) = &mut *cell.borrow_mut();
        if *used + N > POOL {
            getrandom::getrandom(pool).map_err(|e| SecretsError::Random(e.to_string()))?;
            *used = 0;
        }
        let mut buf = [0u8; N];
        buf.copy_from_slice(&pool[*used..*used + N]);
        *used += N;
        Ok(buf)
    })
}

/// The 32-byte key every secret at rest is sealed with.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretsError> {
        if bytes.len() != 32 {
            return Err(SecretsError::BadMasterKey);
        }
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| SecretsError::BadMasterKey)?;
        Ok(MasterKey { cipher })
    }

    /// Reads the base64 form (white space around it is ignored, as in a key file).
    pub fn from_base64(text: &str) -> Result<Self, SecretsError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretsError::BadMasterKey)?;
        Self::from_bytes(&bytes)
    }

    /// A new random key and its base64 form, to be written to a key file.
    pub fn generate() -> Result<(Self, String), SecretsError> {
        let bytes: [u8; 32] = random_bytes()?;
        Ok((Self::from_bytes(&bytes)?, STANDARD.encode(bytes)))
    }

    /// Encrypts `plaintext` for `purpose` (e.g. `gateway.secret_key`). The result is text:
    /// `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, purpose: &str, plaintext: &str) -> Result<String, SecretsError> {
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes()?;
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ct = self
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Malformed)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts a value sealed by [`MasterKey::seal`] for the same `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<String, SecretsError> {
        let b64 = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SecretsError::Malformed)?;
        let raw = STANDARD.decode(b64).map_err(|_| SecretsError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(SecretsError::Malformed);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let pt = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Undecryptable)?;
        String::from_utf8(pt).map_err(|_| SecretsError::Malformed)
    }
}

const BASE32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new id: `prefix` + 10 characters of time (milliseconds, Crockford base32) + 16 random ones,
/// so ids sort by creation time (`pay_01jd…`). 80 random bits make collisions negligible.
pub fn new_id(prefix: &str) -> Result<String, SecretsError> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut out = String::with_capacity(prefix.len() + 26);
    out.push_str(prefix);
    for i in (0..10).rev() {
        out.push(BASE32[((millis >> (i * 5)) & 31) as usize] as char);
    }
    let rand: [u8; 10] = pooled_random()?;
    let mut bits: u128 = 0;
    for b in rand {
        bits = (bits << 8) | u128::from(b);
    }
    for i in (0..16).rev() {
        out.push(BASE32[((bits >> (i * 5)) & 31) as usize] as char);
    }
    Ok(out)
}

/// 256 random bits as 64 hex characters: session and CSRF tokens.
pub fn random_token() -> Result<String, SecretsError> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The prefix of every Kassa API key, so that leaked keys are recognisable by secret scanners.
pub const API_KEY_PREFIX: &str = "kassa_sk_";

/// A newly made client API key: shown once, then only its hash is kept.
pub struct ApiKey {
    pub plaintext: String,
}

impl ApiKey {
    pub fn generate() -> Result<Self, SecretsError> {
        let bytes: [u8; 32] = random_bytes()?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(ApiKey {
            plaintext: format!("{API_KEY_PREFIX}{hex}"),
        })
    }

    /// The key in an `Authorization` header value: `Bearer <key>` (or `bearer`), white space
    /// around the key ignored. `None` for any other scheme or an empty key.
    pub fn from_authorization(value: &str) -> Option<&str> {
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
    }

    /// What the database keeps: hex SHA-256 of the whole key. The key has 256 random bits, so a
    /// fast hash is enough; no password-style stretching is needed.
    pub fn hash(key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A short, non-secret label for lists and audit entries: `kassa_sk_…a1b2`.
    pub fn label(key: &str) -> String {
        let tail: String = key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{API_KEY_PREFIX}…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pooled bytes are handed out once each, across refills and threads: 20,000 draws of 16
    /// bytes (about 80 refills of a thread's pool) on two threads are all different, and ids
    /// made from them are too.
    #[test]
    fn pooled_random_bytes_are_never_handed_out_twice() {
        let draw = || {
            (0..10_000)
                .map(|_| pooled_random::<16>().expect("random bytes"))
                .collect::<Vec<_>>()
        };
        let other = std::thread::spawn(draw);
        let mut all: std::collections::HashSet<[u8; 16]> = draw().into_iter().collect();
        all.extend(other.join().expect("a thread"));
        assert_eq!(all.len(), 20_000);
        let ids: std::collections::HashSet<String> =
            (0..5_000).map(|_| new_id("txn_").expect("an id")).collect();
        assert_eq!(ids.len(), 5_000);
    }

    #[test]
    fn seal_and_open_round_trip() {
        let (key, _) = MasterKey::generate().unwrap();
        let sealed = key.seal("gateway.secret_key", "sk_test_abc123456").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("sk_test"));
        assert_eq!(
            key.open("gateway.secret_key", &sealed).unwrap(),
            "sk_test_abc123456"
        );
    }

    #[test]
    fn nonces_differ() {
        let (key, _) = MasterKey::generate().unwrap();
        assert_ne!(
            key.seal("p", "same").unwrap(),
            key.seal("p", "same").unwrap()
        );
    }

    #[test]
    fn purpose_is_bound() {
        let (key, _) = MasterKey::generate().unwrap();
        let sealed = key.seal("gateway.webhook_secrets", "whsec_x").unwrap();
        assert!(matches!(
            key.open("gateway.secret_key", &sealed),
            Err(SecretsError::Undecryptable)
        ));
    }

    #[test]
    fn wrong_key_and_tampering_fail() {
        let (a, _) = MasterKey::generate().unwrap();
        let (b, _) = MasterKey::generate().unwrap();
        let sealed = a.seal("p", "secret").unwrap();
        assert!(matches!(
            b.open("p", &sealed),
            Err(SecretsError::Undecryptable)
        ));
        let mut raw = STANDARD.decode(&sealed[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(raw));
        assert!(a.open("p", &tampered).is_err());
        assert!(matches!(a.open("p", "plain"), Err(SecretsError::Malformed)));
    }

    #[test]
    fn master_key_base64_round_trip() {
        let (_, b64) = MasterKey::generate().unwrap();
        assert!(MasterKey::from_base64(&format!("{b64}\n")).is_ok());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn ids_sort_by_time_and_do_not_repeat() {
        let a = new_id("pay_").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("pay_").unwrap();
        assert!(a.starts_with("pay_") && a.len() == 4 + 26);
        assert!(b > a, "{a} {b}");
        let many: std::collections::HashSet<String> =
            (0..1000).map(|_| new_id("x_").unwrap()).collect();
        assert_eq!(many.len(), 1000);
    }

    #[test]
    fn api_keys_are_random_and_hashed() {
        let a = ApiKey::generate().unwrap();
        let b = ApiKey::generate().unwrap();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with(API_KEY_PREFIX));
        assert_eq!(a.plaintext.len(), API_KEY_PREFIX.len() + 64);
        let h = ApiKey::hash(&a.plaintext);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&a.plaintext[API_KEY_PREFIX.len()..]));
        assert_eq!(ApiKey::label("kassa_sk_00ffa1b2"), "kassa_sk_…a1b2");
    }
}
