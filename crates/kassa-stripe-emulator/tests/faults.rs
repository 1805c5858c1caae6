//! Fault injection over HTTP: latency, 500 and dropped connections before the work,
//! timeout after success with replay, rate limits, reproducibility, control endpoint.

use std::time::{Duration, Instant};

use kassa_stripe_emulator::{Emulator, Faults};
use serde_json::Value;

struct Env {
    base: String,
    emu: Emulator,
    http: reqwest::Client,
}

async fn start() -> Env {
    let (addr, emu, _task) = kassa_stripe_emulator::spawn("127.0.0.1:0").await.unwrap();
    Env {
        base: format!("http://{addr}"),
        emu,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
    }
}

impl Env {
    fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idem: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth("sk_test_faults")
            .form(form);
        match idem {
            Some(k) => rb.header("Idempotency-Key", k),
            None => rb,
        }
    }

    async fn customers(&self) -> usize {
        let r = self
            .http
            .get(format!("{}/v1/customers?limit=100", self.base))
            .bearer_auth("sk_test_faults")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["data"].as_array().unwrap().len()
    }
}

#[tokio::test]
async fn error_500_before_work_then_retry_does_the_work() {
    let env = start().await;
    env.emu.set_faults(Faults {
        error_500_per_mille: 1000,
        ..Faults::default()
    });
    let r = env
        .post("/v1/customers", &[("email", "a@b.co")], Some("k1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "api_error");
    // GETs are not affected, and nothing was created.
    assert_eq!(env.customers().await, 0);
    env.emu.set_faults(Faults::default());
    let r = env
        .post("/v1/customers", &[("email", "a@b.co")], Some("k1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("idempotent-replayed").is_none());
    assert_eq!(env.customers().await, 1);
}

#[tokio::test]
async fn drop_before_work_is_a_transport_error_and_retry_does_the_work() {
    let mut env = start().await;
    env.emu.set_faults(Faults {
        drop_per_mille: 1000,
        ..Faults::default()
    });
    let err = env
        .post("/v1/customers", &[("email", "a@b.co")], Some("k2"))
        .send()
        .await
        .expect_err("no HTTP response expected");
    assert!(!err.is_status(), "{err:?}");
    // Also on a pooled keep-alive connection that already served a request.
    env.http = reqwest::Client::new();
    assert_eq!(env.customers().await, 0);
    let err = env
        .post("/v1/customers", &[("email", "a@b.co")], Some("k2"))
        .send()
        .await
        .expect_err("no HTTP response expected");
    assert!(!err.is_status(), "{err:?}");
    assert_eq!(env.customers().await, 0);
    env.emu.set_faults(Faults::default());
    let r = env
        .post("/v1/customers", &[("email", "a@b.co")], Some("k2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("idempotent-replayed").is_none());
    assert_eq!(env.customers().await, 1);
}

#[tokio::test]
async fn timeout_after_success_saves_the_key_and_retry_replays() {
    let env = start().await;
    env.emu.set_faults(Faults {
        timeout_after_success_per_mille: 1000,
        hold_ms: 300,
        ..Faults::default()
    });
    let t = Instant::now();
    let err = env
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1500"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
            Some("k3"),
        )
        .send()
        .await
        .expect_err("no HTTP response expected");
    assert!(!err.is_status(), "{err:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "held {:?}",
        t.elapsed()
    );
    // A client-side timeout shorter than the hold also sees no response.
    let err = env
        .post("/v1/customers", &[], None)
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .expect_err("timeout expected");
    assert!(err.is_timeout(), "{err:?}");
    env.emu.set_faults(Faults::default());
    let r = env
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1500"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
            Some("k3"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let pi: Value = r.json().await.unwrap();
    assert_eq!(pi["status"], "succeeded");
    let list: Value = env
        .http
        .get(format!("{}/v1/payment_intents", env.base))
        .bearer_auth("sk_test_faults")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "work done once");
}

#[tokio::test]
async fn rate_limit_per_account_key() {
    let env = start().await;
    env.emu.set_faults(Faults {
        rate_limit_per_sec: Some(3),
        ..Faults::default()
    });
    // Stay inside one wall-clock second.
    let frac = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    if frac > 700 {
        tokio::time::sleep(Duration::from_millis(u64::from(1000 - frac) + 20)).await;
    }
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = env.post("/v1/customers", &[], None).send().await.unwrap();
        let status = r.status().as_u16();
        if status == 429 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["type"], "invalid_request_error");
            assert_eq!(v["error"]["code"], "rate_limit");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    // Another key has its own budget.
    let r = env
        .http
        .post(format!("{}/v1/customers", env.base))
        .bearer_auth("sk_test_other")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The control endpoints are never limited.
    let r = env
        .http
        .get(format!("{}/_emulator/faults", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let r = env.post("/v1/customers", &[], None).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn latency_and_seeded_reproducible_choice_via_control_endpoint() {
    let env = start().await;
    let set = |form: Vec<(&'static str, &'static str)>| {
        env.http
            .post(format!("{}/_emulator/faults", env.base))
            .form(&form)
            .send()
    };
    let r = set(vec![
        ("error_500_per_mille", "500"),
        ("seed", "42"),
        ("latency_ms", "20"),
        ("rate_limit_per_sec", ""),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_500_per_mille"], 500);
    assert_eq!(v["seed"], 42);
    assert_eq!(v["rate_limit_per_sec"], Value::Null);
    assert_eq!(env.emu.faults().latency_ms, 20);
    let run = || async {
        let mut out = Vec::new();
        for _ in 0..12 {
            let t = Instant::now();
            let r = env.post("/v1/customers", &[], None).send().await.unwrap();
            assert!(t.elapsed() >= Duration::from_millis(20));
            out.push(r.status().as_u16());
        }
        out
    };
    let first = run().await;
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
    // Setting the faults again restarts the counter: the same requests fail.
    let r = set(vec![("seed", "42")]).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(run().await, first);
    let r = env
        .http
        .post(format!("{}/_emulator/faults", env.base))
        .form(&[("drop_per_mille", "2000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = env
        .http
        .post(format!("{}/_emulator/faults", env.base))
        .form(&[("nope", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
