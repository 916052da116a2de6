//! The rules every new password meets, wherever it is set.

use std::sync::Arc;

use crate::domain::{Email, Password, PasswordError, PasswordPolicy};
use crate::ports::PasswordBlocklist;

/// The length policy and the list of common passwords.
#[derive(Clone)]
pub struct PasswordRules {
    pub policy: PasswordPolicy,
    pub blocklist: Arc<dyn PasswordBlocklist>,
}

impl PasswordRules {
    /// # Errors
    /// The first rule `raw` breaks: length, the account's e-mail name, then the common list.
    pub fn check(&self, raw: &str, email: &Email) -> Result<Password, PasswordError> {
        let password = self.policy.check(raw, email)?;
        if self.blocklist.is_common(raw) {
            return Err(PasswordError::Common);
        }
        Ok(password)
    }
}
