//! Fuzz targets (see docs/fuzzing.md) for the emulator's form decoding: any body decodes or is
//! refused without a panic, within the nesting limit; and what Kassa's own Stripe client encodes
//! decodes back to the same tree.

use std::collections::BTreeMap;

use kassa_fuzz::{Fuzz, Rng};
use kassa_stripe::Form;
use kassa_stripe_emulator::form::{to_json, Node, Params, Spec, MAX_DEPTH};

/// The deepest path of a tree (a top-level leaf is 1).
fn depth(m: &BTreeMap<String, Node>) -> usize {
    m.values()
        .map(|n| match n {
            Node::Str(_) => 1,
            Node::Map(c) => 1 + depth(c),
        })
        .max()
        .unwrap_or(0)
}

/// The tree as Kassa's Stripe client writes it: `a[b][c]=v`, lists (keys 0..n) as `a[]=v`.
fn encode(m: &BTreeMap<String, Node>) -> String {
    fn walk(form: &mut Form, name: &str, node: &Node) {
        match node {
            Node::Str(v) => {
                form.add(name, v);
            }
            Node::Map(c) => {
                let is_list = c.keys().enumerate().all(|(i, k)| k == &i.to_string())
                    && c.values().all(|v| matches!(v, Node::Str(_)));
                for (k, v) in c {
                    match v {
                        Node::Str(s) if is_list => {
                            form.push_list(name, s);
                        }
                        _ => walk(form, &format!("{name}[{k}]"), v),
                    }
                }
            }
        }
    }
    let mut form = Form::new();
    for (k, v) in m {
        walk(&mut form, k, v);
    }
    form.encode()
}

fn no_brackets(m: &BTreeMap<String, Node>) -> bool {
    m.iter().all(|(k, v)| {
        !k.contains(['[', ']'])
            && match v {
                Node::Str(_) => true,
                Node::Map(c) => no_brackets(c),
            }
    })
}

static INNER: &[(&str, Spec)] = &[("a", Spec::Scalar), ("l", Spec::List(&Spec::Scalar))];
static SPEC: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("metadata", Spec::Dict),
    ("expand", Spec::ScalarList),
    ("items", Spec::List(&Spec::Obj(INNER))),
    ("o", Spec::Obj(INNER)),
];

/// Raw bodies: decoded or refused for nesting, never a panic; within the limit; the accessors
/// and the fingerprint cope; and a decoded tree re-encoded by the client decodes the same.
#[test]
fn fuzz_form_decode() {
    Fuzz::new("form_decode", env!("CARGO_MANIFEST_DIR"))
        .max_len(64 * 1024)
        .dict(&["[", "]", "[]", "[0]", "&", "=", "%5B", "%5D", "metadata", "expand[]=", "items"])
        .seed("amount=2000&currency=usd&metadata[order]=A-1&metadata[note]=caf%C3%A9+%26+co")
        .seed("items[0][price]=x&items[1][price]=y&items[0][quantity]=2&expand[]=customer&expand[]=latest_charge")
        .seed("amount_details[line_items][0][product_code]=SKU-1&payment_method_options[card][request_three_d_secure]=any")
        .seed("metadata%5Bk%5D=v&a[b]c=1&a[b=2&a]=3&=4&[x]=5&a[]=6&a[0]=7&o[l][]=1&o[l][]=2")
        .seed("a=1&a[b]=2&a=3&&&%ZZ=%&+=+")
        .run(|data| {
            let p = match Params::parse(data) {
                Ok(p) => p,
                Err(e) => {
                    assert!(e.message.contains("levels deep"), "{}", e.message);
                    return 0;
                }
            };
            assert!(depth(&p.root) <= MAX_DEPTH);
            let _ = p.check_fields(SPEC);
            let _ = (p.expand(), p.list(&["items"]), p.str(&["metadata", "order"]));
            let _ = (p.int(&["amount"]), p.bool(&["o", "a"]));
            let json = to_json(&Node::Map(p.root.clone()));
            assert!(json.is_object());
            assert_eq!(p.fingerprint("POST /v1/x"), p.clone().fingerprint("POST /v1/x"));
            if no_brackets(&p.root) {
                let again = Params::parse(encode(&p.root).as_bytes()).expect("within the limit");
                assert_eq!(again.root, p.root);
            }
            1 + depth(&p.root).min(4) + 8 * usize::from(p.check_fields(SPEC).is_ok())
        });
}

/// A tree made from the input's bytes: keys and values of any text but brackets (empty keys and
/// empty maps cannot be written), some lists, sometimes deeper than the limit.
fn tree(rng: &mut Rng, data: &[u8], level: usize) -> BTreeMap<String, Node> {
    let mut m = BTreeMap::new();
    let entries = 1 + rng.below(if level > 3 { 1 } else { 4 });
    let pick = |rng: &mut Rng, max: usize| -> String {
        let n = rng.below(max + 1);
        let start = rng.below(data.len().max(1));
        let bytes = data
            .get(start..(start + n).min(data.len()))
            .unwrap_or_default();
        String::from_utf8_lossy(bytes).replace(['[', ']'], "")
    };
    if level > 1 && rng.chance(4) {
        for i in 0..entries {
            m.insert(i.to_string(), Node::Str(pick(rng, 12)));
        }
        return m;
    }
    for _ in 0..entries {
        let mut key = pick(rng, 8);
        if key.is_empty() {
            key = "k".into();
        }
        let deeper = level < 40 && (rng.chance(3) || (level > 3 && rng.chance(2)));
        let node = if deeper {
            Node::Map(tree(rng, data, level + 1))
        } else {
            Node::Str(pick(rng, 16))
        };
        m.insert(key, node);
    }
    m
}

/// Trees encoded by Kassa's Stripe client decode to the same tree, or are refused exactly when
/// deeper than the limit.
#[test]
fn fuzz_form_round_trip() {
    Fuzz::new("form_round_trip", env!("CARGO_MANIFEST_DIR"))
        .seed("metadata order A-1 café & co = 100% + ü")
        .seed([0u8, 1, 2, 3, 255, 254, 253])
        .seed("x")
        .run(|data| {
            let seed = data
                .iter()
                .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            let t = tree(&mut Rng::new(seed), data, 1);
            let body = encode(&t);
            match Params::parse(body.as_bytes()) {
                Ok(p) => {
                    assert!(depth(&t) <= MAX_DEPTH);
                    assert_eq!(p.root, t, "{body}");
                }
                Err(e) => assert!(depth(&t) > MAX_DEPTH, "{body}: {}", e.message),
            }
            depth(&t).min(MAX_DEPTH + 1)
        });
}
