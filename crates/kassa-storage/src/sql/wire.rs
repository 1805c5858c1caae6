//! PostgreSQL's wire protocol, as much of it as Kassa speaks: one connection, owned by whoever
//! holds it from the pool, on which a *flight* of statements goes out as one write and is
//! answered as one read.
//!
//! Why not a general driver: a general driver (`tokio-postgres`) ends every statement with its
//! own `Sync`, and the server answers each `Sync` with `ReadyForQuery` and a flush of its socket
//! — a send, a loopback delivery and a wake-up of Kassa per statement, and one more each for a
//! transaction's `BEGIN` and `COMMIT`. Here a flight's statements (with its `BEGIN` and `COMMIT`)
//! end with one `Sync`, so the server flushes once per flight. The statements of a flight form
//! one run on the server: the first error skips the rest, up to the `Sync`.
//!
//! Parameters are 64-bit integers or text and results are read in binary; statements are
//! prepared on first use, in the flight that first runs them (`Parse` + `Describe` before the
//! `Bind`), under names never reused on the connection. Authentication: trust, password, MD5
//! and SCRAM-SHA-256. No TLS (as before: Kassa reaches PostgreSQL on a private network or a
//! Unix socket).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::backend::{DataRowBody, ErrorFields, Message};
use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::Config;

use super::{Arg, Output, Query, Row, Value, Want};
use crate::StorageError;

/// Statements kept prepared per connection; past this the server is told to forget them all and
/// the cache starts over (Kassa's own statements are far fewer; only ad-hoc ones, such as list
/// filters, vary).
pub(super) const STATEMENT_CACHE: usize = 512;

// Type oids (pg_type.dat).
const BOOL: u32 = 16;
const BYTEA: u32 = 17;
const NAME: u32 = 19;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const FLOAT8: u32 = 701;
const BPCHAR: u32 = 1042;
const VARCHAR: u32 = 1043;
const VOID: u32 = 2278;

/// What went wrong on a PostgreSQL connection.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The server refused a statement (or the connection), with its SQLSTATE.
    #[error("{severity}: {message}{}", detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Server {
        severity: String,
        code: String,
        message: String,
        detail: Option<String>,
        constraint: Option<String>,
    },
    /// The connection failed or the server closed it.
    #[error("the connection to PostgreSQL failed: {0}")]
    Io(#[from] io::Error),
    /// The connection was closed before the answer came.
    #[error("the connection to PostgreSQL was closed")]
    Closed,
    /// The server said something this client does not expect, or the URL asks for something it
    /// does not do.
    #[error("PostgreSQL: {0}")]
    Protocol(String),
    /// A value came back that Kassa cannot read (a column of a type it does not use).
    #[error("{0}")]
    Decode(String),
}

