//! Codex access tokens (RFC 9068 JWTs) and the keys that sign them, as the domain sees them.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{SecretString, SessionId, UserId};

/// The claims of a Codex access token; `iss` and `aud` are fixed by the issuer's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub subject: UserId,
    pub session: SessionId,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub token_id: Uuid,
}

/// A signed access token, ready to hand to the client.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub token: SecretString,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl IssuedToken {
    /// The token's lifetime: what a client is told as `expires_in`.
    pub fn expires_in(&self) -> Duration {
        self.expires_at - self.issued_at
    }
}

/// A token signing key as stored: its id, algorithm and private key (PKCS#1 PEM).
#[derive(Clone, Debug)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    pub private_key_pem: SecretString,
    pub created_at: OffsetDateTime,
}

/// The public half of a token signing key, as published for other services to verify tokens
/// with (an RSA JWK, RFC 7517; base64url without padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    pub alg: String,
    pub n: String,
    pub e: String,
}
