//! The rules the use cases enforce on request fields and parameters, as JSON Schema keywords the
//! document declares: a request the document allows is never refused for its form, and one it
//! forbids is refused with the use case's own code (`invalid_identity`, `invalid_return_to`, …).
//! The bounds are the domain's own constants; the patterns say exactly what its parsers accept
//! (each is tested against the parser).

use serde_json::{Value, json};

use codex_cloud_core::domain::{
    AuditKind, AuditOutcome, Email, Issuer, Password, ReturnTo, Subject,
};

/// An issuer: `http(s)://`, a host, then no query, fragment, whitespace or control character.
/// Whitespace is listed (Unicode's `White_Space` outside the control ranges), not `\s`: regex
/// dialects disagree on what `\s` means; written as the characters themselves, which every
/// dialect reads in a class (not all read `\u` escapes).
pub const ISSUER_PATTERN: &str = concat!(
    r"^https?://[^/?#\x00-\x20\x7f-\x9f",
    "\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}",
    r"]+[^?#\x00-\x20\x7f-\x9f",
    "\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}",
    r"]*$"
);
/// A subject: no control character.
pub const SUBJECT_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]+$";
/// A new e-mail address: visible ASCII but `@` (at most 64) before the `@`, then dot-separated
/// labels of letters, digits and inner hyphens (at most 63 each); ASCII whitespace around it is
/// trimmed.
pub const EMAIL_PATTERN: &str = concat!(
    r"^[\t\n\x0b\x0c\r ]*[!-?A-~]{1,64}@",
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    r"[\t\n\x0b\x0c\r ]*$"
);
/// A local path: `/`, then visible ASCII without `\`, not starting with another `/`.
pub const RETURN_TO_PATTERN: &str = r"^/([!-.0-\[\]-~][!-\[\]-~]*)?$";

fn issuer() -> Value {
    json!({ "maxLength": Issuer::MAX_LEN, "pattern": ISSUER_PATTERN })
}

fn subject() -> Value {
    json!({ "minLength": 1, "maxLength": Subject::MAX_LEN, "pattern": SUBJECT_PATTERN })
}

fn email() -> Value {
    json!({
        "description": "An e-mail address in ASCII (an internationalized domain in its `xn--` \
            form); surrounding spaces are trimmed, and case does not matter.",
        "maxLength": Email::MAX_LEN,
        "pattern": EMAIL_PATTERN,
    })
}

fn new_password(min_chars: usize) -> Value {
    json!({ "minLength": min_chars.max(Password::MIN_CHARS), "maxLength": Password::MAX_CHARS })
}

/// Keywords for request body fields: (schema, field, keywords).
pub fn body_fields(password_min_chars: usize) -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("NewUserRequest", "email", email()),
        ("NewUserRequest", "password", new_password(password_min_chars)),
        ("PasswordReset", "password", new_password(password_min_chars)),
        ("PasswordChange", "new_password", new_password(password_min_chars)),
        ("LinkRequest", "issuer", issuer()),
        ("LinkRequest", "subject", subject()),
        ("LinkRequest", "email", email()),
    ]
}

/// Keywords for response fields whose values are a fixed set: (schema, field, keywords).
pub fn response_fields() -> Vec<(&'static str, &'static str, Value)> {
    let kinds: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
    let outcomes = [AuditOutcome::Success.as_str(), AuditOutcome::Failure.as_str()];
    vec![
        ("AuditEventView", "kind", json!({ "enum": kinds })),
        ("AuditEventView", "outcome", json!({ "enum": outcomes })),
        ("Health", "status", json!({ "enum": ["ok", "ready"] })),
    ]
}