impl PgError {
    /// The SQLSTATE the server gave, if it refused something.
    pub fn code(&self) -> Option<&str> {
        match self {
            PgError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The server's message (without severity and detail), or the error's text.
    pub fn message(&self) -> String {
        match self {
            PgError::Server { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The server ended the session (closed it, or said it is shutting down or restarting).
    pub fn is_gone(&self) -> bool {
        match self {
            PgError::Io(_) | PgError::Closed => true,
            // admin_shutdown, crash_shutdown, cannot_connect_now
            PgError::Server { code, .. } => matches!(code.as_str(), "57P01" | "57P02" | "57P03"),
            PgError::Protocol(_) | PgError::Decode(_) => false,
        }
    }

    fn from_fields(mut fields: ErrorFields<'_>) -> PgError {
        use fallible_iterator::FallibleIterator;
        use postgres_protocol::message::backend::ErrorField;
        let (mut severity, mut code, mut message) = (String::new(), String::new(), String::new());
        let (mut detail, mut constraint) = (None, None);
        while let Ok(Some(f)) = fields.next() {
            let f: ErrorField<'_> = f;
            let v = String::from_utf8_lossy(f.value_bytes()).into_owned();
            match f.type_() {
                b'V' => severity = v,
                b'S' if severity.is_empty() => severity = v,
                b'C' => code = v,
                b'M' => message = v,
                b'D' => detail = Some(v),
                b'n' => constraint = Some(v),
                _ => {}
            }
        }
        PgError::Server {
            severity,
            code,
            message,
            detail,
            constraint,
        }
    }
}

/// The transport: TCP or a Unix socket.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// A statement prepared on this connection: its name there and its result columns.
struct Prepared {
    name: String,
    columns: Arc<[Box<str>]>,
    types: Arc<[u32]>,
}

/// One connection.
pub(super) struct Wire {
    io: Box<dyn Io>,
    read: BytesMut,
    write: BytesMut,
    statements: HashMap<String, Prepared>,
    next_name: u64,
    /// The server's transaction state after the last flight: `I` idle, `T` in a transaction,
    /// `E` in a failed one.
    status: u8,
    /// The protocol's state is unknown (a flight was cut off, or the connection failed): not to
    /// be used again.
    broken: bool,
}

/// A flight that failed: its first error, and how far it got.
#[derive(Debug)]
pub(super) struct Failed {
    pub error: PgError,
    pub stage: Stage,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stage {
    /// Nothing was sent.
    Unsent,
    /// The server refused the flight's opening (`BEGIN`) itself.
    Begin,
    /// The flight went out; its statements may have run.
    Sent,
}

/// Statements with what is wanted of each.
pub(super) type Steps<'a, 'q> = [(&'a Query<'q>, Want)];

/// Where each statement of a flight stands while its answers are read.
struct Pending {
    /// Its key in `Wire::statements` (empty for `DEALLOCATE ALL`, which is not kept).
    key: String,
    /// Prepared in this flight: its `ParseComplete` and descriptions come first.
    new: bool,
    want: Want,
    /// A framing statement (`BEGIN`, `COMMIT`, …): its answer is not handed back.
    framing: bool,
    /// A `Sync` follows it: its group's `ReadyForQuery` comes after its answer.
    sync_after: bool,
}

impl Pending {
    /// `DEALLOCATE ALL`, run as the unnamed statement.
    fn deallocate() -> Pending {
        Pending {
            key: String::new(),
            new: false,
            want: Want::Nothing,
            framing: true,
            sync_after: false,
        }
    }
}

impl Wire {
    /// Connects, starts the session and authenticates, within the URL's connect timeout.
    pub(super) async fn connect(config: &Config) -> Result<Wire, PgError> {
        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(Duration::from_secs(5));
        tokio::time::timeout(timeout, Self::connect_inner(config))
            .await
            .map_err(|_| {
                PgError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connecting to PostgreSQL timed out",
                ))
            })?
    }

    async fn connect_inner(config: &Config) -> Result<Wire, PgError> {
        if config.get_ssl_mode() == SslMode::Require {
            return Err(PgError::Protocol(
                "sslmode=require: Kassa connects to PostgreSQL without TLS (use a private network or a Unix socket)".into(),
            ));
        }
        if !config.get_hostaddrs().is_empty() {
            return Err(PgError::Protocol(
                "hostaddr is not supported; give the address as host".into(),
            ));
        }
        let user = config
            .get_user()
            .ok_or_else(|| PgError::Protocol("the database URL names no user".into()))?;
        let hosts = config.get_hosts();
        if hosts.is_empty() {
            return Err(PgError::Protocol("the database URL names no host".into()));
        }
        let ports = config.get_ports();
        let mut last = None;
        for (i, host) in hosts.iter().enumerate() {
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            let io: io::Result<Box<dyn Io>> = match host {
                Host::Tcp(h) => match tokio::net::TcpStream::connect((h.as_str(), port)).await {
                    Ok(s) => s.set_nodelay(true).map(|()| Box::new(s) as Box<dyn Io>),
                    Err(e) => Err(e),
                },
                #[cfg(unix)]
                Host::Unix(dir) => {
                    tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                        .await
                        .map(|s| Box::new(s) as Box<dyn Io>)
                }
            };
            match io {
                Ok(io) => {
                    let mut wire = Wire {
                        io,
                        read: BytesMut::with_capacity(8192),
                        write: BytesMut::with_capacity(8192),
                        statements: HashMap::new(),
                        next_name: 0,
                        status: b'I',
                        broken: true,
                    };
                    wire.startup(config, user).await?;
                    wire.broken = false;
                    return Ok(wire);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(PgError::Io(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no host to connect to")
        })))
    }

    async fn startup(&mut self, config: &Config, user: &str) -> Result<(), PgError> {
        let mut params: Vec<(&str, &str)> = vec![("user", user), ("client_encoding", "UTF8")];
        if let Some(db) = config.get_dbname() {
            params.push(("database", db));
        }
        if let Some(app) = config.get_application_name() {
            params.push(("application_name", app));
        }
        if let Some(options) = config.get_options() {
            params.push(("options", options));
        }
        frontend::startup_message(params.iter().copied(), &mut self.write)?;
        self.send().await?;
        let password = config.get_password();
        let need_password = || {
            password.ok_or_else(|| {
                PgError::Protocol("the server asks for a password and the URL gives none".into())
            })
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            match self.next().await? {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(need_password()?, &mut self.write)?;
                    self.send().await?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = postgres_protocol::authentication::md5_hash(
                        user.as_bytes(),
                        need_password()?,
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.write)?;
                    self.send().await?;
                }
                Message::AuthenticationSasl(body) => {
                    use fallible_iterator::FallibleIterator;
                    let mut mechanisms = body.mechanisms();
                    let mut scram_offered = false;
                    while let Some(m) = mechanisms.next()? {
                        scram_offered |= m == SCRAM_SHA_256;
                    }
                    if !scram_offered {
                        return Err(PgError::Protocol(
                            "the server offers no SASL mechanism this client speaks".into(),
                        ));
                    }
                    let s = ScramSha256::new(need_password()?, ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut self.write)?;
                    self.send().await?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| PgError::Protocol("SASL out of order".into()))?;
                    s.update(body.data())?;
                    frontend::sasl_response(s.message(), &mut self.write)?;
                    self.send().await?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    scram
                        .as_mut()
                        .ok_or_else(|| PgError::Protocol("SASL out of order".into()))?
                        .finish(body.data())?;
                }
                Message::BackendKeyData(_) => {}
                Message::ReadyForQuery(body) => {
                    self.status = body.status();
                    return Ok(());
                }
                Message::ErrorResponse(body) => return Err(PgError::from_fields(body.fields())),
                _ => {
                    return Err(PgError::Protocol(
                        "the server asks for an authentication method this client does not speak"
                            .into(),
                    ))
                }
            }
        }
    }

    /// Writes what is buffered.
    async fn send(&mut self) -> Result<(), PgError> {
        let out = self.io.write_all(&self.write).await;
        self.write.clear();
        out?;
        self.io.flush().await?;
        Ok(())
    }

    /// The next message that is not the server talking on its own (notices, parameter changes,
    /// notifications).
    async fn next(&mut self) -> Result<Message, PgError> {
        loop {
            if let Some(m) = Message::parse(&mut self.read)? {
                match m {
                    Message::NoticeResponse(_)
                    | Message::ParameterStatus(_)
                    | Message::NotificationResponse(_) => continue,
                    other => return Ok(other),
                }
            }
            self.read.reserve(8192);
            if self.io.read_buf(&mut self.read).await? == 0 {
                return Err(PgError::Closed);
            }
        }
    }

    /// Whether the connection can be used: not cut off, and the server has not closed it or said
    /// it is going away while it sat idle. Does not wait.
    pub(super) fn usable(&mut self) -> bool {
        if self.broken {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        let mut chunk = [0u8; 1024];
        loop {
            let mut buf = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
                Poll::Pending => break,
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    self.broken = true;
                    return false;
                }
                Poll::Ready(Ok(())) => self.read.extend_from_slice(buf.filled()),
                Poll::Ready(Err(_)) => {
                    self.broken = true;
                    return false;
                }
            }
        }
        // Whatever came unasked: notices and parameter changes are fine; an error (a shutdown
        // notice) ends the session.
        loop {
            match Message::parse(&mut self.read) {
                Ok(None) => return true,
                Ok(Some(Message::ErrorResponse(_))) | Err(_) => {
                    self.broken = true;
                    return false;
                }
                Ok(Some(_)) => {}
            }
        }
    }

    /// A flight was cut off or the connection failed: it is not to be used again.
    pub(super) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether a transaction is open on the server (one left by a dropped transaction).
    pub(super) fn in_transaction(&self) -> bool {
        self.status != b'I'
    }

    /// Says goodbye to the server (best effort) and closes the socket.
    pub(super) async fn terminate(mut self) {
        frontend::terminate(&mut self.write);
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = self.send().await;
            let _ = self.io.shutdown().await;
        })
        .await;
    }

