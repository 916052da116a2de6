//! The OpenID Connect login as the domain sees it: pending logins, provider keys, verified
//! identities.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::{Email, Issuer, LoginPurpose, SecretString, Subject};

/// SHA-256 of a login's `state`: what is stored, so the database never holds a usable state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StateDigest([u8; 32]);

impl StateDigest {
    pub fn of(state: &str) -> Self {
        Self(Sha256::digest(state.as_bytes()).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Where to send the browser after a successful login: a path on this site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnTo(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("return_to must be a relative path that starts with a single '/', in visible ASCII")]
pub struct ReturnToError;

impl ReturnTo {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, ReturnToError> {
        // Visible ASCII only: anything else is not a valid `Location` header value.
        let ok = raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.starts_with("/\\")
            && raw.len() <= Self::MAX_LEN
            && raw.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\');
        if ok { Ok(Self(raw.to_owned())) } else { Err(ReturnToError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The site's root, `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }
}

/// An authorization request prepared by the provider adapter: the URL to send the browser to and
/// the secrets that must come back (state) or stay here (nonce, PKCE verifier).
pub struct AuthorizationRequest {
    pub url: String,
    pub state: SecretString,
    pub nonce: SecretString,
    pub pkce_verifier: SecretString,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the state.
        f.debug_struct("AuthorizationRequest").finish_non_exhaustive()
    }
}

/// A login that has been started and not yet finished.
#[derive(Clone, Debug)]
pub struct PendingLogin {
    pub state: StateDigest,
    pub nonce: SecretString,
    pub pkce_verifier: SecretString,
    pub issuer: Issuer,
    pub return_to: Option<ReturnTo>,
    pub created_at: OffsetDateTime,
    /// Who began it: the client's address as the throttles group it (IPv6 per /64), or empty
    /// when unknown. Each client may have only so many logins pending.
    pub client_key: String,
    pub purpose: LoginPurpose,
}

impl PendingLogin {
    /// The `client_key` of a login begun by `client`.
    pub fn client_key_of(client: Option<std::net::IpAddr>) -> String {
        client.map(|c| super::ThrottleKey::address(c).as_key()).unwrap_or_default()
    }
}

/// The query of the provider's redirect back to us.
#[derive(Clone, Debug, Default)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<SecretString>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207 authorization server issuer identifier.
    pub iss: Option<String>,
}

/// What the token endpoint returned, unverified.
#[derive(Debug)]
pub struct ProviderTokens {
    pub id_token: SecretString,
    pub access_token: SecretString,
}

/// The identity asserted by a verified ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub issuer: Issuer,
    pub subject: Subject,
    pub email: Option<Email>,
}

/// Why an ID token was refused. `UnknownKey` is the only one that justifies fetching the
/// provider's keys again.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenRejection {
    #[error("no provider key matches the token's key id")]
    UnknownKey,
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RsaAlgorithm {
    Rs256,
    Rs384,
    Rs512,
}

/// One RSA public key of the provider.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProviderKey {
    pub kid: Option<String>,
    pub alg: Option<RsaAlgorithm>,
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// The provider's usable signing keys at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderKeys {
    pub keys: Vec<ProviderKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_accepts_only_local_paths() {
        assert!(ReturnTo::parse("/").is_ok());
        assert!(ReturnTo::parse("/app/home?tab=1").is_ok());
        for raw in [
            "",
            "app",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "/a b",
            "/a\nb",
            "/café",
            "/a\u{7f}",
        ] {
            assert_eq!(ReturnTo::parse(raw), Err(ReturnToError), "{raw:?}");
        }
    }

    #[test]
    fn state_digests_differ_for_different_states() {
        assert_eq!(StateDigest::of("a"), StateDigest::of("a"));
        assert_ne!(StateDigest::of("a"), StateDigest::of("b"));
    }
}
