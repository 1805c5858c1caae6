//! A local SMTP server for tests: real TCP, a real SMTP dialogue (EHLO, AUTH PLAIN/LOGIN, MAIL,
//! RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT). It keeps every message it accepts, and can be
//! told to refuse (a 4xx or 5xx at MAIL FROM) or be down (nothing listens on its port).

use base64::Engine;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct SinkMessage {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent (headers and body, CRLF lines), dot-stuffing removed.
    pub data: String,
    /// The user name and password of an AUTH, if there was one.
    pub auth: Option<(String, String)>,
}

impl SinkMessage {
    /// A header's value (the first of that name), unfolded; RFC 2047 words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| decode_words(v.trim()))
        })
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The body as text (base64 decoded when so sent), lines ending in `\n`.
    pub fn body(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("");
        let text = if self
            .header("Content-Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("base64"))
        {
            let joined: String = body.split_whitespace().collect();
            String::from_utf8_lossy(&B64.decode(joined).unwrap_or_default()).into_owned()
        } else {
            body.to_string()
        };
        text.replace("\r\n", "\n")
    }
}

fn decode_words(v: &str) -> String {
    let mut out = String::new();
    for (i, part) in v.split(' ').enumerate() {
        let decoded = part
            .strip_prefix("=?UTF-8?B?")
            .and_then(|p| p.strip_suffix("?="))
            .and_then(|b| B64.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        match decoded {
            Some(d) => out.push_str(&d),
            None => {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(part);
            }
        }
    }
    out
}

#[derive(Default)]
struct Shared {
    messages: Vec<SinkMessage>,
    refuse: Option<(u16, String)>,
}

/// The sink; dropped, it stops listening.
pub struct SmtpSink {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl SmtpSink {
    pub async fn spawn() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("sink address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let task = tokio::spawn(serve(listener, shared.clone()));
        SmtpSink {
            addr,
            shared,
            task: Mutex::new(Some(task)),
        }
    }

    /// `KASSA_SMTP_URL` for this sink (plain text: it is on this machine).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.addr.port())
    }

    /// The same, with a login.
    pub fn url_with_login(&self, user: &str, password: &str) -> String {
        format!(
            "smtp://{user}:{password}@127.0.0.1:{}?tls=none",
            self.addr.port()
        )
    }

    pub fn messages(&self) -> Vec<SinkMessage> {
        self.lock().messages.clone()
    }

    /// From now on, answer MAIL FROM with `code text` (e.g. 451 or 550); `None` accepts again.
    pub fn refuse(&self, reply: Option<(u16, &str)>) {
        self.lock().refuse = reply.map(|(c, t)| (c, t.to_string()));
    }

    /// Stops listening: connections are refused until [`SmtpSink::up`].
    pub async fn down(&self) {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            t.abort();
            // Awaited, the task is gone and its listener closed.
            let _ = t.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        self.down().await;
        let mut listener = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        let listener = listener.expect("rebind the SMTP sink");
        *self.task.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(tokio::spawn(serve(listener, self.shared.clone())));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Mutex<Shared>>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(session(stream, shared.clone()));
    }
}

async fn session(stream: TcpStream, shared: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let mut s = BufReader::new(stream);
    async fn say(s: &mut BufReader<TcpStream>, text: &str) -> std::io::Result<()> {
        s.get_mut().write_all(text.as_bytes()).await?;
        s.get_mut().flush().await
    }
    async fn line(s: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
        let mut l = String::new();
        if s.read_line(&mut l).await? == 0 {
            return Ok(None);
        }
        Ok(Some(l.trim_end_matches(['\r', '\n']).to_string()))
    }
    say(&mut s, "220 sink.test ESMTP ready\r\n").await?;
    let mut from = None;
    let mut rcpt = Vec::new();
    let mut auth = None;
    while let Some(cmd) = line(&mut s).await? {
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            say(&mut s, "250-sink.test hello\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760\r\n").await?;
        } else if upper.starts_with("HELO") || upper == "NOOP" {
            say(&mut s, "250 ok\r\n").await?;
        } else if let Some(token) = upper
            .strip_prefix("AUTH PLAIN ")
            .map(|_| cmd[11..].to_string())
        {
            let raw = B64.decode(token.trim()).unwrap_or_default();
            let parts: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            auth = parts
                .get(1)
                .zip(parts.get(2))
                .map(|(u, p)| (u.clone(), p.clone()));
            say(&mut s, "235 2.7.0 authenticated\r\n").await?;
        } else if upper == "AUTH LOGIN" {
            say(&mut s, "334 VXNlcm5hbWU6\r\n").await?;
            let user = line(&mut s).await?.unwrap_or_default();
            say(&mut s, "334 UGFzc3dvcmQ6\r\n").await?;
            let pass = line(&mut s).await?.unwrap_or_default();
            let d =
                |x: &str| String::from_utf8_lossy(&B64.decode(x).unwrap_or_default()).into_owned();
            auth = Some((d(&user), d(&pass)));
            say(&mut s, "235 2.7.0 authenticated\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            let refuse = shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .refuse
                .clone();
            match refuse {
                Some((code, text)) => say(&mut s, &format!("{code} {text}\r\n")).await?,
                None => {
                    from = Some(address(&cmd[10..]));
                    say(&mut s, "250 2.1.0 ok\r\n").await?;
                }
            }
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                say(&mut s, "503 5.5.1 MAIL first\r\n").await?;
                continue;
            }
            rcpt.push(address(&cmd[8..]));
            say(&mut s, "250 2.1.5 ok\r\n").await?;
        } else if upper == "DATA" {
            if rcpt.is_empty() {
                say(&mut s, "503 5.5.1 RCPT first\r\n").await?;
                continue;
            }
            say(&mut s, "354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                let Some(l) = line(&mut s).await? else {
                    return Ok(());
                };
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .messages
                .push(SinkMessage {
                    mail_from: from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data,
                    auth: auth.clone(),
                });
            say(&mut s, "250 2.0.0 queued\r\n").await?;
        } else if upper == "RSET" {
            from = None;
            rcpt.clear();
            say(&mut s, "250 ok\r\n").await?;
        } else if upper == "QUIT" {
            say(&mut s, "221 bye\r\n").await?;
            return Ok(());
        } else {
            say(&mut s, "502 5.5.2 not implemented\r\n").await?;
        }
    }
    Ok(())
}

/// `<a@b>` (with optional parameters after it) → `a@b`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}
