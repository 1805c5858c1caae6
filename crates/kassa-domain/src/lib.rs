//! Kassa's domain core.
//!
//! Pure types and rules with no I/O: every value that crosses the API boundary is parsed into one
//! of these types ("parse, don't validate"), so the rest of the system never sees an invalid
//! descriptor, key or rate.

pub mod account;
pub mod billing;
pub mod billing_account;
pub mod card;
pub mod descriptor;
pub mod email;
pub mod error;
pub mod gateway;
pub mod group;
pub mod json;
pub mod keys;
pub mod level23;
pub mod money;
pub mod notify;
pub mod payment;
pub mod rate;
pub mod recycle;
pub mod reports;
pub mod routing;
pub mod settings;
pub mod stripe_event;
pub mod text;

pub use error::ValidationError;
