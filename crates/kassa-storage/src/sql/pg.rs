//! PostgreSQL through Kassa's own wire client ([`super::wire`]): a small pool of connections,
//! each with its own cache of prepared statements, and transactions whose `BEGIN` travels with
//! their first statement.
//!
//! Round trips are what a payment costs PostgreSQL (each wakes a backend: a read, a send, two
//! context switches), so none is spent that is not needed:
//! - a connection is not pinged before it is handed out. One the server closed while it sat idle
//!   (a restart) is noticed without waiting — its socket reads as closed, or holds the server's
//!   shutdown notice — and is never handed out again;
//!   a read or the first statement of a transaction caught on one that dies at that moment is
//!   run again on a fresh connection (nothing of it can have been committed);
//! - a flight ends in one `Sync`, so the server answers it with one flush, not one per statement;
//! - `BEGIN` is sent in the same flight as the transaction's first statement, statements whose
//!   answers are looked at only after the last go out together ([`super::Batch`]), and a
//!   transaction whose statements carry their own conditions goes out whole, `COMMIT` included
//!   ([`super::Batch::commit`]);
//! - a transaction may commit without waiting for the disk ([`super::Writer::begin_async_commit`]),
//!   for the few writes whose loss in a server crash the next steps survive;
//! - a statement is prepared once per connection, with its parameters' types given (64-bit
//!   integer or text, as Kassa binds them), and then only bound and executed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::wire::{Failed, PgError, Stage, Steps, Wire};
use super::{aborted, Output};
use crate::error::DbError;
use crate::StorageError;

/// A pool of PostgreSQL connections, made on demand up to its size.
#[derive(Clone)]
pub struct PgPool(Arc<PoolInner>);

struct PoolInner {
    config: tokio_postgres::Config,
    /// Boxed so a connection moves in and out of the pool (and a transaction) as one pointer.
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Wire>>>,
    permits: Arc<Semaphore>,
    size: usize,
    acquire_timeout: Duration,
    closed: AtomicBool,
}

/// A connection taken from the pool; back to it when dropped (unless it cannot be used again).
/// One dropped inside a transaction (a [`PgTx`] dropped before its commit) is rolled back first,
/// on a task of its own, holding its place in the pool until then.
pub(super) struct Pooled {
    conn: Option<Box<Wire>>,
    pool: Arc<PoolInner>,
    permit: Option<OwnedSemaphorePermit>,
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
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| PgError::Protocol(format!("the database URL: {e}")))
            .map_err(DbError::Postgres)?;
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
            permit: Some(permit),
        })
    }

    /// Closes the idle connections and refuses new work; waits until their sessions ended.
    pub async fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        let idle = std::mem::take(&mut *self.0.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in idle {
            conn.terminate().await;
        }
    }
}

impl PoolInner {
    /// An idle connection the server has not closed, or a new one (for a caller holding a
    /// permit), retrying until `deadline` while the server does not answer.
    async fn connection(&self, deadline: Instant) -> Result<Box<Wire>, StorageError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DbError::Pool("the pool is closed".into()).into());
        }
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(mut conn) => {
                    if conn.usable() {
                        return Ok(conn);
                    }
                }
                None => break,
            }
        }
        self.fresh(deadline).await
    }

    /// A new connection, retrying until `deadline` while the server does not answer.
    async fn fresh(&self, deadline: Instant) -> Result<Box<Wire>, StorageError> {
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

    async fn connect(&self) -> Result<Box<Wire>, PgError> {
        Ok(Box::new(Wire::connect(&self.config).await?))
    }

    /// Back to the idle list, unless cut off, left inside a transaction, or the pool closed
    /// (whether the server closed it meanwhile is checked when it is taken again).
    fn put_back(&self, conn: Box<Wire>) {
        if conn.is_broken() || conn.in_transaction() || self.closed.load(Ordering::Acquire) {
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
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if conn.in_transaction() && !conn.is_broken() {
            // A transaction left open (its PgTx dropped): roll it back before anyone else gets
            // the connection, keeping its permit until then. Without a runtime the connection
            // is closed instead, which ends the transaction on the server as well.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let pool = self.pool.clone();
                let permit = self.permit.take();
                runtime.spawn(async move {
                    if conn.flight(&[], &[], &["ROLLBACK"], false).await.is_ok() {
                        pool.put_back(conn);
                    }
                    drop(permit);
                });
            }
            return;
        }
        self.pool.put_back(conn);
    }
}

