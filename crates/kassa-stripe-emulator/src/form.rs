//! Stripe's form encoding: `a[b][0][c]=v`, `expand[]=x` decoded into a tree, a declarative
//! schema of accepted parameters (anything else is `parameter_unknown`), and typed accessors
//! answering Stripe-shaped errors.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// A decoded parameter: a string leaf or a map (lists are maps with numeric keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Str(String),
    Map(BTreeMap<String, Node>),
}

/// What an endpoint accepts. `Obj` lists the keys, `List` an array of items, `Dict` a free
/// string map (metadata), `Scalar` a string leaf.
#[derive(Debug)]
pub enum Spec {
    Scalar,
    Obj(&'static [(&'static str, Spec)]),
    List(&'static Spec),
    /// A scalar or a list of scalars (`expand[]`, `preferred_locales[]`).
    ScalarList,
    Dict,
}

/// Decoded request parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub root: BTreeMap<String, Node>,
}

fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_string()];
    };
    let mut segs = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(close) => {
                segs.push(stripped[..close].to_string());
                rest = &stripped[close + 1..];
            }
            None => {
                segs.push(stripped.to_string());
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        if let Some(last) = segs.last_mut() {
            last.push_str(rest);
        }
    }
    segs
}

fn insert(map: &mut BTreeMap<String, Node>, segs: &[String], value: String) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    let key = if first.is_empty() {
        map.len().to_string()
    } else {
        first.clone()
    };
    if rest.is_empty() {
        map.insert(key, Node::Str(value));
        return;
    }
    let entry = map.entry(key).or_insert_with(|| Node::Map(BTreeMap::new()));
    if let Node::Str(_) = entry {
        *entry = Node::Map(BTreeMap::new());
    }
    if let Node::Map(child) = entry {
        insert(child, rest, value);
    }
}

/// `param[a][b]` naming for errors.
pub fn path_name(path: &[&str]) -> String {
    let mut s = String::new();
    for (i, seg) in path.iter().enumerate() {
        if i == 0 {
            s.push_str(seg);
        } else {
            s.push('[');
            s.push_str(seg);
            s.push(']');
        }
    }
    s
}

fn child_name(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}[{key}]")
    }
}

fn check(node: &Node, spec: &Spec, name: &str) -> ApiResult<()> {
    match (spec, node) {
        (Spec::Scalar, Node::Str(_)) => Ok(()),
        (Spec::Scalar, Node::Map(_)) => Err(ApiError::invalid(format!(
            "Invalid string: {name} must be a string, not a hash"
        ))
        .param(name)),
        // An empty string unsets a hash (`metadata=`, `shipping=`).
        (_, Node::Str(s)) if s.is_empty() => Ok(()),
        (Spec::ScalarList, Node::Str(_)) => Ok(()),
        (Spec::ScalarList, Node::Map(m)) => {
            for (k, v) in m {
                if k.parse::<usize>().is_err() {
                    return Err(ApiError::invalid(format!("Invalid array: {name}")).param(name));
                }
                check(v, &Spec::Scalar, &child_name(name, k))?;
            }
            Ok(())
        }
        (Spec::Obj(fields), Node::Map(m)) => {
            for (k, v) in m {
                let child = child_name(name, k);
                match fields.iter().find(|(f, _)| f == k) {
                    Some((_, s)) => check(v, s, &child)?,
                    None => return Err(ApiError::unknown_param(&child)),
                }
            }
            Ok(())
        }
        (Spec::List(item), Node::Map(m)) => {
            for (k, v) in m {
                if k.parse::<usize>().is_err() {
                    return Err(ApiError::invalid(format!("Invalid array: {name}")).param(name));
                }
                check(v, item, &child_name(name, k))?;
            }
            Ok(())
        }
        (Spec::Dict, Node::Map(m)) => {
            for (k, v) in m {
                if let Node::Map(_) = v {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for {}: must be a string",
                        child_name(name, k)
                    ))
                    .param(child_name(name, k)));
                }
            }
            Ok(())
        }
        (_, Node::Str(_)) => Err(ApiError::invalid(format!(
            "Invalid object: {name} must be a hash, not a string"
        ))
        .param(name)),
    }
}

