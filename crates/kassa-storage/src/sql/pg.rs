//! PostgreSQL through `tokio-postgres`: a small pool of connections, each with its own cache of
//! prepared statements, and transactions whose `BEGIN` travels with their first statement.
//!
//! Round trips are what a payment costs PostgreSQL (each wakes a backend: a read, a send, two
//! context switches), so none is spent that is not needed:
//! - a connection is not pinged before it is handed out. A connection the server closed (a
//!   restart) is noticed by its own task as the server says so, and is never handed out again;
//!   a read or the first statement of a transaction caught on one that dies at that moment is
//!   run again on a fresh connection (nothing of it can have been committed);
//! - `BEGIN` is sent in the same flight as the transaction's first statement, statements whose
//!   answers are looked at only after the last go out together ([`super::Batch`]), and a
//!   transaction whose statements carry their own conditions goes out whole, `COMMIT` included
//!   ([`super::Batch::commit`]);
//! - a transaction may commit without waiting for the disk ([`super::Writer::begin_async_commit`]),
//!   for the few writes whose loss in a server crash the next steps survive;
//! - a statement is prepared once per connection, with its parameters' types given (64-bit
//!   integer or text, as Kassa binds them), and then only bound and executed.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::{aborted, Arg, Output, Query, Row, Value, Want};
use crate::error::DbError;
use crate::StorageError;

/// Statements kept prepared per connection; past this the cache starts over (Kassa's own
/// statements are far fewer; only ad-hoc ones, such as list filters, vary).
const STATEMENT_CACHE: usize = 512;

/// A pool of PostgreSQL connections, made on demand up to its size.
#[derive(Clone)]
pub struct PgPool(Arc<PoolInner>);

struct PoolInner {
    config: tokio_postgres::Config,
    /// Boxed so a connection moves in and out of the pool (and a transaction) as one pointer.
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<PgConn>>>,
    permits: Arc<Semaphore>,
    size: usize,
    acquire_timeout: Duration,
    closed: AtomicBool,
}

struct PgConn {
    client: Client,
    task: JoinHandle<()>,
    statements: HashMap<String, Prepared>,
    /// The server ended this session; its task may not have noticed yet.
    gone: bool,
}

#[derive(Clone)]
struct Prepared {
    statement: Statement,
    columns: Arc<[Box<str>]>,
}

/// A connection taken from the pool; back to it when dropped (unless the server closed it).
pub(super) struct Pooled {
    conn: Option<Box<PgConn>>,
    pool: Arc<PoolInner>,
    _permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.0.idle.lock().map_or(0, |v| v.len());
        write!(
            f,
            "PgPool {{ size: {}, in use: {}, idle: {idle} }}",
            self.0.size,
            self.0.size - self.0.permits.available_permits()
        )
    }
}

impl PgPool {
    /// A pool for `url` (`postgres://user@host:port/db?…`) of at most `size` connections. The
    /// first connection is made now, so a wrong address or password fails here.
    pub async fn connect(
        url: &str,
        size: usize,
        acquire_timeout: Duration,
    ) -> Result<PgPool, StorageError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(DbError::Postgres)?;
        if config.get_application_name().is_none() {
            config.application_name("kassa");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let pool = PgPool(Arc::new(PoolInner {
            config,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
            size: size.max(1),
            acquire_timeout,
            closed: AtomicBool::new(false),
        }));
        let first = pool.0.connect().await.map_err(DbError::Postgres)?;
        pool.0.put_back(first);
        Ok(pool)
    }

    /// A connection: an idle one, or a new one while the pool has room. Waits (up to the
    /// acquire timeout) for one to come back, or for the server to answer again.
    pub(super) async fn acquire(&self) -> Result<Pooled, StorageError> {
        let deadline = Instant::now() + self.0.acquire_timeout;
        let permit = tokio::time::timeout_at(deadline, self.0.permits.clone().acquire_owned())
            .await
            .map_err(|_| DbError::Pool("timed out waiting for a free database connection".into()))?
            .map_err(|_| DbError::Pool("the pool is closed".into()))?;
        let conn = self.0.connection(deadline).await?;
        Ok(Pooled {
            conn: Some(conn),
            pool: self.0.clone(),
            _permit: permit,
        })
    }

