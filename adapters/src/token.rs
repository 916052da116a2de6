//! Codex access tokens: RS256-signed JWTs of type `at+jwt` (RFC 9068), and the public JWKS.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use codex_cloud_core::BoxError;
use codex_cloud_core::domain::{
    AccessTokenClaims, IssuedToken, PublishedKey, SecretString, SessionId, StoredSigningKey, UserId,
};
use codex_cloud_core::ports::{SigningKeyStore, TokenIssuer, TokenIssuerError};

use crate::sealing::KeySealer;

/// The JOSE `typ` of Codex access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
const RSA_BITS: usize = 2048;

/// An RSA private key with its key id (the RFC 7638 thumbprint of its public half).
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    private: RsaPrivateKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("the signing key is not a PKCS#1 PEM RSA private key: {0}")]
    Malformed(String),
    #[error("could not generate an RSA key: {0}")]
    Generate(String),
}

impl SigningKey {
    /// A fresh 2048-bit key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SigningKeyError> {
        let mut rng = rsa::rand_core::OsRng;
        let private = RsaPrivateKey::new(&mut rng, RSA_BITS)
            .map_err(|e| SigningKeyError::Generate(e.to_string()))?;
        Ok(Self::from_private(private))
    }

    pub fn from_pkcs1_pem(pem: &str) -> Result<Self, SigningKeyError> {
        let private = RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|e| SigningKeyError::Malformed(e.to_string()))?;
        Ok(Self::from_private(private))
    }

    fn from_private(private: RsaPrivateKey) -> Self {
        let kid = thumbprint(&private.to_public_key());
        Self { kid, private }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn to_pkcs1_pem(&self) -> Result<SecretString, SigningKeyError> {
        let pem = self
            .private
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| SigningKeyError::Malformed(e.to_string()))?;
        Ok(SecretString::new(pem.as_str()))
    }

    /// The key as the store keeps it.
    ///
    /// # Errors
    /// When the key cannot be encoded.
    pub fn to_stored(
        &self,
        created_at: OffsetDateTime,
    ) -> Result<StoredSigningKey, SigningKeyError> {
        Ok(StoredSigningKey {
            kid: self.kid.clone(),
            algorithm: "RS256".to_owned(),
            private_key_pem: self.to_pkcs1_pem()?,
            created_at,
        })
    }

    /// The public half, as published.
    pub fn published(&self) -> PublishedKey {
        let public = self.private.to_public_key();
        PublishedKey {
            kid: self.kid.clone(),
            alg: "RS256".into(),
            n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }
    }
}

/// The stored signing keys, newest first; creates and stores the first one if there is none.
/// Replicas starting together race to store the first key: exactly one wins, and all use it.
///
/// # Errors
/// When the store fails or a stored key is malformed.
///
/// With a `sealer`, a new key is stored sealed, and a key stored plain is sealed in place; a
/// sealed key that does not open is an error (never replaced by a new key). Without one, a
/// sealed key is an error too.
pub async fn load_or_create_signing_keys(
    store: &dyn SigningKeyStore,
    now: OffsetDateTime,
    sealer: Option<&KeySealer>,
) -> Result<Vec<SigningKey>, BoxError> {
    let mut stored = store.signing_keys().await?;
    if stored.is_empty() {
        let key = tokio::task::spawn_blocking(SigningKey::generate).await??;
        let mut first = key.to_stored(now)?;
        if let Some(sealer) = sealer {
            first.private_key_pem = sealer.seal(&first.kid, &first.private_key_pem)?;
        }
        store.add_first_signing_key(&first).await?;
        stored = store.signing_keys().await?;
    }
    let does_not_open = |kid: &str| {
        format!(
            "the key-encryption key (CODEX_KEY_ENCRYPTION_KEY or CODEX_KEY_ENCRYPTION_KEY_FILE) \
             does not open the stored token signing key {kid}"
        )
    };
    let mut keys = Vec::with_capacity(stored.len());
    for key in &stored {
        let plain = match (KeySealer::is_sealed(key.private_key_pem.expose()), sealer) {
            (true, Some(sealer)) => {
                sealer.open(&key.kid, &key.private_key_pem).map_err(|_| does_not_open(&key.kid))?
            }
            (true, None) => {
                return Err(format!(
                    "the stored token signing key {} is sealed: set CODEX_KEY_ENCRYPTION_KEY \
                     (or CODEX_KEY_ENCRYPTION_KEY_FILE)",
                    key.kid
                )
                .into());
            }
            (false, Some(sealer)) => {
                // Only a key that parses is sealed: a damaged one stops start-up unchanged.
                parse_stored(key)?;
                let sealed = sealer.seal(&key.kid, &key.private_key_pem)?;
                if store.seal_signing_key(&key.kid, &key.private_key_pem, &sealed).await? {
                    tracing::info!(kid = %key.kid, "sealed a stored token signing key");
                } else {
                    // Another replica sealed it first: with the same key-encryption key, or
                    // this one must not run.
                    let now_stored = store.signing_keys().await?;
                    let theirs = now_stored.iter().find(|k| k.kid == key.kid);
                    let opens =
                        theirs.is_some_and(|k| sealer.open(&k.kid, &k.private_key_pem).is_ok());
                    if !opens {
                        return Err(does_not_open(&key.kid).into());
                    }
                }
                key.private_key_pem.clone()
            }
            (false, None) => key.private_key_pem.clone(),
        };
        let opened = StoredSigningKey { private_key_pem: plain, ..key.clone() };
        keys.push(parse_stored(&opened)?);
    }
    Ok(keys)
}

