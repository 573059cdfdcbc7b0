//! The SCIM error response (RFC 7644, section 3.12): an HTTP status, the
//! `scimType` that tells a provider what kind of mistake it made, and a
//! sentence for the admin who reads the provider's provisioning log.

use serde_json::{Value, json};

/// The `scimType` values of RFC 7644, section 3.12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// A request the endpoint does not carry out, as the provider is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}{}: {detail}", scim_type.map(|t| format!(" {}", t.as_str())).unwrap_or_default())]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

/// The URN of an error response.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a `scimType`.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// The body of the error response.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t.as_str());
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_body_has_the_rfc_shape() {
        let e = ScimError::new(
            409,
            Some(ScimType::Uniqueness),
            "userName ann@x.com is taken",
        );
        assert_eq!(
            e.to_json(),
            json!({"schemas": [ERROR_URN], "status": "409", "scimType": "uniqueness",
                   "detail": "userName ann@x.com is taken"})
        );
        assert_eq!(ScimError::not_found("x").to_json().get("scimType"), None);
        assert_eq!(e.to_string(), "409 uniqueness: userName ann@x.com is taken");
    }
}