    /// Closes the idle connections and refuses new work; waits until their sessions ended.
    pub async fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        let idle = std::mem::take(&mut *self.0.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in idle {
            let PgConn { client, task, .. } = *conn;
            drop(client); // the connection's task sends Terminate and ends
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl PoolInner {
    /// An idle connection the server has not closed, or a new one (for a caller holding a
    /// permit), retrying until `deadline` while the server does not answer.
    async fn connection(&self, deadline: Instant) -> Result<Box<PgConn>, StorageError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DbError::Pool("the pool is closed".into()).into());
        }
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(conn) if !conn.client.is_closed() => return Ok(conn),
                Some(_closed) => continue,
                None => break,
            }
        }
        self.fresh(deadline).await
    }

    /// A new connection, retrying until `deadline` while the server does not answer.
    async fn fresh(&self, deadline: Instant) -> Result<Box<PgConn>, StorageError> {
        let mut wait = Duration::from_millis(25);
        loop {
            let error = match self.connect().await {
                Ok(conn) => return Ok(conn),
                Err(e) => e,
            };
            if Instant::now() + wait > deadline {
                return Err(DbError::Pool(format!("cannot connect to PostgreSQL: {error}")).into());
            }
            tracing::debug!(target: "kassa_storage::sql", %error, "connecting to PostgreSQL failed; trying again");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    async fn connect(&self) -> Result<Box<PgConn>, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(target: "kassa_storage::sql", %error, "a PostgreSQL connection ended");
            }
        });
        Ok(Box::new(PgConn {
            client,
            task,
            statements: HashMap::new(),
            gone: false,
        }))
    }

    fn put_back(&self, conn: Box<PgConn>) {
        if conn.gone || conn.client.is_closed() || self.closed.load(Ordering::Acquire) {
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}

impl Pooled {
    /// A new connection in place of this one, which the server closed, under the same permit.
    /// Not an idle one: what ended this session (a restart) likely ended theirs, and their
    /// tasks may not have heard yet.
    async fn renew(&mut self) -> Result<(), StorageError> {
        self.conn = None;
        let deadline = Instant::now() + self.pool.acquire_timeout;
        self.conn = Some(self.pool.fresh(deadline).await?);
        Ok(())
    }

    fn conn(&mut self) -> &mut PgConn {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }
}

/// Statements with what is wanted of each.
pub(super) type Steps<'a, 'q> = [(&'a Query<'q>, Want)];

/// Runs statements on one connection, each on its own (autocommit), in one flight. Reads caught
/// on a connection that the server closed run once more on another.
pub(super) async fn pg_run(
    pool: &PgPool,
    steps: &Steps<'_, '_>,
    read: bool,
) -> Result<Vec<Output>, StorageError> {
    let mut conn = pool.acquire().await?;
    let raws = match conn.conn().run(steps, None, false).await {
        Err(f) if read && gone(&f.error) => {
            conn.renew().await?;
            conn.conn().run(steps, None, false).await?
        }
        other => other?,
    };
    raws.into_iter().map(Raw::decode).collect()
}

impl PgConn {
    async fn prepare(&mut self, q: &Query<'_>) -> Result<Prepared, tokio_postgres::Error> {
        let mut key = String::with_capacity(q.args.len() + 1 + q.sql.len());
        key.extend(q.args.iter().map(|a| match a {
            Arg::Int(_) => 'i',
            Arg::Text(_) => 't',
        }));
        key.push('\0');
        key.push_str(q.sql);
        if let Some(p) = self.statements.get(&key) {
            return Ok(p.clone());
        }
        let types: Vec<Type> = q
            .args
            .iter()
            .map(|a| match a {
                Arg::Int(_) => Type::INT8,
                Arg::Text(_) => Type::TEXT,
            })
            .collect();
        let statement = self.client.prepare_typed(q.sql, &types).await?;
        let columns = statement
            .columns()
            .iter()
            .map(|c| Box::from(c.name()))
            .collect();
        let p = Prepared { statement, columns };
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(key, p.clone());
        Ok(p)
    }

    /// The statements (after `begin`, the text that opens a transaction, if given; then
    /// `COMMIT` if `commit`), sent in one flight; the first error, if any, with how far the
    /// flight got.
    async fn run(
        &mut self,
        steps: &Steps<'_, '_>,
        begin: Option<&'static str>,
        commit: bool,
    ) -> Result<Vec<Raw>, Failed> {
        let out = self.run_inner(steps, begin, commit).await;
        if let Err(f) = &out {
            if gone(&f.error) {
                self.gone = true;
            }
        }
        out
    }

    async fn run_inner(
        &mut self,
        steps: &Steps<'_, '_>,
        begin: Option<&'static str>,
        commit: bool,
    ) -> Result<Vec<Raw>, Failed> {
        let mut prepared = Vec::with_capacity(steps.len());
        for (q, _) in steps {
            prepared.push(self.prepare(q).await.map_err(|error| Failed {
                error,
                stage: Stage::Unsent,
            })?);
        }
        let client = &self.client;
        let execs = all_in_order(
            steps
                .iter()
                .zip(&prepared)
                .map(|((q, want), p)| execute(client, p, q, *want))
                .collect(),
        );
        let framing = |sql: Option<&'static str>| async move {
            match sql {
                Some(sql) => client.batch_execute(sql).await,
                None => Ok(()),
            }
        };
        let (begun, (results, committed)) = in_order(
            framing(begin),
            in_order(execs, framing(commit.then_some("COMMIT"))),
        )
        .await;
        let sent = |error| Failed {
            error,
            stage: Stage::Sent,
        };
        begun.map_err(|error| Failed {
            error,
            stage: Stage::Begin,
        })?;
        let raws = results
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(sent)?;
        committed.map_err(sent)?;
        Ok(raws)
    }
}

