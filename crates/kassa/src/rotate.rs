//! `kassa rotate-master-key`: re-seals every stored secret under a new master key in one
//! transaction, then the database accepts only the new key. Stop every `kassa` process first
//! (they hold the old key), rotate, start them again with the new one (docs/deployment.md).

use std::path::PathBuf;

use kassa_secrets::MasterKey;

use crate::config::{self, DatabaseArgs, KeyArgs};
use crate::CliError;

pub async fn rotate(
    db: DatabaseArgs,
    key: KeyArgs,
    new_key: Option<String>,
    new_key_file: Option<PathBuf>,
) -> Result<(), CliError> {
    let new = match (new_key.filter(|k| !k.trim().is_empty()), new_key_file) {
        (Some(k), _) => MasterKey::from_base64(&k).map_err(|_| {
            CliError::Config("KASSA_NEW_MASTER_KEY must be the base64 encoding of exactly 32 bytes".into())
        })?,
        (None, Some(path)) => config::read_key_file(&path)?,
        (None, None) => {
            return Err(CliError::Config(
                "give the new key: --new-master-key-file FILE or KASSA_NEW_MASTER_KEY (base64 of 32 bytes, e.g. `openssl rand -base64 32`)".into(),
            ))
        }
    };
    let url = db.url();
    let backend =
        kassa_storage::Backend::from_url(&url).map_err(|e| CliError::Config(e.to_string()))?;
    let old = key.load(backend, &db)?;
    let store = crate::open_store(&db).await?;
    // The database's record of its key, when it has one, must open with the old key. (Without
    // one, every sealed value still has to open with it, or nothing is written.)
    if store.meta_get(config::KEY_CHECK_META).await?.is_some() {
        config::check_master_key(&store, &old).await?;
    }
    let n = store
        .reseal_all(
            kassa_api::service::SEALED_COLUMNS,
            config::KEY_CHECK_META,
            &config::key_check_value(&new)?,
            |purpose, sealed| {
                let plain = old.open(purpose, sealed).map_err(|e| e.to_string())?;
                new.seal(purpose, &plain).map_err(|e| e.to_string())
            },
        )
        .await?;
    println!("{}", serde_json::json!({"resealed": n}));
    eprintln!("kassa: every secret is sealed under the new master key; start Kassa with it (the old key is refused from now on)");
    Ok(())
}
