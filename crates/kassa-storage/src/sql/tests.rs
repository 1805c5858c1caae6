//! The query layer against a real database: SQLite, or PostgreSQL when
//! `KASSA_TEST_DATABASE_URL` names one (the SQLite-only behaviour is in `sqlite.rs`'s tests).

use super::*;
use crate::testing::TestDb;
use crate::Store;

async fn store() -> (TestDb, Store) {
    let db = TestDb::create().await.expect("a test database");
    let store = Store::connect(&db.url).await.expect("connect");
    (db, store)
}

#[tokio::test]
async fn parameters_are_matched_by_number_wherever_they_appear() {
    let (_db, s) = store().await;
    // `$2` before `$1`, and `$1` twice.
    query("INSERT INTO meta (key, value) VALUES ($2, $1)")
        .bind("the value")
        .bind("k1")
        .execute(&s.writer)
        .await
        .expect("insert");
    let row = query("SELECT key, value FROM meta WHERE key = $1 OR value = $1")
        .bind("k1")
        .fetch_one(&s.pool)
        .await
        .expect("the row");
    assert_eq!(row.try_get::<String, _>("key").unwrap(), "k1");
    assert_eq!(row.try_get::<String, _>("VALUE").unwrap(), "the value");
    assert_eq!(row.try_get::<String, _>(1usize).unwrap(), "the value");
    // A column that is not there, or read as the wrong type, is an error naming it.
    let missing = row.try_get::<String, _>("nope").unwrap_err().to_string();
    assert!(missing.contains("nope"), "{missing}");
    let wrong = row.try_get::<i64, _>("key").unwrap_err().to_string();
    assert!(
        wrong.contains("key") && wrong.contains("integer"),
        "{wrong}"
    );
    // Fewer arguments than the statement names.
    let short = query("SELECT value FROM meta WHERE key = $1 AND value = $2")
        .bind("k1")
        .fetch_optional(&s.pool)
        .await;
    assert!(short.is_err(), "{short:?}");
}

#[tokio::test]
async fn nulls_integers_and_affected_rows_round_trip() {
    let (_db, s) = store().await;
    let row =
        query("SELECT CAST($1 AS BIGINT) AS n, CAST($2 AS TEXT) AS t, CAST($3 AS BIGINT) AS z")
            .bind(Some(-7i64))
            .bind(None::<String>)
            .bind(None::<i64>)
            .fetch_one(&s.pool)
            .await
            .expect("a row");
    assert_eq!(row.try_get::<i64, _>("n").unwrap(), -7);
    assert_eq!(row.try_get::<Option<String>, _>("t").unwrap(), None);
    assert_eq!(row.try_get::<Option<i64>, _>("z").unwrap(), None);
    assert!(
        row.try_get::<i64, _>("z").is_err(),
        "NULL is not an integer"
    );
    for k in ["a", "b", "c"] {
        query("INSERT INTO meta (key, value) VALUES ($1, 'x')")
            .bind(k)
            .execute(&s.writer)
            .await
            .expect("insert");
    }
    let done = query("UPDATE meta SET value = 'y' WHERE value = 'x'")
        .execute(&s.writer)
        .await
        .expect("update");
    assert_eq!(done.rows_affected(), 3);
    let none = query("SELECT value FROM meta WHERE key = $1")
        .bind("zz")
        .fetch_one(&s.pool)
        .await;
    assert!(matches!(none, Err(StorageError::NotFound)), "{none:?}");
}

async fn insert_two(tx: &mut Tx) {
    for k in ["t1", "t2"] {
        query("INSERT INTO meta (key, value) VALUES ($1, 'v')")
            .bind(k)
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
}

#[tokio::test]
async fn a_transaction_commits_all_or_a_dropped_one_nothing() {
    let (_db, s) = store().await;
    let mut tx = s.writer.begin().await.expect("begin");
    insert_two(&mut tx).await;
    drop(tx); // e.g. a request cancelled half-way
    assert_eq!(s.meta_get("t1").await.unwrap(), None);
    // The writer is free again, and a committed transaction keeps both rows.
    let mut tx = s.writer.begin().await.expect("begin again");
    insert_two(&mut tx).await;
    tx.commit().await.expect("commit");
    assert_eq!(s.meta_get("t2").await.unwrap().as_deref(), Some("v"));
    // A broken uniqueness rule is a conflict, on either backend.
    let dup = query("INSERT INTO meta (key, value) VALUES ('t1', 'w')")
        .execute(&s.writer)
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict(_))), "{dup:?}");
}

