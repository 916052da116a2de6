//! External identities: an (issuer, subject) pair of an OpenID Provider, linked to a local user.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Email, UserId};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("an issuer must be an https:// or http:// URL without query or fragment")]
    InvalidIssuer,
    #[error("a subject must be 1 to 255 characters long, without control characters")]
    InvalidSubject,
}

/// An OpenID Provider's issuer identifier, kept byte for byte as configured or asserted: issuer
/// comparison is an exact string match (OpenID Connect Core §3.1.3.7).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    pub const MAX_LEN: usize = 2048;

    pub fn new(raw: impl Into<String>) -> Result<Self, IdentityError> {
        let raw = raw.into();
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"))
            .ok_or(IdentityError::InvalidIssuer)?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty()
            || raw.chars().count() > Self::MAX_LEN
            || raw.contains(['?', '#'])
            || raw.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(IdentityError::InvalidIssuer);
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The provider's identifier for the end user, unique within its issuer (at most 255 ASCII
/// characters per OpenID Connect Core §2; characters are bounded here, as a database column
/// of 255 characters and the OpenAPI document's `maxLength` count them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    pub const MAX_LEN: usize = 255;

    pub fn new(raw: impl Into<String>) -> Result<Self, IdentityError> {
        let raw = raw.into();
        if raw.is_empty()
            || raw.chars().count() > Self::MAX_LEN
            || raw.chars().any(char::is_control)
        {
            return Err(IdentityError::InvalidSubject);
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub id: Uuid,
    pub issuer: Issuer,
    pub subject: Subject,
    pub user_id: UserId,
    pub email: Option<Email>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct NewExternalIdentity {
    pub issuer: Issuer,
    pub subject: Subject,
    pub user_id: UserId,
    pub email: Option<Email>,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_kept_exactly_as_given() {
        let issuer = Issuer::new("https://op.example.com/tenant").unwrap();
        assert_eq!(issuer.as_str(), "https://op.example.com/tenant");
        assert_ne!(
            Issuer::new("https://op.example.com/").unwrap(),
            Issuer::new("https://op.example.com").unwrap()
        );
    }

    #[test]
    fn issuers_that_are_not_urls_are_refused() {
        for raw in ["", "op.example.com", "ftp://op", "https://", "https://op?x=1", "https://op#f"]
        {
            assert_eq!(Issuer::new(raw), Err(IdentityError::InvalidIssuer), "{raw:?}");
        }
    }

    #[test]
    fn subjects_are_bounded() {
        assert!(Subject::new("00u123example").is_ok());
        assert_eq!(Subject::new(""), Err(IdentityError::InvalidSubject));
        assert_eq!(Subject::new("s".repeat(256)), Err(IdentityError::InvalidSubject));
    }
}
