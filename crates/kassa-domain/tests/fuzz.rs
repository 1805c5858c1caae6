//! Fuzz targets (see docs/fuzzing.md): Stripe key formats, card tokens and numbers, statement
//! descriptors, webhook event heads. Each compares the code with a small reference written here
//! from the documented rules, and checks that what parses prints back to what parses the same.

use kassa_domain::card::{detect_brand, luhn_ok, CardNumber, StripeToken};
use kassa_domain::descriptor::{self, check_static, check_suffix, fit_suffix};
use kassa_domain::keys::{self, PublishableKey, StripeSecretKey, WebhookSecret};
use kassa_domain::stripe_event::{EventError, EventHead};
use kassa_fuzz::{fields, join, number, text, Fuzz};
use serde_json::json;

/// A Stripe key by its documented format: one of `prefixes`, then 8 or more letters and digits,
/// 255 characters at most in all, white space around it ignored.
fn ref_key(input: &str, prefixes: &[&str]) -> Option<String> {
    let t = input.trim();
    let p = prefixes.iter().find(|p| t.starts_with(*p))?;
    let body = &t[p.len()..];
    let ok = body.len() >= 8 && t.len() <= 255 && body.chars().all(|c| c.is_ascii_alphanumeric());
    ok.then(|| t.to_string())
}

/// The documented redaction: known prefix, `…`, the last 4 (16+ characters), 2 (8+) or 0.
fn ref_redact(s: &str) -> String {
    let prefix = [
        "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_",
    ]
    .into_iter()
    .find(|p| s.starts_with(p))
    .unwrap_or("");
    let rest: Vec<char> = s[prefix.len()..].chars().collect();
    let n = match rest.len() {
        16.. => 4,
        8.. => 2,
        _ => 0,
    };
    let tail: String = rest[rest.len() - n..].iter().collect();
    format!("{prefix}…{tail}")
}

#[test]
fn fuzz_stripe_keys() {
    const SECRET: [&str; 4] = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"];
    const PUBLISHABLE: [&str; 2] = ["pk_live_", "pk_test_"];
    Fuzz::new("stripe_keys", env!("CARGO_MANIFEST_DIR"))
        .dict(&SECRET)
        .dict(&PUBLISHABLE)
        .dict(&["whsec_", "_live_", ","])
        .seed("sk_test_4eC39HqLyjWDarjtT1zdp7dc")
        .seed(" rk_live_12345678\n")
        .seed("pk_test_TYooMQauvdEDq54NiTphI7jx")
        .seed("whsec_abcdefgh12,whsec_abcdefgh13, whsec_abcdefgh12")
        .seed("sk_test_short")
        .run(|data| {
            let s = text(data);
            let secret = StripeSecretKey::parse(&s).ok();
            assert_eq!(
                secret.as_ref().map(|k| k.expose().to_string()),
                ref_key(&s, &SECRET)
            );
            if let Some(k) = &secret {
                assert_eq!(StripeSecretKey::parse(k.expose()).as_ref(), Ok(k));
                assert_eq!(
                    k.is_live(),
                    k.expose().starts_with("sk_live_") || k.expose().starts_with("rk_live_")
                );
                assert_eq!(k.redacted(), ref_redact(k.expose()));
                assert_eq!(
                    format!("{k:?}"),
                    format!("StripeSecretKey({})", k.redacted())
                );
            }
            let public = PublishableKey::parse(&s).ok();
            assert_eq!(
                public.as_ref().map(|k| k.as_str().to_string()),
                ref_key(&s, &PUBLISHABLE)
            );
            if let Some(k) = &public {
                assert_eq!(PublishableKey::parse(k.as_str()).as_ref(), Ok(k));
                assert_eq!(k.is_live(), k.as_str().starts_with("pk_live_"));
            }
            let whsec = WebhookSecret::parse(&s).ok();
            assert_eq!(
                whsec.as_ref().map(|k| k.expose().to_string()),
                ref_key(&s, &["whsec_"])
            );
            if let Some(k) = &whsec {
                assert_eq!(
                    format!("{k:?}"),
                    format!("WebhookSecret({})", ref_redact(k.expose()))
                );
            }
            assert_eq!(keys::redact(&s), ref_redact(&s));
            // A list (a rotation): at most 10, each valid, none twice.
            let list: Vec<String> = s.split(',').map(str::to_string).collect();
            let parsed = keys::parse_webhook_secrets(&list);
            let refs: Option<Vec<String>> = list.iter().map(|v| ref_key(v, &["whsec_"])).collect();
            let ref_ok = list.len() <= 10
                && refs
                    .as_ref()
                    .is_some_and(|r| r.iter().enumerate().all(|(i, v)| !r[..i].contains(v)));
            assert_eq!(parsed.is_ok(), ref_ok, "{list:?}");
            if let Ok(p) = parsed {
                let exposed: Vec<String> = p.iter().map(|k| k.expose().to_string()).collect();
                assert_eq!(Some(exposed), refs);
            }
            (secret.is_some(), public.is_some(), whsec.is_some(), ref_ok)
        });
}

