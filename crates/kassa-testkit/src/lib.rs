//! Black-box test harness: every test gets its own database and its own server on a random
//! loopback port, and talks to it over real HTTP.
//!
//! The database backend follows `KASSA_TEST_DATABASE_URL` (see `kassa_storage::testing`).

use kassa_secrets::{ApiKey, MasterKey};
use kassa_storage::testing::TestDb;
use kassa_storage::Store;
use serde_json::Value;

pub use reqwest;
pub use reqwest::StatusCode;

/// A running Kassa with one client.
pub struct TestApp {
    pub base_url: String,
    pub api_key: String,
    pub client_no: i64,
    pub store: Store,
    pub http: reqwest::Client,
    pub db: TestDb,
    server: tokio::task::JoinHandle<()>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `error.param` of an error body.
    pub fn param(&self) -> Option<&str> {
        self.body["error"]["param"].as_str()
    }

    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let db = TestDb::create().await.expect("create test database");
        let store = Store::connect(&db.url)
            .await
            .expect("connect test database");
        let (master_key, _) = MasterKey::generate().expect("master key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base_url = format!("http://{addr}");
        let state = kassa_api::AppState::new(
            store.clone(),
            master_key,
            kassa_api::Config {
                public_url: base_url.clone(),
            },
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, kassa_api::app(state)).await;
        });
        let mut app = TestApp {
            base_url,
            api_key: String::new(),
            client_no: 0,
            store,
            http: reqwest::Client::new(),
            db,
            server,
        };
        let (client_no, key) = app.new_client("Test client").await;
        app.client_no = client_no;
        app.api_key = key;
        app
    }

    /// Creates another client (tenant); returns its number and API key.
    pub async fn new_client(&self, name: &str) -> (i64, String) {
        let key = ApiKey::generate().expect("api key");
        let (client, _) = self
            .store
            .create_client(
                name,
                &ApiKey::hash(&key.plaintext),
                &ApiKey::label(&key.plaintext),
            )
            .await
            .expect("create client");
        (client.client_no, key.plaintext)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Sends a request with this app's API key.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send_as(&self.api_key, method, path, body, headers)
            .await
    }

    /// Sends a request with the given API key.
    pub async fn send_as(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(key);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("request");
        read(resp).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body), &[])
            .await
    }
}

pub async fn read(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A valid test-mode secret key.
pub const SECRET_KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
