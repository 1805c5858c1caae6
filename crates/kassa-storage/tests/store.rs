//! The repositories against a real database: SQLite by default, PostgreSQL when
//! `KASSA_TEST_DATABASE_URL` points at one.

use kassa_storage::testing::TestDb;
use kassa_storage::*;
use serde_json::json;

async fn store() -> (TestDb, Store) {
    let db = TestDb::create().await.expect("test database");
    let store = Store::connect(&db.url).await.expect("connect");
    (db, store)
}

fn audit(client_no: i64, action: &'static str) -> AuditEntry {
    AuditEntry {
        client_no,
        actor: "test".into(),
        api_key_id: None,
        request_id: Some("req_1".into()),
        object_type: "gateway",
        object_id: String::new(),
        action,
        changes: json!({"title": {"to": "x"}}),
    }
}

/// Client "One" with one gateway.
async fn client_and_gateway(store: &Store) -> (ClientRecord, GatewayRecord) {
    let (c, _) = store.create_client("One", "h1", "l1").await.unwrap();
    let g = store
        .insert_gateway(c.client_no, &gw("{}"), audit(c.client_no, "create"))
        .await
        .unwrap();
    (c, g)
}

/// An active account "A1" of `client_no`.
async fn account(store: &Store, client_no: i64) -> AccountRecord {
    store
        .insert_account(
            client_no,
            &AccountWrite {
                client_acct_id: "A1".into(),
                status: "active".into(),
                collection_group_no: None,
                email: None,
                profile: "{}".into(),
            },
            &StatusChange {
                reason: "created".into(),
                payment_id: None,
                actor: "t".into(),
            },
            AuditEntry {
                object_type: "account",
                ..audit(client_no, "create")
            },
        )
        .await
        .unwrap()
}

fn gw(settings: &str) -> GatewayWrite {
    GatewayWrite {
        gateway_type: "stripe_v2".into(),
        status: "active".into(),
        settings: settings.into(),
        secret_key_sealed: Some("v1:sealed".into()),
        webhook_secrets_sealed: None,
    }
}

#[tokio::test]
async fn backend_matches_configuration() {
    let (_db, store) = store().await;
    let expected = if TestDb::configured_url().is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(store.backend(), expected);
    store.ping().await.unwrap();
    // Migrations are recorded: running them again applies nothing.
    assert_eq!(store.migrate().await.unwrap(), 0);
}

#[tokio::test]
async fn clients_and_api_keys() {
    let (_db, store) = store().await;
    assert_eq!(store.count_clients().await.unwrap(), 0);
    let (c1, k1) = store
        .create_client("One", "hash1", "kassa_sk_…0001")
        .await
        .unwrap();
    let (c2, _) = store
        .create_client("Two", "hash2", "kassa_sk_…0002")
        .await
        .unwrap();
    assert_eq!(c1.client_no, 1);
    assert_eq!(c2.client_no, 2);
    let found = store.find_api_key("hash1").await.unwrap().unwrap();
    assert_eq!(found.client_no, 1);
    assert_eq!(found.id, k1.id);
    assert!(store.find_api_key("nope").await.unwrap().is_none());
    // A key hash is unique.
    let dup = store
        .create_client("Three", "hash1", "x")
        .await
        .unwrap_err();
    assert!(matches!(dup, StorageError::Conflict(_)), "{dup:?}");
    assert_eq!(
        store.count_clients().await.unwrap(),
        2,
        "the failed create left nothing behind"
    );
}

