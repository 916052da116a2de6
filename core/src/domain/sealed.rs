//! The provider's ID token, kept with a browser session for provider logout (`id_token_hint`),
//! sealed under a key derived from the session's browser credential. The database holds only
//! the credential's digest, so the sealed token opens only when the browser presents its cookie.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};

use crate::domain::{RandomnessError, SecretString, SessionId};

const NONCE_LEN: usize = 12;
/// Domain separation: this key is used for nothing else.
const CONTEXT: &[u8] = b"codex id_token seal v1\0";

/// An ID token sealed with AES-256-GCM: the 96-bit random nonce, then ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedIdToken(Vec<u8>);

impl std::fmt::Debug for SealedIdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedIdToken(..)")
    }
}

fn cipher(credential: &str) -> Aes256Gcm {
    let key: [u8; 32] =
        Sha256::new().chain_update(CONTEXT).chain_update(credential).finalize().into();
    Aes256Gcm::new(&key.into())
}

impl SealedIdToken {
    /// Seals `id_token` for `session` under its browser `credential`.
    ///
    /// # Errors
    /// When the operating system's CSPRNG fails.
    pub fn seal(
        id_token: &SecretString,
        session: SessionId,
        credential: &str,
    ) -> Result<Self, RandomnessError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| RandomnessError::new(e.to_string()))?;
        let aad = session.as_uuid();
        let payload = Payload { msg: id_token.expose().as_bytes(), aad: aad.as_bytes() };
        let sealed = cipher(credential)
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| RandomnessError::new("sealing failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(Self(bytes))
    }

    /// The ID token, when `credential` is the one it was sealed under for `session`.
    pub fn open(&self, session: SessionId, credential: &str) -> Option<SecretString> {
        let (nonce, sealed) = self.0.split_at_checked(NONCE_LEN)?;
        let aad = session.as_uuid();
        let payload = Payload { msg: sealed, aad: aad.as_bytes() };
        let plain = cipher(credential).decrypt(Nonce::from_slice(nonce), payload).ok()?;
        String::from_utf8(plain).ok().map(SecretString::new)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_id_token_opens_only_with_its_credential_and_session() {
        let session = SessionId::random();
        let token = SecretString::new("header.payload.signature");
        let sealed = SealedIdToken::seal(&token, session, "cookie").unwrap();
        assert!(!sealed.as_bytes().windows(7).any(|w| w == b"payload"));
        assert_eq!(sealed.open(session, "cookie").unwrap().expose(), token.expose());
        assert!(sealed.open(session, "another cookie").is_none());
        assert!(sealed.open(SessionId::random(), "cookie").is_none());
        assert!(SealedIdToken::from_bytes(vec![1, 2]).open(session, "cookie").is_none());
    }
}