/// A flight that failed: its first error, and how far it got.
struct Failed {
    error: tokio_postgres::Error,
    stage: Stage,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing was sent (preparing a statement failed).
    Unsent,
    /// The server refused the flight's `BEGIN`.
    Begin,
    /// The flight went out; its statements may have run.
    Sent,
}

impl Failed {
    /// Nothing of a transaction whose first flight failed so can have taken effect, and the
    /// session is gone: the transaction can run again, from the start, on a new connection. When
    /// the flight carried its `COMMIT`, only if nothing was sent or the server refused the
    /// `BEGIN` itself as it shut down (a closed socket alone does not say whether the commit
    /// ran).
    fn retry_elsewhere(&self, committing: bool) -> bool {
        gone(&self.error)
            && (!committing
                || self.stage == Stage::Unsent
                || (self.stage == Stage::Begin && self.error.code().is_some()))
    }
}

impl From<Failed> for StorageError {
    fn from(f: Failed) -> Self {
        DbError::Postgres(f.error).into()
    }
}

/// A statement's answer as the driver gave it; [`Raw::decode`] makes it Kassa's rows.
struct Raw {
    rows: Vec<tokio_postgres::Row>,
    affected: u64,
    columns: Arc<[Box<str>]>,
}

impl Raw {
    fn decode(self) -> Result<Output, StorageError> {
        Ok(Output {
            rows: self
                .rows
                .iter()
                .map(|r| pg_row(r, &self.columns))
                .collect::<Result<_, _>>()?,
            affected: self.affected,
        })
    }
}

async fn execute(
    client: &Client,
    p: &Prepared,
    q: &Query<'_>,
    want: Want,
) -> Result<Raw, tokio_postgres::Error> {
    let args: Vec<PgArg<'_, '_>> = q.args.iter().map(PgArg).collect();
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
    let (rows, affected) = match want {
        Want::Nothing => (Vec::new(), client.execute(&p.statement, &params).await?),
        Want::One | Want::All => {
            let mut rows = client.query(&p.statement, &params).await?;
            if want == Want::One {
                rows.truncate(1);
            }
            (rows, 0)
        }
    };
    Ok(Raw {
        rows,
        affected,
        columns: p.columns.clone(),
    })
}

/// A transaction on one pooled connection. `BEGIN` goes out with the first statement; a
/// transaction dropped before [`PgTx::commit`] is rolled back before its connection is reused.
pub struct PgTx {
    conn: Pooled,
    begun: bool,
    /// A statement failed: PostgreSQL has aborted the transaction, and `COMMIT` would roll it back.
    failed: bool,
    finished: bool,
    /// Its commit does not wait for the WAL to reach the disk ([`super::Writer::begin_async_commit`]).
    async_commit: bool,
}

impl PgTx {
    pub(super) fn new(conn: Pooled, async_commit: bool) -> PgTx {
        PgTx {
            conn,
            begun: false,
            failed: false,
            finished: false,
            async_commit,
        }
    }

    /// Runs statements in the transaction, in one flight (with `BEGIN`, the first time).
    pub(super) async fn run(&mut self, steps: &Steps<'_, '_>) -> Result<Vec<Output>, StorageError> {
        self.flight(steps, false).await
    }

    /// Runs statements in the transaction and commits it, in one flight (with `BEGIN` if it has
    /// not started); see [`super::Batch::commit`].
    pub(super) async fn run_and_commit(
        mut self,
        steps: &Steps<'_, '_>,
    ) -> Result<Vec<Output>, StorageError> {
        self.flight(steps, true).await
    }

