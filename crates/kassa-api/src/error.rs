//! The one error type of the API and its mapping to HTTP.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kassa_domain::ValidationError;
use kassa_storage::StorageError;
use serde::Serialize;

/// Every way a request can fail. Each variant has one status and one error `type`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the input breaks a rule; `param` names the field.
    #[error("{message}")]
    InvalidRequest {
        param: Option<String>,
        code: &'static str,
        message: String,
    },
    /// 401: no API key, or not a live one.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// 404: no such object for this client (another client's object looks exactly the same).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// 409: the request conflicts with the current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 422: well-formed, but not allowed.
    #[error("{message}")]
    Unprocessable {
        param: Option<String>,
        code: &'static str,
        message: String,
    },
    /// 400: an idempotency key was reused with a different request.
    #[error("{0}")]
    IdempotencyMismatch(String),
    /// 409: the first request with this idempotency key is still running.
    #[error("{0}")]
    IdempotencyInProgress(String),
    /// 402: the card was declined; the payment (if one was made) is recorded.
    #[error("{message}")]
    Card {
        code: String,
        decline_code: Option<String>,
        message: String,
        payment_id: Option<String>,
    },
    /// 429: too many wrong API keys from this address; try again after `retry_after_secs`.
    #[error("Too many requests with an invalid API key from this address; try again in {retry_after_secs} s.")]
    RateLimited { retry_after_secs: u64 },
    /// 502: Stripe refused or failed in a way that is not the caller's input.
    #[error("{message}")]
    Gateway { code: &'static str, message: String },
    /// 500: our fault; details go to the log, not to the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `idempotency_error`, `card_error`,
    /// `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    #[schema(
        pattern = "^(invalid_request_error|authentication_error|idempotency_error|card_error|rate_limit_error|api_error)$"
    )]
    pub kind: &'static str,
    /// Stable machine-readable code, e.g. `parameter_invalid`, `resource_missing`.
    pub code: String,
    pub message: String,
    /// The field at fault, as a JSON path (`limits.discount_rate`); `null` when none is.
    #[schema(required = true)]
    pub param: Option<String>,
    /// On card errors: the issuer's reason (`insufficient_funds`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// On card errors: the payment that was declined and recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
}

impl ApiError {
    /// The 409 for a request whose `Idempotency-Key` another request holds.
    pub fn idempotency_in_progress() -> Self {
        ApiError::IdempotencyInProgress(
            "A request with this Idempotency-Key is still being processed. Retry after it completes."
                .into(),
        )
    }

    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            param: Some(param.into()),
            code: "parameter_invalid",
            message: message.into(),
        }
    }

    pub fn unprocessable(
        param: Option<&str>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Unprocessable {
            param: param.map(str::to_string),
            code,
            message: message.into(),
        }
    }

    /// The field an input error names, if any.
    pub fn param(&self) -> Option<&str> {
        match self {
            ApiError::InvalidRequest { param, .. } | ApiError::Unprocessable { param, .. } => {
                param.as_deref()
            }
            _ => None,
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } | ApiError::IdempotencyMismatch(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::IdempotencyInProgress(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Card { .. } => StatusCode::PAYMENT_REQUIRED,
            ApiError::Gateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ErrorBody {
        if let ApiError::Card {
            code,
            decline_code,
            message,
            payment_id,
        } = self
        {
            return ErrorBody {
                error: ErrorDetail {
                    kind: "card_error",
                    code: code.clone(),
                    message: message.clone(),
                    param: None,
                    decline_code: decline_code.clone(),
                    payment_id: payment_id.clone(),
                },
            };
        }
        let (kind, code, param) = match self {
            ApiError::InvalidRequest { param, code, .. } => {
                ("invalid_request_error", *code, param.clone())
            }
            ApiError::Unauthenticated(_) => ("authentication_error", "api_key_invalid", None),
            ApiError::NotFound(_) => ("invalid_request_error", "resource_missing", None),
            ApiError::Conflict { code, .. } => ("invalid_request_error", *code, None),
            ApiError::Unprocessable { param, code, .. } => {
                ("invalid_request_error", *code, param.clone())
            }
            ApiError::IdempotencyMismatch(_) => {
                ("idempotency_error", "idempotency_key_reused", None)
            }
            ApiError::IdempotencyInProgress(_) => {
                ("idempotency_error", "idempotency_key_in_use", None)
            }
            ApiError::Gateway { code, .. } => ("api_error", *code, None),
            ApiError::RateLimited { .. } => ("rate_limit_error", "rate_limited", None),
            ApiError::Card { .. } | ApiError::Internal(_) => ("api_error", "internal_error", None),
        };
        let message = match self {
            ApiError::Internal(_) => {
                "An internal error occurred. It has been logged; retrying later may succeed."
                    .to_string()
            }
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail {
                kind,
                code: code.to_string(),
                message,
                param,
                decline_code: None,
                payment_id: None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let mut resp = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
        }
        resp
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let param = if e.param.is_empty() {
            None
        } else {
            Some(e.param.clone())
        };
        // Rule fragments ("must be …") read better after the field's name; whole sentences (the
        // seed's "Invalid token. …") are given exactly as written.
        let sentence = e.message.chars().next().is_some_and(char::is_uppercase);
        let message = match &param {
            Some(p) if !sentence => format!("{p}: {}", e.message),
            _ => e.message.clone(),
        };
        ApiError::InvalidRequest {
            param,
            code: e.code,
            message,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => ApiError::NotFound("object"),
            StorageError::Conflict(what) => ApiError::Conflict {
                code: "resource_exists",
                message: what,
            },
            StorageError::Stale => ApiError::Conflict {
                code: "resource_changed",
                message: StorageError::Stale.to_string(),
            },
            StorageError::IdempotencyKeyTaken => ApiError::idempotency_in_progress(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<kassa_secrets::SecretsError> for ApiError {
    fn from(e: kassa_secrets::SecretsError) -> Self {
        ApiError::Internal(e.to_string())
    }
}
