//! Token signing keys, generated once per test process (RSA key generation is slow), and the
//! token issuer settings every `TestApp` uses.

use std::sync::OnceLock;

use codex_cloud_adapters::{JwtTokenIssuer, SigningKey};

/// The `iss` of Codex access tokens in tests (the configuration default).
pub const TOKEN_ISSUER: &str = "codex-cloud-backend";
/// The `aud` of Codex access tokens in tests (the configuration default).
pub const TOKEN_AUDIENCE: &str = "codex-cloud";

/// The key every `TestApp` signs its tokens with.
pub fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("generate the test signing key"))
}

/// A second key, for tokens that must not verify.
pub fn other_signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("generate the other signing key"))
}

/// An issuer of tokens with the given `iss` and `aud`, signing with `key`.
pub fn token_issuer(issuer: &str, audience: &str, key: &SigningKey) -> JwtTokenIssuer {
    JwtTokenIssuer::new(issuer, audience, std::slice::from_ref(key)).expect("token issuer")
}
