//! The console's forms over HTTP: a gateway created and edited through the form (grouped as the
//! seed groups it, secrets write-only, errors naming the field with nothing saved), campaigns
//! with products and their gateway or routing assignment, delete and restore, routing profiles,
//! collection groups, and the customer profile's card-update history, chargebacks and status
//! history.

use std::time::Duration;

use kassa_testkit::console::{csrf_of, ConsoleClient};
use kassa_testkit::reqwest::StatusCode;
use kassa_testkit::{Emulator, TestApp, SECRET_KEY};
use serde_json::{json, Value};

async fn gateway_count(app: &TestApp) -> usize {
    app.get("/v1/gateways").await.body["data"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn a_gateway_is_created_and_edited_through_the_form() {
    let app = TestApp::spawn_with(kassa_console::app).await;
    let emu = Emulator::spawn().await;
    let mut b = ConsoleClient::new(&app);
    let csrf = b.sign_in(&app.api_key).await;

    let form = b.page("/console/gateways/new").await;
    for group in [
        "Merchant information",
        "Customer service info",
        "Limits",
        "Descriptor and MID #",
        "Fraud",
        "3-D Secure",
        "Webhooks",
    ] {
        assert!(
            form.contains(&format!("<legend>{group}</legend>")),
            "{group}"
        );
    }
    assert!(form.contains("<option value=\"stripe_v1\" disabled>Stripe V1 (legacy"));
    assert!(form.contains("type=\"password\" id=\"f-secret_key\""));
    assert!(form.contains(&format!("/webhooks/stripe/{}", app.client_no)));

    let good: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("type", "stripe_v2"),
        ("title", "Main Stripe"),
        ("status", "active"),
        ("secret_key", SECRET_KEY),
        ("api_base_url", &emu.url),
        ("descriptor_suffix", "SHOP1"),
        ("send_product_name", "on"),
        ("disable_email_receipt", "on"),
        ("duplicate_window_minutes", "5"),
        ("customer_service.phone", "+1 555 0100"),
        ("customer_service.email", "help@shop.example"),
        ("customer_service.url", "https://shop.example/help"),
        ("limits.currency", "usd"),
        ("limits.monthly_cap", "50,000.00"),
        ("limits.discount_rate", "2.95"),
        ("limits.transaction_fee", "0.30"),
        ("limits.reserve_rate", "10"),
        ("limits.chargeback_fee", "15"),
        ("rate_limits.requests_per_second", "25"),
        ("rate_limits.max_concurrency", "10"),
        ("descriptor", "SHOP.EXAMPLE"),
        ("mid_number", "MID-77"),
        ("fraud.send_fraud_scoring_request", "on"),
        ("fraud.status_on_fraud_scoring_failure", ""),
        ("fraud.status_on_fraud_scoring_review", ""),
        ("three_ds.termination_url", "https://shop.example/3ds-done"),
        ("webhook_secrets", "whsec_formtestsecret0001"),
    ];
    let with = |key: &str, value: &'static str| -> Vec<(String, String)> {
        good.iter()
            .map(|(k, v)| {
                let v = if *k == key { value } else { *v };
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    let post = |form: Vec<(String, String)>| {
        let b = &b;
        async move {
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.post("/console/gateways/new", &pairs).await
        }
    };

    // A bad amount: the field is named, what was typed stays (but the secret), nothing saved.
    let r = post(with("limits.monthly_cap", "12.345")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("limits.monthly_cap: `12.345` is not an amount"),
        "{page}"
    );
    assert!(page.contains("value=\"Main Stripe\""));
    assert!(!page.contains(SECRET_KEY));
    assert!(!page.contains("whsec_formtestsecret0001"));
    // The service's own rules: a connected account needs an acct_ MID.
    let mut connected = with("mid_number", "MID-77");
    connected.push(("connected_account".into(), "on".into()));
    let r = post(connected).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("mid_number"));
    // Stripe V1 is not offered, and refused if forced.
    let r = post(with("type", "stripe_v1")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("legacy"));
    assert_eq!(gateway_count(&app).await, 0);

    let r = post(with("title", "Main Stripe")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = location.rsplit('=').next().unwrap().parse().unwrap();
    assert!(location.starts_with("/console/gateways?done=created"));
    let g = app.get(&format!("/v1/gateways/{id}")).await.body;
    assert_eq!(g["type"], "stripe_v2");
    assert_eq!(g["limits"]["monthly_cap"], 5_000_000);
    assert_eq!(g["limits"]["transaction_fee"], 30);
    assert_eq!(g["limits"]["chargeback_fee"], 1500);
    assert_eq!(g["limits"]["discount_rate"], "2.95");
    assert_eq!(g["customer_service"]["email"], "help@shop.example");
    assert_eq!(g["descriptor_suffix"], "SHOP1");
    assert_eq!(g["disable_email_receipt"], true);
    assert_eq!(g["disable_phone"], false);
    assert_eq!(g["fraud"]["send_fraud_scoring_request"], true);
    assert_eq!(
        g["three_ds"]["termination_url"],
        "https://shop.example/3ds-done"
    );
    assert_eq!(g["webhook_secrets"].as_array().map(Vec::len), Some(1));
    let redacted_key = g["secret_key"].as_str().unwrap().to_string();
    assert_ne!(redacted_key, SECRET_KEY);

    // The edit page shows the values, never the secrets.
    let edit = b.page(&format!("/console/gateways/{id}/edit")).await;
    assert!(edit.contains("value=\"50,000.00\""));
    assert!(edit.contains("value=\"MID-77\""));
    assert!(edit.contains(&redacted_key));
    assert!(!edit.contains(SECRET_KEY));
    assert!(!edit.contains("whsec_formtestsecret0001"));
    // Saved with the secrets left blank: they are kept; a cleared field goes back to none.
    let mut update: Vec<(String, String)> = with("descriptor_suffix", "SHOP2")
        .into_iter()
        .filter(|(k, _)| k != "secret_key" && k != "webhook_secrets" && k != "type")
        .map(|(k, v)| {
            if k == "mid_number" {
                (k, String::new())
            } else {
                (k, v)
            }
        })
        .collect();
    update.retain(|(k, _)| k != "send_product_name");
    let pairs: Vec<(&str, &str)> = update
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = b
        .post(&format!("/console/gateways/{id}/edit"), &pairs)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let g = app.get(&format!("/v1/gateways/{id}")).await.body;
    assert_eq!(g["descriptor_suffix"], "SHOP2");
    assert_eq!(g["mid_number"], Value::Null);
    assert_eq!(g["send_product_name"], false, "an unticked box is off");
    assert_eq!(g["secret_key"], redacted_key.as_str());
    assert_eq!(g["webhook_secrets"].as_array().map(Vec::len), Some(1));
    // The gateway still charges through the emulator with the kept key.
    let grp = app
        .post(
            "/v1/collection_groups",
            &json!({"name": "G", "gateway_id": id}),
        )
        .await;
    let acct = app
        .account("C-9", grp.body["group_no"].as_i64().unwrap())
        .await;
    let pay = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "amount": 1_000, "currency": "usd", "force": true,
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await;
    assert_eq!(pay.body["status"], "captured", "{:?}", pay.body);

    // Without the session's token nothing changes; another client cannot open the form.
    let r = b
        .post(
            &format!("/console/gateways/{id}/edit"),
            &[("csrf", "nope"), ("title", "Hijacked")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&format!("/v1/gateways/{id}")).await.body["title"],
        "Main Stripe"
    );
    let (_, other_key) = app.new_client("Other").await;
    let mut other = ConsoleClient::new(&app);
    other.sign_in(&other_key).await;
    let r = other.get(&format!("/console/gateways/{id}/edit")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn campaigns_products_routing_profiles_and_collection_groups() {
    let app = TestApp::spawn_with(kassa_console::app).await;
    let emu = Emulator::spawn().await;
    let (gw1, _) = app.emulator_gateway(&emu, json!({"title": "One"})).await;
    let (gw2, _) = app.emulator_gateway(&emu, json!({"title": "Two"})).await;
    let mut b = ConsoleClient::new(&app);
    let csrf = b.sign_in(&app.api_key).await;
    let csrf = csrf.as_str();

    let r = b
        .post(
            "/console/campaigns",
            &[
                ("csrf", csrf),
                ("name", "Gateway test (phone)"),
                ("currency", "usd"),
                ("is_test", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let campaign: i64 = r.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let path = format!("/console/campaigns/{campaign}");
    let page = b.page(&path).await;
    assert!(page.contains(&format!("<option value=\"g:{gw1}\"")));

    // A recurring offer: $1.00 then $49.95 monthly, on gateway 1.
    let target1 = format!("g:{gw1}");
    let product_form = |cycles: &'static str| {
        vec![
            ("csrf", csrf),
            ("name", "Trial box"),
            ("sku", "BOX-1"),
            ("kind", "recurring"),
            ("cycle_prices", cycles),
            ("interval_count", "1"),
            ("interval_unit", "months"),
            ("trial_days", "14"),
            ("final_cycle", ""),
            ("target", target1.as_str()),
        ]
    };
    let r = b
        .post(&format!("{path}/products"), &product_form("1.00, abc"))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("cycle_prices[1]: `abc` is not an amount"),
        "{page}"
    );
    assert!(page.contains("value=\"Trial box\""));
    let r = b
        .post(&format!("{path}/products"), &product_form("1.00, 49.95"))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let c = app.get(&format!("/v1/campaigns/{campaign}")).await.body;
    let products = c["products"].as_array().unwrap();
    assert_eq!(products.len(), 1, "the refused product was not saved");
    let p = &products[0];
    assert_eq!(p["schedule"]["prices"], json!([100, 4995]));
    assert_eq!(p["schedule"]["trial_days"], 14);
    assert_eq!(p["gateway_id"], gw1);
    let product = p["id"].as_i64().unwrap();
    assert!(b
        .page(&path)
        .await
        .contains("cycles 1.00, 49.95 every 1 months, trial 14 days"));

    // A test order with a real (test) card: a customer is made, the order charged on gateway 1.
    let pid = product.to_string();
    let order = |card: &'static str, email: &'static str| {
        vec![
            ("csrf", csrf),
            ("product_id", pid.as_str()),
            ("first_name", "Tess"),
            ("last_name", "Tester"),
            ("email", email),
            ("country", "US"),
            ("card_number", card),
            ("exp_month", "12"),
            ("exp_year", "2034"),
            ("cvc", "123"),
        ]
    };
    let r = b
        .post(
            &format!("{path}/test_order"),
            &order("4000 0000 0000 0002", "decline@example.com"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Test order not placed: Your card was declined"),
        "{page}"
    );
    assert!(!page.contains("4000 0000 0000 0002") && !page.contains("4000000000000002"));
    let r = b
        .post(
            &format!("{path}/test_order"),
            &order("4242 4242 4242 4242", "tess@example.com"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let acct: i64 = location
        .trim_start_matches("/console/customers/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let purchases = app.get(&format!("/v1/purchases?acct_no={acct}")).await.body;
    assert_eq!(purchases["data"][0]["product_id"], product);
    assert_eq!(purchases["data"][0]["gateway_id"], gw1);
    let profile = b.page(&location).await;
    assert!(profile.contains("Test order placed.") && profile.contains("Force Bill NOW"));
    let a = app.get(&format!("/v1/accounts/{acct}")).await.body;
    assert_eq!(a["client_acct_id"], "test-tess@example.com");

    // A routing profile over both gateways: weights must add up to 100.
    let (i1, i2) = (format!("include_{gw1}"), format!("include_{gw2}"));
    let (w1, w2) = (format!("weight_{gw1}"), format!("weight_{gw2}"));
    let (p1, p2) = (format!("position_{gw1}"), format!("position_{gw2}"));
    let routing = |second: &'static str| {
        vec![
            ("csrf", csrf),
            ("name", "Split"),
            ("algorithm", "weighted"),
            (i1.as_str(), "on"),
            (w1.as_str(), "70"),
            (p1.as_str(), "2"),
            (i2.as_str(), "on"),
            (w2.as_str(), second),
            (p2.as_str(), "1"),
        ]
    };
    let r = b.post("/console/routing_profiles", &routing("20")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("weights must add up to 100, not 90"));
    let r = b.post("/console/routing_profiles", &routing("30")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let profiles = app.get("/v1/routing_profiles").await.body;
    let profile = &profiles["data"][0];
    assert_eq!(
        profile["gateways"],
        json!([{"gateway_id": gw2, "weight": 30}, {"gateway_id": gw1, "weight": 70}])
    );
    let profile_id = profile["id"].as_i64().unwrap();
    assert!(b
        .page("/console/routing_profiles")
        .await
        .contains(&format!("#{gw2} (30%) → #{gw1} (70%)")));

    // Assign the product to the profile instead of gateway 1.
    let target = format!("r:{profile_id}");
    let r = b
        .post(
            &format!("{path}/products/{product}"),
            &[("csrf", csrf), ("target", target.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let p = &app.get(&format!("/v1/campaigns/{campaign}")).await.body["products"][0];
    assert_eq!(
        (p["gateway_id"].clone(), p["routing_profile_id"].clone()),
        (Value::Null, json!(profile_id))
    );

    // Delete: gone from the list, shown among the deleted; restore brings it back as it was.
    let r = b.post(&format!("{path}/delete"), &[("csrf", csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!b
        .page("/console/campaigns")
        .await
        .contains("Gateway test (phone)"));
    assert!(b
        .page("/console/campaigns?deleted=true")
        .await
        .contains("Gateway test (phone)"));
    let r = b.post(&format!("{path}/restore"), &[("csrf", csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(b
        .page("/console/campaigns")
        .await
        .contains("Gateway test (phone)"));
    assert_eq!(
        app.get(&format!("/v1/campaigns/{campaign}")).await.body["products"][0]
            ["routing_profile_id"],
        profile_id
    );

    // A collection group with overrides; then archived.
    let gw2s = gw2.to_string();
    let r = b
        .post(
            "/console/collection_groups",
            &[
                ("csrf", csrf),
                ("name", "VIP"),
                ("group_no", "77"),
                ("client_group_id", "vip"),
                ("gateway_id", gw2s.as_str()),
                ("soft_descriptor", "VIP CLUB"),
                ("send_fraud_scoring_request", "off"),
                ("change_status_on_fraud_scoring_failure", "inherit"),
                ("change_status_on_fraud_scoring_review", "inherit"),
                ("status_on_fraud_scoring_failure", ""),
                ("status_on_fraud_scoring_review", ""),
                ("termination_url", "https://vip.example/3ds"),
                ("webhook_secrets", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let g = app.get("/v1/collection_groups/77").await.body;
    assert_eq!(g["gateway_id"], gw2);
    assert_eq!(g["fraud"]["send_fraud_scoring_request"], false);
    assert_eq!(
        g["fraud"]["change_status_on_fraud_scoring_failure"],
        Value::Null
    );
    assert_eq!(g["three_ds"]["termination_url"], "https://vip.example/3ds");
    let r = b
        .post(
            "/console/collection_groups",
            &[
                ("csrf", csrf),
                ("name", "Dup"),
                ("group_no", "77"),
                ("gateway_id", gw2s.as_str()),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a taken number is refused"
    );
    let r = b
        .post("/console/collection_groups/77/archive", &[("csrf", csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/v1/collection_groups/77").await.body["status"],
        "archived"
    );

    // Another client sees none of it.
    let (_, other_key) = app.new_client("Other").await;
    let mut other = ConsoleClient::new(&app);
    other.sign_in(&other_key).await;
    assert_eq!(other.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert!(!other
        .page("/console/routing_profiles")
        .await
        .contains("Split"));
}

#[tokio::test]
async fn the_profile_shows_card_updates_chargebacks_and_status_history() {
    let app = TestApp::spawn_with(kassa_console::app).await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(&emu, json!({"limits": {"chargeback_fee": 1500}}))
        .await;
    kassa_api::service::webhooks::register(&app.state(), gw, None)
        .await
        .unwrap();
    let acct = app.account("C-1", group).await;
    let (campaign, product) = app
        .recurring_product(
            gw,
            json!({"prices": [4_200], "interval_unit": "months", "interval_count": 1}),
        )
        .await;
    let order = app
        .order_with_card(campaign, acct, product, "4242424242424242")
        .await;
    let payment_id = order["payment_id"].as_str().unwrap().to_string();
    let pay = app.get(&format!("/v1/payments/{payment_id}")).await;
    assert_eq!(pay.body["status"], "captured", "{:?}", pay.body);
    let pms = app
        .get(&format!("/v1/accounts/{acct}/payment_methods"))
        .await
        .body;
    let token = pms["data"][0]["token"].as_str().unwrap().to_string();
    let stripe_pm = token.split(':').next().unwrap();
    let http = kassa_testkit::reqwest::Client::new();
    let r = http
        .post(format!(
            "{}/_emulator/payment_methods/{stripe_pm}/card_update",
            emu.url
        ))
        .bearer_auth(SECRET_KEY)
        .form(&[("exp_month", "3"), ("exp_year", "2037")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let charge = pay.body["auth_no"].as_str().unwrap();
    let r = http
        .post(format!("{}/_emulator/charges/{charge}/dispute", emu.url))
        .bearer_auth(SECRET_KEY)
        .form(&[("reason", "fraudulent")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = app
        .patch(
            &format!("/v1/accounts/{acct}"),
            &json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let mut b = ConsoleClient::new(&app);
    b.sign_in(&app.api_key).await;
    let path = format!("/console/customers/{acct}");
    let mut page = String::new();
    for _ in 0..100 {
        page = b.page(&path).await;
        if page.contains("fraudulent") && page.contains("Card-update history") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(page.contains("Card-update history (1)"), "{page}");
    assert!(page.contains("exp_year 2034 → 2037"), "{page}");
    let chargebacks = &page[page.find("id=\"chargebacks\"").unwrap()..];
    assert!(chargebacks.contains(&format!("<code>{payment_id}</code>")));
    assert!(chargebacks.contains("42.00 USD"));
    assert!(chargebacks.contains("fraudulent"));
    assert!(
        chargebacks.contains("15.00"),
        "the gateway's chargeback fee"
    );
    let history = &page[page.find("id=\"status-history\"").unwrap()..];
    assert!(history.contains("active → suspended"), "{history}");
    assert!(!csrf_of(&page).is_empty());
}
