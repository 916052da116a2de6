//! The ID tokens the fake provider signs, made wrong as the current fault says.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::*;

fn at_hash(access_token: &str, alg: Algorithm) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::RS384 => Sha384::digest(access_token.as_bytes()).to_vec(),
        Algorithm::RS512 => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// Signs the ID token for `grant`, made wrong as the current fault says.
pub(super) fn id_token(s: &OpState, grant: &Grant, access_token: &str) -> String {
    let now = s.clock.now().unix_timestamp();
    let fault = &s.id_token_fault;
    let alg = match fault {
        IdTokenFault::Rsa(alg) => *alg,
        _ => Algorithm::RS256,
    };
    let mut claims = json!({
        "iss": s.issuer,
        "sub": grant.subject,
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": grant.nonce,
        "email": "someone@example.com",
        "at_hash": at_hash(access_token, alg),
    });
    match fault {
        IdTokenFault::Issuer(iss) => claims["iss"] = json!(iss),
        IdTokenFault::Audience(aud) => claims["aud"] = aud.clone(),
        IdTokenFault::Remove(claim) => {
            claims.as_object_mut().expect("object").remove(*claim);
        }
        IdTokenFault::Nonce(nonce) => claims["nonce"] = json!(nonce),
        IdTokenFault::ExpiredSecondsAgo(secs) => {
            claims["exp"] = json!(now - secs);
            claims["iat"] = json!(now - secs - 300);
        }
        IdTokenFault::IatInFuture(secs) => claims["iat"] = json!(now + secs),
        IdTokenFault::IatSecondsAgo(secs) => claims["iat"] = json!(now - secs),
        IdTokenFault::WrongAtHash => claims["at_hash"] = json!(at_hash("another token", alg)),
        _ => {}
    }
    let key = &s.keys[0];
    let mut header = Header::new(alg);
    header.kid = Some(key.kid.clone());
    match fault {
        IdTokenFault::NoKid => header.kid = None,
        IdTokenFault::UnknownKid => header.kid = Some("no-such-kid".into()),
        _ => {}
    }
    let sign = |header: &Header, key: &EncodingKey| {
        jsonwebtoken::encode(header, &claims, key).expect("sign")
    };
    match fault {
        IdTokenFault::AlgNone => {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
            let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
            format!("{header}.{payload}.")
        }
        IdTokenFault::Hs256WithClientSecret => sign(
            &Header::new(Algorithm::HS256),
            &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()).expect("hmac key"),
        ),
        IdTokenFault::Hs256WithPublicKey => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(key.kid.clone());
            sign(&header, &EncodingKey::from_secret(key.public_pem().as_bytes()).expect("hmac key"))
        }
        IdTokenFault::Es256 => {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(key.kid.clone());
            sign(&header, &EncodingKey::from_ec_pem(ES256_TEST_KEY.as_bytes()).expect("ec key"))
        }
        IdTokenFault::CorruptSignature => {
            let signed = sign(&header, &key.encoding_key());
            let (body, signature) = signed.rsplit_once('.').expect("jwt");
            let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("signature");
            bytes[10] ^= 0x55;
            format!("{body}.{}", URL_SAFE_NO_PAD.encode(bytes))
        }
        _ => sign(&header, &key.encoding_key()),
    }
}
