//! How a statement reaches the database: one small query API over two drivers.
//!
//! Every repository builds its statements with [`query`] — the same SQL text for both backends,
//! `$1`-style parameters — and runs them on the readers, the writer or a transaction ([`Target`]).
//! Rows come back as [`Row`]s of plain values (integers, text, NULL), read by column name.
//!
//! - **SQLite** runs through `rusqlite` on the calling task: a statement takes 10–50 µs, less than
//!   handing it to another thread and waking up for the answer (what a driver with a thread per
//!   connection does, twice per statement). The writer is one connection behind an async lock,
//!   held by a transaction until it commits or is dropped (a dropped transaction is rolled back at
//!   once); readers are a few connections beside it (WAL: they never wait for the writer). Another
//!   process holding the file's write lock (a `kassa worker` beside `kassa serve`) is waited for
//!   with async sleeps, never by blocking a runtime thread in SQLite's busy handler. A thread of
//!   its own copies the WAL back into the database file (checkpoints), so commits do not.
//! - **PostgreSQL** runs through Kassa's own client of the wire protocol ([`wire`]) and a pool of
//!   its own ([`pg`]): no ping before a connection is handed out, `BEGIN` sent with a
//!   transaction's first statement (and `COMMIT` with its last, for [`Batch::commit`]), one
//!   `Sync` per flight, statements prepared once per connection.

use std::borrow::Cow;
use std::sync::Arc;

mod pg;
mod sqlite;
mod wire;

pub use pg::PgPool;
use pg::{pg_run, PgTx};
use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlite::{busy_retry, sqlite_run};
pub use sqlite::{sqlite_connect, ReaderPool, SqliteWriter};
pub use wire::PgError;

use crate::StorageError;

/// A statement and its arguments; see [`query`].
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query<'q> {
    sql: &'q str,
    args: Vec<Arg<'q>>,
}

/// One bound argument. NULLs keep their type: PostgreSQL needs it.
#[derive(Debug, Clone)]
pub enum Arg<'q> {
    Int(Option<i64>),
    Text(Option<Cow<'q, str>>),
}

/// A statement to run: `query("SELECT … WHERE id = $1").bind(id).fetch_one(&self.pool)`.
pub fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: Vec::with_capacity(8),
    }
}

impl<'q> Query<'q> {
    /// Binds the next `$n`.
    pub fn bind(mut self, value: impl Into<Arg<'q>>) -> Self {
        self.args.push(value.into());
        self
    }

    pub async fn execute<'e>(self, on: impl Into<Target<'e>>) -> Result<Done, StorageError> {
        let out = self.run(on.into(), Want::Nothing).await?;
        Ok(Done {
            rows_affected: out.affected,
        })
    }

    pub async fn fetch_all<'e>(self, on: impl Into<Target<'e>>) -> Result<Vec<Row>, StorageError> {
        Ok(self.run(on.into(), Want::All).await?.rows)
    }

    pub async fn fetch_optional<'e>(
        self,
        on: impl Into<Target<'e>>,
    ) -> Result<Option<Row>, StorageError> {
        Ok(self.run(on.into(), Want::One).await?.rows.pop())
    }

    /// The first row; none is [`StorageError::NotFound`].
    pub async fn fetch_one<'e>(self, on: impl Into<Target<'e>>) -> Result<Row, StorageError> {
        self.fetch_optional(on).await?.ok_or(StorageError::NotFound)
    }

    async fn run(self, on: Target<'_>, want: Want) -> Result<Output, StorageError> {
        tracing::debug!(target: "kassa_storage::sql", sql = self.sql, "statement");
        self.run_quietly(on, want).await
    }

    async fn run_quietly(self, on: Target<'_>, want: Want) -> Result<Output, StorageError> {
        match on {
            Target::Readers(Readers::Sqlite(pool)) => {
                busy_retry(&mut (), |_| pool.with(|conn| sqlite_run(conn, &self, want))).await
            }
            Target::Writer(Writer::Sqlite(w)) => {
                let mut conn = w.lock.lock().await;
                let out = busy_retry(&mut *conn, |c| sqlite_run(c, &self, want)).await;
                w.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                out
            }
            Target::Tx(Tx::Sqlite(tx)) => {
                // As on PostgreSQL, a failed statement ends the transaction: nothing after it
                // runs, and it cannot commit.
                if tx.failed {
                    return Err(aborted());
                }
                let out = sqlite_run(&tx.conn, &self, want);
                tx.failed = out.is_err();
                Ok(out?)
            }
            Target::Readers(Readers::Pg(pool)) => one(pg_run(pool, &[(&self, want)], true).await),
            Target::Writer(Writer::Pg(pool)) => one(pg_run(pool, &[(&self, want)], false).await),
            Target::Tx(Tx::Pg(tx)) => one(tx.run(&[(&self, want)]).await),
        }
    }
}

