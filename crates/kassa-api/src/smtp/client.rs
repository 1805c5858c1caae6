//! The SMTP dialogue (RFC 5321): greeting, EHLO, STARTTLS (then EHLO again), AUTH PLAIN or LOGIN,
//! MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT. One connection per email; the whole exchange
//! has one deadline.

use base64::Engine;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Security, SmtpConfig, SmtpError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const MAX_LINE: usize = 4096;
const MAX_LINES: usize = 200;

/// One reply: its code and its lines' text.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" ")
    }
}

fn io(e: std::io::Error) -> SmtpError {
    SmtpError::Connection(e.to_string())
}

/// Reads one reply, multi-line (`250-…` … `250 …`) or not.
async fn read_reply<S: AsyncRead + Unpin>(s: &mut BufReader<S>) -> Result<Reply, SmtpError> {
    let mut lines = Vec::new();
    loop {
        let mut buf = Vec::new();
        let n = (&mut *s)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(io)?;
        if n == 0 {
            return Err(SmtpError::Connection(
                "the server closed the connection".into(),
            ));
        }
        if !buf.ends_with(b"\n") {
            return Err(SmtpError::Protocol(
                "a reply line is too long or cut off".into(),
            ));
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\r', '\n']);
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| SmtpError::Protocol(format!("not an SMTP reply: `{line}`")))?;
        let sep = line.as_bytes().get(3).copied();
        lines.push(line.get(4..).unwrap_or("").to_string());
        if lines.len() > MAX_LINES {
            return Err(SmtpError::Protocol("the server's reply is too long".into()));
        }
        match sep {
            Some(b'-') => continue,
            None | Some(b' ') => return Ok(Reply { code, lines }),
            Some(_) => return Err(SmtpError::Protocol(format!("not an SMTP reply: `{line}`"))),
        }
    }
}

/// Sends a command line and reads the reply; fails unless the code is `want`'s first digit.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    line: &str,
    stage: &'static str,
    want: u16,
) -> Result<Reply, SmtpError> {
    let w = s.get_mut();
    w.write_all(line.as_bytes()).await.map_err(io)?;
    w.write_all(b"\r\n").await.map_err(io)?;
    w.flush().await.map_err(io)?;
    expect(s, stage, want).await
}

async fn expect<S: AsyncRead + Unpin>(
    s: &mut BufReader<S>,
    stage: &'static str,
    want: u16,
) -> Result<Reply, SmtpError> {
    let r = read_reply(s).await?;
    if r.code / 100 != want / 100 {
        return Err(SmtpError::Reply {
            stage,
            code: r.code,
            text: r.text(),
        });
    }
    Ok(r)
}

/// The capabilities an EHLO reply lists (upper case, first line — the greeting — left out).
fn capabilities(r: &Reply) -> Vec<String> {
    r.lines
        .iter()
        .skip(1)
        .map(|l| l.to_ascii_uppercase())
        .collect()
}

fn helo_name() -> String {
    "kassa.localdomain".to_string()
}

