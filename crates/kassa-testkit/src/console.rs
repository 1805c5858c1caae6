//! A cookie-keeping HTTP client for the operator console's forms (no JavaScript, like a browser
//! with scripts off): signs in, remembers the session cookie, posts forms from the same origin.

use reqwest::{redirect, StatusCode};

use crate::TestApp;

pub struct ConsoleClient {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> ConsoleClient {
        ConsoleClient {
            http: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            base: app.url(""),
            cookie: None,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", c);
        }
        rb.send().await.expect("the console answers")
    }

    /// The page's HTML, after checking it answered 200.
    pub async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.expect("a page")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(form);
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", c);
        }
        rb.send().await.expect("the console answers")
    }

    /// Signs in; returns the page's CSRF token.
    pub async fn sign_in(&mut self, key: &str) -> String {
        let r = self.post("/console/sign-in", &[("api_key", key)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let set = r.headers()["set-cookie"]
            .to_str()
            .expect("a cookie")
            .to_string();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attr), "{set}");
        }
        self.cookie = set.split(';').next().map(str::to_string);
        let page = self
            .get("/console/gateways")
            .await
            .text()
            .await
            .expect("a page");
        csrf_of(&page)
    }
}

/// The CSRF token in a page's first form.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + 64].to_string()
}