/// The most levels a parameter name may have (`a[b][c]` has 3): Rack's default
/// `param_depth_limit`. Without a limit, a body of `a[][][]…` nested a million levels deep and
/// overflowed the stack (decoding, checking and dropping the tree all recurse).
pub const MAX_DEPTH: usize = 32;

impl Params {
    /// Decodes an `application/x-www-form-urlencoded` body or query string. A parameter nested
    /// more than [`MAX_DEPTH`] levels deep is refused.
    pub fn parse(raw: &[u8]) -> ApiResult<Params> {
        let mut root = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw) {
            let segs = split_key(&k);
            if segs.len() > MAX_DEPTH {
                let name: String = segs.first().map(String::as_str).unwrap_or_default().into();
                return Err(ApiError::invalid(format!(
                    "Invalid parameter {name}: nested more than {MAX_DEPTH} levels deep"
                ))
                .param(name));
            }
            insert(&mut root, &segs, v.into_owned());
        }
        Ok(Params { root })
    }

    /// Rejects anything not in `fields` with `parameter_unknown` (param named in full).
    pub fn check_fields(&self, fields: &'static [(&'static str, Spec)]) -> ApiResult<()> {
        for (k, v) in &self.root {
            match fields.iter().find(|(f, _)| f == k) {
                Some((_, s)) => check(v, s, k)?,
                None => return Err(ApiError::unknown_param(k)),
            }
        }
        Ok(())
    }

    pub fn get(&self, path: &[&str]) -> Option<&Node> {
        let (first, rest) = path.split_first()?;
        let mut node = self.root.get(*first)?;
        for seg in rest {
            match node {
                Node::Map(m) => node = m.get(*seg)?,
                Node::Str(_) => return None,
            }
        }
        Some(node)
    }

    pub fn has(&self, path: &[&str]) -> bool {
        self.get(path).is_some()
    }

    /// A string, `None` when absent. Empty strings are returned as `Some("")`.
    pub fn str(&self, path: &[&str]) -> ApiResult<Option<&str>> {
        match self.get(path) {
            None => Ok(None),
            Some(Node::Str(s)) => Ok(Some(s.as_str())),
            Some(Node::Map(_)) => {
                let name = path_name(path);
                Err(ApiError::invalid(format!(
                    "Invalid string: {name} must be a string, not a hash"
                ))
                .param(name))
            }
        }
    }

    /// A string where empty means unset.
    pub fn str_nonempty(&self, path: &[&str]) -> ApiResult<Option<&str>> {
        Ok(self.str(path)?.filter(|s| !s.is_empty()))
    }

    pub fn str_req(&self, path: &[&str]) -> ApiResult<&str> {
        let name = path_name(path);
        match self.str(path)? {
            None => Err(ApiError::missing_param(&name)),
            Some("") => Err(empty_error(&name)),
            Some(s) => Ok(s),
        }
    }

    pub fn int(&self, path: &[&str]) -> ApiResult<Option<i64>> {
        let name = path_name(path);
        match self.str(path)? {
            None => Ok(None),
            Some("") => Err(empty_error(&name)),
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(format!("Invalid integer: {s}"))
                    .code("parameter_invalid_integer")
                    .param(name)
            }),
        }
    }

    pub fn int_req(&self, path: &[&str]) -> ApiResult<i64> {
        match self.int(path)? {
            Some(v) => Ok(v),
            None => Err(ApiError::missing_param(&path_name(path))),
        }
    }

    pub fn bool(&self, path: &[&str]) -> ApiResult<Option<bool>> {
        match self.str(path)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(s) => {
                let name = path_name(path);
                Err(ApiError::invalid(format!("Invalid boolean: {s}")).param(name))
            }
        }
    }

    /// One of `allowed` (empty string = unset → `None`).
    pub fn one_of(&self, path: &[&str], allowed: &[&str]) -> ApiResult<Option<String>> {
        match self.str(path)? {
            None | Some("") => Ok(None),
            Some(s) if allowed.contains(&s) => Ok(Some(s.to_string())),
            Some(_) => {
                let name = path_name(path);
                let last = path.last().copied().unwrap_or_default();
                Err(ApiError::invalid(format!(
                    "Invalid {last}: must be one of {}",
                    join_or(allowed)
                ))
                .param(name))
            }
        }
    }

    /// The items of a list parameter in index order.
    pub fn list(&self, path: &[&str]) -> Vec<(usize, &Node)> {
        list_items(self.get(path))
    }

    /// `expand[]` values.
    pub fn expand(&self) -> Vec<String> {
        match self.get(&["expand"]) {
            Some(Node::Str(s)) if !s.is_empty() => vec![s.clone()],
            other => list_items(other)
                .into_iter()
                .filter_map(|(_, n)| match n {
                    Node::Str(s) => Some(s.clone()),
                    Node::Map(_) => None,
                })
                .collect(),
        }
    }

    /// A stable fingerprint of the parameters (for idempotency comparisons).
    pub fn fingerprint(&self, method_path: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(method_path.as_bytes());
        h.update([0]);
        let map: serde_json::Map<String, Value> = self
            .root
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect();
        h.update(Value::Object(map).to_string().as_bytes());
        h.finalize().into()
    }
}

