//! The OpenAPI 3 document, generated from the route annotations: every `/v1` route is registered
//! here, so a route cannot exist without being documented.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::routes::{
    accounts, audit, balance, billing, emails, gateways, groups, notifications, orders, payments,
    recycle, reports, webhooks,
};
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Kassa API", description = "Self-hosted payment gateway and recurring-billing engine in front of Stripe."),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    tags(
        (name = "gateways", description = "Stripe gateway accounts"),
        (name = "collection_groups", description = "Collection groups and their overrides"),
        (name = "accounts", description = "Billing accounts"),
        (name = "payment_methods", description = "Tokenized cards and bank accounts"),
        (name = "payments", description = "Authorize, capture, void, refund"),
        (name = "webhooks", description = "Stripe events received and what they changed"),
        (name = "notifications", description = "Kassa's own events, to the client's endpoints"),
        (name = "billing", description = "Campaigns, orders, purchases and rebills"),
        (name = "audit", description = "Changes to gateways, groups and accounts"),
        (name = "emails", description = "Autoresponder templates and the email outbox"),
        (name = "reports", description = "Gateway volume and fees, reserve, chargebacks, declines, rebill forecast"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A client API key (kassa_sk_…)"))
                    .build(),
            ),
        );
    }
}

/// Every operation can answer these (bad input, a missing key, another client's object, a
/// conflict, a refusal, our fault): documented once here, after the routes are collected.
pub struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        let common = [
            ("400", "Bad input; `error.param` names the field"),
            ("401", "No API key, or not a live one"),
            ("404", "No such object for this client"),
            ("409", "Conflicts with the current state"),
            ("422", "Well-formed, but not allowed"),
            (
                "429",
                "Too many wrong API keys from this address; `Retry-After` says when to try again",
            ),
            ("500", "Our fault; details in the log"),
        ];
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (code, what) in common {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| {
                            let mut response = error(what);
                            if code == "429" {
                                response.headers.insert(
                                    "Retry-After".into(),
                                    utoipa::openapi::HeaderBuilder::new()
                                        .schema(
                                            utoipa::openapi::ObjectBuilder::new()
                                                .schema_type(utoipa::openapi::Type::Integer)
                                                .minimum(Some(1)),
                                        )
                                        .description(Some("Seconds to wait"))
                                        .build(),
                                );
                            }
                            response.into()
                        });
                }
            }
        }
    }
}

/// The document as served. `allOf` made of a closed object (`additionalProperties: false`, from
/// `deny_unknown_fields`) and the fields `#[serde(flatten)]` added beside it can match nothing,
/// since each part refuses the other's fields. The API reads and writes these as one object, so
/// they are served as one: the parts' properties and required fields together, closed if any part
/// was.
pub fn served(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(|s| s.as_object())
        .cloned()
        .unwrap_or_default();
    merge_all_of(&mut doc, &schemas);
    // The body extractor (`json::JsonObject`) reads an absent body as `{}`, so no operation needs
    // one on the wire: what `{}` lacks is refused by the body schema's required fields.
    if let Some(serde_json::Value::Object(paths)) = doc.get_mut("paths") {
        for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
            for op in item.values_mut() {
                if let Some(serde_json::Value::Object(body)) = op.get_mut("requestBody") {
                    body.insert("required".into(), serde_json::Value::Bool(false));
                }
            }
        }
    }
    doc
}

