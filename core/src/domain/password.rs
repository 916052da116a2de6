//! Plain-text passwords on their way to the hasher, and the hashes that are stored.

use std::fmt;

use crate::domain::SecretString;

/// A password that satisfies the length policy. Never printed.
#[derive(Clone)]
pub struct Password(SecretString);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password must be at least {min} characters long", min = Password::MIN_CHARS)]
    TooShort,
    #[error("a password must be at most {max} bytes long", max = Password::MAX_BYTES)]
    TooLong,
}

impl Password {
    /// NIST SP 800-63B: at least 8 characters.
    pub const MIN_CHARS: usize = 8;
    /// Bounds the work an attacker can ask of the hasher.
    pub const MAX_BYTES: usize = 1024;

    /// A new password, checked against the policy (for accounts being created).
    pub fn new(raw: impl Into<String>) -> Result<Self, PasswordError> {
        let raw = raw.into();
        if raw.len() > Self::MAX_BYTES {
            return Err(PasswordError::TooLong);
        }
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        Ok(Self(SecretString::new(raw)))
    }

    /// A password offered at login: no length policy (it is only compared), but the byte bound
    /// still applies.
    pub fn candidate(raw: impl Into<String>) -> Result<Self, PasswordError> {
        let raw = raw.into();
        if raw.len() > Self::MAX_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(SecretString::new(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password hash in PHC string format, as produced by a `PasswordHasher`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert_eq!(Password::new("short").unwrap_err(), PasswordError::TooShort);
        assert_eq!(Password::new("x".repeat(1025)).unwrap_err(), PasswordError::TooLong);
        assert!(Password::new("long enough").is_ok());
        assert!(Password::candidate("").is_ok());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let password = Password::new("hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
