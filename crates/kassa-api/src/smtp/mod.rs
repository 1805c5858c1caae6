//! Sending email over SMTP: the configuration (`KASSA_SMTP_URL`, `KASSA_EMAIL_FROM`), a small
//! client (EHLO, STARTTLS or implicit TLS, AUTH PLAIN/LOGIN, dot-stuffed DATA) and the message
//! format (plain-text UTF-8, RFC 5322 headers).
//!
//! `smtp://host[:587]` requires STARTTLS; `smtps://host[:465]` is TLS from the start;
//! `?tls=none` sends in the clear (a relay on the same machine, tests) and is refused with a
//! password unless the host is a loopback address. The password is never logged: the URL is
//! shown redacted (`smtp://user:****@host:587`).

mod client;
mod message;

pub use client::send;
pub use message::{format_message, Message};

use std::fmt;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP, upgraded with STARTTLS before anything else is said (required).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
    /// No TLS at all (`?tls=none`).
    None,
}

/// The SMTP server, its login, and the sender address.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    password: Option<String>,
    /// The `From:` header (`Shop <noreply@shop.example>` or a bare address).
    pub from_header: String,
    /// The bare address, for `MAIL FROM`.
    pub from_address: String,
    /// How long one whole send may take.
    pub timeout: std::time::Duration,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("url", &self.redacted_url())
            .field("from", &self.from_header)
            .finish()
    }
}

/// What is wrong with the configuration, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl SmtpConfig {
    /// Parses `KASSA_SMTP_URL` and `KASSA_EMAIL_FROM`.
    pub fn parse(url: &str, from: &str) -> Result<SmtpConfig, ConfigError> {
        let bad = |m: &str| ConfigError(format!("KASSA_SMTP_URL: {m}"));
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("must look like smtp://user:password@host:587"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        let mut security = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => Security::StartTls,
            "smtps" => Security::Tls,
            _ => {
                return Err(bad(
                    "the scheme must be smtp:// (STARTTLS) or smtps:// (TLS)",
                ))
            }
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("tls", "none")) if security == Security::StartTls => {
                    security = Security::None
                }
                Some(("tls", "starttls")) if security == Security::StartTls => {}
                _ => {
                    return Err(bad(&format!(
                        "unknown option `{pair}` (only tls=none or tls=starttls with smtp://)"
                    )))
                }
            }
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let user = percent_decode(user)
                    .ok_or_else(|| bad("the user name is not valid percent-encoding"))?;
                let pass = percent_decode(pass)
                    .ok_or_else(|| bad("the password is not valid percent-encoding"))?;
                if user.is_empty() {
                    return Err(bad("the user name is empty"));
                }
                (Some(user), Some(pass))
            }
        };
        let (host, port) =
            split_host_port(hostport).ok_or_else(|| bad("the port must be a number 1-65535"))?;
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad("must name a host"));
        }
        let port = port.unwrap_or(match security {
            Security::Tls => 465,
            Security::StartTls => 587,
            Security::None => 25,
        });
        let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
        if security == Security::None && username.is_some() && !loopback {
            return Err(bad("a password is never sent without TLS: use smtp:// (STARTTLS) or smtps://, or tls=none only to a relay on this machine"));
        }
        let (from_header, from_address) = parse_from(from)?;
        Ok(SmtpConfig {
            host,
            port,
            security,
            username,
            password,
            from_header,
            from_address,
            timeout: std::time::Duration::from_secs(60),
        })
    }

    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The URL without the password, for logs and pages.
    pub fn redacted_url(&self) -> String {
        let scheme = if self.security == Security::Tls {
            "smtps"
        } else {
            "smtp"
        };
        let user = match &self.username {
            Some(u) => format!("{u}:****@"),
            None => String::new(),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let q = if self.security == Security::None {
            "?tls=none"
        } else {
            ""
        };
        format!("{scheme}://{user}{host}:{}{q}", self.port)
    }
}

fn split_host_port(hp: &str) -> Option<(String, Option<u16>)> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    if let Some(v6) = hp.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host.to_string(), Some(port(p)?))),
            None if after.is_empty() => Some((host.to_string(), None)),
            None => None,
        };
    }
    match hp.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), Some(port(p)?))),
        None => Some((hp.to_string(), None)),
    }
}