#[tokio::test]
async fn a_failed_statement_ends_its_transaction_on_either_backend() {
    let (_db, s) = store().await;
    let mut tx = s.writer.begin().await.expect("begin");
    insert_two(&mut tx).await;
    let dup = query("INSERT INTO meta (key, value) VALUES ('t1', 'w')")
        .execute(&mut tx)
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict(_))), "{dup:?}");
    // PostgreSQL aborts the transaction there; SQLite is held to the same rule, so code that
    // carried on after an error would fail its tests on both.
    let next = query("INSERT INTO meta (key, value) VALUES ('t3', 'v')")
        .execute(&mut tx)
        .await;
    assert!(
        next.is_err(),
        "a statement after the failed one ran: {next:?}"
    );
    let commit = tx.commit().await.unwrap_err().to_string();
    assert!(commit.contains("aborted"), "{commit}");
    for k in ["t1", "t2", "t3"] {
        assert_eq!(s.meta_get(k).await.unwrap(), None, "{k} was kept");
    }
    // The connection is clean for the next transaction.
    let mut tx = s.writer.begin().await.expect("begin again");
    insert_two(&mut tx).await;
    tx.commit().await.expect("commit");
    assert_eq!(s.meta_get("t1").await.unwrap().as_deref(), Some("v"));
}