fn ref_luhn(digits: &str) -> bool {
    let d: Option<Vec<u32>> = digits.chars().map(|c| c.to_digit(10)).collect();
    let Some(d) = d.filter(|d| !d.is_empty()) else {
        return false;
    };
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                (2 * x) / 10 + (2 * x) % 10
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `payment_method_id:customer_id` tokens and card numbers.
#[test]
fn fuzz_card_tokens() {
    fn ref_id(id: &str, prefix: &str) -> bool {
        id.strip_prefix(prefix).is_some_and(|r| {
            !r.is_empty()
                && r.len() <= 250
                && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    }
    Fuzz::new("card_tokens", env!("CARGO_MANIFEST_DIR"))
        .dict(&["pm_", "cus_", ":", "4242", "-", " "])
        .seed("pm_1MqLiJLkdIwHu7ixUEgbFdYF:cus_NffrFeUfNV2Hib")
        .seed(" pm_card_visa:cus_x\t")
        .seed("4242 4242 4242 4242")
        .seed("3782-822463-10005")
        .seed("6205500000000000004")
        .seed("36227206271667")
        .run(|data| {
            let s = text(data);
            let token = StripeToken::parse(&s).ok();
            let t = s.trim();
            let ref_ok = t
                .split_once(':')
                .is_some_and(|(pm, cus)| ref_id(pm, "pm_") && ref_id(cus, "cus_"));
            assert_eq!(token.is_some(), ref_ok);
            if let Some(tok) = &token {
                assert_eq!(tok.to_token_string(), t);
                assert_eq!(StripeToken::parse(&tok.to_token_string()).as_ref(), Ok(tok));
            }
            let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            assert_eq!(luhn_ok(&digits), ref_luhn(&digits), "{digits:?}");
            let card = CardNumber::parse(&s);
            if let Ok(n) = &card {
                assert_eq!(n.expose(), digits);
                assert!((12..=19).contains(&digits.len()) && ref_luhn(&digits));
                assert_eq!(Some(n.brand()), detect_brand(&digits));
                assert!(digits.ends_with(n.last4()) && n.last4().len() == 4);
                assert_eq!(
                    format!("{n:?}"),
                    format!("CardNumber({} …{})", n.brand().as_str(), n.last4())
                );
                assert_eq!(CardNumber::parse(n.expose()).as_ref(), Ok(n));
            } else if let Err(e) = &card {
                // Only the checks' own reasons.
                assert!(
                    [
                        "invalid_number",
                        "incorrect_number",
                        "card_brand_unsupported"
                    ]
                    .contains(&e.code),
                    "{}",
                    e.code
                );
            }
            (token.is_some(), card.map_err(|e| e.code).map(|n| n.brand()))
        });
}

const FORBIDDEN: &str = "<>\\'\"*";

fn ref_latin(c: char) -> bool {
    (' '..='~').contains(&c) || (('\u{C0}'..='\u{24F}').contains(&c) && c != '×' && c != '÷')
}

fn ref_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (('\u{C0}'..='\u{24F}').contains(&c) && c != '×' && c != '÷')
}

/// The module's documented rules for one part.
fn ref_part(s: &str) -> bool {
    s.chars().all(|c| ref_latin(c) && !FORBIDDEN.contains(c))
        && s.chars().any(ref_letter)
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

fn ref_len(s: &str) -> bool {
    (5..=22).contains(&s.chars().count())
}

fn ref_prefix(d: &str) -> String {
    let first: String = d.chars().take(10).collect();
    first.trim_end_matches(char::is_whitespace).to_string()
}

/// Statement descriptors: static ones, suffixes with and without a known descriptor, and the cut
/// a payment's suffix gets.
#[test]
fn fuzz_descriptors() {
    Fuzz::new("descriptors", env!("CARGO_MANIFEST_DIR"))
        .dict(&["* ", "RUNCLUB", "  ", "Ü", "ǀ"])
        .seed(join(&[b"OCT MARATHON", b"RUNCLUB"]))
        .seed(join(&["CAFÉ PARIS".as_bytes(), b""]))
        .seed(join(&[b"ABCDEFGHIJKLMNOPQRSTUV", b"ABCDEFGHIJKLMN"]))
        .seed(join(&[b"A1234", b"SHOP"]))
        .seed(join(&[b"GOLD PLAN EXTRA", b"A         BC"]))
        .run(|data| {
            let [suffix, desc] = fields::<2>(data);
            let (s, d) = (text(suffix), text(desc));
            let d = (!desc.is_empty()).then_some(d.as_str());

            let ok_static = check_static(&s).is_ok();
            assert_eq!(ok_static, ref_part(&s) && ref_len(&s), "{s:?}");
            if let Some(d) = d {
                assert_eq!(descriptor::prefix_of(d), ref_prefix(d));
            }
            let ok_suffix = check_suffix(&s, d).is_ok();
            let ref_suffix = ref_part(&s)
                && match d {
                    Some(d) => ref_len(&format!("{}* {s}", ref_prefix(d))),
                    None => ref_len(&s),
                };
            assert_eq!(ok_suffix, ref_suffix, "{s:?} with {d:?}");

            let fitted = fit_suffix(&s, d);
            let room = d.map_or(22, |d| {
                22usize.saturating_sub(ref_prefix(d).chars().count() + 2)
            });
            let cut: String = s.trim().chars().take(room).collect();
            let cut = cut.trim_end().to_string();
            let whole_ok = d.is_none_or(|d| ref_len(&format!("{}* {cut}", ref_prefix(d))));
            assert_eq!(
                fitted.as_ref().ok(),
                (ref_part(&cut) && whole_ok).then_some(&cut)
            );
            if let Ok(f) = &fitted {
                if let Some(d) = d {
                    let full = descriptor::combine(&descriptor::prefix_of(d), f);
                    assert!(full.chars().count() <= 22, "{full:?}");
                    // With a valid static descriptor, what fits is a valid suffix.
                    if check_static(d).is_ok() {
                        assert!(
                            check_suffix(f, Some(d)).is_ok(),
                            "{f:?} after {d:?}: {full:?}"
                        );
                    }
                }
                if ok_suffix {
                    assert_eq!(f, &s, "a valid suffix is kept as it is");
                }
            }
            (ok_static, ok_suffix, fitted.is_ok())
        });
}

/// Webhook event heads: a real event's head reads back as written, and whatever the body is,
/// decoding refuses it or yields an `evt_` id that encodes and decodes to the same head.
#[test]
fn fuzz_stripe_event() {
    let event = |id: &str, ty: &str, account: Option<&str>, created: i64| {
        json!({"id": id, "object": "event", "type": ty, "account": account, "created": created,
               "data": {"object": {"id": "pi_1", "amount": 2000, "metadata": {"k": "v"}}}})
    };
    Fuzz::new("stripe_event", env!("CARGO_MANIFEST_DIR"))
        .max_len(16 * 1024)
        .dict(&[
            "evt_",
            "\"id\":",
            "\"type\":",
            "{",
            "}",
            "[",
            "null",
            "1.5",
            "\"\\u0000\"",
        ])
        .seed(event("evt_1", "payment_intent.succeeded", None, 1_700_000_000).to_string())
        .seed(event("evt_2", "charge.dispute.created", Some("acct_1"), -1).to_string())
        .seed(r#"{"id":"evt_3","type":7,"account":false,"created":"x"}"#)
        .seed(join(&[
            b"evt_1",
            b"payment_method.updated",
            b"acct_9",
            b"1700000000",
        ]))
        .run(|data| {
            // As a raw body.
            let raw = EventHead::decode(data);
            if let Ok(h) = &raw {
                assert!(h.id.starts_with("evt_"));
                let again = event(&h.id, &h.event_type, h.account.as_deref(), h.created);
                assert_eq!(
                    EventHead::decode(again.to_string().as_bytes()).as_ref(),
                    Ok(h)
                );
            }
            // As fields of an event that is then encoded.
            let [id, ty, account, created] = fields::<4>(data);
            let (id, ty, account, created) = (text(id), text(ty), text(account), number(created));
            let account = (!account.is_empty()).then_some(account.as_str());
            let decoded =
                EventHead::decode(event(&id, &ty, account, created).to_string().as_bytes());
            if id.starts_with("evt_") {
                let want = EventHead {
                    id: id.clone(),
                    event_type: ty,
                    account: account.map(str::to_string),
                    created,
                };
                assert_eq!(decoded, Ok(want));
            } else {
                assert_eq!(decoded, Err(EventError::NoId));
            }
            raw.map_err(|e| std::mem::discriminant(&e)).map(|_| ())
        });
}
