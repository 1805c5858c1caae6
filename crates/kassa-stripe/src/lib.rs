//! Kassa's Stripe connector.
//!
//! This crate speaks Stripe's wire format and nothing else: form-encoded requests in Stripe's
//! bracket notation ([`Form`]), the headers Stripe expects (`Authorization`, a pinned
//! `Stripe-Version`, `Stripe-Account` for connected accounts, `Idempotency-Key`), Stripe's error
//! objects ([`StripeError`]), and Stripe's retry rules. Request and response shapes for each flow
//! live in their own modules as they are added; none are shared with the emulator.

mod api;
mod client;
mod error;
mod form;
pub mod objects;
pub mod params;
mod throttle;

pub use client::{RequestOptions, RetryPolicy, StripeClient, API_VERSION};
pub use error::{ApiError, ErrorKind, StripeError};
pub use form::Form;
pub use throttle::Throttle;
