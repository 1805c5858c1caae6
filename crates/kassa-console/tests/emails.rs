//! The console's email pages over HTTP: edit a template through the form (CSRF, a refusal shown
//! with what was typed), the outbox with its retry button, another client's email not reachable.

use kassa_testkit::console::ConsoleClient;
use kassa_testkit::reqwest::StatusCode;
use kassa_testkit::{Emulator, TestApp};
use serde_json::json;

/// The console client, answering each request with its status and page.
struct Browser(ConsoleClient);

impl Browser {
    async fn sign_in(app: &TestApp, key: &str) -> (Browser, String) {
        let mut c = ConsoleClient::new(app);
        let csrf = c.sign_in(key).await;
        (Browser(c), csrf)
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self.0.get(path).await;
        (r.status(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self.0.post(path, form).await;
        (r.status(), r.text().await.unwrap())
    }
}

#[tokio::test]
async fn a_template_is_edited_through_the_form() {
    let app = TestApp::spawn_with(kassa_console::app).await;
    let (b, csrf) = Browser::sign_in(&app, &app.api_key).await;
    let (status, page) = b.get("/console/emails").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("href=\"/console/emails\">Emails</a>"),
        "the nav links the page"
    );
    assert!(page.contains("SMTP is not configured"), "{page}");
    assert!(page.contains("Order confirmation") && page.contains("built-in"));
    let (status, page) = b.get("/console/emails/templates/order_confirmation").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<code>{{cs_phone}}</code>"),
        "the tokens are listed"
    );
    assert!(
        page.contains("Questions? Call +1 800 555 0199"),
        "a preview with sample data"
    );

    let path = "/console/emails/templates/order_confirmation";
    // Without the session's CSRF token: refused, nothing saved.
    let (status, _) = b.post(path, &[("subject", "x"), ("body", "y")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An unknown token: the form again, with the message and what was typed.
    let (status, page) = b
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("subject", "Thanks <3"),
                ("body", "Dear {{nickname}}"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("body: unknown token {{nickname}}"), "{page}");
    assert!(
        page.contains("value=\"Thanks &#60;3\"") || page.contains("value=\"Thanks &lt;3\""),
        "{page}"
    );
    assert!(page.contains("Dear {{nickname}}</textarea>"), "{page}");
    let t = app.get("/v1/email_templates/order_confirmation").await.body;
    assert_eq!(t["customized"], false, "nothing saved");
    // Saved, and switched off (the box unticked).
    let (status, _) = b
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("subject", "Thanks {{first_name}}"),
                ("body", "Line one\r\nCall {{cs_phone}}"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let t = app.get("/v1/email_templates/order_confirmation").await.body;
    assert_eq!(
        (
            t["subject"].as_str(),
            t["body"].as_str(),
            t["enabled"].as_bool()
        ),
        (
            Some("Thanks {{first_name}}"),
            Some("Line one\nCall {{cs_phone}}"),
            Some(false)
        )
    );
    let (_, page) = b.get("/console/emails?done=saved").await;
    assert!(
        page.contains("The template is saved.") && page.contains("edited"),
        "{page}"
    );
}

#[tokio::test]
async fn the_outbox_shows_each_email_and_retries_it() {
    let app = TestApp::spawn_with(kassa_console::app).await;
    let emu = Emulator::spawn().await;
    let (_, group) = app
        .emulator_gateway(&emu, json!({"disable_email_receipt": true}))
        .await;
    let acct = app.account("C-1", group).await;
    let r = app
        .post("/v1/payments", &json!({"acct_no": acct, "amount": 1000, "currency": "usd",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let e = &app.get("/v1/email_outbox").await.body["data"][0];
    let id = e["id"].as_i64().unwrap();
    let (b, csrf) = Browser::sign_in(&app, &app.api_key).await;
    let (_, page) = b
        .get("/console/emails?status=queued&kind=order_confirmation")
        .await;
    assert!(
        page.contains("ada@example.com") && page.contains("order_confirmation"),
        "{page}"
    );
    assert!(page.contains(&format!("/console/emails/outbox/{id}/retry")));
    let (_, page) = b.get("/console/emails?status=sent").await;
    assert!(page.contains("No emails."), "filtered out");
    let (status, _) = b
        .post(
            &format!("/console/emails/outbox/{id}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Another client sees none of it.
    let (_, other_key) = app.new_client("Other").await;
    let (o, other_csrf) = Browser::sign_in(&app, &other_key).await;
    let (_, page) = o.get("/console/emails").await;
    assert!(!page.contains("ada@example.com"));
    let (status, _) = o
        .post(
            &format!("/console/emails/outbox/{id}/retry"),
            &[("csrf", &other_csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