/// PostgreSQL: the server ends every session of the pool (as a restart or an operator does);
/// the next read and the next transaction get fresh connections instead of an error, and no
/// connection is pinged before use to make that so.
#[tokio::test]
async fn postgres_sessions_the_server_ended_are_replaced_for_reads_and_transactions() {
    if TestDb::configured_url().is_none() {
        return;
    }
    let (db, s) = store().await;
    let admin = Store::connect(&db.url).await.expect("a second pool");
    let pid_of = |row: Row| row.try_get::<i64, _>("n").expect("a pid");
    for round in 0..3 {
        // Several connections in the pool, then all of them ended by the server.
        let mut txs = Vec::new();
        for _ in 0..3 {
            let mut tx = s.writer.begin().await.expect("begin");
            query("SELECT pg_backend_pid() AS n")
                .fetch_one(&mut tx)
                .await
                .expect("pid");
            txs.push(tx);
        }
        drop(txs);
        let before = pid_of(
            query("SELECT pg_backend_pid() AS n")
                .fetch_one(&s.pool)
                .await
                .expect("pid"),
        );
        let ended = query(
            "SELECT pg_terminate_backend(pid) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&admin.pool)
        .await
        .expect("terminate");
        assert!(
            ended.len() >= 3,
            "round {round}: {} sessions ended",
            ended.len()
        );
        // Once the server has closed them (as a restart does, at once), a transaction sent
        // whole with its COMMIT goes to a live session: the dead ones are never handed out,
        // and a flight that may have committed is never sent twice.
        for _ in 0..100 {
            let left = query(
                "SELECT COUNT(*) AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            )
            .fetch_one(&admin.pool)
            .await
            .expect("sessions");
            if left.try_get::<i64, _>("n").unwrap() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let whole = format!("w{round}");
        let mut b = Batch::new();
        b.execute(query("INSERT INTO meta (key, value) VALUES ($1, 'v')").bind(whole.as_str()));
        b.commit(s.writer.begin().await.expect("begin"))
            .await
            .expect("a transaction sent with its commit after the sessions ended");
        assert_eq!(s.meta_get(&whole).await.unwrap().as_deref(), Some("v"));
        let after = pid_of(
            query("SELECT pg_backend_pid() AS n")
                .fetch_one(&s.pool)
                .await
                .expect("a read after the sessions ended"),
        );
        assert_ne!(before, after, "round {round}: the ended session was used");
        let key = format!("r{round}");
        let mut tx = s.writer.begin().await.expect("begin");
        query("INSERT INTO meta (key, value) VALUES ($1, 'v')")
            .bind(&key)
            .execute(&mut tx)
            .await
            .expect("a transaction's first statement after the sessions ended");
        tx.commit().await.expect("commit");
        assert_eq!(s.meta_get(&key).await.unwrap().as_deref(), Some("v"));
    }
}

#[tokio::test]
async fn a_batch_runs_in_order_and_its_first_error_ends_the_transaction() {
    let (_db, s) = store().await;
    // Opening a transaction (BEGIN goes with it on PostgreSQL), then one more statement after.
    let mut tx = s.writer.begin().await.expect("begin");
    let mut b = Batch::new();
    let first = b.execute(query("INSERT INTO meta (key, value) VALUES ('b1', 'v')"));
    let changed = b.execute(query("UPDATE meta SET value = 'w' WHERE key = 'b1'"));
    let read = b.fetch_optional(query("SELECT value FROM meta WHERE key = $1").bind("b1"));
    let none = b.fetch_all(query("SELECT value FROM meta WHERE key = 'nope'"));
    let mut a = b.run(&mut tx).await.expect("the batch");
    assert_eq!(a.rows_affected(first), 1);
    assert_eq!(a.rows_affected(changed), 1, "ran after the insert");
    let row = a.optional(read).expect("the row the batch wrote");
    assert_eq!(row.try_get::<String, _>("value").unwrap(), "w");
    assert!(a.all(none).is_empty());
    query("INSERT INTO meta (key, value) VALUES ('b2', 'v')")
        .execute(&mut tx)
        .await
        .expect("a statement after the batch");
    tx.commit().await.expect("commit");
    assert_eq!(s.meta_get("b2").await.unwrap().as_deref(), Some("v"));

    // A failing statement in the middle: the error is the batch's, and nothing of it is kept.
    let mut tx = s.writer.begin().await.expect("begin");
    let mut b = Batch::new();
    b.execute(query("INSERT INTO meta (key, value) VALUES ('b3', 'v')"));
    b.execute(query("INSERT INTO meta (key, value) VALUES ('b1', 'dup')"));
    b.execute(query("INSERT INTO meta (key, value) VALUES ('b4', 'v')"));
    let err = b.run(&mut tx).await.err();
    assert!(matches!(err, Some(StorageError::Conflict(_))), "{err:?}");
    assert!(
        tx.commit().await.is_err(),
        "committed after a failed statement"
    );
    for k in ["b3", "b4"] {
        assert_eq!(s.meta_get(k).await.unwrap(), None, "{k} was kept");
    }
    assert_eq!(s.meta_get("b1").await.unwrap().as_deref(), Some("w"));

    // Reads on the pool, together.
    let mut b = Batch::new();
    let x = b.fetch_all(query(
        "SELECT key FROM meta WHERE key LIKE 'b%' ORDER BY key",
    ));
    let y = b.fetch_optional(query("SELECT value FROM meta WHERE key = $1").bind("b2"));
    let mut a = b.run(&s.pool).await.expect("reads");
    let keys: Vec<String> = a
        .all(x)
        .iter()
        .map(|r| r.try_get::<String, _>("key").unwrap())
        .collect();
    assert_eq!(keys, ["b1", "b2"]);
    assert!(a.optional(y).is_some());
}

/// A batch sent with its commit (one flight on PostgreSQL): everything or nothing is kept,
/// statements see what the earlier ones wrote (how a conditional one depends on them), and the
/// connection is clean for whatever uses it next.
#[tokio::test]
async fn a_batch_committed_in_its_flight_keeps_all_or_nothing() {
    let (_db, s) = store().await;
    for round in 0..3 {
        // Into a transaction not yet begun (BEGIN, the statements and COMMIT together).
        let (k1, k2) = (format!("c{round}a"), format!("c{round}b"));
        let mut b = Batch::new();
        let first =
            b.execute(query("INSERT INTO meta (key, value) VALUES ($1, 'v')").bind(k1.as_str()));
        // Only where the first statement's row is there.
        let second = b.execute(
            query("INSERT INTO meta (key, value) SELECT $1, 'w' WHERE EXISTS (SELECT 1 FROM meta WHERE key = $2)")
                .bind(k2.as_str())
                .bind(k1.as_str()),
        );
        let skipped = b.execute(
            query("INSERT INTO meta (key, value) SELECT 'never', 'x' WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'nope')"),
        );
        let read =
            b.fetch_optional(query("SELECT value FROM meta WHERE key = $1").bind(k2.as_str()));
        let tx = s.writer.begin().await.expect("begin");
        let mut a = b.commit(tx).await.expect("the batch and its commit");
        assert_eq!(
            (
                a.rows_affected(first),
                a.rows_affected(second),
                a.rows_affected(skipped)
            ),
            (1, 1, 0)
        );
        assert_eq!(
            a.optional(read)
                .map(|r| r.try_get::<String, _>("value").unwrap())
                .as_deref(),
            Some("w")
        );
        assert_eq!(
            s.meta_get(&k2).await.unwrap().as_deref(),
            Some("w"),
            "committed"
        );
        assert_eq!(s.meta_get("never").await.unwrap(), None);

        // A failing statement in the middle: its error, and nothing of the batch kept.
        let mut b = Batch::new();
        b.execute(
            query("INSERT INTO meta (key, value) VALUES ($1, 'v')").bind(format!("d{round}")),
        );
        b.execute(query("INSERT INTO meta (key, value) VALUES ($1, 'dup')").bind(k1.as_str()));
        b.execute(
            query("INSERT INTO meta (key, value) VALUES ($1, 'v')").bind(format!("e{round}")),
        );
        let tx = s.writer.begin().await.expect("begin");
        let err = b.commit(tx).await.err();
        assert!(matches!(err, Some(StorageError::Conflict(_))), "{err:?}");
        for k in [format!("d{round}"), format!("e{round}")] {
            assert_eq!(s.meta_get(&k).await.unwrap(), None, "{k} was kept");
        }

        // Into a transaction already under way: its earlier statements commit with the batch.
        let mut tx = s.writer.begin().await.expect("begin");
        query("INSERT INTO meta (key, value) VALUES ($1, 'v')")
            .bind(format!("f{round}"))
            .execute(&mut tx)
            .await
            .expect("a statement before the batch");
        let mut b = Batch::new();
        b.execute(query("UPDATE meta SET value = 'g' WHERE key = $1").bind(format!("f{round}")));
        b.commit(tx).await.expect("the batch and its commit");
        assert_eq!(
            s.meta_get(&format!("f{round}")).await.unwrap().as_deref(),
            Some("g")
        );
    }
    // Every connection went back clean: no session is left inside a transaction.
    if TestDb::configured_url().is_some() {
        let open = query(
            "SELECT COUNT(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(&s.pool)
        .await
        .expect("sessions");
        assert_eq!(open.try_get::<i64, _>("n").unwrap(), 0);
    }
}

/// What a transaction's commit waits for, as PostgreSQL reports it from inside the transaction:
/// `off` for an asynchronous commit, `on` otherwise (`None` on SQLite, where both are one).
async fn commit_setting(s: &Store, tx: Tx) -> Option<String> {
    if s.backend() != crate::Backend::Postgres {
        return None;
    }
    let mut b = Batch::new();
    let read = b.fetch_optional(query(
        "SELECT current_setting('synchronous_commit') AS setting",
    ));
    let mut a = b.commit(tx).await.expect("the read and its commit");
    a.optional(read)
        .map(|r| r.try_get::<String, _>("setting").expect("a setting"))
}

/// Outcomes commit without waiting for the disk unless the operator asks for it; the
/// asynchronous setting is the transaction's alone, and ordinary transactions wait.
#[tokio::test]
async fn outcomes_commit_as_configured_and_only_they_skip_the_wait() {
    let (_db, s) = store().await;
    let pg = s.backend() == crate::Backend::Postgres;
    let on = |v: &str| pg.then(|| v.to_string());
    assert_eq!(s.outcome_commit(), crate::OutcomeCommit::Asynchronous);
    let async_tx = s.begin_outcome().await.expect("begin");
    assert_eq!(commit_setting(&s, async_tx).await, on("off"));
    // The next transaction on the same pool is an ordinary one again.
    for _ in 0..3 {
        let tx = s.writer.begin().await.expect("begin");
        assert_eq!(commit_setting(&s, tx).await, on("on"));
    }
    let s = s.with_outcome_commit(crate::OutcomeCommit::Synchronous);
    let tx = s.begin_outcome().await.expect("begin");
    assert_eq!(commit_setting(&s, tx).await, on("on"));
}

/// A PostgreSQL pool of one connection on the test database, or `None` on SQLite.
async fn one_connection(db: &TestDb) -> Option<Readers> {
    TestDb::configured_url()?;
    let pool = PgPool::connect(&db.url, 1, std::time::Duration::from_secs(5))
        .await
        .expect("a pool of one");
    Some(Readers::Pg(pool))
}

fn txid(a: &mut Answers, i: usize) -> i64 {
    a.optional(i)
        .expect("a row")
        .try_get::<i64, _>("x")
        .expect("a transaction id")
}

/// PostgreSQL: a flight's statements end in one `Sync`, so the server runs a read flight as one
/// implicit transaction (one id for all of it) and answers it once; writes outside a
/// transaction keep a `Sync` each (each commits on its own, as a lone statement does).
#[tokio::test]
async fn postgres_a_flight_ends_in_one_sync_and_lone_writes_in_one_each() {
    let (db, s) = store().await;
    if one_connection(&db).await.is_none() {
        return;
    }
    let id = "SELECT CAST(txid_current() AS BIGINT) AS x";
    let mut b = Batch::new();
    let (x, y, z) = (
        b.fetch_optional(query(id)),
        b.fetch_optional(query("SELECT CAST(1 AS BIGINT) AS x")),
        b.fetch_optional(query(id)),
    );
    let mut a = b.run(&s.pool).await.expect("a read flight");
    assert_eq!(
        txid(&mut a, x),
        txid(&mut a, z),
        "one Sync, one transaction"
    );
    assert_eq!(txid(&mut a, y), 1);
    // The writer outside a transaction: each statement its own.
    let steps = [query(id), query(id)];
    let steps: Vec<(&Query<'_>, Want)> = steps.iter().map(|q| (q, Want::One)).collect();
    let Writer::Pg(pool) = &s.writer else {
        unreachable!("PostgreSQL")
    };
    let outs = pg_run(pool, &steps, false).await.expect("two lone writes");
    let ids: Vec<i64> = outs
        .iter()
        .map(|o| o.rows[0].try_get::<i64, _>("x").expect("an id"))
        .collect();
    assert_ne!(ids[0], ids[1], "each lone write is its own transaction");
    // A lone write that fails does not take the one before it along.
    let steps = [
        query("INSERT INTO meta (key, value) VALUES ('lone', 'v')"),
        query("INSERT INTO meta (key, value) VALUES ('lone', 'w')"),
    ];
    let steps: Vec<(&Query<'_>, Want)> = steps.iter().map(|q| (q, Want::Nothing)).collect();
    assert!(pg_run(pool, &steps, false).await.is_err());
    assert_eq!(s.meta_get("lone").await.unwrap().as_deref(), Some("v"));
}

/// PostgreSQL: every column type Kassa reads comes back as its value; one it does not read is
/// an error naming the column, and the connection goes on serving.
#[tokio::test]
async fn postgres_values_of_each_type_come_back_and_an_unknown_one_is_named() {
    let (db, _s) = store().await;
    let Some(pool) = one_connection(&db).await else {
        return;
    };
    let row = query(
        "SELECT CAST(-3 AS INT4) AS i4, CAST(-2 AS SMALLINT) AS i2, TRUE AS t, FALSE AS f,
                CAST(1.5 AS FLOAT8) AS r, CAST('ab' AS VARCHAR(5)) AS vc, CAST('ab' AS CHAR(3)) AS bp,
                CAST('nm' AS NAME) AS nm, CAST('\\x00ff' AS BYTEA) AS b, pg_sleep(0) AS v,
                CAST($1 AS BIGINT) AS big, $2 AS txt, 'é€' AS utf8",
    )
    .bind(i64::MIN)
    .bind("it's")
    .fetch_one(&pool)
    .await
    .expect("a row of every type");
    let int = |c: &str| row.try_get::<i64, _>(c).expect(c);
    let text = |c: &str| row.try_get::<String, _>(c).expect(c);
    assert_eq!(
        (int("i4"), int("i2"), int("t"), int("f"), int("big")),
        (-3, -2, 1, 0, i64::MIN)
    );
    assert_eq!(
        (
            text("vc"),
            text("bp"),
            text("nm"),
            text("txt"),
            text("utf8")
        ),
        (
            "ab".into(),
            "ab ".into(),
            "nm".into(),
            "it's".into(),
            "é€".into()
        )
    );
    assert_eq!(row.values()[4], Value::Real(1.5));
    assert_eq!(row.values()[8], Value::Blob(vec![0, 255]));
    assert_eq!(row.values()[9], Value::Null);
    let numeric = query("SELECT CAST(1 AS NUMERIC) AS amount_sum")
        .fetch_one(&pool)
        .await
        .unwrap_err();
    assert!(
        matches!(&numeric, StorageError::Corrupt(m) if m.contains("amount_sum")),
        "{numeric:?}"
    );
    let again = query("SELECT CAST(7 AS BIGINT) AS n")
        .fetch_one(&pool)
        .await
        .expect("the connection still serves");
    assert_eq!(again.try_get::<i64, _>("n").unwrap(), 7);
}

/// PostgreSQL: past the cache's size the connection forgets its prepared statements on the
/// server too, and every statement still runs.
#[tokio::test]
async fn postgres_prepared_statements_are_bounded_per_connection() {
    let (db, _s) = store().await;
    let Some(pool) = one_connection(&db).await else {
        return;
    };
    let sql: Vec<String> = (0..600)
        .map(|i| format!("SELECT CAST($1 AS BIGINT) + {i} AS n"))
        .collect();
    for (i, q) in sql.iter().enumerate() {
        let n = query(q)
            .bind(1i64)
            .fetch_one(&pool)
            .await
            .expect("a statement");
        assert_eq!(n.try_get::<i64, _>("n").unwrap(), 1 + i as i64);
    }
    let first = query(&sql[0])
        .bind(5i64)
        .fetch_one(&pool)
        .await
        .expect("the first again");
    assert_eq!(first.try_get::<i64, _>("n").unwrap(), 5);
    let kept = query("SELECT COUNT(*) AS n FROM pg_prepared_statements")
        .fetch_one(&pool)
        .await
        .expect("count");
    let kept = kept.try_get::<i64, _>("n").unwrap();
    assert!(
        (1..=super::wire::STATEMENT_CACHE as i64 + 1).contains(&kept),
        "{kept}"
    );
}

/// PostgreSQL: a flight cut off half-way (its caller gave up) leaves a connection whose answers
/// are still on their way; it is never handed out again, so the next caller gets its own
/// answer, and a transaction dropped before its commit releases its locks at once.
#[tokio::test]
async fn postgres_cut_off_flights_and_dropped_transactions_leave_nothing_behind() {
    let (db, s) = store().await;
    let Some(pool) = one_connection(&db).await else {
        return;
    };
    let slow = query("SELECT CAST(1 AS BIGINT) AS n FROM pg_sleep(0.5)").fetch_one(&pool);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), slow)
            .await
            .is_err(),
        "the slow read was cut off"
    );
    let n = query("SELECT CAST(2 AS BIGINT) AS n")
        .fetch_one(&pool)
        .await
        .expect("a read on the one connection's replacement");
    assert_eq!(n.try_get::<i64, _>("n").unwrap(), 2);

    query("INSERT INTO meta (key, value) VALUES ('locked', 'v')")
        .execute(&s.writer)
        .await
        .expect("insert");
    let mut tx = s.writer.begin().await.expect("begin");
    query("UPDATE meta SET value = 'held' WHERE key = 'locked'")
        .execute(&mut tx)
        .await
        .expect("update");
    drop(tx);
    let mut tx = s.writer.begin().await.expect("begin");
    query("SET LOCAL lock_timeout = '2s'")
        .execute(&mut tx)
        .await
        .expect("lock timeout");
    query("UPDATE meta SET value = 'w' WHERE key = 'locked'")
        .execute(&mut tx)
        .await
        .expect("the dropped transaction's lock was released");
    tx.commit().await.expect("commit");
    assert_eq!(s.meta_get("locked").await.unwrap().as_deref(), Some("w"));
}

/// What the PostgreSQL client does not do is refused by name at start-up, not ignored.
#[tokio::test]
async fn postgres_urls_asking_for_what_the_client_does_not_do_are_refused() {
    let timeout = std::time::Duration::from_secs(2);
    for (url, word) in [
        (
            "postgres://kassa@127.0.0.1:5432/kassa?sslmode=require",
            "sslmode",
        ),
        (
            "postgres://kassa@db.internal/kassa?hostaddr=10.0.0.9",
            "hostaddr",
        ),
    ] {
        let err = PgPool::connect(url, 1, timeout)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(word), "{url}: {err}");
    }
}

/// PostgreSQL over its Unix socket, where the machine has one beside the TCP port the tests use.
#[tokio::test]
async fn postgres_over_a_unix_socket() {
    let Some(url) = TestDb::configured_url() else {
        return;
    };
    let dir = "/var/run/postgresql";
    if !std::path::Path::new(&format!("{dir}/.s.PGSQL.5432")).exists() || !url.contains("5432") {
        return;
    }
    let (db, _s) = store().await;
    let name = db
        .url
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .expect("a database name");
    let user = url
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://")
        .split(['@', ':'])
        .next()
        .expect("a user");
    let socket_url = format!("postgres://{user}@%2Fvar%2Frun%2Fpostgresql/{name}");
    let pool = PgPool::connect(&socket_url, 1, std::time::Duration::from_secs(5))
        .await
        .expect("connect over the socket");
    let row = query("SELECT inet_server_port() IS NULL AS local")
        .fetch_one(&Readers::Pg(pool))
        .await
        .expect("a read");
    assert_eq!(row.try_get::<i64, _>("local").unwrap(), 1, "not over TCP");
}

/// PostgreSQL: a flight that cannot be encoded (a NUL in a statement's text) sends nothing and
/// is an error; the statements it would have prepared are prepared when next used.
#[tokio::test]
async fn postgres_a_flight_that_cannot_be_encoded_sends_nothing_and_leaves_no_trace() {
    let (db, _s) = store().await;
    let Some(pool) = one_connection(&db).await else {
        return;
    };
    let fresh = "SELECT CAST($1 AS BIGINT) * 2 AS n";
    let mut b = Batch::new();
    b.fetch_optional(query(fresh).bind(4i64));
    b.fetch_optional(query("SELECT 1 AS \0n"));
    let Err(err) = b.run(&pool).await else {
        panic!("a flight with a NUL in a statement ran");
    };
    let err = err.to_string();
    assert!(err.contains("could not be encoded"), "{err}");
    let n = query(fresh)
        .bind(5i64)
        .fetch_one(&pool)
        .await
        .expect("the statement the failed flight held, prepared now");
    assert_eq!(n.try_get::<i64, _>("n").unwrap(), 10);
}