fn one(outs: Result<Vec<Output>, StorageError>) -> Result<Output, StorageError> {
    outs?
        .pop()
        .ok_or_else(|| StorageError::Corrupt("a statement gave no answer".into()))
}

/// Statements sent together: on PostgreSQL in one flight — one round trip for all of them (and,
/// opening a transaction, its `BEGIN`) instead of one each; on SQLite one after the other. They
/// run in order, and the first error ends the batch (in a transaction, the transaction: nothing
/// after it runs, and it cannot commit). For statements whose answers are only looked at
/// after the last of them.
#[must_use = "a batch does nothing until it is run"]
#[derive(Default)]
pub struct Batch<'q> {
    steps: Vec<(Query<'q>, Want)>,
}

impl<'q> Batch<'q> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a statement whose changed rows are wanted; returns its place in the [`Answers`].
    pub fn execute(&mut self, q: Query<'q>) -> usize {
        self.push(q, Want::Nothing)
    }

    /// Adds a statement whose first row (if any) is wanted.
    pub fn fetch_optional(&mut self, q: Query<'q>) -> usize {
        self.push(q, Want::One)
    }

    /// Adds a statement whose rows are wanted.
    pub fn fetch_all(&mut self, q: Query<'q>) -> usize {
        self.push(q, Want::All)
    }

    fn push(&mut self, q: Query<'q>, want: Want) -> usize {
        self.steps.push((q, want));
        self.steps.len() - 1
    }

    pub async fn run<'e>(self, on: impl Into<Target<'e>>) -> Result<Answers, StorageError> {
        let mut on = on.into();
        for (q, _) in &self.steps {
            tracing::debug!(target: "kassa_storage::sql", sql = q.sql, "statement (batch)");
        }
        let steps: Vec<(&Query<'q>, Want)> = self.steps.iter().map(|(q, w)| (q, *w)).collect();
        let outs = match &mut on {
            Target::Readers(Readers::Pg(pool)) => pg_run(pool, &steps, true).await?,
            Target::Writer(Writer::Pg(pool)) => pg_run(pool, &steps, false).await?,
            Target::Tx(Tx::Pg(tx)) => tx.run(&steps).await?,
            _ => {
                drop(steps);
                let mut outs = Vec::with_capacity(self.steps.len());
                for (q, want) in self.steps {
                    outs.push(q.run_quietly(on.reborrow(), want).await?);
                }
                outs
            }
        };
        Ok(Answers(outs))
    }

    /// Runs the statements in `tx` and commits it. On PostgreSQL the `COMMIT` goes out in the
    /// same flight as the statements (and `BEGIN`, if the transaction has not started): one round
    /// trip for the whole transaction, and locks held for no longer than the server takes to run
    /// it. So the commit is sent before any answer is read, and a statement that is to take
    /// effect only if an earlier one did must say so in its own SQL (`WHERE EXISTS …` on what
    /// the earlier one wrote). An error from any statement means nothing was committed (on
    /// PostgreSQL the aborted transaction's `COMMIT` rolls it back).
    pub async fn commit(self, tx: Tx) -> Result<Answers, StorageError> {
        match tx {
            Tx::Pg(tx) => {
                for (q, _) in &self.steps {
                    tracing::debug!(target: "kassa_storage::sql", sql = q.sql, "statement (batch, then commit)");
                }
                let steps: Vec<(&Query<'q>, Want)> =
                    self.steps.iter().map(|(q, w)| (q, *w)).collect();
                Ok(Answers(tx.run_and_commit(&steps).await?))
            }
            mut tx => {
                let answers = self.run(&mut tx).await?;
                tx.commit().await?;
                Ok(answers)
            }
        }
    }
}

/// What a [`Batch`]'s statements answered, by the places [`Batch`]'s methods returned.
pub struct Answers(Vec<Output>);

impl Answers {
    pub fn rows_affected(&self, i: usize) -> u64 {
        self.0.get(i).map_or(0, |o| o.affected)
    }

    /// The statement's first row, taken out of the answers.
    pub fn optional(&mut self, i: usize) -> Option<Row> {
        self.0.get_mut(i).and_then(|o| o.rows.drain(..).next())
    }

    /// The statement's rows, taken out of the answers.
    pub fn all(&mut self, i: usize) -> Vec<Row> {
        self.0
            .get_mut(i)
            .map(|o| std::mem::take(&mut o.rows))
            .unwrap_or_default()
    }
}

/// What an executed statement did.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Nothing,
    One,
    All,
}