    /// Runs `opening` (statements without arguments, such as `BEGIN`), then the steps, then
    /// `closing`, as one flight: one write, ended by one `Sync` — or, with `sync_each`, a `Sync`
    /// after every step, so that each runs (and commits) on its own. The steps' answers, or the
    /// first error.
    pub(super) async fn flight(
        &mut self,
        opening: &[&'static str],
        steps: &Steps<'_, '_>,
        closing: &[&'static str],
        sync_each: bool,
    ) -> Result<Vec<Output>, Failed> {
        let unsent = |error| Failed {
            error,
            stage: Stage::Unsent,
        };
        if self.broken {
            return Err(unsent(PgError::Closed));
        }
        let mut pending = Vec::with_capacity(opening.len() + steps.len() + closing.len() + 1);
        self.write.clear();
        if self.statements.len() >= STATEMENT_CACHE {
            // Forget them all on the server too, first thing in this flight.
            self.statements.clear();
            self.encode_unprepared("DEALLOCATE ALL").map_err(unsent)?;
            pending.push(Pending::deallocate());
        }
        let opened = pending.len();
        if let Err(error) = self.encode_all(opening, steps, closing, sync_each, &mut pending) {
            // Nothing goes out: forget what this flight would have prepared.
            for p in pending.iter().filter(|p| p.new) {
                self.statements.remove(&p.key);
            }
            self.write.clear();
            return Err(unsent(error));
        }

        // From here until the answer to the last Sync is read, the connection's state is in
        // the air: a flight cut off (its future dropped) leaves it unusable.
        self.broken = true;
        let sent = |error| Failed {
            error,
            stage: Stage::Sent,
        };
        let write = self.io.write_all(&self.write).await;
        self.write.clear();
        // Whether the server got some of it is unknown; that it can no longer answer is not.
        write.map_err(|e| sent(e.into()))?;
        self.io.flush().await.map_err(|e| sent(e.into()))?;

        let mut outs = Vec::with_capacity(steps.len());
        let mut failure: Option<Failed> = None;
        let mut corrupt: Option<String> = None;
        // After an error the server skips everything up to the next Sync.
        let mut skipping = false;
        for (i, p) in pending.iter().enumerate() {
            if skipping {
                if p.new {
                    // Never parsed.
                    self.statements.remove(&p.key);
                }
            } else {
                match self.answer(p).await {
                    Ok(Ok(out)) => {
                        if !p.framing {
                            outs.push(out);
                        }
                    }
                    Ok(Err(decode)) => {
                        corrupt.get_or_insert(decode.to_string());
                    }
                    Err(error) => {
                        if p.new {
                            self.statements.remove(&p.key);
                        }
                        let refused = matches!(error, PgError::Server { .. });
                        let stage = if refused && i == opened && !opening.is_empty() {
                            Stage::Begin
                        } else {
                            Stage::Sent
                        };
                        if error.is_gone() || matches!(error, PgError::Protocol(_)) {
                            // The session is over, or this client lost its place in the
                            // conversation: the connection stays marked broken.
                            return Err(Failed { error, stage });
                        }
                        failure.get_or_insert(Failed { error, stage });
                        skipping = true;
                    }
                }
            }
            if p.sync_after {
                self.ready(skipping).await.map_err(sent)?;
                skipping = false;
            }
        }
        self.broken = false;
        if let Some(f) = failure {
            return Err(f);
        }
        if let Some(e) = corrupt {
            return Err(sent(PgError::Decode(e)));
        }
        Ok(outs)
    }

    /// The flight's messages, in order, up to its last `Sync`.
    fn encode_all(
        &mut self,
        opening: &[&'static str],
        steps: &Steps<'_, '_>,
        closing: &[&'static str],
        sync_each: bool,
        pending: &mut Vec<Pending>,
    ) -> Result<(), PgError> {
        for sql in opening {
            pending.push(self.encode(sql, &[], Want::Nothing, true)?);
        }
        for (i, (q, want)) in steps.iter().enumerate() {
            let mut p = self.encode(q.sql, &q.args, *want, false)?;
            if sync_each && i + 1 < steps.len() {
                frontend::sync(&mut self.write);
                p.sync_after = true;
            }
            pending.push(p);
        }
        for sql in closing {
            pending.push(self.encode(sql, &[], Want::Nothing, true)?);
        }
        frontend::sync(&mut self.write);
        if let Some(last) = pending.last_mut() {
            last.sync_after = true;
        }
        Ok(())
    }

    /// The next message, if it is the one `ok` accepts; the server's refusal, or a protocol
    /// error naming `what` was expected.
    async fn expect(
        &mut self,
        what: &str,
        ok: impl Fn(&Message) -> bool,
    ) -> Result<Message, PgError> {
        match self.next().await? {
            m if ok(&m) => Ok(m),
            Message::ErrorResponse(b) => Err(PgError::from_fields(b.fields())),
            _ => Err(PgError::Protocol(format!("expected {what}"))),
        }
    }

    /// Reads up to the answer to a `Sync`, skipping what comes before it after an error.
    async fn ready(&mut self, skipping: bool) -> Result<(), PgError> {
        loop {
            match self.next().await? {
                Message::ReadyForQuery(body) => {
                    self.status = body.status();
                    return Ok(());
                }
                // A shutdown notice after the error.
                Message::ErrorResponse(b) if skipping => {
                    let e = PgError::from_fields(b.fields());
                    if e.is_gone() {
                        return Err(e);
                    }
                }
                _ if skipping => continue,
                _ => {
                    return Err(PgError::Protocol(
                        "unexpected message before ReadyForQuery".into(),
                    ))
                }
            }
        }
    }

    /// Adds a statement's messages to the write buffer: `Parse` and `Describe` the first time,
    /// then `Bind` (integers and text, binary results) and `Execute`.
    fn encode(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        want: Want,
        framing: bool,
    ) -> Result<Pending, PgError> {
        let mut key = String::with_capacity(args.len() + 1 + sql.len());
        key.extend(args.iter().map(|a| match a {
            Arg::Int(_) => 'i',
            Arg::Text(_) => 't',
        }));
        key.push('\0');
        key.push_str(sql);
        let bad =
            |e: io::Error| PgError::Protocol(format!("a statement could not be encoded: {e}"));
        let new = !self.statements.contains_key(&key);
        let name = if new {
            let name = format!("k{}", self.next_name);
            self.next_name += 1;
            let types = args.iter().map(|a| match a {
                Arg::Int(_) => INT8,
                Arg::Text(_) => TEXT,
            });
            frontend::parse(&name, sql, types, &mut self.write).map_err(bad)?;
            frontend::describe(b'S', &name, &mut self.write).map_err(bad)?;
            name
        } else {
            self.statements
                .get(&key)
                .map(|p| p.name.clone())
                .unwrap_or_default()
        };
        let formats: &[i16] = if args.is_empty() { &[] } else { &[1] };
        frontend::bind(
            "",
            &name,
            formats.iter().copied(),
            args.iter(),
            |a, buf| {
                Ok(match a {
                    Arg::Int(Some(v)) => {
                        buf.extend_from_slice(&v.to_be_bytes());
                        IsNull::No
                    }
                    Arg::Text(Some(s)) => {
                        buf.extend_from_slice(s.as_bytes());
                        IsNull::No
                    }
                    Arg::Int(None) | Arg::Text(None) => IsNull::Yes,
                })
            },
            [1i16],
            &mut self.write,
        )
        .map_err(|e| match e {
            frontend::BindError::Conversion(e) => {
                PgError::Protocol(format!("a statement could not be encoded: {e}"))
            }
            frontend::BindError::Serialization(e) => bad(e),
        })?;
        frontend::execute("", 0, &mut self.write).map_err(bad)?;
        if new {
            // Its columns are filled in when its description comes back.
            self.statements.insert(
                key.clone(),
                Prepared {
                    name,
                    columns: Arc::from(Vec::new()),
                    types: Arc::from(Vec::new()),
                },
            );
        }
        Ok(Pending {
            key,
            new,
            want,
            framing,
            sync_after: false,
        })
    }

    /// A statement run without preparing it (the unnamed statement), for `DEALLOCATE ALL`.
    fn encode_unprepared(&mut self, sql: &str) -> Result<(), PgError> {
        let bad = |e: io::Error| PgError::Protocol(format!("{sql} could not be encoded: {e}"));
        frontend::parse("", sql, std::iter::empty(), &mut self.write).map_err(bad)?;
        frontend::bind(
            "",
            "",
            std::iter::empty(),
            std::iter::empty::<()>(),
            |(), _| Ok(IsNull::Yes),
            std::iter::empty(),
            &mut self.write,
        )
        .map_err(|_| PgError::Protocol(format!("{sql} could not be encoded")))?;
        frontend::execute("", 0, &mut self.write).map_err(bad)?;
        Ok(())
    }

    /// Reads one statement's answer: its rows and the rows it changed. The outer error is the
    /// server's (or the connection's); the inner one a row Kassa cannot read, after which the
    /// answer was still read to its end.
    async fn answer(&mut self, p: &Pending) -> Result<Result<Output, StorageError>, PgError> {
        // DEALLOCATE ALL (run unnamed) and a statement prepared in this flight: ParseComplete.
        if p.key.is_empty() || p.new {
            self.expect("ParseComplete", |m| matches!(m, Message::ParseComplete))
                .await?;
        }
        if p.new {
            self.expect("ParameterDescription", |m| {
                matches!(m, Message::ParameterDescription(_))
            })
            .await?;
            let described = self
                .expect("RowDescription", |m| {
                    matches!(m, Message::RowDescription(_) | Message::NoData)
                })
                .await?;
            let (mut columns, mut types): (Vec<Box<str>>, Vec<u32>) = (Vec::new(), Vec::new());
            if let Message::RowDescription(body) = described {
                use fallible_iterator::FallibleIterator;
                let mut fields = body.fields();
                while let Some(f) = fields.next()? {
                    columns.push(Box::from(f.name()));
                    types.push(f.type_oid());
                }
            }
            if let Some(prepared) = self.statements.get_mut(&p.key) {
                prepared.columns = columns.into();
                prepared.types = types.into();
            }
        }
        self.expect("BindComplete", |m| matches!(m, Message::BindComplete))
            .await?;
        let (columns, types) = match self.statements.get(&p.key) {
            Some(s) => (s.columns.clone(), s.types.clone()),
            None => (Arc::from(Vec::new()), Arc::from(Vec::new())),
        };
        let mut rows = Vec::new();
        let mut bad = None;
        loop {
            match self.next().await? {
                Message::DataRow(body) => {
                    if p.want == Want::Nothing || (p.want == Want::One && !rows.is_empty()) {
                        continue;
                    }
                    match decode_row(&body, &columns, &types) {
                        Ok(row) => rows.push(row),
                        Err(e) => {
                            bad.get_or_insert(e);
                        }
                    }
                }
                Message::CommandComplete(body) => {
                    let affected = body
                        .tag()
                        .ok()
                        .and_then(|t| t.rsplit(' ').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    return Ok(match bad {
                        Some(e) => Err(e),
                        None => Ok(Output { rows, affected }),
                    });
                }
                Message::EmptyQueryResponse => return Ok(Ok(Output { rows, affected: 0 })),
                Message::ErrorResponse(b) => return Err(PgError::from_fields(b.fields())),
                _ => return Err(PgError::Protocol("unexpected message in a result".into())),
            }
        }
    }
}

/// A row in binary format as Kassa's values.
fn decode_row(
    body: &DataRowBody,
    columns: &Arc<[Box<str>]>,
    types: &[u32],
) -> Result<Row, StorageError> {
    use fallible_iterator::FallibleIterator;
    let buf = body.buffer();
    let mut values = Vec::with_capacity(types.len());
    let mut ranges = body.ranges();
    let mut i = 0;
    while let Some(range) = ranges
        .next()
        .map_err(|e| StorageError::Corrupt(format!("a row from PostgreSQL: {e}")))?
    {
        let name = columns.get(i).map_or("?", |c| c);
        let ty = types.get(i).copied().unwrap_or(0);
        i += 1;
        let Some(range) = range else {
            values.push(Value::Null);
            continue;
        };
        let raw = &buf[range];
        let bad =
            || StorageError::Corrupt(format!("column {name}: a malformed value of type {ty}"));
        let v = match ty {
            INT8 => Value::Int(i64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
            INT4 => Value::Int(i32::from_be_bytes(raw.try_into().map_err(|_| bad())?).into()),
            INT2 => Value::Int(i16::from_be_bytes(raw.try_into().map_err(|_| bad())?).into()),
            BOOL => Value::Int(i64::from(*raw.first().ok_or_else(bad)? != 0)),
            TEXT | VARCHAR | BPCHAR | NAME => {
                Value::Text(String::from_utf8(raw.to_vec()).map_err(|_| bad())?)
            }
            FLOAT8 => Value::Real(f64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
            BYTEA => Value::Blob(raw.to_vec()),
            VOID => Value::Null,
            other => {
                return Err(StorageError::Corrupt(format!(
                    "column {name} has type oid {other}, which Kassa does not read"
                )))
            }
        };
        values.push(v);
    }
    Ok(Row {
        columns: columns.clone(),
        values,
    })
}
