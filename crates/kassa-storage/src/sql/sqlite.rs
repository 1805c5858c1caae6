//! SQLite through rusqlite, on the calling thread.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;

use super::{Output, Query, Readers, Row, Value, Want, Writer};
use crate::error::DbError;
use crate::StorageError;

/// How long a statement waits for another process's write lock on a SQLite file.
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// SQLite's readers: a few connections, each used by one statement at a time.
pub struct ReaderPool {
    pub(super) conns: Vec<std::sync::Mutex<rusqlite::Connection>>,
    next: AtomicUsize,
}

impl ReaderPool {
    /// Runs `f` on a free connection (statements run to completion without awaiting, so a
    /// connection is never held across a suspension).
    pub(super) fn with<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> T) -> T {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            if let Ok(conn) = self.conns[(start + k) % n].try_lock() {
                return f(&conn);
            }
        }
        // Every connection busy (more threads than connections): wait for one.
        let conn = self.conns[start % n]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&conn)
    }
}

/// Statements on SQLite outside a transaction wait, asleep, while another process holds the
/// file's write lock (SQLite's own busy handler would block the runtime's thread instead).
/// (`conn` is passed by `&mut`: a shared `&Connection` held across the sleep would make the
/// future not `Send`.)
pub(super) async fn busy_retry<C: ?Sized, T>(
    conn: &mut C,
    mut f: impl FnMut(&mut C) -> Result<T, rusqlite::Error>,
) -> Result<T, StorageError> {
    let deadline = Instant::now() + BUSY_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        match f(conn) {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return Ok(other?),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub(super) fn sqlite_run(
    conn: &rusqlite::Connection,
    q: &Query<'_>,
    want: Want,
) -> Result<Output, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(q.sql)?;
    for i in 1..=stmt.parameter_count() {
        // `$n` (and `?n`) name the n-th argument wherever they appear; plain `?` count up.
        let n = stmt
            .parameter_name(i)
            .and_then(|name| name.get(1..))
            .and_then(|digits| digits.parse::<usize>().ok())
            .unwrap_or(i);
        let arg = q.args.get(n - 1).ok_or_else(|| {
            rusqlite::Error::InvalidParameterName(format!("${n} has no argument bound"))
        })?;
        stmt.raw_bind_parameter(i, arg)?;
    }
    let columns: Arc<[Box<str>]> = stmt.column_names().into_iter().map(Box::from).collect();
    let mut rows = Vec::new();
    {
        let mut cursor = stmt.raw_query();
        while let Some(r) = cursor.next()? {
            if want == Want::Nothing || (want == Want::One && !rows.is_empty()) {
                continue; // run the statement to its end, keep nothing more
            }
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            rows.push(Row {
                columns: columns.clone(),
                values,
            });
        }
    }
    Ok(Output {
        rows,
        affected: conn.changes(),
    })
}

/// The lock on SQLite's writer: tokio's, which is fair (first come, first served). A lock that
/// lets whichever task asks first barge in kept the writer as busy, but let some writers wait
/// hundreds of milliseconds behind later ones (measured: p99 226 ms against 52 ms).
pub(super) type WriterLock = tokio::sync::Mutex<rusqlite::Connection>;

/// SQLite's writer: its connection behind the lock, and how many writes it has committed (the
/// checkpointer looks at the count to skip its rounds while this process writes nothing).
#[derive(Clone)]
pub struct SqliteWriter {
    pub(super) lock: Arc<WriterLock>,
    pub(super) commits: Arc<AtomicU64>,
}

/// Opens one SQLite connection with Kassa's settings.
fn sqlite_open(path: &str, flags: rusqlite::OpenFlags) -> Result<rusqlite::Connection, DbError> {
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 0;",
    )?;
    Ok(conn)
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies the WAL back into the database file (and syncs it) on a thread of its own, so the
/// writer does not do it inside a commit while every other writer waits.
///
/// A round runs only when this process's writer has committed since the last one: a process
/// that only reads (a bench or a tool beside `kassa serve`) leaves the copying, and its syncs,
/// to the process that writes, instead of doubling them.
///
/// A checkpoint beside a busy writer never quite catches up, and SQLite starts the WAL over
/// only when one has: so after copying what it can (without the writer's lock), the thread
/// takes the writer's lock for a second pass over the few frames written meanwhile, and the
/// next write starts the WAL over. The writer keeps SQLite's own checkpoint as a backstop, at
/// 10,000 pages instead of 1,000. The thread ends when the store is dropped.
fn spawn_checkpointer(
    path: String,
    flags: rusqlite::OpenFlags,
    writer: std::sync::Weak<WriterLock>,
    commits: Arc<AtomicU64>,
) {
    let spawned = std::thread::Builder::new()
        .name("kassa-sqlite-checkpoint".into())
        .spawn(move || {
            let conn = match sqlite_open(&path, flags) {
                Ok(c) => c,
                Err(e) => {
                    return tracing::warn!(error = %e, "the SQLite checkpointer could not open the file")
                }
            };
            let mut seen = 0;
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                let Some(writer) = writer.upgrade() else {
                    return; // the store is gone
                };
                let committed = commits.load(Ordering::Relaxed);
                if committed == seen {
                    continue; // nothing of this process's to copy
                }
                seen = committed;
                if let Err(e) = checkpoint(&conn, &writer) {
                    tracing::warn!(error = %e, "SQLite checkpoint failed");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no SQLite checkpointer thread: the writer checkpoints alone");
    }
}

/// One round of the checkpointer: `(frames in the WAL, frames copied)` from SQLite's answer.
fn checkpoint(conn: &rusqlite::Connection, writer: &WriterLock) -> Result<(), rusqlite::Error> {
    let passive = || {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
    };
    let (frames, copied) = passive()?;
    if frames <= 0 || copied == frames {
        return Ok(());
    }
    // The catch-up pass, with writers held off: the thread queues for the writer's lock like
    // any writer (the lock is fair, so it gets its turn behind those already waiting). Another
    // process may still write; then this pass too falls short, and the backstop does it.
    let _held = writer.blocking_lock();
    passive()?;
    Ok(())
}

/// Splits `sqlite://FILE?mode=…` into the file and its open flags.
fn sqlite_target(url: &str) -> Result<(String, rusqlite::OpenFlags), StorageError> {
    use rusqlite::OpenFlags as F;
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    let mut flags = F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_NO_MUTEX | F::SQLITE_OPEN_URI;
    for p in params.split('&').filter(|p| !p.is_empty()) {
        match p {
            "mode=rwc" => flags |= F::SQLITE_OPEN_CREATE,
            "mode=rw" => {}
            "mode=ro" => {
                flags = (flags - F::SQLITE_OPEN_READ_WRITE) | F::SQLITE_OPEN_READ_ONLY;
            }
            other => {
                return Err(StorageError::Migration(format!(
                    "unsupported SQLite URL parameter `{other}` (use mode=rwc, rw or ro)"
                )))
            }
        }
    }
    if path.is_empty() || path.starts_with(":memory:") {
        return Err(StorageError::Migration(
            "an in-memory SQLite database cannot be shared by Kassa's connections: name a file"
                .into(),
        ));
    }
    Ok((path.to_string(), flags))
}

/// Opens a SQLite file: the writer first (it creates the file and switches it to WAL), then
/// `readers` connections.
pub fn sqlite_connect(url: &str, readers: usize) -> Result<(Readers, Writer), StorageError> {
    let (path, flags) = sqlite_target(url)?;
    let writer = sqlite_open(&path, flags)?;
    writer.execute_batch("PRAGMA wal_autocheckpoint = 10000;")?;
    let read_flags = flags - rusqlite::OpenFlags::SQLITE_OPEN_CREATE;
    let conns = (0..readers.max(1))
        .map(|_| sqlite_open(&path, read_flags).map(std::sync::Mutex::new))
        .collect::<Result<Vec<_>, _>>()?;
    let writer = SqliteWriter {
        lock: Arc::new(WriterLock::new(writer)),
        commits: Arc::default(),
    };
    spawn_checkpointer(
        path,
        read_flags,
        Arc::downgrade(&writer.lock),
        writer.commits.clone(),
    );
    Ok((
        Readers::Sqlite(Arc::new(ReaderPool {
            conns,
            next: AtomicUsize::new(0),
        })),
        Writer::Sqlite(writer),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn file() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}/k.db", dir.path().display());
        (dir, url)
    }

    #[test]
    fn urls_name_a_file_and_a_mode() {
        use rusqlite::OpenFlags as F;
        let (path, flags) = sqlite_target("sqlite://data/k.db?mode=rwc").unwrap();
        assert_eq!(path, "data/k.db");
        assert!(flags.contains(F::SQLITE_OPEN_CREATE | F::SQLITE_OPEN_READ_WRITE));
        let (path, flags) = sqlite_target("sqlite:/abs/k.db?mode=ro").unwrap();
        assert_eq!(path, "/abs/k.db");
        assert!(
            flags.contains(F::SQLITE_OPEN_READ_ONLY) && !flags.contains(F::SQLITE_OPEN_READ_WRITE)
        );
        let (_, flags) = sqlite_target("sqlite://k.db").unwrap();
        assert!(!flags.contains(F::SQLITE_OPEN_CREATE));
        let bad = sqlite_target("sqlite://k.db?cache=shared")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("cache=shared"), "{bad}");
        assert!(sqlite_target("sqlite::memory:").is_err());
    }

    /// Another process holding the file's write lock (a `kassa worker` beside `kassa serve`) is
    /// waited for asleep: the runtime's one thread goes on running other tasks meanwhile.
    #[tokio::test(flavor = "current_thread")]
    async fn a_write_waits_for_another_process_lock_without_blocking_the_runtime() {
        let (_dir, url) = file();
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let (path, flags) = sqlite_target(&url).unwrap();
        let other = rusqlite::Connection::open_with_flags(path, flags).unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('other', '1');")
            .unwrap();

        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let write = {
            let store = store.clone();
            tokio::spawn(async move { store.meta_set_if_absent("mine", "2").await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !write.is_finished(),
            "the write waits for the other process"
        );
        assert!(
            ticks.load(Ordering::Relaxed) >= 10,
            "the runtime kept running: {} ticks",
            ticks.load(Ordering::Relaxed)
        );
        other.execute_batch("COMMIT").unwrap();
        let written = write.await.unwrap().expect("written once the lock is free");
        assert_eq!(written, "2");
        assert_eq!(store.meta_get("other").await.unwrap().as_deref(), Some("1"));
        ticker.abort();
    }

    /// A process that writes nothing leaves the checkpoints (and their syncs) to the one that
    /// writes: a store that only reads copies none of another connection's WAL into the
    /// database file, and does once it has written something itself.
    #[tokio::test]
    async fn a_store_that_writes_nothing_leaves_checkpoints_to_the_writer() {
        let (_dir, url) = file();
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        tokio::time::sleep(CHECKPOINT_EVERY * 3).await; // the migrations' own round is over
        let (path, flags) = sqlite_target(&url).unwrap();
        let other = rusqlite::Connection::open_with_flags(&path, flags).unwrap();
        other
            .execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE filler (x BLOB);")
            .unwrap();
        for _ in 0..200 {
            other
                .execute("INSERT INTO filler VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        let size = || std::fs::metadata(&path).expect("the database file").len();
        let before = size();
        tokio::time::sleep(CHECKPOINT_EVERY * 5).await;
        assert_eq!(
            size(),
            before,
            "another connection's writes were checkpointed"
        );

        store.meta_set_if_absent("mine", "1").await.expect("write");
        let deadline = Instant::now() + Duration::from_secs(10);
        while size() < before + 200 * 4000 && Instant::now() < deadline {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
        assert!(
            size() >= before + 200 * 4000,
            "after a write of its own the store checkpoints: {} bytes, {before} before",
            size()
        );
        drop(other);
    }

    /// The checkpointer copies the WAL into the database file, so the WAL starts over instead of
    /// growing to the writer's backstop (10,000 pages).
    #[tokio::test]
    async fn the_checkpointer_lets_the_wal_start_over() {
        let (_dir, url) = file();
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        for i in 0..1500 {
            store
                .meta_set_if_absent(&format!("key-{i}"), "v")
                .await
                .expect("write");
        }
        tokio::time::sleep(CHECKPOINT_EVERY * 4).await;
        store.meta_set_if_absent("last", "v").await.expect("write");
        let (path, flags) = sqlite_target(&url).unwrap();
        let probe = rusqlite::Connection::open_with_flags(path, flags).unwrap();
        let frames: i64 = probe
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap();
        // 1,500 commits wrote well over 1,500 frames; after the restart only the last write's.
        assert!((0..50).contains(&frames), "{frames} frames in the WAL");
        assert_eq!(
            store.meta_get("key-1499").await.unwrap().as_deref(),
            Some("v")
        );
    }
}