impl Pooled {
    /// A new connection in place of this one, which the server closed, under the same permit.
    /// Not an idle one: what ended this session (a restart) likely ended theirs, and their
    /// closing may not have been read yet.
    async fn renew(&mut self) -> Result<(), StorageError> {
        self.conn = None;
        let deadline = Instant::now() + self.pool.acquire_timeout;
        self.conn = Some(self.pool.fresh(deadline).await?);
        Ok(())
    }

    fn conn(&mut self) -> &mut Wire {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }
}

/// Runs statements on one connection in one flight, outside a transaction. Reads go out with
/// one `Sync` (one answer to wait for); writes each with their own, so that each commits on
/// its own as before. Reads caught on a connection that the server closed run once more on
/// another.
pub(super) async fn pg_run(
    pool: &PgPool,
    steps: &Steps<'_, '_>,
    read: bool,
) -> Result<Vec<Output>, StorageError> {
    let mut conn = pool.acquire().await?;
    let each = !read && steps.len() > 1;
    match conn.conn().flight(&[], steps, &[], each).await {
        Err(f) if read && f.error.is_gone() => {
            conn.renew().await?;
            Ok(conn.conn().flight(&[], steps, &[], each).await?)
        }
        other => Ok(other?),
    }
}

impl Failed {
    /// Nothing of a transaction whose first flight failed so can have taken effect, and the
    /// session is gone: the transaction can run again, from the start, on a new connection. When
    /// the flight carried its `COMMIT`, only if nothing was sent or the server refused the
    /// `BEGIN` itself as it shut down (a closed socket alone does not say whether the commit
    /// ran).
    fn retry_elsewhere(&self, committing: bool) -> bool {
        self.error.is_gone()
            && (!committing
                || self.stage == Stage::Unsent
                || (self.stage == Stage::Begin && self.error.code().is_some()))
    }
}

impl From<Failed> for StorageError {
    fn from(f: Failed) -> Self {
        match f.error {
            PgError::Decode(m) => StorageError::Corrupt(m),
            other => DbError::Postgres(other).into(),
        }
    }
}

/// A transaction on one pooled connection. `BEGIN` goes out with the first statement; a
/// transaction dropped before [`PgTx::commit`] is rolled back before its connection is reused.
pub struct PgTx {
    conn: Pooled,
    begun: bool,
    /// A statement failed: PostgreSQL has aborted the transaction, and `COMMIT` would roll it back.
    failed: bool,
    /// Its commit does not wait for the WAL to reach the disk ([`super::Writer::begin_async_commit`]).
    async_commit: bool,
}

impl PgTx {
    pub(super) fn new(conn: Pooled, async_commit: bool) -> PgTx {
        PgTx {
            conn,
            begun: false,
            failed: false,
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
        let opening: &[&'static str] = match (begin, self.async_commit) {
            (false, _) => &[],
            (true, false) => &["BEGIN"],
            (true, true) => &["BEGIN", "SET LOCAL synchronous_commit TO OFF"],
        };
        let closing: &[&'static str] = if commit { &["COMMIT"] } else { &[] };
        let mut out = self
            .conn
            .conn()
            .flight(opening, steps, closing, false)
            .await;
        if begin {
            if let Err(f) = &out {
                if f.retry_elsewhere(commit) {
                    out = match self.conn.renew().await {
                        Ok(()) => {
                            self.conn
                                .conn()
                                .flight(opening, steps, closing, false)
                                .await
                        }
                        Err(err) => {
                            self.failed = true;
                            return Err(err);
                        }
                    };
                }
            }
        }
        out.map_err(|f| {
            self.failed = true;
            f.into()
        })
    }

    pub(super) async fn commit(mut self) -> Result<(), StorageError> {
        if self.failed {
            return Err(aborted());
        }
        if self.begun {
            self.conn
                .conn()
                .flight(&[], &[], &["COMMIT"], false)
                .await?;
        }
        Ok(())
    }
}
