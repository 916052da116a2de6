//! Codex access tokens (RFC 9068 JWTs) as the domain sees them.

use time::OffsetDateTime;
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
    pub expires_at: OffsetDateTime,
}