/// The stored key, which must parse and have the id it is stored under (a corrupt key is an
/// error, logged with its id, never replaced by a new one).
fn parse_stored(stored: &StoredSigningKey) -> Result<SigningKey, BoxError> {
    let key = SigningKey::from_pkcs1_pem(stored.private_key_pem.expose()).ok();
    match key {
        Some(key) if key.kid == stored.kid => Ok(key),
        _ => {
            tracing::error!(kid = %stored.kid, "a stored token signing key is corrupt");
            Err(format!("the stored token signing key {} is corrupt", stored.kid).into())
        }
    }
}

/// RFC 7638 JWK thumbprint (SHA-256) of an RSA public key.
fn thumbprint(public: &RsaPublicKey) -> String {
    let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: Uuid,
    sid: Uuid,
    iat: i64,
    exp: i64,
    jti: Uuid,
}

/// Signs with the first key given; verifies with any of them.
pub struct JwtTokenIssuer {
    issuer: String,
    audience: String,
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    published: Vec<PublishedKey>,
}

impl JwtTokenIssuer {
    /// `keys[0]` signs; every key verifies (so tokens survive a key rotation).
    ///
    /// # Errors
    /// When `keys` is empty or a key cannot be encoded.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: &[SigningKey],
    ) -> Result<Self, SigningKeyError> {
        let first = keys.first().ok_or_else(|| SigningKeyError::Malformed("no key".into()))?;
        let der =
            first.private.to_pkcs1_der().map_err(|e| SigningKeyError::Malformed(e.to_string()))?;
        let verifying = keys
            .iter()
            .map(|key| {
                let public = key.private.to_public_key();
                let decoding = DecodingKey::from_rsa_raw_components(
                    &public.n().to_bytes_be(),
                    &public.e().to_bytes_be(),
                );
                (key.kid.clone(), decoding)
            })
            .collect();
        Ok(Self {
            issuer: issuer.into(),
            audience: audience.into(),
            signing_kid: first.kid.clone(),
            signing: EncodingKey::from_rsa_der(der.as_bytes()),
            verifying,
            published: keys.iter().map(SigningKey::published).collect(),
        })
    }

    /// The public keys, for `/.well-known/jwks.json`.
    pub fn published_keys(&self) -> &[PublishedKey] {
        &self.published
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }
}

impl TokenIssuer for JwtTokenIssuer {
    fn issue(&self, claims: &AccessTokenClaims) -> Result<IssuedToken, TokenIssuerError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some(self.signing_kid.clone());
        let body = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: claims.subject.as_uuid(),
            sid: claims.session.as_uuid(),
            iat: claims.issued_at.unix_timestamp(),
            exp: claims.expires_at.unix_timestamp(),
            jti: claims.token_id,
        };
        let token = jsonwebtoken::encode(&header, &body, &self.signing)
            .map_err(|e| TokenIssuerError::Internal(e.into()))?;
        Ok(IssuedToken {
            token: SecretString::new(token),
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
        })
    }

    fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessTokenClaims, TokenIssuerError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenIssuerError::Invalid)?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenIssuerError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(TokenIssuerError::Invalid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
        // Expiry is checked below against the injected clock, not the system time.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|_| TokenIssuerError::Invalid)?;
        let claims = data.claims;
        if claims.exp <= now.unix_timestamp() {
            return Err(TokenIssuerError::Invalid);
        }
        let at =
            |secs| OffsetDateTime::from_unix_timestamp(secs).map_err(|_| TokenIssuerError::Invalid);
        Ok(AccessTokenClaims {
            subject: UserId::from_uuid(claims.sub),
            session: SessionId::from_uuid(claims.sid),
            issued_at: at(claims.iat)?,
            expires_at: at(claims.exp)?,
            token_id: claims.jti,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: OffsetDateTime) -> AccessTokenClaims {
        AccessTokenClaims {
            subject: UserId::new(),
            session: SessionId::random(),
            issued_at: now,
            expires_at: now + time::Duration::minutes(15),
            token_id: Uuid::new_v4(),
        }
    }

    #[test]
    fn a_token_verifies_until_it_expires_and_only_for_its_audience() {
        let key = SigningKey::generate().unwrap();
        let issuer = JwtTokenIssuer::new("iss", "aud", std::slice::from_ref(&key)).unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let claims = claims(now);
        let token = issuer.issue(&claims).unwrap();
        assert_eq!(issuer.verify(token.token.expose(), now).unwrap(), claims);
        assert!(issuer.verify(token.token.expose(), claims.expires_at).is_err());
        let other = JwtTokenIssuer::new("iss", "other", &[key]).unwrap();
        assert!(other.verify(token.token.expose(), now).is_err());
    }

    #[test]
    fn keys_survive_a_pem_round_trip() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs1_pem(key.to_pkcs1_pem().unwrap().expose()).unwrap();
        assert_eq!(key.kid(), again.kid());
        assert_eq!(key.published(), again.published());
    }
}
