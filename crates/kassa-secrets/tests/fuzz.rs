//! Fuzz targets (see docs/fuzzing.md): Stripe webhook signatures, Standard Webhooks signatures,
//! API keys in `Authorization` headers. Each compares the code with a small reference written
//! here from the documented rules.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use kassa_fuzz::{fields, join, number, text, Fuzz};
use kassa_secrets::{
    sign_stripe, standard_webhooks, verify_stripe_signature, ApiKey, SignatureError,
};
use sha2::Sha256;

const TOLERANCE: i64 = 300;
const BODY: &str = r#"{"id":"evt_1QF2x3","object":"event","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_3MtwBw","amount":2000,"currency":"usd","metadata":{"order":"A-1"}}}}"#;
const T: i64 = 1_700_000_000;

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// Strict lowercase-or-uppercase hex, two digits a byte.
fn ref_hex(s: &str) -> Option<Vec<u8>> {
    let d: Vec<u32> = s.chars().map(|c| c.to_digit(16)).collect::<Option<_>>()?;
    if !d.len().is_multiple_of(2) {
        return None;
    }
    Some(d.chunks(2).map(|p| (p[0] * 16 + p[1]) as u8).collect())
}

/// Stripe's scheme (stripe-facts §4.1) written out plainly: the last `t`, every well-formed
/// `v1`, any secret (the first that matches wins), then the age check (no overflow: i128).
fn ref_verify(
    header: &str,
    body: &[u8],
    secrets: &[&str],
    now: i64,
    tol: i64,
) -> Result<usize, SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecrets);
    }
    let items: Vec<(&str, &str)> = header
        .split(',')
        .filter_map(|i| i.trim().split_once('='))
        .collect();
    let t = items
        .iter()
        .rev()
        .find(|(k, _)| *k == "t")
        .map(|(_, v)| *v)
        .ok_or(SignatureError::NoTimestamp)?;
    let ts: i64 = t.parse().map_err(|_| SignatureError::NoTimestamp)?;
    let sigs: Vec<Vec<u8>> = items
        .iter()
        .filter(|(k, _)| *k == "v1")
        .filter_map(|(_, v)| ref_hex(v))
        .collect();
    if sigs.is_empty() {
        return Err(SignatureError::NoV1);
    }
    let i = secrets
        .iter()
        .position(|s| {
            let want = mac(s.as_bytes(), &[t.as_bytes(), b".", body]);
            sigs.contains(&want)
        })
        .ok_or(SignatureError::NoMatch)?;
    let age = i128::from(now) - i128::from(ts);
    if age > i128::from(tol) {
        let shown = i64::try_from(age).unwrap_or(i64::MAX);
        return Err(SignatureError::Stale(shown, tol));
    }
    Ok(i)
}

/// Raw headers against a fixed body and secrets: the verdict is exactly the reference's.
#[test]
fn fuzz_stripe_signature_header() {
    let secrets = ["whsec_old1234567890", "whsec_new1234567890"];
    let now = T + 10;
    let good = sign_stripe(BODY.as_bytes(), T, &secrets);
    let mut f = Fuzz::new("stripe_signature_header", env!("CARGO_MANIFEST_DIR")).dict(&[
        "t=",
        "v1=",
        "v0=",
        ",",
        "t=1700000000",
        "whsec_",
    ]);
    for header in [
        good.clone(),
        sign_stripe(BODY.as_bytes(), T, &secrets[1..]),
        format!("{good},v0=00ff"),
        format!(
            "t={T}, v1=deadbeef, {}",
            &good[good.find("v1=").unwrap_or(0)..]
        ),
        "t=1,v1=00".to_string(),
    ] {
        f = f.seed(join(&[header.as_bytes(), BODY.as_bytes()]));
    }
    f.run(|data| {
        let [header, body] = fields::<2>(data);
        let header = text(header);
        let got = verify_stripe_signature(Some(&header), body, &secrets, now, TOLERANCE);
        let want = ref_verify(&header, body, &secrets, now, TOLERANCE);
        assert_eq!(got, want, "header {header:?}");
        got.map_err(|e| std::mem::discriminant(&e))
    });
}

