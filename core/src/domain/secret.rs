//! A string that must never be printed or logged.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret string. `Debug` prints a placeholder; comparison is constant-time.
#[derive(Clone)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only where the value leaves the process on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with another secret in time independent of where they differ.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}
