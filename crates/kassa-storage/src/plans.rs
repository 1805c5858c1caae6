//! The lookups that run for every webhook, every decline check and every reconciler pass read
//! one index each, on both backends, with the schema as migrated: the plan each database makes
//! of the statement Kassa sends (PostgreSQL: the generic plan of the prepared statement, the one
//! a pooled connection keeps using; SQLite: `EXPLAIN QUERY PLAN`).

use crate::sql::{query, Tx};
use crate::testing::TestDb;
use crate::{Backend, Store};

/// Each lookup (its statement, example arguments as SQL literals) and the index it must use.
fn lookups() -> Vec<(String, &'static str, &'static str)> {
    vec![
        (
            crate::webhooks::BY_PROCESSOR.to_string(),
            "1, 'pi_1', 'ch_1'",
            "payments_by_processor_id",
        ),
        (
            crate::webhooks::BY_PROCESSOR.to_string(),
            "1, 'pi_1', 'ch_1'",
            "payments_by_auth_no",
        ),
        (
            format!("SELECT id {}", crate::payments::BY_AUTH_NO),
            "1, 'ch_1'",
            "payments_by_auth_no",
        ),
        (
            format!("SELECT COUNT(*) AS n {}", crate::recycle::CARD_DECLINES),
            "'fp_1', 0, 1",
            "payments_declined_by_card",
        ),
        (
            format!("SELECT id {}", crate::payments::PENDING_QUEUE),
            "0, 10",
            "payment_transactions_pending",
        ),
    ]
}

async fn plan(store: &Store, tx: &mut Tx, n: usize, sql: &str, args: &str) -> String {
    let rows = match store.backend() {
        Backend::Sqlite => {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let mut q = query(&explain);
            for arg in args.split(", ") {
                q = match arg.strip_prefix('\'') {
                    Some(text) => q.bind(text.trim_end_matches('\'')),
                    None => q.bind(arg.parse::<i64>().expect("an integer")),
                };
            }
            q.fetch_all(&mut *tx).await.expect("a plan")
        }
        Backend::Postgres => {
            let name = format!("plan_{n}");
            query(&format!("PREPARE {name} AS {sql}"))
                .execute(&mut *tx)
                .await
                .expect("prepare");
            let rows = query(&format!("EXPLAIN EXECUTE {name}({args})"))
                .fetch_all(&mut *tx)
                .await
                .expect("a plan");
            query(&format!("DEALLOCATE {name}"))
                .execute(&mut *tx)
                .await
                .expect("deallocate");
            rows
        }
    };
    let column = match store.backend() {
        Backend::Sqlite => "detail",
        Backend::Postgres => "QUERY PLAN",
    };
    rows.iter()
        .map(|r| r.try_get::<String, _>(column).expect("plan text"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn hot_lookups_read_their_partial_indexes() {
    let db = TestDb::create().await.expect("a test database");
    let store = Store::connect(&db.url).await.expect("connect");
    let mut tx = store.writer.begin().await.expect("a transaction");
    if store.backend() == Backend::Postgres {
        // The plan a connection settles on after its first executions; and no sequential scan
        // of the (empty) tables, so that the plan shows which index the statement can use.
        for set in [
            "SET LOCAL plan_cache_mode = force_generic_plan",
            "SET LOCAL enable_seqscan = off",
        ] {
            query(set).execute(&mut tx).await.expect("set");
        }
    }
    for (n, (sql, args, index)) in lookups().into_iter().enumerate() {
        let plan = plan(&store, &mut tx, n, &sql, args).await;
        assert!(
            plan.contains(index),
            "{sql}\nshould read {index}; the plan:\n{plan}"
        );
        assert!(
            !plan.contains("payments_by_client") && !plan.contains("Seq Scan"),
            "{sql}\nscans; the plan:\n{plan}"
        );
    }
}