/// Generated signatures: a real signature verifies; changing the body, the secret, the signed
/// timestamp or waiting past the tolerance is refused, for any timestamp and clock.
#[test]
fn fuzz_stripe_signature_round_trip() {
    Fuzz::new("stripe_signature_round_trip", env!("CARGO_MANIFEST_DIR"))
        .seed(join(&[
            BODY.as_bytes(),
            b"whsec_abc123",
            b"1700000000",
            b"1700000100",
            b"7",
        ]))
        .seed(join(&[b"{}", b"whsec_", b"0", b"300", b"0"]))
        .seed(join(&[b"", b"", b"-5", b"-5", b"1"]))
        .seed(join(&[
            "{\"é\":\"😀\"}".as_bytes(),
            b"whsec_x",
            b"1",
            b"302",
            b"99",
        ]))
        .run(|data| {
            let [body, secret, t, now, pos] = fields::<5>(data);
            let secret = text(secret);
            let (t, now, pos) = (number(t), number(now), number(pos).unsigned_abs() as usize);
            let header = sign_stripe(body, t, &[&secret]);
            let expected = mac(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
            let hexed: String = expected.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(header, format!("t={t},v1={hexed}"));

            let verdict = verify_stripe_signature(Some(&header), body, &[&secret], now, TOLERANCE);
            assert_eq!(
                verdict,
                ref_verify(&header, body, &[&secret], now, TOLERANCE)
            );
            let fresh = i128::from(now) - i128::from(t) <= i128::from(TOLERANCE);
            assert_eq!(verdict.is_ok(), fresh, "t {t} now {now}: {verdict:?}");
            // At the signing time it verifies, whichever secret position it has.
            let other = format!("{secret}x");
            assert_eq!(
                verify_stripe_signature(Some(&header), body, &[&other, &secret], t, TOLERANCE),
                Ok(1)
            );
            // Another body, secret or timestamp never does.
            if !body.is_empty() {
                let mut changed = body.to_vec();
                changed[pos % body.len()] ^= 1 << (pos % 8);
                assert_eq!(
                    verify_stripe_signature(Some(&header), &changed, &[&secret], t, TOLERANCE),
                    Err(SignatureError::NoMatch)
                );
            }
            assert_eq!(
                verify_stripe_signature(Some(&header), body, &[&other], t, TOLERANCE),
                Err(SignatureError::NoMatch)
            );
            let moved_t = t.wrapping_add(1 + (pos % 1000) as i64);
            let moved = header.replacen(&format!("t={t}"), &format!("t={moved_t}"), 1);
            assert_eq!(
                verify_stripe_signature(Some(&moved), body, &[&secret], moved_t, TOLERANCE),
                Err(SignatureError::NoMatch)
            );
            verdict.is_ok()
        });
}

fn ref_standard_sign(secret: &str, id: &str, ts: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let m = mac(
        &key,
        &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body],
    );
    Some(format!("v1,{}", STANDARD.encode(m)))
}

/// Standard Webhooks: signing follows the specification, a header verifies exactly when one of
/// its space-separated entries is the signature, and any change to the signed parts fails.
#[test]
fn fuzz_standard_webhooks() {
    let spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let spec_sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    Fuzz::new("standard_webhooks", env!("CARGO_MANIFEST_DIR"))
        .dict(&["v1,", " ", "=", "/", "whsec_"])
        .seed(join(&[
            spec_secret.as_bytes(),
            b"msg_p5jXN8AQM9LWM0D4loKWxJek",
            b"1614265330",
            br#"{"test": 2432232314}"#,
            format!("v1,bogus {spec_sig}").as_bytes(),
        ]))
        .seed(join(&[b"whsec_", b"", b"0", b"", b"v1,"]))
        .seed(join(&[
            b"c2VjcmV0",
            b"m",
            b"-1",
            BODY.as_bytes(),
            b"v2,x v1,y",
        ]))
        .run(|data| {
            let [secret, id, ts, body, header] = fields::<5>(data);
            let (secret, id, ts, header) = (text(secret), text(id), number(ts), text(header));
            let signed = standard_webhooks::sign(&secret, &id, ts, body).ok();
            let want = ref_standard_sign(&secret, &id, ts, body);
            assert_eq!(signed, want);
            let verified = standard_webhooks::verify(&secret, &id, ts, body, &header);
            let ref_verified = want
                .as_deref()
                .is_some_and(|w| header.split(' ').any(|h| h == w));
            assert_eq!(verified, ref_verified, "header {header:?}");
            if let Some(sig) = signed {
                assert!(standard_webhooks::verify(
                    &secret,
                    &id,
                    ts,
                    body,
                    &format!("v1,old {sig}")
                ));
                assert!(!standard_webhooks::verify(
                    &secret,
                    &id,
                    ts.wrapping_add(1),
                    body,
                    &sig
                ));
                assert!(!standard_webhooks::verify(
                    &secret,
                    &format!("{id}x"),
                    ts,
                    body,
                    &sig
                ));
                let mut changed = body.to_vec();
                changed.push(b' ');
                assert!(!standard_webhooks::verify(&secret, &id, ts, &changed, &sig));
            }
            (want.is_some(), verified)
        });
}

/// `Authorization: Bearer <key>`: the key comes back exactly as a caller wrote it (trimmed), the
/// label shows at most its last four characters and the hash is 64 hex digits.
#[test]
fn fuzz_api_key_header() {
    Fuzz::new("api_key_header", env!("CARGO_MANIFEST_DIR"))
        .dict(&["Bearer ", "bearer ", "Basic ", "kassa_sk_"])
        .seed("Bearer kassa_sk_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
        .seed("bearer  kassa_sk_abc ")
        .seed("Bearer ")
        .seed("Basic a2Fzc2E6")
        .run(|data| {
            let header = text(data);
            let got = ApiKey::from_authorization(&header);
            let want = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|k| !k.is_empty());
            assert_eq!(got, want);
            if let Some(key) = got {
                assert_eq!(
                    ApiKey::from_authorization(&format!("Bearer {key}")),
                    Some(key)
                );
                let label = ApiKey::label(key);
                let tail = label
                    .strip_prefix("kassa_sk_…")
                    .unwrap_or_else(|| panic!("label {label:?}"));
                assert!(
                    tail.chars().count() <= 4 && key.ends_with(tail),
                    "{label:?}"
                );
                let hash = ApiKey::hash(key);
                assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
                assert!(!hash.bytes().any(|b| b.is_ascii_uppercase()));
                assert_ne!(hash, ApiKey::hash(&format!("{key}0")));
            }
            got.is_some()
        });
}
