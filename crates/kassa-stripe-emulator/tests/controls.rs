//! Test controls: the hosted 3DS page, automatic card updates, disputes.

mod common;

use common::{start, Api};
use serde_json::Value;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn three_ds_pi(api: &Api) -> (String, String, String) {
    let r = api
        .pay(
            "pm_card_authenticationRequired",
            &[("return_url", "https://shop.example/back?order=7")],
        )
        .await;
    assert_eq!(r.body["status"], "requires_action", "{}", r.body);
    let url = r.body["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["client_secret"].as_str().unwrap().to_string(),
        url,
    )
}

#[tokio::test]
async fn hosted_three_ds_page_completes_and_redirects() {
    let api = start().await;
    let http = no_redirects();
    let (pi, secret, url) = three_ds_pi(&api).await;
    assert!(
        url.starts_with(&format!("{}/_emulator/3ds/{pi}?", api.base)),
        "{url}"
    );
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("Complete") && page.contains("Fail"), "{page}");
    assert!(page.contains(&format!("action=\"/_emulator/3ds/{pi}\"")));
    // Wrong client secret: no such page.
    let r = http
        .get(format!(
            "{}/_emulator/3ds/{pi}?client_secret=nope",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{}/_emulator/3ds/{pi}", api.base))
        .form(&[("client_secret", secret.as_str()), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let expected = format!(
        "https://shop.example/back?order=7&payment_intent={pi}&payment_intent_client_secret={}&redirect_status=succeeded",
        secret
    );
    assert_eq!(location, expected);
    let r = api.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(r.body["status"], "succeeded");
    assert_eq!(r.body["next_action"], Value::Null);
    // The page now says there is nothing to do; posting again fails.
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Nothing to authenticate"));
    let r = http
        .post(format!("{}/_emulator/3ds/{pi}", api.base))
        .form(&[("client_secret", secret.as_str()), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn hosted_three_ds_page_fail_button() {
    let api = start().await;
    let http = no_redirects();
    let (pi, secret, _) = three_ds_pi(&api).await;
    let r = http
        .post(format!("{}/_emulator/3ds/{pi}", api.base))
        .form(&[("client_secret", secret.as_str()), ("outcome", "failure")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("&redirect_status=failed"), "{location}");
    let r = api.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(r.body["status"], "requires_payment_method");
    assert_eq!(
        r.body["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    let r = api
        .get("/v1/events?type=payment_intent.payment_failed")
        .await;
    assert_eq!(r.body["data"][0]["data"]["object"]["id"], pi.as_str());
}

#[tokio::test]
async fn automatic_card_update_emits_event_with_previous_attributes() {
    let api = start().await;
    let cus = api.customer().await;
    let r = api
        .post(
            "/v1/payment_methods",
            &[("type", "card"), ("card[token]", "tok_visa")],
        )
        .await;
    let pm = r.body["id"].as_str().unwrap().to_string();
    let old_fp = r.body["card"]["fingerprint"].as_str().unwrap().to_string();
    let old_year = r.body["card"]["exp_year"].as_i64().unwrap();
    api.post(
        &format!("/v1/payment_methods/{pm}/attach"),
        &[("customer", &cus)],
    )
    .await;
    let r = api
        .post(
            &format!("/_emulator/payment_methods/{pm}/card_update"),
            &[("exp_month", "4"), ("exp_year", "2034"), ("last4", "1881")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], pm.as_str());
    assert_eq!(r.body["card"]["last4"], "1881");
    assert_eq!(r.body["card"]["exp_month"], 4);
    assert_eq!(r.body["card"]["exp_year"], 2034);
    assert_ne!(r.body["card"]["fingerprint"], old_fp.as_str());
    let r = api
        .get("/v1/events?type=payment_method.automatically_updated")
        .await;
    let ev = &r.body["data"][0];
    assert_eq!(ev["data"]["object"]["card"]["last4"], "1881");
    let prev = &ev["data"]["previous_attributes"]["card"];
    assert_eq!(prev["last4"], "4242");
    assert_eq!(prev["exp_month"], 12);
    assert_eq!(prev["exp_year"], old_year);
    assert_eq!(prev["fingerprint"], old_fp.as_str());
    assert!(
        api.get("/v1/events?type=payment_method.updated").await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = api
        .post(
            &format!("/_emulator/payment_methods/{pm}/card_update"),
            &[("last4", "12")],
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn disputes_opened_and_closed_by_control_endpoints() {
    let api = start().await;
    let r = api.pay("pm_card_visa", &[]).await;
    let ch = r.body["latest_charge"].as_str().unwrap().to_string();
    let pi = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .post(
            &format!("/_emulator/charges/{ch}/dispute"),
            &[("reason", "product_not_received"), ("amount", "1500")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let dp = r.body["id"].as_str().unwrap().to_string();
    assert!(dp.starts_with("dp_"));
    assert_eq!(r.body["object"], "dispute");
    assert_eq!(r.body["amount"], 1500);
    assert_eq!(r.body["charge"], ch.as_str());
    assert_eq!(r.body["payment_intent"], pi.as_str());
    assert_eq!(r.body["status"], "needs_response");
    assert_eq!(
        r.body["payment_method_details"]["card"]["case_type"],
        "chargeback"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(r.body["evidence_details"]["due_by"].as_i64().unwrap() > now);
    assert_eq!(
        api.get(&format!("/v1/charges/{ch}")).await.body["disputed"],
        true
    );
    let again = api
        .post(&format!("/_emulator/charges/{ch}/dispute"), &[])
        .await;
    assert_eq!(again.status, 400);
    let r = api.get("/v1/events?type=charge.dispute.created").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["id"], dp.as_str());
    assert!(api.get("/v1/events?type=charge.updated").await.body["data"]
        .as_array()
        .unwrap()
        .is_empty());
    let r = api
        .post(
            &format!("/_emulator/disputes/{dp}/close"),
            &[("status", "won")],
        )
        .await;
    assert_eq!(r.body["status"], "won");
    let r = api.get("/v1/events?type=charge.dispute.closed").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["status"], "won");
    assert_eq!(
        r.body["data"][0]["data"]["previous_attributes"]["status"],
        "needs_response"
    );
    let r = api
        .post(
            &format!("/_emulator/disputes/{dp}/close"),
            &[("status", "lost")],
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn dispute_test_cards_dispute_right_after_capture() {
    let api = start().await;
    let r = api.pay("pm_card_createDispute", &[]).await;
    assert_eq!(r.body["status"], "succeeded");
    let pi = r.body["id"].as_str().unwrap().to_string();
    let r = api.get(&format!("/v1/disputes?payment_intent={pi}")).await;
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["reason"], "fraudulent");
    // Manual capture: the dispute comes with the capture.
    let r = api
        .pay(
            "pm_card_createDisputeInquiry",
            &[("capture_method", "manual")],
        )
        .await;
    let pi = r.body["id"].as_str().unwrap().to_string();
    let q = format!("/v1/disputes?payment_intent={pi}");
    assert!(api.get(&q).await.body["data"]
        .as_array()
        .unwrap()
        .is_empty());
    api.post(&format!("/v1/payment_intents/{pi}/capture"), &[])
        .await;
    let r = api.get(&q).await;
    let dp = r.body["data"][0].clone();
    assert_eq!(dp["status"], "warning_needs_response");
    assert_eq!(dp["payment_method_details"]["card"]["case_type"], "inquiry");
    // Evidence without a decision: under review (an update event); then the test-mode
    // winning evidence decides it.
    let id = dp["id"].as_str().unwrap();
    let r = api
        .post(
            &format!("/v1/disputes/{id}"),
            &[("evidence[product_description]", "a lamp")],
        )
        .await;
    assert_eq!(r.body["status"], "warning_under_review", "{}", r.body);
    assert_eq!(r.body["evidence_details"]["submission_count"], 1);
    let r = api.get("/v1/events?type=charge.dispute.updated").await;
    assert_eq!(
        r.body["data"][0]["data"]["previous_attributes"]["status"],
        "warning_needs_response"
    );
    let r = api
        .post(
            &format!("/v1/disputes/{id}"),
            &[("evidence[uncategorized_text]", "winning_evidence")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "warning_closed");
    assert_eq!(r.body["evidence"]["uncategorized_text"], "winning_evidence");
    let r = api.get("/v1/events?type=charge.dispute.*").await;
    let kinds: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "charge.dispute.closed",
            "charge.dispute.updated",
            "charge.dispute.created",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.created"
        ]
    );
    let r = api
        .post(&format!("/v1/disputes/{id}"), &[("evidence[nope]", "x")])
        .await;
    assert_eq!(r.err("param"), "evidence[nope]");
}
