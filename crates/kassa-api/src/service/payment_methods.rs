//! Payment methods: tokenized cards (created at Stripe, or brought as `pm_…:cus_…`), bank accounts.

use kassa_domain::billing_account::{AccountProfile, Address};
use kassa_domain::card::{check_cvc, check_expiry, CardNumber, StripeToken};
use kassa_domain::json::parse;
use kassa_storage::{AccountRecord, PaymentMethodRecord, StorageError};
use kassa_stripe::objects::PaymentMethod;
use kassa_stripe::params::{CardParams, CustomerParams};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::gateway_ctx::{self, map_stripe_error, GatewayCtx};
use crate::auth::Auth;
use crate::views::{timestamp, PaymentMethodView};
use crate::{ApiError, AppState};

pub const PURPOSE_BANK: &str = "payment_method.bank_account";

/// A card as a request carries it. Never stored, never logged: `Debug` hides it.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    pub number: String,
    pub exp_month: i64,
    pub exp_year: i64,
    #[serde(default)]
    pub cvc: Option<String>,
    #[serde(default)]
    pub billing_address: Option<Address>,
    #[serde(default)]
    pub name: Option<String>,
}

impl std::fmt::Debug for CardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardInput(…)")
    }
}

/// A card that passed every local check.
pub struct CheckedCard {
    pub number: CardNumber,
    pub exp_month: i64,
    pub exp_year: i64,
    pub cvc: Option<String>,
    pub billing_address: Option<Address>,
    pub name: Option<String>,
}

fn today() -> (i32, u8) {
    let now = time::OffsetDateTime::now_utc();
    (now.year(), u8::from(now.month()))
}

/// Luhn, brand, expiry and CVC, checked here before Stripe sees the card; errors name
/// `card.number`, `card.exp_month`, ….
pub fn check_card(input: CardInput) -> Result<CheckedCard, ApiError> {
    let number = CardNumber::parse(&input.number).map_err(|e| e.under("card.number"))?;
    let (year, month) =
        check_expiry(input.exp_month, input.exp_year, today()).map_err(|e| e.under("card"))?;
    if let Some(cvc) = &input.cvc {
        check_cvc(cvc, number.brand()).map_err(|e| e.under("card"))?;
    }
    if let Some(a) = &input.billing_address {
        a.validate().map_err(|e| e.under("card.billing_address"))?;
    }
    Ok(CheckedCard {
        number,
        exp_month: i64::from(month),
        exp_year: i64::from(year),
        cvc: input.cvc,
        billing_address: input.billing_address,
        name: input.name,
    })
}

fn profile(account: &AccountRecord) -> Result<AccountProfile, ApiError> {
    serde_json::from_str(&account.profile).map_err(ApiError::internal)
}

/// The account's Stripe customer on this gateway, made on first use. The gateway's flags decide
/// what of the account is sent.
pub async fn ensure_customer(
    state: &AppState,
    gw: &GatewayCtx,
    account: &AccountRecord,
) -> Result<String, ApiError> {
    if let Some(c) = state
        .store
        .processor_customer(account.acct_no, gw.record.id)
        .await?
    {
        return Ok(c);
    }
    let p = profile(account)?;
    let s = &gw.settings;
    let params = CustomerParams {
        name: p.display_name(),
        email: if s.disable_email {
            None
        } else {
            p.email.clone()
        },
        phone: if s.disable_phone {
            None
        } else {
            p.phone.clone()
        },
        address: if s.do_not_send_address || p.billing_address.is_empty() {
            None
        } else {
            Some(p.billing_address.clone())
        },
        description: Some(format!(
            "Kassa account {} ({})",
            account.acct_no, account.client_acct_id
        )),
        metadata: vec![
            ("kassa_acct_no".into(), account.acct_no.to_string()),
            ("client_acct_id".into(), account.client_acct_id.clone()),
        ],
    };
    // One key per account and gateway: a retry after a lost answer finds the same customer.
    let key = format!("kassa-cus-{}-{}", account.acct_no, gw.record.id);
    let customer = gw
        .client
        .create_customer(&params, &gw.options(Some(key)))
        .await
        .map_err(map_stripe_error)?;
    Ok(state
        .store
        .save_processor_customer(
            account.client_no,
            account.acct_no,
            gw.record.id,
            &customer.id,
        )
        .await?)
}

