//! E-mail addresses, compared without regard to case.

use std::fmt;

/// A syntactically valid e-mail address, stored in lower case so that addresses differing only
/// in case name the same user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("an e-mail address must look like name@example.com")]
    Malformed,
    #[error("an e-mail address must be at most 254 characters long")]
    TooLong,
}

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        // Checked in the stored (lower-case) form: lowercasing can lengthen a string.
        let value = raw.trim().to_lowercase();
        let value = value.as_str();
        if value.chars().count() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = value.rsplit_once('@').ok_or(EmailError::Malformed)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| c.is_ascii_graphic() || !c.is_ascii());
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(EmailError::Malformed);
        }
        Ok(Self(value.to_owned()))
    }

    /// A new address (a user's, an identity's): as `parse`, but in ASCII (an internationalized
    /// domain in its `xn--` form) and at most `MAX_LEN` characters as typed, surrounding
    /// whitespace included, so the rule can be stated as a pattern. Lookups and stored
    /// addresses use `parse`.
    ///
    /// # Errors
    /// `Malformed`, `TooLong`.
    pub fn parse_new(raw: &str) -> Result<Self, EmailError> {
        if !raw.is_ascii() {
            return Err(EmailError::Malformed);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        Self::parse(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_case_folded_and_trimmed() {
        let email = Email::parse("  User@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "user@example.com");
    }

    #[test]
    fn lengths_are_checked_after_lowercasing() {
        // 'İ' is two bytes; its lower case is three.
        let local = "İ".repeat(22);
        assert_eq!(Email::parse(&format!("{local}@example.com")), Err(EmailError::Malformed));
        let ok = Email::parse(&format!("{}@example.com", "İ".repeat(21))).unwrap();
        assert_eq!(Email::parse(ok.as_str()), Ok(ok.clone()), "a parsed address parses again");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for raw in [
            "",
            "user",
            "@example.com",
            "user@",
            "a b@example.com",
            "user@exa mple.com",
            "user@.com",
            "user@example..com",
            "user@-example.com",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::Malformed), "{raw:?}");
        }
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(250))),
            Err(EmailError::TooLong)
        );
    }
}
