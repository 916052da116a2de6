//! The public keys of Codex access tokens, for other Codex services to verify them: the keys
//! that may have signed a token still valid, and the key that signs next.

use crate::http::json::Json;
use poem_openapi::{Object, OpenApi};

use codex_cloud_core::domain::PublishedKey;
use codex_cloud_core::service::Auth;

use crate::http::ApiTags;

/// A public key of Codex access tokens (RFC 7517).
#[derive(Clone, Debug, Object)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    pub alg: String,
    #[oai(rename = "use")]
    pub key_use: String,
    pub n: String,
    pub e: String,
}

#[derive(Clone, Debug, Object)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    pub fn of(keys: &[PublishedKey]) -> Self {
        let keys = keys
            .iter()
            .map(|key| Jwk {
                kty: "RSA".to_owned(),
                kid: key.kid.clone(),
                alg: key.alg.clone(),
                key_use: "sig".to_owned(),
                n: key.n.clone(),
                e: key.e.clone(),
            })
            .collect();
        Self { keys }
    }
}

pub struct KeysApi {
    pub auth: Auth,
}

#[OpenApi(tag = "ApiTags::Keys")]
impl KeysApi {
    /// The public keys that verify Codex access tokens
    #[oai(path = "/.well-known/jwks.json", method = "get", operation_id = "getJwks")]
    async fn jwks(&self) -> Json<JwkSet> {
        Json(JwkSet::of(&self.auth.published_keys()))
    }
}