pub fn list_items(node: Option<&Node>) -> Vec<(usize, &Node)> {
    let Some(Node::Map(m)) = node else {
        return Vec::new();
    };
    let mut items: Vec<(usize, &Node)> = m
        .iter()
        .filter_map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v)))
        .collect();
    items.sort_by_key(|(i, _)| *i);
    items
}

pub fn empty_error(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "You passed an empty string for '{name}'. We assume empty values are an attempt to unset a parameter; however '{name}' cannot be unset. You should remove '{name}' from your request or supply a non-empty value."
    ))
    .code("parameter_invalid_empty")
    .param(name)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [a, b] => format!("{a} or {b}"),
        _ => {
            let (last, rest) = items
                .split_last()
                .map(|(l, r)| (*l, r))
                .unwrap_or(("", &[]));
            format!("{}, or {last}", rest.join(", "))
        }
    }
}

/// The tree as JSON (all leaves strings).
pub fn to_json(node: &Node) -> Value {
    match node {
        Node::Str(s) => json!(s),
        Node::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_brackets_and_lists() {
        let p = Params::parse(
            b"metadata[k]=v&expand[]=a&expand[]=b&amount_details[line_items][1][q]=2&amount_details[line_items][0][q]=1&x=a%20b+c",
        )
        .unwrap();
        assert_eq!(p.str(&["metadata", "k"]).unwrap(), Some("v"));
        assert_eq!(p.expand(), vec!["a".to_string(), "b".to_string()]);
        let items = p.list(&["amount_details", "line_items"]);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].0, 0);
        assert_eq!(p.str(&["x"]).unwrap(), Some("a b c"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("a{}=1", "[]".repeat(1_000_000));
        let e = Params::parse(deep.as_bytes()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("a"));
        assert!(e.message.contains("32 levels"), "{}", e.message);
        let ok = format!("a{}=1", "[x]".repeat(MAX_DEPTH - 1));
        assert!(Params::parse(ok.as_bytes()).is_ok());
        let over = format!("a{}=1", "[x]".repeat(MAX_DEPTH));
        assert!(Params::parse(over.as_bytes()).is_err());
    }

    #[test]
    fn unknown_nested_param_is_named() {
        static CARD: &[(&str, Spec)] = &[("request_three_d_secure", Spec::Scalar)];
        static PMO: &[(&str, Spec)] = &[("card", Spec::Obj(CARD))];
        static TOP: &[(&str, Spec)] = &[("payment_method_options", Spec::Obj(PMO))];
        let p = Params::parse(b"payment_method_options[card][foo]=1").unwrap();
        let e = p.check_fields(TOP).unwrap_err();
        assert_eq!(
            e.param.as_deref(),
            Some("payment_method_options[card][foo]")
        );
        assert_eq!(e.code.as_deref(), Some("parameter_unknown"));
    }
}