/// Lines ending in CRLF, each line starting with `.` given another, ended by `.` alone.
pub(crate) fn dot_stuff(message: &str) -> String {
    let text = message.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_terminator('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// After EHLO: log in if configured, then send the one email and say goodbye.
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    caps: &[String],
    cfg: &SmtpConfig,
    to: &str,
    message: &str,
) -> Result<(), SmtpError> {
    if let Some(user) = &cfg.username {
        let pass = cfg.password().unwrap_or("");
        let auth = caps
            .iter()
            .find(|c| c.starts_with("AUTH ") || c.starts_with("AUTH="))
            .map(|c| {
                c[5..]
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if auth.iter().any(|m| m == "PLAIN") {
            let token = B64.encode(format!("\0{user}\0{pass}"));
            command(s, &format!("AUTH PLAIN {token}"), "AUTH", 235).await?;
        } else if auth.iter().any(|m| m == "LOGIN") {
            command(s, "AUTH LOGIN", "AUTH", 334).await?;
            command(s, &B64.encode(user), "AUTH", 334).await?;
            command(s, &B64.encode(pass), "AUTH", 235).await?;
        } else {
            return Err(SmtpError::Protocol(
                "the server offers neither AUTH PLAIN nor AUTH LOGIN".into(),
            ));
        }
    }
    command(
        s,
        &format!("MAIL FROM:<{}>", cfg.from_address),
        "MAIL FROM",
        250,
    )
    .await?;
    command(s, &format!("RCPT TO:<{to}>"), "RCPT TO", 250).await?;
    command(s, "DATA", "DATA", 354).await?;
    let w = s.get_mut();
    w.write_all(dot_stuff(message).as_bytes())
        .await
        .map_err(io)?;
    w.flush().await.map_err(io)?;
    expect(s, "end of DATA", 250).await?;
    // The email is accepted; a failed goodbye changes nothing.
    let _ = command(s, "QUIT", "QUIT", 221).await;
    Ok(())
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, SmtpError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SmtpError::Protocol(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn tls(
    cfg: &SmtpConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SmtpError> {
    let name = rustls::pki_types::ServerName::try_from(cfg.host.clone()).map_err(|e| {
        SmtpError::Protocol(format!("TLS: `{}` is not a server name: {e}", cfg.host))
    })?;
    tls_connector()?
        .connect(name, tcp)
        .await
        .map_err(|e| SmtpError::Protocol(format!("TLS: {e}")))
}

async fn session(cfg: &SmtpConfig, to: &str, message: &str) -> Result<(), SmtpError> {
    let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| SmtpError::Connection(format!("{}:{}: {e}", cfg.host, cfg.port)))?;
    let ehlo = format!("EHLO {}", helo_name());
    match cfg.security {
        Security::Tls => {
            let mut s = BufReader::new(tls(cfg, tcp).await?);
            expect(&mut s, "greeting", 220).await?;
            let caps = capabilities(&command(&mut s, &ehlo, "EHLO", 250).await?);
            transaction(&mut s, &caps, cfg, to, message).await
        }
        Security::None => {
            let mut s = BufReader::new(tcp);
            expect(&mut s, "greeting", 220).await?;
            let caps = capabilities(&command(&mut s, &ehlo, "EHLO", 250).await?);
            transaction(&mut s, &caps, cfg, to, message).await
        }
        Security::StartTls => {
            let mut s = BufReader::new(tcp);
            expect(&mut s, "greeting", 220).await?;
            let caps = capabilities(&command(&mut s, &ehlo, "EHLO", 250).await?);
            if !caps.iter().any(|c| c == "STARTTLS") {
                return Err(SmtpError::Protocol(
                    "the server does not offer STARTTLS (use smtps:// or, only on this machine, ?tls=none)".into(),
                ));
            }
            command(&mut s, "STARTTLS", "STARTTLS", 220).await?;
            // Anything already sent after the 220 would be an injection before TLS.
            if !s.buffer().is_empty() {
                return Err(SmtpError::Protocol(
                    "the server sent data before the TLS handshake".into(),
                ));
            }
            let mut s = BufReader::new(tls(cfg, s.into_inner()).await?);
            let caps = capabilities(&command(&mut s, &ehlo, "EHLO", 250).await?);
            transaction(&mut s, &caps, cfg, to, message).await
        }
    }
}

/// Sends one message (headers and body, as [`super::format_message`] makes it) to `to`.
pub async fn send(cfg: &SmtpConfig, to: &str, message: &str) -> Result<(), SmtpError> {
    if to.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        return Err(SmtpError::Protocol(format!("`{to}` is not an address")));
    }
    tokio::time::timeout(cfg.timeout, session(cfg, to, message))
        .await
        .map_err(|_| {
            SmtpError::Connection(format!("no answer within {} s", cfg.timeout.as_secs()))
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff("a\r\n.b\r\n..c\r\n"), "a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(".\n"), "..\r\n.\r\n");
        assert_eq!(dot_stuff("x"), "x\r\n.\r\n");
    }

    #[tokio::test]
    async fn multi_line_replies() {
        let data: &[u8] = b"250-mail.example hello\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n";
        let mut r = BufReader::new(data);
        let reply = read_reply(&mut r).await.unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(capabilities(&reply), vec!["AUTH PLAIN LOGIN", "STARTTLS"]);
        let mut bad = BufReader::new(&b"hello\r\n"[..]);
        assert!(matches!(
            read_reply(&mut bad).await,
            Err(SmtpError::Protocol(_))
        ));
        let mut closed = BufReader::new(&b"250-a\r\n"[..]);
        assert!(matches!(
            read_reply(&mut closed).await,
            Err(SmtpError::Connection(_))
        ));
    }
}
