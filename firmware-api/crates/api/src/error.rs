//! API errors. Status codes follow the original exactly (500 for every
//! application failure, spec §9 item 15); the JSON body says what went wrong.

use hyper::StatusCode;

/// An error answer: status plus an operator-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    /// Any application failure: the original answered 500 for all of them.
    pub fn failure(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(path: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no such endpoint: {path}"),
        }
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// `{"http_code": N, "message": "..."}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "http_code": self.status.as_u16(), "message": self.message })
    }
}

impl From<opendcre_bus::BusError> for ApiError {
    fn from(e: opendcre_bus::BusError) -> Self {
        ApiError::failure(e.to_string())
    }
}
