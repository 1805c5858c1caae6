//! Stripe-shaped API errors (`{"error": {...}}`) with Stripe's HTTP statuses.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// The `type` of a Stripe error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    ApiError,
    CardError,
    IdempotencyError,
    InvalidRequestError,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::ApiError => "api_error",
            ErrorType::CardError => "card_error",
            ErrorType::IdempotencyError => "idempotency_error",
            ErrorType::InvalidRequestError => "invalid_request_error",
        }
    }
}

/// An error answered to the client in Stripe's error shape (boxed: errors are the cold path).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {}", .0.status, .0.message)]
pub struct ApiError(Box<ErrorDetails>);

/// The contents of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct ErrorDetails {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    /// Extra top-level members of the error object (`payment_intent`, `charge`, `payment_method`, …).
    pub extra: Map<String, Value>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, kind: ErrorType, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorDetails {
            status,
            kind,
            code: None,
            decline_code: None,
            message: message.into(),
            param: None,
            extra: Map::new(),
        }))
    }

    /// 400 invalid_request_error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            message,
        )
    }

    pub fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_string());
        self
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    pub fn unknown_param(param: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {param}"))
            .code("parameter_unknown")
            .param(param)
    }

    pub fn missing_param(param: &str) -> Self {
        Self::invalid(format!("Missing required param: {param}."))
            .code("parameter_missing")
            .param(param)
    }

    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequestError,
            format!("No such {kind}: '{id}'"),
        )
        .code("resource_missing")
        .param("id")
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequestError,
            message,
        )
    }

    pub fn unexpected_state(message: impl Into<String>) -> Self {
        Self::invalid(message).code("payment_intent_unexpected_state")
    }

    /// 402 card_error.
    pub fn card(code: &str, decline_code: Option<&str>, message: &str) -> Self {
        let mut e =
            Self::new(StatusCode::PAYMENT_REQUIRED, ErrorType::CardError, message).code(code);
        e.decline_code = decline_code.map(str::to_string);
        e
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            message,
        )
    }

    /// True when the request failed validation before executing: Stripe does not save
    /// such results under an idempotency key.
    pub fn is_validation(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
            || self
                .code
                .as_deref()
                .is_some_and(|c| c.starts_with("parameter_") || c == "idempotency_key_in_use")
    }

    /// The error object (what goes under `"error"`; also used as `last_payment_error`).
    pub fn object(&self) -> Value {
        let mut m = Map::new();
        if let Some(code) = &self.code {
            m.insert("code".into(), json!(code));
            m.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(d) = &self.decline_code {
            m.insert("decline_code".into(), json!(d));
        }
        m.insert("message".into(), json!(self.message));
        if let Some(p) = &self.param {
            m.insert("param".into(), json!(p));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m.insert("type".into(), json!(self.kind.as_str()));
        Value::Object(m)
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.object() })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