struct Output {
    rows: Vec<Row>,
    affected: u64,
}

/// Where a statement runs.
pub enum Target<'e> {
    Readers(&'e Readers),
    Writer(&'e Writer),
    Tx(&'e mut Tx),
}

impl Target<'_> {
    fn reborrow(&mut self) -> Target<'_> {
        match self {
            Target::Readers(r) => Target::Readers(r),
            Target::Writer(w) => Target::Writer(w),
            Target::Tx(t) => Target::Tx(t),
        }
    }
}

impl<'e> From<&'e Readers> for Target<'e> {
    fn from(r: &'e Readers) -> Self {
        Target::Readers(r)
    }
}

impl<'e> From<&'e Writer> for Target<'e> {
    fn from(w: &'e Writer) -> Self {
        Target::Writer(w)
    }
}

impl<'e> From<&'e mut Tx> for Target<'e> {
    fn from(t: &'e mut Tx) -> Self {
        Target::Tx(t)
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<&i64> for Arg<'_> {
    fn from(v: &i64) -> Self {
        Arg::Int(Some(*v))
    }
}

impl From<i32> for Arg<'_> {
    fn from(v: i32) -> Self {
        Arg::Int(Some(i64::from(v)))
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Int(Some(i64::from(v)))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

impl<'q> From<&'q str> for Arg<'q> {
    fn from(v: &'q str) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'q> From<&'q String> for Arg<'q> {
    fn from(v: &'q String) -> Self {
        Arg::Text(Some(Cow::Borrowed(v.as_str())))
    }
}

impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Text(Some(Cow::Owned(v)))
    }
}

impl<'q> From<Option<&'q str>> for Arg<'q> {
    fn from(v: Option<&'q str>) -> Self {
        Arg::Text(v.map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Arg<'_> {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v.map(Cow::Owned))
    }
}

impl<'q> From<&'q Option<String>> for Arg<'q> {
    fn from(v: &'q Option<String>) -> Self {
        Arg::Text(v.as_deref().map(Cow::Borrowed))
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Int(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Arg::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Int(None) | Arg::Text(None) => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Rows

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One result row: its values, read by column name (or position).
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[Box<str>]>,
    values: Vec<Value>,
}

/// A column by name or by position.
pub trait ColumnIndex {
    fn find(&self, columns: &[Box<str>]) -> Option<usize>;
    fn describe(&self) -> String;
}

impl ColumnIndex for &str {
    fn find(&self, columns: &[Box<str>]) -> Option<usize> {
        columns.iter().position(|c| c.eq_ignore_ascii_case(self))
    }
    fn describe(&self) -> String {
        (*self).to_string()
    }
}

impl ColumnIndex for usize {
    fn find(&self, columns: &[Box<str>]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
    fn describe(&self) -> String {
        format!("#{self}")
    }
}

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
    const EXPECTED: &'static str;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "an integer";
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "text";
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
    const EXPECTED: &'static str = T::EXPECTED;
}

impl Row {
    /// The column's value as `T`; a missing column or another type is an error naming the column.
    pub fn try_get<T: FromValue, I: ColumnIndex>(&self, index: I) -> Result<T, StorageError> {
        let i = index
            .find(&self.columns)
            .ok_or_else(|| StorageError::Corrupt(format!("no column {}", index.describe())))?;
        T::from_value(&self.values[i]).ok_or_else(|| {
            StorageError::Corrupt(format!(
                "column {} is {:?}, not {}",
                self.columns[i],
                self.values[i],
                T::EXPECTED
            ))
        })
    }

    pub fn columns(&self) -> &[Box<str>] {
        &self.columns
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

// ---------------------------------------------------------------------------------------------
// Pools and transactions

/// Where reads go: SQLite's reader connections, or the PostgreSQL pool.
pub enum Readers {
    Sqlite(Arc<ReaderPool>),
    Pg(PgPool),
}

/// Where writes go: SQLite's one writer connection, or the PostgreSQL pool.
pub enum Writer {
    Sqlite(SqliteWriter),
    Pg(PgPool),
}

impl Clone for Readers {
    fn clone(&self) -> Self {
        match self {
            Readers::Sqlite(p) => Readers::Sqlite(p.clone()),
            Readers::Pg(p) => Readers::Pg(p.clone()),
        }
    }
}

impl Clone for Writer {
    fn clone(&self) -> Self {
        match self {
            Writer::Sqlite(c) => Writer::Sqlite(c.clone()),
            Writer::Pg(p) => Writer::Pg(p.clone()),
        }
    }
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Readers::Sqlite(p) => write!(f, "Readers::Sqlite({} connections)", p.conns.len()),
            Readers::Pg(p) => write!(f, "Readers::Pg({p:?})"),
        }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Writer::Sqlite(_) => f.write_str("Writer::Sqlite"),
            Writer::Pg(p) => write!(f, "Writer::Pg({p:?})"),
        }
    }
}

