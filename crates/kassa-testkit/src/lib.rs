//! Black-box test harness: every test gets its own database and its own server on a random
//! loopback port, and talks to it over real HTTP.
//!
//! The database backend follows `KASSA_TEST_DATABASE_URL` (see `kassa_storage::testing`).

use kassa_secrets::{ApiKey, MasterKey};
use kassa_storage::testing::TestDb;
use kassa_storage::Store;
use serde_json::Value;
use std::path::PathBuf;

pub mod console;
pub mod smtp_sink;

pub use kassa_stripe_emulator;
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
    /// The master key (base64), for `kassa` processes that share this database.
    pub master_key: String,
    state: kassa_api::AppState,
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
        Self::spawn_with(kassa_api::app).await
    }

    /// A test server whose routes `make` builds from the state (e.g. the API with the console).
    pub async fn spawn_with(make: fn(kassa_api::AppState) -> axum::Router) -> TestApp {
        Self::spawn_configured(make, |_| {}).await
    }

    /// A test server whose configuration `configure` adjusts first (e.g. a test that sends many
    /// wrong API keys on purpose raises `auth_max_failures`).
    pub async fn spawn_configured(
        make: fn(kassa_api::AppState) -> axum::Router,
        configure: impl FnOnce(&mut kassa_api::Config),
    ) -> TestApp {
        let db = TestDb::create().await.expect("create test database");
        Self::start(db, make, configure).await
    }

    /// A test server on a database the test made itself.
    pub async fn spawn_on(db: TestDb, make: fn(kassa_api::AppState) -> axum::Router) -> TestApp {
        Self::start(db, make, |_| {}).await
    }

    async fn start(
        db: TestDb,
        make: fn(kassa_api::AppState) -> axum::Router,
        configure: impl FnOnce(&mut kassa_api::Config),
    ) -> TestApp {
        let store = Store::connect(&db.url)
            .await
            .expect("connect test database");
        let (master_key, master_key_b64) = MasterKey::generate().expect("master key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base_url = format!("http://{addr}");
        let mut config = kassa_api::Config::new(base_url.clone());
        configure(&mut config);
        let state = kassa_api::AppState::new(store.clone(), master_key, config);
        let app_state = state.clone();
        let server = tokio::spawn(async move {
            let app = make(app_state).into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(listener, app).await;
        });
        let mut app = TestApp {
            base_url,
            api_key: String::new(),
            client_no: 0,
            store,
            http: reqwest::Client::new(),
            db,
            master_key: master_key_b64,
            state,
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

    /// The server's state (same database, same master key): for running background work such
    /// as the reconciler in a test.
    pub fn state(&self) -> kassa_api::AppState {
        self.state.clone()
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

/// A Stripe emulator on a loopback port, for the end-to-end tests between Kassa's connector and
/// a Stripe that speaks the wire format.
pub struct Emulator {
    pub url: String,
    pub emulator: kassa_stripe_emulator::Emulator,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    pub async fn spawn() -> Emulator {
        let (addr, emulator, task) = kassa_stripe_emulator::spawn("127.0.0.1:0")
            .await
            .expect("start the Stripe emulator");
        Emulator {
            url: format!("http://{addr}"),
            emulator,
            task,
        }
    }

    /// A GET at the emulator with a secret key, as Stripe's dashboard would show an object.
    pub async fn get(&self, key: &str, path: &str) -> Value {
        let resp = reqwest::Client::new()
            .get(format!("{}{}", self.url, path))
            .bearer_auth(key)
            .send()
            .await
            .expect("emulator request");
        resp.json().await.expect("emulator json")
    }
}

impl Emulator {
    /// A card made outside Kassa, straight at Stripe: a customer with `pm_card_visa` attached,
    /// as the token `payment_method_id:customer_id`.
    pub async fn outside_token(&self, key: &str) -> String {
        let http = reqwest::Client::new();
        let cus: Value = http
            .post(format!("{}/v1/customers", self.url))
            .bearer_auth(key)
            .send()
            .await
            .expect("customer")
            .json()
            .await
            .expect("customer json");
        let cus_id = cus["id"].as_str().expect("customer id").to_string();
        let pm: Value = http
            .post(format!(
                "{}/v1/payment_methods/pm_card_visa/attach",
                self.url
            ))
            .bearer_auth(key)
            .form(&[("customer", cus_id.as_str())])
            .send()
            .await
            .expect("attach")
            .json()
            .await
            .expect("attach json");
        format!("{}:{}", pm["id"].as_str().expect("pm id"), cus_id)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestApp {
    /// A Stripe V2 gateway on the emulator, and a collection group for it; returns their ids.
    pub async fn emulator_gateway(&self, emulator: &Emulator, extra: Value) -> (i64, i64) {
        // Tests charge the same test cards again and again: duplicate protection is off unless
        // a test turns it on.
        let mut body = serde_json::json!({"type": "stripe_v2", "title": "Emulated Stripe", "secret_key": SECRET_KEY, "api_base_url": emulator.url, "duplicate_window_minutes": 0});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        let g = self.post("/v1/gateways", &body).await;
        assert_eq!(g.status, StatusCode::CREATED, "{:?}", g.body);
        let id = g.body["id"].as_i64().expect("gateway id");
        let grp = self
            .post(
                "/v1/collection_groups",
                &serde_json::json!({"name": "Emulated", "gateway_id": id}),
            )
            .await;
        assert_eq!(grp.status, StatusCode::CREATED, "{:?}", grp.body);
        (id, grp.body["group_no"].as_i64().expect("group_no"))
    }

    /// A campaign with one recurring product sold on `gateway_id` with `schedule`
    /// (`{prices, interval_unit, interval_count, …}`); returns `(campaign_id, product_id)`.
    pub async fn recurring_product(&self, gateway_id: i64, schedule: Value) -> (i64, i64) {
        let c = self
            .post(
                "/v1/campaigns",
                &serde_json::json!({"name": "Offers", "currency": "usd"}),
            )
            .await;
        assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
        let campaign = c.body["id"].as_i64().expect("campaign id");
        let p = self
            .post(
                &format!("/v1/campaigns/{campaign}/products"),
                &serde_json::json!({"name": "Box", "schedule": schedule, "gateway_id": gateway_id}),
            )
            .await;
        assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
        (campaign, p.body["id"].as_i64().expect("product id"))
    }

    /// An order of one product paid with a new card (`number`); returns the order.
    pub async fn order_with_card(
        &self,
        campaign: i64,
        acct_no: i64,
        product: i64,
        number: &str,
    ) -> Value {
        let o = self
            .post(
                "/v1/orders",
                &serde_json::json!({"campaign_id": campaign, "acct_no": acct_no, "items": [{"product_id": product}],
                    "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
            )
            .await;
        assert_eq!(o.status, StatusCode::CREATED, "{:?}", o.body);
        o.body
    }

    /// An account in collection group `group_no`; returns its `acct_no`.
    pub async fn account(&self, client_acct_id: &str, group_no: i64) -> i64 {
        let r = self
            .post(
                "/v1/accounts",
                &serde_json::json!({"client_acct_id": client_acct_id, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                    "phone": "+44 20 7946 0018", "billing_address": {"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
                    "collection_group_no": group_no}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["acct_no"].as_i64().expect("acct_no")
    }
}

/// A valid test-mode secret key.
pub const SECRET_KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";

/// The Stripe PaymentMethod id of a stored card (its `token` is `pm_…:cus_…`).
pub fn stripe_payment_method(card: &Value) -> String {
    card["token"]
        .as_str()
        .and_then(|t| t.split(':').next())
        .expect("a stored card's token")
        .to_string()
}

/// What a browser test needs: the Python interpreter (with selenium, `scripts/python-env`),
/// Debian's chromedriver and Chromium (`scripts/browser-env`; `KASSA_CHROMEDRIVER` and
/// `KASSA_CHROMIUM` override the paths).
pub struct BrowserTools {
    pub python: PathBuf,
    pub driver: PathBuf,
    pub chromium: PathBuf,
}

/// The tools, or `None` (with a note) to skip; under CI their absence fails the test.
pub fn browser_tools() -> Option<BrowserTools> {
    let python = std::env::var_os("KASSA_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let path = |var: &str, default: &str| {
        PathBuf::from(std::env::var_os(var).unwrap_or_else(|| default.into()))
    };
    let driver = path("KASSA_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = path("KASSA_CHROMIUM", "/usr/bin/chromium");
    let mut missing = Vec::new();
    if python.is_none() {
        missing.push("KASSA_PYTHON is not set (export the output of scripts/python-env)".into());
    }
    for tool in [&driver, &chromium] {
        if !tool.is_file() {
            missing.push(format!(
                "{} is missing (run scripts/browser-env)",
                tool.display()
            ));
        }
    }
    if missing.is_empty() {
        return python.map(|python| BrowserTools {
            python,
            driver,
            chromium,
        });
    }
    let why = missing.join("; ");
    assert!(
        std::env::var_os("CI").is_none(),
        "the browser test cannot run under CI: {why}"
    );
    eprintln!("skipped: {why}");
    None
}

/// Runs one of the suite's selenium scripts with the browser tools and returns the JSON object
/// it printed last on standard output; fails the test with its output otherwise.
pub async fn run_browser_script(
    tools: BrowserTools,
    script: &str,
    args: Vec<String>,
    timeout: std::time::Duration,
) -> Value {
    let name = script.rsplit('/').next().unwrap_or(script).to_string();
    let script = script.to_string();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(tools.python)
            .arg(script)
            .args(args)
            .env("KASSA_CHROMEDRIVER", tools.driver)
            .env("KASSA_CHROMIUM", tools.chromium)
            .env("SE_OFFLINE", "true")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
            .output()
    });
    let output = tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| panic!("{name} timed out"))
        .expect("browser script task")
        .expect("cannot start KASSA_PYTHON");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{name} printed no JSON:\n{stdout}\n{stderr}"))
}
