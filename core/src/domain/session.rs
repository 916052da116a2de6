//! Server-side sessions: every Codex access token names one. A session outlives its access
//! tokens: it ends after an idle timeout or a maximum age, whichever comes first, or when
//! revoked.

use std::fmt;

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{Issuer, SecretString, Subject, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A fresh, unguessable session id (UUIDv4 from the operating system's CSPRNG).
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a session began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionMethod {
    Password,
    /// Through this external identity.
    Oidc {
        issuer: Issuer,
        subject: Subject,
    },
}

impl SessionMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Oidc { .. } => "oidc",
        }
    }
}

/// How long sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session not used for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after it began, used or not.
    pub max_age: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub method: SessionMethod,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    /// The absolute end: `created_at` plus the maximum age.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl Session {
    /// When the session ends if not used again (and not revoked).
    pub fn ends_at(&self, idle_timeout: Duration) -> OffsetDateTime {
        (self.last_used_at + idle_timeout).min(self.expires_at)
    }

    pub fn is_active(&self, now: OffsetDateTime, idle_timeout: Duration) -> bool {
        self.revoked_at.is_none() && now < self.ends_at(idle_timeout)
    }
}

/// A secret handed to a client (a refresh token, the browser's session credential): 256 bits
/// from the operating system's CSPRNG, in hex. Only its digest is stored.
pub struct OpaqueToken(SecretString);

/// The operating system could not supply random bytes.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomnessError(String);

impl RandomnessError {
    pub fn new(why: String) -> Self {
        Self(why)
    }
}

impl OpaqueToken {
    /// # Errors
    /// When the operating system's CSPRNG fails.
    pub fn random() -> Result<Self, RandomnessError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| RandomnessError(e.to_string()))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self(SecretString::new(hex)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(self.0.expose())
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(<redacted>)")
    }
}

/// SHA-256 of an opaque token: what is stored, so the database never holds a usable token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From 64 lowercase or uppercase hex digits (as `to_hex` writes them).
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}
