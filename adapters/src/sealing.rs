//! Private keys sealed at rest: AES-256-GCM under a key-encryption key the operator holds
//! (`CODEX_KEY_ENCRYPTION_KEY`), with the key id as associated data, so a sealed key moved to
//! another id does not open. Stored as `sealed:v1:` and base64 of the 96-bit random nonce
//! followed by the ciphertext and tag.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use codex_cloud_core::domain::SecretString;

const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("the key-encryption key must be 32 bytes in base64")]
    InvalidKey,
    #[error("the sealed key {0} does not open with this key-encryption key")]
    WrongKey(String),
    #[error("no random nonce could be drawn")]
    Random,
    #[error("the key could not be sealed")]
    Seal,
}

/// Seals and opens private keys.
pub struct KeySealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer(<redacted>)")
    }
}

impl KeySealer {
    /// From a 256-bit key in (standard, padded) base64; surrounding whitespace is ignored.
    ///
    /// # Errors
    /// `InvalidKey` when it is not base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SealingError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SealingError::InvalidKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SealingError::InvalidKey)?;
        Ok(Self { cipher })
    }

    /// Whether a stored private key is sealed (else it is plain PEM).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// The sealed form of `plain`, bound to `kid`.
    ///
    /// # Errors
    /// `Random` when no nonce can be drawn.
    pub fn seal(&self, kid: &str, plain: &SecretString) -> Result<SecretString, SealingError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealingError::Random)?;
        let payload = Payload { msg: plain.expose().as_bytes(), aad: kid.as_bytes() };
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| SealingError::Seal)?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(SecretString::new(format!("{PREFIX}{}", STANDARD.encode(stored))))
    }

    /// The plain form of a sealed key stored under `kid`.
    ///
    /// # Errors
    /// `WrongKey` when it does not open (another key-encryption key, another id, or damage).
    pub fn open(&self, kid: &str, sealed: &SecretString) -> Result<SecretString, SealingError> {
        let wrong = || SealingError::WrongKey(kid.to_owned());
        let encoded = sealed.expose().strip_prefix(PREFIX).ok_or_else(wrong)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| wrong())?;
        if bytes.len() <= NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let payload = Payload { msg: sealed, aad: kid.as_bytes() };
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), payload).map_err(|_| wrong())?;
        String::from_utf8(plain).map(SecretString::new).map_err(|_| wrong())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const OTHER: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    #[test]
    fn a_sealed_key_opens_only_with_its_key_and_under_its_id() {
        let sealer = KeySealer::from_base64(KEY).unwrap();
        let plain = SecretString::new("-----BEGIN RSA PRIVATE KEY-----\nsecret\n");

        let sealed = sealer.seal("kid-1", &plain).unwrap();

        assert!(KeySealer::is_sealed(sealed.expose()));
        assert!(!sealed.expose().contains("secret"));
        assert_eq!(sealer.open("kid-1", &sealed).unwrap().expose(), plain.expose());
        assert!(matches!(sealer.open("kid-2", &sealed), Err(SealingError::WrongKey(_))));
        let other = KeySealer::from_base64(OTHER).unwrap();
        assert!(matches!(other.open("kid-1", &sealed), Err(SealingError::WrongKey(_))));
        let again = sealer.seal("kid-1", &plain).unwrap();
        assert_ne!(again.expose(), sealed.expose(), "a fresh nonce each time");
    }

    #[test]
    fn only_base64_of_32_bytes_is_a_key() {
        for bad in ["", "not base64!", "MDEyMzQ1Njc4OWFiY2RlZg==", &format!("{KEY}AA")] {
            assert!(matches!(KeySealer::from_base64(bad), Err(SealingError::InvalidKey)), "{bad}");
        }
        assert!(KeySealer::from_base64(&format!(" {KEY}\n")).is_ok());
    }

    #[test]
    fn damage_is_refused() {
        let sealer = KeySealer::from_base64(KEY).unwrap();
        let sealed = sealer.seal("kid-1", &SecretString::new("pem")).unwrap();
        let mut damaged = sealed.expose().to_owned();
        damaged.pop();
        damaged.push(if sealed.expose().ends_with('A') { 'B' } else { 'A' });
        for bad in [damaged.as_str(), "sealed:v1:", "sealed:v1:AAAA", "plain"] {
            let result = sealer.open("kid-1", &SecretString::new(bad));
            assert!(matches!(result, Err(SealingError::WrongKey(_))), "{bad}");
        }
    }
}
