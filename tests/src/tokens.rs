//! Reading and forging JWTs: the claims of a Codex access token, tokens signed with any key, any
//! header, HMAC, or no signature at all.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use codex_cloud_adapters::SigningKey;

/// The claims of a Codex access token (RFC 9068).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

impl AccessClaims {
    /// The claims of `token`, unverified.
    pub fn of(token: &str) -> Self {
        serde_json::from_value(payload_of(token)).expect("access token claims")
    }
}

fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap_or_else(|| panic!("not a JWT: {token}"));
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url segment");
    serde_json::from_slice(&bytes).expect("JSON segment")
}

/// The JOSE header of `token`, unverified.
pub fn header_of(token: &str) -> Value {
    segment(token, 0)
}

/// The payload of `token`, unverified.
pub fn payload_of(token: &str) -> Value {
    segment(token, 1)
}

/// A header with this algorithm, `typ` and `kid`.
pub fn header(alg: Algorithm, typ: Option<&str>, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    header.kid = kid.map(str::to_owned);
    header
}

/// Signs `claims` under `header` (an RSA algorithm) with `key`.
pub fn sign_rsa(key: &SigningKey, header: &Header, claims: &impl Serialize) -> String {
    let pem = key.to_pkcs1_pem().expect("PEM of the key");
    let encoding = EncodingKey::from_rsa_pem(pem.expose().as_bytes()).expect("RSA encoding key");
    jsonwebtoken::encode(header, claims, &encoding).expect("sign with RSA")
}

/// Signs `claims` under `header` (an HMAC algorithm) with `secret`.
pub fn sign_hmac(secret: &[u8], header: &Header, claims: &impl Serialize) -> String {
    let encoding = EncodingKey::from_secret(secret).expect("HMAC key");
    jsonwebtoken::encode(header, claims, &encoding).expect("sign with HMAC")
}

/// A token with an arbitrary JSON header and an empty signature (for `alg: none`).
pub fn unsigned(header: &Value, claims: &impl Serialize) -> String {
    let encode = |value: String| URL_SAFE_NO_PAD.encode(value.as_bytes());
    let claims = serde_json::to_string(claims).expect("claims as JSON");
    format!("{}.{}.", encode(header.to_string()), encode(claims))
}
