//! `application/x-www-form-urlencoded` in Stripe's bracket notation.

use std::fmt::Write;

/// Form parameters in the order they were added: `amount=2000`, `metadata[order]=A1`,
/// `amount_details[line_items][0][product_code]=SKU1`, `expand[]=latest_charge`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Self {
        Form::default()
    }

    /// Adds `key=value`. Keys use bracket notation for nesting.
    pub fn add(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Self {
        self.pairs.push((key.into(), value.to_string()));
        self
    }

    /// Adds `key=value` when there is a value.
    pub fn add_opt<V: ToString>(&mut self, key: impl Into<String>, value: Option<V>) -> &mut Self {
        if let Some(v) = value {
            self.add(key, v);
        }
        self
    }

    /// Adds each entry of a map under `prefix`: `metadata[k]=v`.
    pub fn add_map<'a>(
        &mut self,
        prefix: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &mut Self {
        for (k, v) in entries {
            self.add(format!("{prefix}[{k}]"), v);
        }
        self
    }

    /// Adds a list entry: `expand[]=latest_charge`.
    pub fn push_list(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.add(format!("{key}[]"), value)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The encoded body. Brackets are percent-encoded as browsers and Stripe's own libraries do.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_component(&mut out, k);
            out.push('=');
            encode_component(&mut out, v);
        }
        out
    }
}

fn encode_component(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_bracket_notation_in_order() {
        let mut f = Form::new();
        f.add("amount", 2000)
            .add("currency", "usd")
            .add_map("metadata", [("order", "A 1")])
            .add("amount_details[line_items][0][product_code]", "SKU-1")
            .push_list("expand", "latest_charge")
            .add_opt("description", None::<&str>);
        assert_eq!(
            f.encode(),
            "amount=2000&currency=usd&metadata%5Border%5D=A+1&amount_details%5Bline_items%5D%5B0%5D%5Bproduct_code%5D=SKU-1&expand%5B%5D=latest_charge"
        );
        assert_eq!(f.get("currency"), Some("usd"));
    }

    #[test]
    fn escapes_reserved_and_unicode() {
        let mut f = Form::new();
        f.add("statement_descriptor_suffix", "CAFÉ & CO=1");
        assert_eq!(
            f.encode(),
            "statement_descriptor_suffix=CAF%C3%89+%26+CO%3D1"
        );
    }
}
