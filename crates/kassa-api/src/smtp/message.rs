//! One plain-text email in RFC 5322 form: headers encoded for non-ASCII text (RFC 2047), the
//! body in UTF-8, base64 when it is not plain short-lined ASCII. No header value can carry a line
//! break: those are refused here, whatever the caller checked before.

use base64::Engine;

use super::SmtpError;

/// What goes into one email.
pub struct Message<'a> {
    pub from_header: &'a str,
    pub to: &'a str,
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    /// Unique per email (`<id@domain>` is made of it and the sender's domain).
    pub message_id: &'a str,
    pub date_ms: i64,
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A display name as a header shows it: as is, quoted, or encoded.
pub(crate) fn display_name(name: &str) -> String {
    if !name.is_ascii() {
        return encode_words(name);
    }
    if name.chars().any(|c| "()<>[]:;@\\,.\"".contains(c)) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name.to_string()
    }
}

/// RFC 2047 `=?UTF-8?B?…?=` words, at most 75 characters each, folded onto continuation lines.
fn encode_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

fn header_text(text: &str) -> String {
    if text.is_ascii() && text.len() <= 900 {
        text.to_string()
    } else {
        encode_words(text)
    }
}

fn one_line(name: &str, value: &str) -> Result<(), SmtpError> {
    if value.chars().any(char::is_control) {
        return Err(SmtpError::Protocol(format!(
            "the {name} header may not contain line breaks or control characters"
        )));
    }
    Ok(())
}

/// The whole message, lines ending in CRLF (dot-stuffing is the client's job).
pub fn format_message(m: &Message<'_>) -> Result<String, SmtpError> {
    for (name, v) in [
        ("From", m.from_header),
        ("To", m.to),
        ("Subject", m.subject),
        ("Message-ID", m.message_id),
    ] {
        one_line(name, v)?;
    }
    if let Some(r) = m.reply_to {
        one_line("Reply-To", r)?;
    }
    let domain = m
        .from_header
        .rsplit('@')
        .next()
        .unwrap_or("kassa.invalid")
        .trim_end_matches('>');
    let date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(m.date_ms) * 1_000_000)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".into());
    let mut out = String::new();
    let mut h = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    h("Date", &date);
    h("From", m.from_header);
    h("To", m.to);
    if let Some(r) = m.reply_to {
        h("Reply-To", r);
    }
    h("Subject", &header_text(m.subject));
    h("Message-ID", &format!("<{}@{domain}>", m.message_id));
    h("MIME-Version", "1.0");
    h("Content-Type", "text/plain; charset=utf-8");
    let body = m.body.replace("\r\n", "\n").replace('\r', "\n");
    let plain = body.is_ascii() && body.lines().all(|l| l.len() <= 998);
    if plain {
        h("Content-Transfer-Encoding", "7bit");
        out.push_str("\r\n");
        for line in body.lines() {
            out.push_str(line);
            out.push_str("\r\n");
        }
    } else {
        h("Content-Transfer-Encoding", "base64");
        out.push_str("\r\n");
        let encoded = B64.encode(body.as_bytes());
        for chunk in encoded.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            out.push_str("\r\n");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<'a>(subject: &'a str, body: &'a str) -> Message<'a> {
        Message {
            from_header: "Shop <noreply@shop.example>",
            to: "ada@example.com",
            reply_to: Some("support@shop.example"),
            subject,
            body,
            message_id: "eml_1",
            date_ms: 0,
        }
    }

    #[test]
    fn ascii_is_sent_as_is() {
        let m = format_message(&msg("Your order", "Hello\nBye\n")).unwrap();
        assert!(m.contains("Subject: Your order\r\n"));
        assert!(m.contains("Reply-To: support@shop.example\r\n"));
        assert!(m.contains("Message-ID: <eml_1@shop.example>\r\n"));
        assert!(m.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
        assert!(m.ends_with("\r\n\r\nHello\r\nBye\r\n"));
    }

    #[test]
    fn unicode_is_encoded() {
        let m = format_message(&msg("Ihre Bestellung über 19,99 €", "Grüße")).unwrap();
        assert!(m.contains("Subject: =?UTF-8?B?"), "{m}");
        assert!(m.contains("Content-Transfer-Encoding: base64"));
        assert!(m.contains(&B64.encode("Grüße")));
        let long = "ü".repeat(100);
        let words = encode_words(&long);
        assert!(words.split("\r\n ").all(|w| w.len() <= 75), "{words}");
    }

    #[test]
    fn headers_cannot_be_injected() {
        assert!(format_message(&msg("a\r\nBcc: x@y.z", "b")).is_err());
        let mut m = msg("a", "b");
        m.to = "ada@example.com\nBcc: x@y.z";
        assert!(format_message(&m).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(display_name("Shop"), "Shop");
        assert_eq!(display_name("Shop, Inc."), "\"Shop, Inc.\"");
        assert!(display_name("Café").starts_with("=?UTF-8?B?"));
    }
}
