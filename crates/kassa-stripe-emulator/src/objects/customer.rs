//! The `customer` object.

use serde_json::{json, Value};

use super::{metadata_json, Metadata};

#[derive(Debug, Clone, Default)]
pub struct Customer {
    pub id: String,
    pub created: i64,
    pub deleted: bool,
    pub address: Option<Value>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub shipping: Option<Value>,
    pub metadata: Metadata,
    pub default_payment_method: Option<String>,
    pub invoice_prefix: String,
    pub preferred_locales: Vec<String>,
    pub tax_exempt: String,
}

impl Customer {
    pub fn to_json(&self) -> Value {
        if self.deleted {
            return json!({ "id": self.id, "object": "customer", "deleted": true });
        }
        json!({
            "id": self.id,
            "object": "customer",
            "address": self.address,
            "balance": 0,
            "created": self.created,
            "currency": null,
            "default_source": null,
            "delinquent": false,
            "description": self.description,
            "discount": null,
            "email": self.email,
            "invoice_prefix": self.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": self.default_payment_method,
                "footer": null,
                "rendering_options": null,
            },
            "livemode": false,
            "metadata": metadata_json(&self.metadata),
            "name": self.name,
            "next_invoice_sequence": 1,
            "phone": self.phone,
            "preferred_locales": self.preferred_locales,
            "shipping": self.shipping,
            "tax_exempt": self.tax_exempt,
            "test_clock": null,
        })
    }
}