/// Keywords for parameters, by name, wherever they appear.
pub fn parameters() -> Vec<(&'static str, Value)> {
    let kinds: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
    vec![
        ("issuer", issuer()),
        ("subject", subject()),
        ("return_to", json!({ "maxLength": ReturnTo::MAX_LEN, "pattern": RETURN_TO_PATTERN })),
        ("kind", json!({ "enum": kinds })),
    ]
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    /// Every string of up to `len` characters from `alphabet` after each prefix.
    fn samples(prefixes: &[&str], alphabet: &[char], len: usize) -> Vec<String> {
        let mut all: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
        let mut frontier = all.clone();
        for _ in 0..len {
            frontier = frontier
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            all.extend(frontier.iter().cloned());
        }
        all
    }

    fn agree(pattern: &str, max: usize, samples: &[String], parses: impl Fn(&str) -> bool) {
        let pattern = Regex::new(pattern).expect("the pattern compiles");
        for sample in samples {
            let declared = pattern.is_match(sample) && sample.chars().count() <= max;
            assert_eq!(declared, parses(sample), "{sample:?}");
        }
    }

    #[test]
    fn the_issuer_pattern_accepts_exactly_what_the_parser_accepts() {
        let alphabet = [
            'a', '/', '?', '#', ' ', '\u{a0}', '\u{1}', '\u{85}', ':', 'é', '\u{feff}', '\u{3000}',
        ];
        let prefixes = ["", "h", "http:/", "http://", "https://", "ftp://"];
        let mut all = samples(&prefixes, &alphabet, 3);
        all.push(format!("https://{}", "a".repeat(Issuer::MAX_LEN - 8)));
        all.push(format!("https://{}", "a".repeat(Issuer::MAX_LEN - 7)));
        agree(ISSUER_PATTERN, Issuer::MAX_LEN, &all, |s| Issuer::new(s).is_ok());
    }

    #[test]
    fn the_subject_pattern_accepts_exactly_what_the_parser_accepts() {
        let alphabet = ['a', ' ', '\u{0}', '\u{7f}', '\u{9f}', '\u{a0}', 'é', '\n'];
        let mut all = samples(&[""], &alphabet, 3);
        all.push("é".repeat(Subject::MAX_LEN));
        all.push("a".repeat(Subject::MAX_LEN + 1));
        agree(SUBJECT_PATTERN, Subject::MAX_LEN, &all, |s| Subject::new(s).is_ok());
    }

    #[test]
    fn the_return_to_pattern_accepts_exactly_what_the_parser_accepts() {
        let alphabet = ['/', '\\', 'a', '~', '!', ' ', '\u{7f}', 'é', '?', '[', ']'];
        let mut all = samples(&["", "/"], &alphabet, 3);
        all.push(format!("/{}", "a".repeat(ReturnTo::MAX_LEN - 1)));
        all.push(format!("/{}", "a".repeat(ReturnTo::MAX_LEN)));
        agree(RETURN_TO_PATTERN, ReturnTo::MAX_LEN, &all, |s| ReturnTo::parse(s).is_ok());
    }

    #[test]
    fn the_email_pattern_accepts_exactly_what_the_parser_accepts_of_new_addresses() {
        let alphabet = ['a', 'Z', '@', '.', '-', ' ', 'é', '!', '\u{0}', '\t', '\u{a0}', '\u{1c}'];
        let mut all = samples(&["", "a@", "a@b", "x@y.z"], &alphabet, 4);
        all.push(format!("{}@example.com", "a".repeat(64)));
        all.push(format!("{}@example.com", "a".repeat(65)));
        all.push(format!("a@{}.com", "b".repeat(63)));
        all.push(format!("a@{}.com", "b".repeat(64)));
        all.push(format!("a@{}.com", "b.".repeat(124)));
        all.push(format!("a@{}.com", "b.".repeat(125)));
        all.extend(
            [" a@b.co", "a@b.co ", "a..b@x.com", ".a@x.com", "a@[127.0.0.1]"].map(String::from),
        );
        all.push(format!("  {}@example.com", "a".repeat(64)));
        all.push(format!("{}@x.com{}", "a".repeat(64), " ".repeat(184)));
        all.push(format!("{}@x.com{}", "a".repeat(64), " ".repeat(185)));
        agree(EMAIL_PATTERN, Email::MAX_LEN, &all, |s| Email::parse_new(s).is_ok());
    }

    #[test]
    fn new_passwords_are_bounded_as_the_policy_bounds_them() {
        let rules = new_password(3);
        assert_eq!(rules["minLength"], Password::MIN_CHARS);
        assert_eq!(rules["maxLength"], Password::MAX_CHARS);
    }
}