/// `Name <addr@host>` or `addr@host`: the header as given, and the bare address.
fn parse_from(from: &str) -> Result<(String, String), ConfigError> {
    let bad = |m: String| ConfigError(format!("KASSA_EMAIL_FROM: {m}"));
    let from = from.trim();
    if from.chars().any(char::is_control) {
        return Err(bad("must be one line".into()));
    }
    let address = match (from.rfind('<'), from.ends_with('>')) {
        (Some(i), true) => from[i + 1..from.len() - 1].trim().to_string(),
        (None, false) => from.to_string(),
        _ => {
            return Err(bad(format!(
                "`{from}` is not `Name <address>` or an address"
            )))
        }
    };
    kassa_domain::text::check_email(&address).map_err(|e| bad(e.message))?;
    if address.contains(['<', '>', '"', ',', ';']) {
        return Err(bad(format!("`{address}` is not an e-mail address")));
    }
    let name = from.rfind('<').map(|i| from[..i].trim()).unwrap_or("");
    let header = if name.is_empty() {
        address.clone()
    } else {
        format!("{} <{address}>", message::display_name(name))
    };
    Ok((header, address))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a send failed, and whether trying again later can help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SmtpError {
    /// Could not reach the server, or the connection broke or timed out: try again later.
    #[error("connection: {0}")]
    Connection(String),
    /// The server answered with an error code (4xx: try again later; 5xx: refused for good).
    #[error("{stage}: the server answered {code} {text}")]
    Reply {
        stage: &'static str,
        code: u16,
        text: String,
    },
    /// The server broke the protocol, or TLS could not be set up.
    #[error("{0}")]
    Protocol(String),
}

impl SmtpError {
    /// A 5xx answer: the same email will be refused again.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Reply { code, .. } if *code >= 500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "Shop <noreply@shop.example>";

    #[test]
    fn urls() {
        let c = SmtpConfig::parse("smtp://user:p%40ss@mail.example:2525", FROM).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.security),
            ("mail.example", 2525, Security::StartTls)
        );
        assert_eq!(
            (c.username.as_deref(), c.password()),
            (Some("user"), Some("p@ss"))
        );
        assert_eq!(c.redacted_url(), "smtp://user:****@mail.example:2525");
        assert!(!format!("{c:?}").contains("p@ss"));
        let c = SmtpConfig::parse("smtps://mail.example", FROM).unwrap();
        assert_eq!((c.port, c.security), (465, Security::Tls));
        let c =
            SmtpConfig::parse("smtp://127.0.0.1:2525?tls=none", "noreply@shop.example").unwrap();
        assert_eq!((c.port, c.security), (2525, Security::None));
        assert_eq!(c.from_header, "noreply@shop.example");
        assert!(SmtpConfig::parse("smtp://u:p@127.0.0.1:25?tls=none", FROM).is_ok());
        for bad in [
            "mail.example",
            "http://mail.example",
            "smtp://u:p@mail.example?tls=none",
            "smtp://mail.example:0",
            "smtp://mail.example:x",
            "smtp://",
            "smtps://mail.example?tls=none",
            "smtp://mail.example?foo=bar",
        ] {
            let e = SmtpConfig::parse(bad, FROM).unwrap_err();
            assert!(e.0.starts_with("KASSA_SMTP_URL:"), "{bad}: {e}");
        }
    }

    #[test]
    fn from_addresses() {
        let c = SmtpConfig::parse("smtp://h", "Shop, Inc. <noreply@shop.example>").unwrap();
        assert_eq!(c.from_address, "noreply@shop.example");
        assert_eq!(c.from_header, "\"Shop, Inc.\" <noreply@shop.example>");
        for bad in ["nope", "Shop <nope>", "a@b.c\r\nBcc: x@y.z", "<a@b.c"] {
            assert!(
                SmtpConfig::parse("smtp://h", bad)
                    .unwrap_err()
                    .0
                    .starts_with("KASSA_EMAIL_FROM:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn permanence() {
        let r = |code| SmtpError::Reply {
            stage: "RCPT TO",
            code,
            text: String::new(),
        };
        assert!(r(550).is_permanent());
        assert!(!r(451).is_permanent());
        assert!(!SmtpError::Connection("refused".into()).is_permanent());
    }
}
