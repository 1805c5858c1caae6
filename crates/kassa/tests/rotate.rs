//! `kassa rotate-master-key`: every sealed secret is re-sealed under the new key in one go, the
//! database then accepts only the new key, and a rotation started with a wrong key changes
//! nothing.

use std::process::Command;

use kassa_api::service::{PURPOSE_GATEWAY_WEBHOOK, PURPOSE_GROUP_WEBHOOK, PURPOSE_SECRET_KEY};
use kassa_secrets::MasterKey;
use kassa_testkit::{TestApp, SECRET_KEY};
use serde_json::json;

const NEW_KEY: &str = "bmV3LWtleS1mb3Ita2Fzc2Etcm90YXRpb24tdGVzdDE=";

fn kassa(app: &TestApp) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kassa"));
    c.current_dir(std::env::temp_dir())
        .env_remove("KASSA_MASTER_KEY_FILE")
        .env_remove("KASSA_NEW_MASTER_KEY")
        .env("KASSA_DATABASE_URL", &app.db.url)
        .env("KASSA_LOG", "error");
    c
}

#[tokio::test]
async fn rotation_reseals_every_secret_under_the_new_key() {
    let app = TestApp::spawn().await;
    let g = app
        .post(
            "/v1/gateways",
            &json!({"type": "stripe_v2", "title": "G", "secret_key": SECRET_KEY, "webhook_secrets": ["whsec_rotationtest0001"]}),
        )
        .await;
    let gw = g.body["id"].as_i64().unwrap();
    let grp = app
        .post(
            "/v1/collection_groups",
            &json!({"name": "G", "gateway_id": gw, "webhook_secrets": ["whsec_rotationgroup001"]}),
        )
        .await;
    assert!(grp.status.is_success(), "{:?}", grp.body);
    let ep = app
        .post(
            "/v1/notification_endpoints",
            &json!({"url": "https://hooks.example/k", "enabled_events": ["*"]}),
        )
        .await;
    let endpoint_secret = ep.body["secret"].as_str().unwrap().to_string();

    // A wrong "old" key is refused before anything is written: without the database's record of
    // its key, because the stored secrets do not open with it; with the record, at once.
    let wrong = |app: &TestApp| {
        kassa(app)
            .env(
                "KASSA_MASTER_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            )
            .env("KASSA_NEW_MASTER_KEY", NEW_KEY)
            .arg("rotate-master-key")
            .output()
            .unwrap()
    };
    let out = wrong(&app);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("gateways.secret_key_sealed"));
    let out = kassa(&app)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .arg("reconcile")
        .output()
        .unwrap();
    assert!(out.status.success(), "the right key is recorded");
    let out = kassa(&app)
        .env(
            "KASSA_MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("KASSA_NEW_MASTER_KEY", NEW_KEY)
        .arg("rotate-master-key")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
    // Without a new key, nothing happens either.
    let out = kassa(&app)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .arg("rotate-master-key")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--new-master-key-file"));

    let out = kassa(&app)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .env("KASSA_NEW_MASTER_KEY", NEW_KEY)
        .arg("rotate-master-key")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["resealed"], 4,
        "secret key, two webhook secret lists, endpoint secret"
    );

    let (old, new) = (
        MasterKey::from_base64(&app.master_key).unwrap(),
        MasterKey::from_base64(NEW_KEY).unwrap(),
    );
    let rec = app.store.get_gateway(app.client_no, gw).await.unwrap();
    let sealed = rec.secret_key_sealed.unwrap();
    assert_eq!(new.open(PURPOSE_SECRET_KEY, &sealed).unwrap(), SECRET_KEY);
    assert!(old.open(PURPOSE_SECRET_KEY, &sealed).is_err());
    let hooks = new
        .open(
            PURPOSE_GATEWAY_WEBHOOK,
            rec.webhook_secrets_sealed.as_deref().unwrap(),
        )
        .unwrap();
    assert!(hooks.contains("whsec_rotationtest0001"));
    let group = app.store.get_group(app.client_no, 1).await.unwrap();
    let hooks = new
        .open(
            PURPOSE_GROUP_WEBHOOK,
            group.webhook_secrets_sealed.as_deref().unwrap(),
        )
        .unwrap();
    assert!(hooks.contains("whsec_rotationgroup001"));
    let eps = app.store.list_endpoints(app.client_no).await.unwrap();
    assert_eq!(
        new.open("notification_endpoint.secret", &eps[0].secret_sealed)
            .unwrap(),
        endpoint_secret
    );

    // From now on the database takes only the new key.
    let out = kassa(&app)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .arg("reconcile")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
    let out = kassa(&app)
        .env("KASSA_MASTER_KEY", NEW_KEY)
        .arg("reconcile")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