/// Creates a card PaymentMethod at Stripe from checked card data.
pub async fn create_card_at_stripe(
    gw: &GatewayCtx,
    card: &CheckedCard,
    account: &AccountRecord,
) -> Result<PaymentMethod, ApiError> {
    let p = profile(account)?;
    let s = &gw.settings;
    let address = card
        .billing_address
        .clone()
        .or_else(|| (!p.billing_address.is_empty()).then(|| p.billing_address.clone()));
    let params = CardParams {
        number: card.number.expose().to_string(),
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        cvc: card.cvc.clone(),
        name: card.name.clone().or_else(|| p.display_name()),
        email: if s.disable_email {
            None
        } else {
            p.email.clone()
        },
        phone: if s.disable_phone {
            None
        } else {
            p.phone.clone()
        },
        address: if s.do_not_send_address { None } else { address },
    };
    let key = kassa_secrets::new_id("kassa-pm-")?;
    gw.client
        .create_card_payment_method(&params, &gw.options(Some(key)))
        .await
        .map_err(map_stripe_error)
}

/// The stored record of a Stripe card PaymentMethod on `customer`.
pub fn card_record(
    account: &AccountRecord,
    gateway_id: i64,
    pm: &PaymentMethod,
    customer: &str,
) -> PaymentMethodRecord {
    let card = pm.card.as_ref();
    PaymentMethodRecord {
        client_no: account.client_no,
        acct_no: account.acct_no,
        gateway_id: Some(gateway_id),
        kind: "card".into(),
        status: "active".into(),
        token: Some(
            StripeToken {
                payment_method_id: pm.id.clone(),
                customer_id: customer.to_string(),
            }
            .to_token_string(),
        ),
        brand: card.map(|c| c.brand.clone()),
        last4: card.map(|c| c.last4.clone()),
        exp_month: card.map(|c| c.exp_month),
        exp_year: card.map(|c| c.exp_year),
        fingerprint: card.and_then(|c| c.fingerprint.clone()),
        funding: card.and_then(|c| c.funding.clone()),
        ..Default::default()
    }
}

pub fn view(rec: &PaymentMethodRecord) -> PaymentMethodView {
    let three_ds: Option<Value> = rec
        .three_ds
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    PaymentMethodView {
        object: "payment_method",
        payment_method_no: rec.pm_no,
        acct_no: rec.acct_no,
        gateway_id: rec.gateway_id,
        kind: rec.kind.clone(),
        pay_method_type: if rec.kind == "card" { 13 } else { 2 },
        status: rec.status.clone(),
        token: rec.token.clone(),
        brand: rec.brand.clone(),
        last4: rec.last4.clone(),
        exp_month: rec.exp_month,
        exp_year: rec.exp_year,
        fingerprint: rec.fingerprint.clone(),
        funding: rec.funding.clone(),
        initial_txn_id: rec.initial_txn_id.clone(),
        holder_type: rec.holder_type.clone(),
        holder_name: rec.holder_name.clone(),
        redirect_issuer_url: three_ds
            .as_ref()
            .filter(|_| rec.status == super::card_setup::REQUIRES_ACTION)
            .and_then(|v| v["redirect_issuer_url"].as_str().map(str::to_string)),
        three_ds: three_ds.map(|mut v| {
            // Where the shopper returns is the merchant's setting, not the card's.
            if let Value::Object(m) = &mut v {
                m.remove("termination_url");
                m.remove("error");
            }
            v
        }),
        created_at: timestamp(rec.created_at),
        updated_at: timestamp(rec.updated_at),
    }
}

fn account_not_found(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::NotFound("account"),
        other => other.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankInput {
    routing_number: String,
    account_number: String,
    holder_type: String,
    holder_name: String,
}

/// An ABA routing number: nine digits with the 3-7-1 checksum.
fn aba_ok(r: &str) -> bool {
    if r.len() != 9 || !r.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let d: Vec<u32> = r.bytes().map(|b| u32::from(b - b'0')).collect();
    (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])).is_multiple_of(10)
}