#[tokio::test]
async fn gateways_crud_tenancy_and_optimistic_locking() {
    let (_db, store) = store().await;
    let (c1, _) = store.create_client("One", "h1", "l1").await.unwrap();
    let (c2, _) = store.create_client("Two", "h2", "l2").await.unwrap();
    let g = store
        .insert_gateway(
            c1.client_no,
            &gw(r#"{"title":"A"}"#),
            audit(c1.client_no, "create"),
        )
        .await
        .unwrap();
    assert_eq!(g.version, 1);
    assert!(matches!(
        store.get_gateway(c2.client_no, g.id).await,
        Err(StorageError::NotFound)
    ));

    let updated = store
        .update_gateway(
            c1.client_no,
            g.id,
            1,
            &gw(r#"{"title":"B"}"#),
            audit(c1.client_no, "update"),
        )
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.settings, r#"{"title":"B"}"#);
    let stale = store
        .update_gateway(
            c1.client_no,
            g.id,
            1,
            &gw(r#"{"title":"C"}"#),
            audit(c1.client_no, "update"),
        )
        .await;
    assert!(matches!(stale, Err(StorageError::Stale)));
    let missing = store
        .update_gateway(
            c2.client_no,
            g.id,
            2,
            &gw("{}"),
            audit(c2.client_no, "update"),
        )
        .await;
    assert!(matches!(missing, Err(StorageError::NotFound)));

    let log = store
        .list_audit(
            c1.client_no,
            None,
            PageRequest {
                limit: 10,
                starting_after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(log.data.len(), 2, "the stale update wrote no audit entry");
    assert_eq!(log.data[0].action, "update");
    assert_eq!(log.data[1].object_id, g.id.to_string());
    assert_eq!(log.data[0].changes, json!({"title": {"to": "x"}}));
}

#[tokio::test]
async fn gateway_lists_paginate_and_filter() {
    let (_db, store) = store().await;
    let (c, _) = store.create_client("One", "h1", "l1").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut w = gw(&format!(r#"{{"title":"G{i}"}}"#));
        if i == 4 {
            w.status = "archived".into();
        }
        ids.push(
            store
                .insert_gateway(c.client_no, &w, audit(c.client_no, "create"))
                .await
                .unwrap()
                .id,
        );
    }
    let page = PageRequest {
        limit: 2,
        starting_after: None,
    };
    let first = store
        .list_gateways(c.client_no, &GatewayFilter::default(), page)
        .await
        .unwrap();
    assert_eq!(
        first.data.iter().map(|g| g.id).collect::<Vec<_>>(),
        vec![ids[3], ids[2]]
    );
    assert!(first.has_more);
    let next = PageRequest {
        limit: 2,
        starting_after: Some(ids[2]),
    };
    let second = store
        .list_gateways(c.client_no, &GatewayFilter::default(), next)
        .await
        .unwrap();
    assert_eq!(
        second.data.iter().map(|g| g.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
    assert!(!second.has_more);
    let archived = GatewayFilter {
        status: Some("archived".into()),
        gateway_type: None,
    };
    let a = store
        .list_gateways(
            c.client_no,
            &archived,
            PageRequest {
                limit: 10,
                starting_after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(a.data.len(), 1);
    assert_eq!(a.data[0].id, ids[4]);
}

#[tokio::test]
async fn group_numbers_are_per_client() {
    let (_db, store) = store().await;
    let (c1, _) = store.create_client("One", "h1", "l1").await.unwrap();
    let (c2, _) = store.create_client("Two", "h2", "l2").await.unwrap();
    let g1 = store
        .insert_gateway(c1.client_no, &gw("{}"), audit(c1.client_no, "create"))
        .await
        .unwrap();
    let g2 = store
        .insert_gateway(c2.client_no, &gw("{}"), audit(c2.client_no, "create"))
        .await
        .unwrap();
    let w = |gateway_id| GroupWrite {
        gateway_id,
        status: "active".into(),
        settings: "{}".into(),
        webhook_secrets_sealed: None,
    };
    let a = store
        .insert_group(c1.client_no, None, &w(g1.id), audit(c1.client_no, "create"))
        .await
        .unwrap();
    let b = store
        .insert_group(
            c1.client_no,
            Some(10),
            &w(g1.id),
            audit(c1.client_no, "create"),
        )
        .await
        .unwrap();
    let c = store
        .insert_group(c1.client_no, None, &w(g1.id), audit(c1.client_no, "create"))
        .await
        .unwrap();
    let d = store
        .insert_group(c2.client_no, None, &w(g2.id), audit(c2.client_no, "create"))
        .await
        .unwrap();
    assert_eq!(
        (a.group_no, b.group_no, c.group_no, d.group_no),
        (1, 10, 11, 1)
    );
    let taken = store
        .insert_group(
            c1.client_no,
            Some(10),
            &w(g1.id),
            audit(c1.client_no, "create"),
        )
        .await;
    assert!(matches!(taken, Err(StorageError::Conflict(_))));
    assert!(matches!(
        store.get_group(c2.client_no, 10).await,
        Err(StorageError::NotFound)
    ));
}

#[tokio::test]
async fn idempotency_lifecycle() {
    let (_db, store) = store().await;
    let (c, _) = store.create_client("One", "h1", "l1").await.unwrap();
    let n = c.client_no;
    assert_eq!(
        store
            .idempotency_begin(n, "k1", "hashA", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin(n, "k1", "hashA", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        store
            .idempotency_begin(n, "k1", "hashB", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Mismatch
    );
    let resp = StoredResponse {
        status: 201,
        body: "{\"id\":1}".into(),
    };
    store.idempotency_complete(n, "k1", &resp).await.unwrap();
    assert_eq!(
        store
            .idempotency_begin(n, "k1", "hashA", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Replay(resp)
    );
    // Released keys can be claimed again; purged keys too.
    assert_eq!(
        store.idempotency_begin(n, "k2", "h", 60_000).await.unwrap(),
        IdempotencyBegin::Started
    );
    store.idempotency_release(n, "k2").await.unwrap();
    assert_eq!(
        store.idempotency_begin(n, "k2", "h", 60_000).await.unwrap(),
        IdempotencyBegin::Resumed,
        "a released key is claimed again, as a retry"
    );
    assert_eq!(
        store.idempotency_begin(n, "k2", "h", 60_000).await.unwrap(),
        IdempotencyBegin::InProgress
    );
    // Also by another request (nothing was saved to replay).
    store.idempotency_release(n, "k2").await.unwrap();
    assert_eq!(
        store
            .idempotency_begin(n, "k2", "other", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Resumed
    );
    // A key whose request died (its lease ran out) is taken over by the same request only.
    assert_eq!(
        store.idempotency_begin(n, "k3", "h3", -1).await.unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin(n, "k3", "other", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Mismatch
    );
    assert_eq!(
        store
            .idempotency_begin(n, "k3", "h3", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Resumed,
        "taken over"
    );
    assert_eq!(
        store
            .idempotency_begin(n, "k3", "h3", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress,
        "the new lease holds"
    );
    assert_eq!(store.idempotency_purge(now_millis() + 1).await.unwrap(), 3);
    assert_eq!(
        store
            .idempotency_begin(n, "k1", "other", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
}

#[tokio::test]
async fn meta_set_if_absent_keeps_first_value() {
    let (_db, store) = store().await;
    assert_eq!(store.meta_get("k").await.unwrap(), None);
    assert_eq!(store.meta_set_if_absent("k", "a").await.unwrap(), "a");
    assert_eq!(store.meta_set_if_absent("k", "b").await.unwrap(), "a");
}

#[tokio::test]
async fn payments_claims_and_transactions() {
    let (_db, store) = store().await;
    let (c, g) = client_and_gateway(&store).await;
    let acct = account(&store, c.client_no).await;
    let cus = store
        .save_processor_customer(c.client_no, acct.acct_no, g.id, "cus_1")
        .await
        .unwrap();
    assert_eq!(cus, "cus_1");
    // A second customer for the same account and gateway keeps the first.
    assert_eq!(
        store
            .save_processor_customer(c.client_no, acct.acct_no, g.id, "cus_2")
            .await
            .unwrap(),
        "cus_1"
    );

    let pm = store
        .insert_payment_method(&PaymentMethodRecord {
            client_no: c.client_no,
            acct_no: acct.acct_no,
            gateway_id: Some(g.id),
            kind: "card".into(),
            status: "active".into(),
            token: Some("pm_1:cus_1".into()),
            last4: Some("4242".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    store.set_initial_txn_id(pm.pm_no, "ntid_1").await.unwrap();
    store.set_initial_txn_id(pm.pm_no, "ntid_2").await.unwrap();
    assert_eq!(
        store
            .get_payment_method(c.client_no, acct.acct_no, pm.pm_no)
            .await
            .unwrap()
            .initial_txn_id
            .as_deref(),
        Some("ntid_1")
    );

    let p = PaymentRecord {
        id: "pay_1".into(),
        client_no: c.client_no,
        acct_no: acct.acct_no,
        gateway_id: g.id,
        pm_no: Some(pm.pm_no),
        status: "pending".into(),
        currency: "usd".into(),
        amount: 5000,
        details: "{}".into(),
        ..Default::default()
    };
    let t1 = TransactionRecord {
        id: "txn_1".into(),
        payment_id: "pay_1".into(),
        client_no: c.client_no,
        kind: "authorize".into(),
        amount: 5000,
        ..Default::default()
    };
    let rec = store.insert_payment(&p, &t1).await.unwrap();
    assert_eq!(rec.busy_txn.as_deref(), Some("txn_1"));
    // Busy: nothing else may claim it.
    let t2 = TransactionRecord {
        id: "txn_2".into(),
        kind: "capture".into(),
        ..t1.clone()
    };
    assert!(matches!(
        store
            .claim_payment(c.client_no, "pay_1", rec.version, &t2)
            .await,
        Err(StorageError::Stale)
    ));
    assert_eq!(
        store
            .pending_transactions(now_millis() + 1, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let upd = PaymentUpdate {
        status: "authorized".into(),
        amount_authorized: 5000,
        processor_payment_id: Some("pi_1".into()),
        auth_no: Some("ch_1".into()),
        initial_auth_txn_id: None,
        details: "{}".into(),
        ..Default::default()
    };
    let ok = TxnOutcome {
        status: "succeeded".into(),
        processor_id: Some("pi_1".into()),
        error: None,
    };
    let done = store
        .finish_transaction(c.client_no, "pay_1", "txn_1", &ok, &upd)
        .await
        .unwrap();
    assert_eq!(
        (
            done.status.as_str(),
            done.busy_txn.as_deref(),
            done.processor_payment_id.as_deref()
        ),
        ("authorized", None, Some("pi_1"))
    );
    assert_eq!(
        store
            .find_payment_by_auth_no(c.client_no, "ch_1")
            .await
            .unwrap()
            .id,
        "pay_1"
    );
    // Finishing again (a stale worker) is refused.
    assert!(matches!(
        store
            .finish_transaction(c.client_no, "pay_1", "txn_1", &ok, &upd)
            .await,
        Err(StorageError::Stale)
    ));

    store
        .claim_payment(c.client_no, "pay_1", done.version, &t2)
        .await
        .unwrap();
    let txns = store.list_transactions("pay_1").await.unwrap();
    assert_eq!(
        txns.iter()
            .map(|t| (t.kind.as_str(), t.status.as_str()))
            .collect::<Vec<_>>(),
        vec![("authorize", "succeeded"), ("capture", "pending")]
    );
    // Another client sees nothing.
    let (other, _) = store.create_client("Two", "h2", "l2").await.unwrap();
    assert!(matches!(
        store.get_payment(other.client_no, "pay_1").await,
        Err(StorageError::NotFound)
    ));
    let page = store
        .list_payments(
            c.client_no,
            &kassa_storage::PaymentFilter {
                acct_no: Some(acct.acct_no),
                ..Default::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
}

#[tokio::test]
async fn monthly_cap_holds_under_concurrent_reservations() {
    let (_db, store) = store().await;
    let (_, g) = client_and_gateway(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.reserve_volume(g.id, "2026-11", 300, Some(10_000), false)
                .await
                .unwrap()
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.unwrap() {
            granted += 1;
        }
    }
    assert_eq!(
        granted, 33,
        "10,000 / 300 = 33 reservations fit, never more"
    );
    let v = store.volume(g.id, "2026-11").await.unwrap();
    assert_eq!(v.reserved, 9_900);
    // Settling: 10 approved, the rest declined.
    for i in 0..33 {
        store
            .settle_volume(g.id, "2026-11", 300, if i < 10 { 300 } else { 0 })
            .await
            .unwrap();
    }
    let v = store.volume(g.id, "2026-11").await.unwrap();
    assert_eq!((v.gross, v.reserved, v.transactions), (3_000, 0, 10));
    // Refunds free room only for a net cap.
    store
        .add_refund_volume(g.id, "2026-11", 3_000)
        .await
        .unwrap();
    assert!(!store
        .reserve_volume(g.id, "2026-11", 7_001, Some(10_000), false)
        .await
        .unwrap());
    assert!(store
        .reserve_volume(g.id, "2026-11", 7_001, Some(10_000), true)
        .await
        .unwrap());
    assert!(
        store
            .reserve_volume(g.id, "2026-12", 1, None, false)
            .await
            .unwrap(),
        "no cap"
    );
}

/// A new payment `pay_<id>` of `amount` on the account and gateway, with its authorization
/// `txn_<id>`, as the payment path writes them before Stripe is called.
fn pending_payment(
    acct: &AccountRecord,
    gateway_id: i64,
    id: &str,
    amount: i64,
) -> (PaymentRecord, TransactionRecord) {
    let p = PaymentRecord {
        id: format!("pay_{id}"),
        client_no: acct.client_no,
        acct_no: acct.acct_no,
        gateway_id,
        status: "pending".into(),
        currency: "usd".into(),
        amount,
        details: "{}".into(),
        ..Default::default()
    };
    let t = TransactionRecord {
        id: format!("txn_{id}"),
        payment_id: p.id.clone(),
        client_no: acct.client_no,
        kind: "authorize".into(),
        amount,
        ..Default::default()
    };
    (p, t)
}

/// The payment path reserves volume with the payment's row and settles it with the outcome, each
/// in one transaction: concurrent payments on a month with no row yet never pass the cap, a
/// refused one writes nothing, and the settled reservation is gone from `reserved`.
#[tokio::test]
async fn payments_reserve_and_settle_volume_with_their_rows() {
    let (_db, store) = store().await;
    let (c, g) = client_and_gateway(&store).await;
    let acct = account(&store, c.client_no).await;
    let reserve = VolumeReserve {
        gateway_id: g.id,
        month: "2026-11".into(),
        amount: 300,
        cap: Some(10_000),
        net: false,
    };
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (s, r) = (store.clone(), reserve.clone());
        let (p, t) = pending_payment(&acct, g.id, &i.to_string(), 300);
        tasks.push(tokio::spawn(async move {
            s.insert_payment_reserving(&p, &t, Some(&r)).await.unwrap()
        }));
    }
    let mut made = Vec::new();
    for t in tasks {
        if let Some(p) = t.await.unwrap() {
            made.push(p);
        }
    }
    assert_eq!(made.len(), 33, "10,000 / 300 = 33 fit, never more");
    let n = kassa_storage::testing::scalar(&store, "SELECT COUNT(*) AS n FROM payments")
        .await
        .unwrap();
    assert_eq!(n, 33, "a refused payment leaves no row");
    let txns =
        kassa_storage::testing::scalar(&store, "SELECT COUNT(*) AS n FROM payment_transactions")
            .await
            .unwrap();
    assert_eq!(txns, 33, "nor a transaction");
    assert_eq!(store.volume(g.id, "2026-11").await.unwrap().reserved, 9_900);

    // The outcome settles the reservation in the same transaction.
    let p = &made[0];
    let update = PaymentUpdate {
        status: "authorized".into(),
        amount_authorized: 300,
        details: r#"{"volume":{"month":"2026-11","reserved":0,"counted":300}}"#.into(),
        settle: Some(VolumeSettle {
            gateway_id: g.id,
            month: "2026-11".into(),
            released: 300,
            gross: 300,
        }),
        ..Default::default()
    };
    let outcome = TxnOutcome {
        status: "succeeded".into(),
        processor_id: Some("pi_1".into()),
        error: None,
    };
    let busy = p.busy_txn.clone().unwrap();
    // With the history read in the same flight: it shows what the finish wrote.
    let (done, (txns, cbs)) = store
        .finish_transaction_with_history(c.client_no, &p.id, &busy, &outcome, &update)
        .await
        .unwrap();
    assert_eq!(done.status, "authorized");
    assert_eq!(txns.len(), 1);
    assert_eq!(
        (txns[0].id.as_str(), txns[0].status.as_str()),
        (busy.as_str(), "succeeded")
    );
    assert!(cbs.is_empty());
    let v = store.volume(g.id, "2026-11").await.unwrap();
    assert_eq!((v.gross, v.reserved, v.transactions), (300, 9_600, 1));
    // Finishing again (a stale claim) fails as a whole: the volume is not settled twice, and
    // the transaction keeps the answer that finished it.
    let late = TxnOutcome {
        status: "failed".into(),
        processor_id: None,
        error: Some("{}".into()),
    };
    assert!(matches!(
        store
            .finish_transaction(c.client_no, &p.id, &busy, &late, &update)
            .await,
        Err(StorageError::Stale)
    ));
    assert!(matches!(
        store
            .finish_transaction_with_history(c.client_no, &p.id, &busy, &late, &update)
            .await,
        Err(StorageError::Stale)
    ));
    let v = store.volume(g.id, "2026-11").await.unwrap();
    assert_eq!((v.gross, v.reserved, v.transactions), (300, 9_600, 1));
    let t = store.get_transaction(c.client_no, &busy).await.unwrap();
    assert_eq!((t.status.as_str(), t.error), ("succeeded", None));

    // A payment larger than the cap on a month not yet seen is refused, and makes no row.
    let big = PaymentRecord {
        id: "pay_big".into(),
        amount: 20_000,
        busy_txn: None,
        ..made[1].clone()
    };
    let big_txn = TransactionRecord {
        id: "txn_big".into(),
        payment_id: "pay_big".into(),
        client_no: c.client_no,
        kind: "authorize".into(),
        amount: 20_000,
        ..Default::default()
    };
    let december = VolumeReserve {
        month: "2026-12".into(),
        amount: 20_000,
        ..reserve.clone()
    };
    assert!(store
        .insert_payment_reserving(&big, &big_txn, Some(&december))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.volume(g.id, "2026-12").await.unwrap(),
        Volume::default()
    );
    // One that fits makes the month's row with its reservation.
    let fits = VolumeReserve {
        amount: 400,
        ..december
    };
    let small = PaymentRecord { amount: 400, ..big };
    let small_txn = TransactionRecord {
        amount: 400,
        ..big_txn
    };
    let rec = store
        .insert_payment_reserving(&small, &small_txn, Some(&fits))
        .await
        .unwrap()
        .expect("within the cap");
    assert_eq!(rec.busy_txn.as_deref(), Some("txn_big"));
    assert_eq!(store.volume(g.id, "2026-12").await.unwrap().reserved, 400);
    assert_eq!(
        store
            .get_transaction(c.client_no, "txn_big")
            .await
            .unwrap()
            .status,
        "pending"
    );
}

/// A payment that claims its request's idempotency key in its own transaction: written with the
/// key when the key is free; refused, leaving neither the payment nor its reservation, when any
/// request holds or held the key.
#[tokio::test]
async fn a_payment_claims_its_idempotency_key_with_its_write() {
    let (_db, store) = store().await;
    let (c, g) = client_and_gateway(&store).await;
    let acct = account(&store, c.client_no).await;
    let reserve = VolumeReserve {
        gateway_id: g.id,
        month: "2026-11".into(),
        amount: 500,
        cap: None,
        net: false,
    };
    let payment = |id: &str| pending_payment(&acct, g.id, id, 500);
    let claim = |key: &str| IdempotencyClaim {
        client_no: c.client_no,
        key: key.into(),
        request_hash: "h".into(),
        lease_ms: 60_000,
    };
    let count = |sql: &'static str| kassa_storage::testing::scalar(&store, sql);

    let (p, t) = payment("a");
    let made = store
        .insert_payment_claiming(&p, &t, Some(&reserve), Some(&claim("k1")))
        .await
        .unwrap();
    assert!(made.is_some());
    // The key is held by the request that wrote the payment: a repeat is still in progress.
    assert_eq!(
        store
            .idempotency_begin(c.client_no, "k1", "h", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress
    );

    // Taken (by that payment) or released, the key refuses the next payment, which writes nothing.
    store
        .idempotency_begin(c.client_no, "k2", "h", 60_000)
        .await
        .unwrap();
    store.idempotency_release(c.client_no, "k2").await.unwrap();
    for key in ["k1", "k2"] {
        let (p, t) = payment(&format!("again-{key}"));
        let refused = store
            .insert_payment_claiming(&p, &t, Some(&reserve), Some(&claim(key)))
            .await;
        assert!(
            matches!(refused, Err(StorageError::IdempotencyKeyTaken)),
            "{key}: {refused:?}"
        );
    }
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM payments").await.unwrap(),
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM payment_transactions")
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.volume(g.id, "2026-11").await.unwrap().reserved, 500);
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM idempotency_keys")
            .await
            .unwrap(),
        2
    );

    // Another uniqueness rule broken (the payment's id) is not the key's: the claim is undone
    // with the rest, and the key stays free.
    let (p, t) = payment("a");
    let t = TransactionRecord {
        id: "txn_other".into(),
        ..t
    };
    let clash = store
        .insert_payment_claiming(&p, &t, Some(&reserve), Some(&claim("k3")))
        .await;
    assert!(matches!(clash, Err(StorageError::Conflict(_))), "{clash:?}");
    assert_eq!(
        store
            .idempotency_begin(c.client_no, "k3", "h", 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
}

/// A gateway is in at most one recycle profile: the table's key says so even when two writers
/// race past the service's check, and the refused write leaves nothing behind.
#[tokio::test]
async fn a_gateway_is_in_one_recycle_profile() {
    let (_db, store) = store().await;
    let (c, _) = store.create_client("One", "h1", "l1").await.unwrap();
    let g1 = store
        .insert_gateway(c.client_no, &gw("{}"), audit(c.client_no, "create"))
        .await
        .unwrap();
    let g2 = store
        .insert_gateway(c.client_no, &gw("{}"), audit(c.client_no, "create"))
        .await
        .unwrap();
    let profile = |name: &str, gateway_ids: Vec<i64>| RecycleProfileRecord {
        client_no: c.client_no,
        name: name.into(),
        rules: r#"{"reattempts":[]}"#.into(),
        gateway_ids,
        ..Default::default()
    };
    let first = store
        .insert_recycle_profile(&profile("A", vec![g1.id]))
        .await
        .unwrap();
    assert_eq!(first.gateway_ids, vec![g1.id]);
    let taken = store
        .insert_recycle_profile(&profile("B", vec![g2.id, g1.id]))
        .await;
    assert!(matches!(taken, Err(StorageError::Conflict(_))), "{taken:?}");
    assert_eq!(
        store
            .list_recycle_profiles(c.client_no)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.recycle_profile_of_gateway(g2.id).await.unwrap(),
        None,
        "rolled back"
    );
    // Updates are optimistic, and move gateways as a whole.
    let mut moved = first.clone();
    moved.gateway_ids = vec![g2.id];
    let moved = store.update_recycle_profile(&moved).await.unwrap();
    assert_eq!((moved.version, moved.gateway_ids.clone()), (2, vec![g2.id]));
    assert!(matches!(
        store.update_recycle_profile(&first).await,
        Err(StorageError::Stale)
    ));
    assert_eq!(store.recycle_profile_of_gateway(g1.id).await.unwrap(), None);
}
