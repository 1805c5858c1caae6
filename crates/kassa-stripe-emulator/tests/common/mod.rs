//! Test helpers: an emulator on 127.0.0.1:0 driven over real HTTP.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use serde_json::Value;

pub struct Api {
    pub base: String,
    pub key: String,
    pub account: Option<String>,
    pub http: reqwest::Client,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn err(&self, field: &str) -> &Value {
        &self.body["error"][field]
    }
}

pub async fn start() -> Api {
    start_emu().await.0
}

/// An emulator and its handle (for library-side switches).
pub async fn start_emu() -> (Api, kassa_stripe_emulator::Emulator) {
    let (addr, emu, _handle) = kassa_stripe_emulator::spawn("127.0.0.1:0").await.unwrap();
    let api = Api {
        base: format!("http://{addr}"),
        key: "sk_test_one".into(),
        account: None,
        http: reqwest::Client::new(),
    };
    (api, emu)
}

impl Api {
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            base: self.base.clone(),
            key: key.into(),
            account: None,
            http: self.http.clone(),
        }
    }

    pub fn with_account(&self, acct: &str) -> Api {
        Api {
            base: self.base.clone(),
            key: self.key.clone(),
            account: Some(acct.into()),
            http: self.http.clone(),
        }
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let rb = rb.bearer_auth(&self.key);
        match &self.account {
            Some(a) => rb.header("Stripe-Account", a),
            None => rb,
        }
    }

    async fn send(rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.json().await.unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        Self::send(
            self.auth(self.http.post(format!("{}{path}", self.base)))
                .form(form),
        )
        .await
    }

    pub async fn post_idem(&self, path: &str, form: &[(&str, &str)], key: &str) -> Resp {
        Self::send(
            self.auth(self.http.post(format!("{}{path}", self.base)))
                .header("Idempotency-Key", key)
                .form(form),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::send(self.auth(self.http.get(format!("{}{path}", self.base)))).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        Self::send(self.auth(self.http.delete(format!("{}{path}", self.base)))).await
    }

    /// Sets account switches through the control endpoint.
    pub async fn settings(&self, form: &[(&str, &str)]) -> Value {
        let mut rb = self
            .http
            .post(format!("{}/_emulator/accounts/{}", self.base, self.key))
            .form(form);
        if let Some(a) = &self.account {
            rb = rb.header("Stripe-Account", a);
        }
        let r = Self::send(rb).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    pub async fn customer(&self) -> String {
        let r = self
            .post("/v1/customers", &[("email", "a@example.com")])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// create + confirm a PaymentIntent with a payment method.
    pub async fn pay(&self, pm: &str, extra: &[(&str, &str)]) -> Resp {
        let mut form = vec![
            ("amount", "2000"),
            ("currency", "usd"),
            ("payment_method", pm),
            ("confirm", "true"),
        ];
        form.extend_from_slice(extra);
        self.post("/v1/payment_intents", &form).await
    }
}
