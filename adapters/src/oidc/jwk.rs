//! The provider's RSA signing keys as the openidconnect crate's ID-token verifier sees them,
//! with the signature checked by AWS-LC: the crate's own key type checks RSA with the `rsa`
//! crate's big-number arithmetic, which cost several times AWS-LC's on every callback.

use aws_lc_rs::signature::{self, RsaParameters, RsaPublicKeyComponents};
use openidconnect::core::{CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, SignatureVerificationError};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use codex_cloud_core::domain::ProviderKey;

/// One RSA public key of the provider (`n` and `e` big-endian). Its JWK `alg`, if any, is
/// enforced by the caller after the signature, so the key itself allows every RS* algorithm
/// the verifier allows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RsaJwk {
    kty: CoreJsonWebKeyType,
    kid: Option<JsonWebKeyId>,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaJwk {
    pub(super) fn of(key: &ProviderKey) -> Self {
        Self {
            kty: CoreJsonWebKeyType::RSA,
            kid: key.kid.clone().map(JsonWebKeyId::new),
            n: key.modulus.clone(),
            e: key.exponent.clone(),
        }
    }
}

/// AWS-LC's parameters for an RS* algorithm: PKCS#1 v1.5, keys up to 8192 bits (the JWKS cache
/// keeps only keys of 2048 bits or more, as RFC 7518 §3.3 asks).
fn parameters(alg: &CoreJwsSigningAlgorithm) -> Option<&'static RsaParameters> {
    match alg {
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA256)
        }
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384 => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA384)
        }
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512 => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA512)
        }
        _ => None,
    }
}

/// A big-endian integer without its leading zero octets (a JWK may carry one; AWS-LC wants none).
fn minimal(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

impl JsonWebKey for RsaJwk {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.kid.as_ref()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        &self.kty
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        // Keys for other uses never reach here: the JWKS cache keeps `use: sig` or none.
        None
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        JsonWebKeyAlgorithm::Unspecified
    }

    fn new_symmetric(key: Vec<u8>) -> Self {
        // Only reached for HMAC algorithms, which the verifier never allows; the key verifies
        // nothing (its type is not RSA).
        Self { kty: CoreJsonWebKeyType::Symmetric, kid: None, n: key, e: Vec::new() }
    }

    fn verify_signature(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        let parameters = parameters(alg)
            .ok_or_else(|| SignatureVerificationError::UnsupportedAlg(format!("{alg:?}")))?;
        if self.kty != CoreJsonWebKeyType::RSA {
            return Err(SignatureVerificationError::InvalidKey(
                "key type does not match signature algorithm".to_owned(),
            ));
        }
        let key = RsaPublicKeyComponents { n: minimal(&self.n), e: minimal(&self.e) };
        key.verify(parameters, message, signature)
            .map_err(|_| SignatureVerificationError::CryptoError("bad signature".to_owned()))
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        match alg {
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => {
                Ok(sha2::Sha256::digest(bytes).to_vec())
            }
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384 => {
                Ok(sha2::Sha384::digest(bytes).to_vec())
            }
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512 => {
                Ok(sha2::Sha512::digest(bytes).to_vec())
            }
            other => Err(format!("{other:?} is not an algorithm of this key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zero_octets_are_dropped_and_nothing_else() {
        assert_eq!(minimal(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(minimal(&[1, 0, 3]), &[1, 0, 3]);
        assert_eq!(minimal(&[0]), &[] as &[u8]);
    }

    #[test]
    fn a_signature_verifies_with_each_rs_algorithm_also_under_a_modulus_with_a_leading_zero() {
        use rsa::pkcs1v15::SigningKey;
        use rsa::signature::{SignatureEncoding as _, Signer as _};
        use rsa::traits::PublicKeyParts as _;
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let (n, e) = (private.n().to_bytes_be(), private.e().to_bytes_be());
        let signed = |alg| match alg {
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => {
                SigningKey::<sha2::Sha256>::new(private.clone()).sign(b"message").to_vec()
            }
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384 => {
                SigningKey::<sha2::Sha384>::new(private.clone()).sign(b"message").to_vec()
            }
            _ => SigningKey::<sha2::Sha512>::new(private.clone()).sign(b"message").to_vec(),
        };
        let padded = [&[0u8][..], &n].concat();
        for n in [n.clone(), padded] {
            let key = RsaJwk { kty: CoreJsonWebKeyType::RSA, kid: None, n, e: e.clone() };
            for alg in [
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            ] {
                let signature = signed(alg.clone());
                assert!(key.verify_signature(&alg, b"message", &signature).is_ok(), "{alg:?}");
                let other = key.verify_signature(&alg, b"another message", &signature);
                assert!(matches!(other, Err(SignatureVerificationError::CryptoError(_))));
            }
        }
    }

    #[test]
    fn only_rsa_keys_verify_and_only_with_rs_algorithms() {
        let key = RsaJwk::new_symmetric(b"secret".to_vec());
        let refused =
            key.verify_signature(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, b"m", b"s");
        assert!(matches!(refused, Err(SignatureVerificationError::InvalidKey(_))), "{refused:?}");
        let rsa =
            RsaJwk { kty: CoreJsonWebKeyType::RSA, kid: None, n: vec![1; 256], e: vec![1, 0, 1] };
        let hmac = rsa.verify_signature(&CoreJwsSigningAlgorithm::HmacSha256, b"m", b"s");
        assert!(matches!(hmac, Err(SignatureVerificationError::UnsupportedAlg(_))), "{hmac:?}");
        let bad = rsa.verify_signature(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, b"m", b"s");
        assert!(matches!(bad, Err(SignatureVerificationError::CryptoError(_))), "{bad:?}");
    }
}