/// `POST /v1/accounts/{acct_no}/payment_methods`: exactly one of `card`, `token`, `bank_account`.
pub async fn create(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
    mut body: Map<String, Value>,
) -> Result<PaymentMethodView, ApiError> {
    let account = state
        .store
        .get_account(auth.client_no, acct_no)
        .await
        .map_err(account_not_found)?;
    let gateway_id = super::take_i64(&mut body, "gateway_id")?;
    // A card imported from another processor may come with the network transaction id of its
    // first customer-initiated authorization there.
    let imported_txn = match super::take_string(&mut body, "initial_txn_id")? {
        super::Patch::Set(s) if !s.trim().is_empty() && s.len() <= 64 => Some(s),
        super::Patch::Set(_) => {
            return Err(ApiError::invalid(
                "initial_txn_id",
                "initial_txn_id: must be 1 to 64 characters",
            ))
        }
        _ => None,
    };
    let group_no = super::take_i64(&mut body, "collection_group_no")?;
    let attempt_3ds = super::take_bool(&mut body, "attempt_3d_secure")?.unwrap_or(false);
    let sources: Vec<&str> = ["card", "token", "bank_account"]
        .into_iter()
        .filter(|k| body.contains_key(*k))
        .collect();
    if sources.len() != 1 {
        return Err(ApiError::InvalidRequest {
            param: Some("card".into()),
            code: if sources.is_empty() {
                "parameter_missing"
            } else {
                "parameter_invalid"
            },
            message: "give exactly one of card, token or bank_account".into(),
        });
    }
    if let Some(k) = body
        .keys()
        .find(|k| !["card", "token", "bank_account"].contains(&k.as_str()))
    {
        return Err(ApiError::InvalidRequest {
            param: Some(k.clone()),
            code: "parameter_unknown",
            message: format!("unknown field `{k}`"),
        });
    }
    if attempt_3ds && sources[0] != "card" {
        return Err(ApiError::invalid(
            "attempt_3d_secure",
            "attempt_3d_secure: only a new card is authenticated when it is saved",
        ));
    }
    if imported_txn.is_some() && sources[0] != "token" {
        return Err(ApiError::invalid(
            "initial_txn_id",
            "initial_txn_id: only goes with a token of a card imported from another processor",
        ));
    }
    let record = match sources[0] {
        "card" => {
            let input: CardInput =
                parse(body.remove("card").unwrap_or_default()).map_err(|e| e.under("card"))?;
            let card = check_card(input)?;
            let gw = gateway_ctx::for_account(state, &account, gateway_id, group_no).await?;
            if attempt_3ds {
                // Stored by the setup itself, before Stripe is asked.
                let rec = super::card_setup::save(state, &gw, &account, &card).await?;
                return Ok(view(&rec));
            }
            let customer = ensure_customer(state, &gw, &account).await?;
            let pm = create_card_at_stripe(&gw, &card, &account).await?;
            let key = format!("kassa-attach-{}-{}", pm.id, customer);
            let pm = gw
                .client
                .attach_payment_method(&pm.id, &customer, &gw.options(Some(key)))
                .await
                .map_err(map_stripe_error)?;
            card_record(&account, gw.record.id, &pm, &customer)
        }
        "token" => {
            let raw = match body.remove("token") {
                Some(Value::String(s)) => s,
                _ => String::new(),
            };
            let token = StripeToken::parse(&raw)?;
            let gw = gateway_ctx::for_account(state, &account, gateway_id, group_no).await?;
            // Checked against Stripe before it is stored.
            let pm = match gw
                .client
                .retrieve_payment_method(&token.payment_method_id, &gw.options(None))
                .await
            {
                Ok(pm) => pm,
                Err(kassa_stripe::StripeError::Api(a))
                    if a.status == 404 || a.code.as_deref() == Some("resource_missing") =>
                {
                    return Err(ApiError::InvalidRequest {
                        param: Some("token".into()),
                        code: "token_invalid",
                        message: format!(
                            "token: Stripe has no payment method {}",
                            token.payment_method_id
                        ),
                    })
                }
                Err(e) => return Err(map_stripe_error(e)),
            };
            if pm.customer.as_deref() != Some(token.customer_id.as_str()) {
                return Err(ApiError::InvalidRequest {
                    param: Some("token".into()),
                    code: "token_invalid",
                    message: format!(
                        "token: payment method {} is not attached to customer {}",
                        token.payment_method_id, token.customer_id
                    ),
                });
            }
            if state
                .store
                .processor_customer(account.acct_no, gw.record.id)
                .await?
                .is_none()
            {
                state
                    .store
                    .save_processor_customer(
                        account.client_no,
                        account.acct_no,
                        gw.record.id,
                        &token.customer_id,
                    )
                    .await?;
            }
            let mut rec = card_record(&account, gw.record.id, &pm, &token.customer_id);
            rec.initial_txn_imported = imported_txn.is_some();
            rec.initial_txn_id = imported_txn.clone();
            rec
        }
        _ => {
            let b: BankInput = parse(body.remove("bank_account").unwrap_or_default())
                .map_err(|e| e.under("bank_account"))?;
            if !aba_ok(&b.routing_number) {
                return Err(ApiError::invalid(
                    "bank_account.routing_number",
                    "bank_account.routing_number: must be a 9-digit ABA routing number",
                ));
            }
            if !(4..=17).contains(&b.account_number.len())
                || !b.account_number.bytes().all(|c| c.is_ascii_digit())
            {
                return Err(ApiError::invalid(
                    "bank_account.account_number",
                    "bank_account.account_number: must be 4 to 17 digits",
                ));
            }
            if !["individual", "company"].contains(&b.holder_type.as_str()) {
                return Err(ApiError::invalid(
                    "bank_account.holder_type",
                    "bank_account.holder_type: must be individual or company",
                ));
            }
            kassa_domain::text::check_text(&b.holder_name, 100)
                .map_err(|e| e.under("bank_account.holder_name"))?;
            let sealed = state.master_key.seal(PURPOSE_BANK, &serde_json::json!({"routing_number": b.routing_number, "account_number": b.account_number}).to_string())?;
            PaymentMethodRecord {
                client_no: account.client_no,
                acct_no: account.acct_no,
                kind: "bank_account".into(),
                status: "active".into(),
                last4: Some(b.account_number[b.account_number.len() - 4..].to_string()),
                bank_sealed: Some(sealed),
                holder_type: Some(b.holder_type),
                holder_name: Some(b.holder_name),
                ..Default::default()
            }
        }
    };
    Ok(view(&state.store.insert_payment_method(&record).await?))
}

