use std::fmt;

/// A rule that an input broke, with the field that broke it.
///
/// `param` uses the API's JSON path notation (`limits.discount_rate`, `webhook_secrets[1]`), so
/// the HTTP layer can hand it to the caller as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    pub param: String,
    pub message: String,
    /// A stable machine-readable code: `parameter_invalid`, `parameter_missing`,
    /// `parameter_unknown`.
    pub code: &'static str,
}

impl ValidationError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            message: message.into(),
            code: "parameter_invalid",
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same error, nested under `parent` (`limits` + `currency` → `limits.currency`).
    pub fn under(mut self, parent: &str) -> Self {
        self.param = if self.param.is_empty() {
            parent.to_string()
        } else if self.param.starts_with('[') {
            format!("{parent}{}", self.param)
        } else {
            format!("{parent}.{}", self.param)
        };
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.param, self.message)
    }
}