    async fn flight(
        &mut self,
        steps: &Steps<'_, '_>,
        commit: bool,
    ) -> Result<Vec<Output>, StorageError> {
        if self.failed {
            return Err(aborted());
        }
        let begin = !self.begun;
        self.begun = true;
        let opening = begin.then_some(if self.async_commit {
            "BEGIN; SET LOCAL synchronous_commit TO OFF"
        } else {
            "BEGIN"
        });
        let mut out = self.conn.conn().run(steps, opening, commit).await;
        if begin {
            if let Err(f) = &out {
                if f.retry_elsewhere(commit) {
                    out = match self.conn.renew().await {
                        Ok(()) => self.conn.conn().run(steps, opening, commit).await,
                        Err(err) => {
                            self.failed = true;
                            return Err(err);
                        }
                    };
                }
            }
        }
        match out {
            Ok(raws) => {
                // Committed: nothing is left to roll back.
                self.finished = commit;
                raws.into_iter().map(Raw::decode).collect()
            }
            Err(f) => {
                self.failed = true;
                // A flight that carried its COMMIT ended the transaction either way (an aborted
                // one's COMMIT rolls it back); one whose BEGIN never went out has nothing to end.
                self.finished =
                    (commit && f.stage == Stage::Sent) || (begin && f.stage == Stage::Unsent);
                Err(f.into())
            }
        }
    }

    pub(super) async fn commit(mut self) -> Result<(), StorageError> {
        if self.failed {
            return Err(aborted());
        }
        if self.begun {
            let done = self.conn.conn().client.batch_execute("COMMIT").await;
            self.finished = done.is_ok();
            done.map_err(DbError::Postgres)?;
        }
        self.finished = true;
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if !self.begun || self.finished {
            return;
        }
        // Queue the ROLLBACK without waiting for its answer (the connection's task discards
        // it): whatever next uses this connection is sent after it.
        let Some(conn) = self.conn.conn.as_mut() else {
            return;
        };
        let mut rollback = pin!(conn.client.batch_execute("ROLLBACK"));
        // Ready(Err) only if the connection is gone; then it is not reused either.
        let _ = rollback
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
    }
}

/// The server ended the session (closed it, or said it is shutting down or restarting): the
/// connection is not to be used again. A read, or a transaction's first statement, caught by it
/// can safely run again elsewhere; a lone write may have completed, so it is not.
fn gone(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_some_and(|c| {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        })
}

/// Polls `a` then `b` until both are done, always in that order, so `a`'s request is sent first.
async fn in_order<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                ra = x;
                rb = y;
                Poll::Pending
            }
        }
    })
    .await
}

/// Polls the futures in their order until all are done: their requests go out in that order,
/// and each answer is read as it comes (the driver stops reading while one waits unread).
async fn all_in_order<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outs.into_iter().flatten().collect()
}

/// An argument as PostgreSQL receives it. Its `Debug` never shows the value: drivers log
/// parameters at debug level, and a parameter may be a secret.
struct PgArg<'a, 'q>(&'a Arg<'q>);

impl std::fmt::Debug for PgArg<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ToSql for PgArg<'_, '_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Arg::Int(Some(v)) => v.to_sql(ty, out),
            Arg::Text(Some(s)) => s.as_ref().to_sql(ty, out),
            Arg::Int(None) | Arg::Text(None) => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &Type) -> bool {
        // Statements are prepared with these types for the arguments' kinds.
        *ty == Type::INT8 || *ty == Type::TEXT
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Column `i` of `r` as `T` (NULL as `None`).
fn get<'r, T>(r: &'r tokio_postgres::Row, i: usize) -> Result<Option<T>, StorageError>
where
    T: tokio_postgres::types::FromSql<'r>,
{
    r.try_get::<_, Option<T>>(i)
        .map_err(|e| StorageError::Database(DbError::Postgres(e)))
}

fn pg_row(r: &tokio_postgres::Row, columns: &Arc<[Box<str>]>) -> Result<Row, StorageError> {
    let mut values = Vec::with_capacity(columns.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            get::<i64>(r, i)?.map(Value::Int)
        } else if *t == Type::INT4 {
            get::<i32>(r, i)?.map(|n| Value::Int(n.into()))
        } else if *t == Type::INT2 {
            get::<i16>(r, i)?.map(|n| Value::Int(n.into()))
        } else if *t == Type::BOOL {
            get::<bool>(r, i)?.map(|b| Value::Int(b.into()))
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(t) {
            get::<String>(r, i)?.map(Value::Text)
        } else if *t == Type::FLOAT8 {
            get::<f64>(r, i)?.map(Value::Real)
        } else if *t == Type::BYTEA {
            get::<Vec<u8>>(r, i)?.map(Value::Blob)
        } else if *t == Type::VOID {
            None
        } else {
            return Err(StorageError::Corrupt(format!(
                "column {} has type {t}, which Kassa does not read",
                col.name()
            )));
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row {
        columns: columns.clone(),
        values,
    })
}