pub async fn get(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
    pm_no: i64,
) -> Result<PaymentMethodView, ApiError> {
    state
        .store
        .get_account(auth.client_no, acct_no)
        .await
        .map_err(account_not_found)?;
    let rec = state
        .store
        .get_payment_method(auth.client_no, acct_no, pm_no)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("payment method"),
            other => other.into(),
        })?;
    Ok(view(&rec))
}

pub async fn list(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
) -> Result<Vec<PaymentMethodView>, ApiError> {
    state
        .store
        .get_account(auth.client_no, acct_no)
        .await
        .map_err(account_not_found)?;
    Ok(state
        .store
        .list_payment_methods(auth.client_no, acct_no)
        .await?
        .iter()
        .map(view)
        .collect())
}

/// Detaches a card at Stripe and marks it detached; it is never charged again.
pub async fn delete(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
    pm_no: i64,
) -> Result<PaymentMethodView, ApiError> {
    let account = state
        .store
        .get_account(auth.client_no, acct_no)
        .await
        .map_err(account_not_found)?;
    let rec = state
        .store
        .get_payment_method(auth.client_no, acct_no, pm_no)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("payment method"),
            other => other.into(),
        })?;
    if rec.status == "detached" {
        return Ok(view(&rec));
    }
    if let (Some(gateway_id), Some(token)) = (rec.gateway_id, rec.token.as_deref()) {
        let token = StripeToken::parse(token)?;
        let gw = gateway_ctx::load(state, account.client_no, gateway_id, None).await?;
        match gw
            .client
            .detach_payment_method(
                &token.payment_method_id,
                &gw.options(Some(format!("kassa-detach-{}", token.payment_method_id))),
            )
            .await
        {
            Ok(_) => {}
            // Already detached at Stripe: the goal is reached.
            Err(kassa_stripe::StripeError::Api(a)) if a.status == 400 || a.status == 404 => {}
            Err(e) => return Err(map_stripe_error(e)),
        }
    }
    state
        .store
        .set_payment_method_status(auth.client_no, pm_no, "detached")
        .await?;
    let rec = state
        .store
        .get_payment_method(auth.client_no, acct_no, pm_no)
        .await?;
    Ok(view(&rec))
}

#[cfg(test)]
mod tests {
    #[test]
    fn aba_checksum() {
        assert!(super::aba_ok("110000000"));
        assert!(super::aba_ok("021000021"));
        assert!(!super::aba_ok("021000022"));
        assert!(!super::aba_ok("12345678"));
    }
}
