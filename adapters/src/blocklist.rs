//! `PasswordBlocklist` over the list of common passwords that the zxcvbn crate ships (its
//! "passwords" frequency list, 30 000 entries).

use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};

use codex_cloud_core::ports::PasswordBlocklist;

/// A password is common when zxcvbn's best reading of it is one word of its password list,
/// as typed (not reversed, not with l33t substitutions) and whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct ZxcvbnBlocklist;

/// No entry of the list is longer than this: longer passwords are not looked up.
const LONGEST_ENTRY: usize = 64;

impl PasswordBlocklist for ZxcvbnBlocklist {
    fn is_common(&self, password: &str) -> bool {
        let length = password.chars().count();
        if length == 0 || length > LONGEST_ENTRY {
            return false;
        }
        let entropy = zxcvbn::zxcvbn(password, &[]);
        entropy.sequence().iter().any(|m| {
            m.i == 0
                && m.j + 1 == length
                && matches!(
                    &m.pattern,
                    MatchPattern::Dictionary(DictionaryPattern { reversed: false, l33t: false, dictionary_name, .. })
                        // The crate does not export the type of its dictionary names.
                        if format!("{dictionary_name:?}") == "Passwords"
                )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_passwords_are_known_and_others_are_not() {
        let list = ZxcvbnBlocklist;
        for common in [
            "12345678",
            "password",
            "Password1",
            "qwerty123",
            "iloveyou",
            "1q2w3e4r5t",
            "Qwerty123456",
            "password1234",
        ] {
            assert!(list.is_common(common), "{common}");
        }
        for rare in ["correct horse battery staple", "a long passphrase", "zq8!Kp2#vL0@"] {
            assert!(!list.is_common(rare), "{rare}");
        }
    }
}
