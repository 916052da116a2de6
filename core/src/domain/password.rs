//! Plain-text passwords on their way to the hasher, and the hashes that are stored.

use std::fmt;

use crate::domain::{Email, SecretString};

/// A password, exactly as typed (never trimmed or truncated). Never printed.
#[derive(Clone)]
pub struct Password(SecretString);

/// Why a new password is refused: the `detail` a user sees names the rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("a password must be at most {max} characters long", max = Password::MAX_CHARS)]
    TooLong,
    #[error("this password is one of the most common passwords; choose another")]
    Common,
    #[error("a password must not contain the name part of the account's e-mail address")]
    ContainsEmail,
}

/// The rules for new passwords (NIST SP 800-63B): a minimum length and no composition rules;
/// common passwords and the account's own name are refused (by the use cases, which hold the
/// list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Never below `Password::MIN_CHARS`.
    pub min_chars: usize,
}

impl PasswordPolicy {
    /// Length first, then the account's own e-mail name (when it is at least 3 characters).
    ///
    /// # Errors
    /// `TooShort`, `TooLong`, `ContainsEmail`.
    pub fn check(&self, raw: &str, email: &Email) -> Result<Password, PasswordError> {
        if raw.chars().count() > Password::MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        let min = self.min_chars.max(Password::MIN_CHARS);
        if raw.chars().count() < min {
            return Err(PasswordError::TooShort { min });
        }
        let local = email.as_str().rsplit_once('@').map_or("", |(local, _)| local);
        if local.chars().count() >= 3 && raw.to_lowercase().contains(local) {
            return Err(PasswordError::ContainsEmail);
        }
        Ok(Password(SecretString::new(raw)))
    }
}

impl Password {
    /// NIST SP 800-63B: never fewer than 8 characters.
    pub const MIN_CHARS: usize = 8;
    /// Bounds the work an attacker can ask of the hasher (at most 4 KiB of UTF-8).
    pub const MAX_CHARS: usize = 1024;

    /// A password offered at login: no length policy (it is only compared), but the byte bound
    /// still applies.
    pub fn candidate(raw: impl Into<String>) -> Result<Self, PasswordError> {
        let raw = raw.into();
        if raw.chars().count() > Self::MAX_CHARS {
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

    fn check(raw: &str) -> Result<Password, PasswordError> {
        let email = Email::parse("ada.lovelace@example.com").unwrap();
        PasswordPolicy { min_chars: 12 }.check(raw, &email)
    }

    #[test]
    fn short_huge_and_self_naming_passwords_are_refused() {
        assert_eq!(check("elevenchars").unwrap_err(), PasswordError::TooShort { min: 12 });
        assert_eq!(check(&"x".repeat(1025)).unwrap_err(), PasswordError::TooLong);
        assert_eq!(check("my ADA.LOVELACE pass").unwrap_err(), PasswordError::ContainsEmail);
        assert!(check("twelve chars").is_ok());
        assert!(check(&"é".repeat(128)).is_ok(), "128 characters are allowed");
        assert!(Password::candidate("").is_ok());
        let lax = PasswordPolicy { min_chars: 4 };
        let email = Email::parse("ab@example.com").unwrap();
        assert_eq!(lax.check("seven77", &email).unwrap_err(), PasswordError::TooShort { min: 8 });
        assert!(lax.check("ab ab ab ab", &email).is_ok(), "a name of two letters is not checked");
    }

    #[test]
    fn a_password_is_kept_exactly_as_typed() {
        let password = check("  spaces around  ").unwrap();
        assert_eq!(password.expose(), "  spaces around  ");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let password = check("hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