fn merge_all_of(v: &mut serde_json::Value, schemas: &serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                merge_all_of(child, schemas);
            }
            let Some(Value::Array(parts)) = map.get("allOf") else {
                return;
            };
            let resolved: Option<Vec<&Value>> = parts
                .iter()
                .map(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => r
                        .strip_prefix("#/components/schemas/")
                        .and_then(|name| schemas.get(name)),
                    None => Some(p),
                })
                .collect();
            let Some(resolved) = resolved else { return };
            let is_object = |p: &&Value| {
                p.get("type").and_then(Value::as_str) == Some("object")
                    && p.get("allOf").is_none()
                    && p.get("oneOf").is_none()
            };
            let closed = resolved
                .iter()
                .any(|p| p.get("additionalProperties") == Some(&Value::Bool(false)));
            if !closed || !resolved.iter().all(is_object) {
                return;
            }
            let mut properties = serde_json::Map::new();
            let mut required: Vec<Value> = Vec::new();
            for part in &resolved {
                if let Some(Value::Object(p)) = part.get("properties") {
                    properties.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                if let Some(Value::Array(r)) = part.get("required") {
                    for name in r {
                        if !required.contains(name) {
                            required.push(name.clone());
                        }
                    }
                }
            }
            map.remove("allOf");
            map.insert("type".into(), Value::from("object"));
            map.insert("properties".into(), Value::Object(properties));
            if !required.is_empty() {
                map.insert("required".into(), Value::Array(required));
            }
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
        Value::Array(items) => {
            for item in items {
                merge_all_of(item, schemas);
            }
        }
        _ => {}
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(gateways::create, gateways::list))
        .routes(routes!(gateways::get, gateways::update))
        .routes(routes!(gateways::duplicate))
        .routes(routes!(gateways::archive))
        .routes(routes!(gateways::usage))
        .routes(routes!(groups::create, groups::list))
        .routes(routes!(groups::get, groups::update))
        .routes(routes!(groups::duplicate))
        .routes(routes!(groups::archive))
        .routes(routes!(accounts::create, accounts::list))
        .routes(routes!(accounts::get, accounts::update))
        .routes(routes!(accounts::status_history))
        .routes(routes!(balance::get))
        .routes(routes!(balance::add_charge))
        .routes(routes!(balance::settle))
        .routes(routes!(balance::collect))
        .routes(routes!(payments::create_pm, payments::list_pms))
        .routes(routes!(payments::get_pm, payments::delete_pm))
        .routes(routes!(payments::pm_history))
        .routes(routes!(payments::authorize_pm_3ds))
        .routes(routes!(payments::create, payments::list))
        .routes(routes!(payments::get))
        .routes(routes!(payments::capture))
        .routes(routes!(payments::void))
        .routes(routes!(payments::void_by_auth_no))
        .routes(routes!(payments::refund))
        .routes(routes!(payments::authorize_3ds))
        .routes(routes!(payments::upsell))
        .routes(routes!(payments::fraud_score))
        .routes(routes!(webhooks::list))
        .routes(routes!(webhooks::get))
        .routes(routes!(webhooks::retry))
        .routes(routes!(notifications::create, notifications::list))
        .routes(routes!(
            notifications::get,
            notifications::update,
            notifications::delete
        ))
        .routes(routes!(notifications::deliveries))
        .routes(routes!(billing::create_campaign, billing::list_campaigns))
        .routes(routes!(billing::get_campaign, billing::delete_campaign))
        .routes(routes!(billing::restore_campaign))
        .routes(routes!(billing::create_product))
        .routes(routes!(billing::update_product))
        .routes(routes!(billing::create_order))
        .routes(routes!(orders::get))
        .routes(routes!(orders::upsell))
        .routes(routes!(
            billing::create_routing_profile,
            billing::list_routing_profiles
        ))
        .routes(routes!(recycle::create, recycle::list))
        .routes(routes!(recycle::get, recycle::update))
        .routes(routes!(billing::list_purchases))
        .routes(routes!(billing::get_purchase, billing::update_purchase))
        .routes(routes!(billing::cancel_purchase))
        .routes(routes!(billing::bill_now))
        .routes(routes!(audit::list))
        .routes(routes!(reports::get))
        .routes(routes!(emails::list_templates))
        .routes(routes!(emails::get_template, emails::put_template))
        .routes(routes!(emails::preview))
        .routes(routes!(emails::list_outbox))
        .routes(routes!(emails::get_outbox))
        .routes(routes!(emails::retry))
}