impl Writer {
    /// Begins a transaction. On SQLite it holds the writer (and the file's write lock) until it
    /// commits or is dropped.
    pub async fn begin(&self) -> Result<Tx, StorageError> {
        match self {
            Writer::Sqlite(w) => {
                let mut conn = w.lock.clone().lock_owned().await;
                busy_retry(&mut *conn, |c| c.execute_batch("BEGIN IMMEDIATE")).await?;
                Ok(Tx::Sqlite(SqliteTx {
                    conn,
                    commits: w.commits.clone(),
                    open: true,
                    failed: false,
                }))
            }
            // Nothing is sent yet: BEGIN goes with the first statement.
            Writer::Pg(pool) => Ok(Tx::Pg(PgTx::new(pool.acquire().await?, false))),
        }
    }

    /// A transaction whose commit does not wait for the disk: PostgreSQL's asynchronous commit
    /// (`synchronous_commit` off for it alone). A crash of the database server may lose it if
    /// it comes within a fraction of a second of the commit — never corrupting anything — and
    /// any later ordinary commit makes it durable too (the log is flushed in order). Only for
    /// writes whose loss the next steps survive: an idempotency key's claim (the request's own
    /// first ordinary commit flushes it; before that commit nothing the request wrote would
    /// survive either) and its saved response (lost, the key's lease runs out and a retry runs
    /// as resumed, as after a crash of Kassa just before the save). On SQLite, [`Writer::begin`].
    pub async fn begin_async_commit(&self) -> Result<Tx, StorageError> {
        match self {
            Writer::Sqlite(_) => self.begin().await,
            Writer::Pg(pool) => Ok(Tx::Pg(PgTx::new(pool.acquire().await?, true))),
        }
    }

    pub async fn close(&self) {
        if let Writer::Pg(pool) = self {
            pool.close().await;
        }
    }
}

impl Readers {
    pub async fn close(&self) {
        if let Readers::Pg(pool) = self {
            pool.close().await;
        }
    }
}

/// A transaction: committed by [`Tx::commit`], rolled back when dropped without it.
pub enum Tx {
    Sqlite(SqliteTx),
    Pg(PgTx),
}

/// SQLite's writer, inside `BEGIN IMMEDIATE`.
pub struct SqliteTx {
    conn: tokio::sync::OwnedMutexGuard<rusqlite::Connection>,
    commits: Arc<std::sync::atomic::AtomicU64>,
    open: bool,
    failed: bool,
}

/// What a statement in a transaction, or its commit, gets after one of its statements failed.
fn aborted() -> StorageError {
    crate::error::DbError::Pool(
        "the transaction was aborted by an earlier error and cannot go on".into(),
    )
    .into()
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rolling back an unfinished transaction failed");
            }
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StorageError> {
        match self {
            Tx::Sqlite(mut tx) => {
                if tx.failed {
                    return Err(aborted());
                }
                tx.conn.execute_batch("COMMIT")?;
                tx.open = false;
                tx.commits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Tx::Pg(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
