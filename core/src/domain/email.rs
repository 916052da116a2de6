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
    #[error("an e-mail address must be at most 254 bytes long")]
    TooLong,
}

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let value = raw.trim();
        if value.len() > Self::MAX_LEN {
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
        Ok(Self(value.to_lowercase()))
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
