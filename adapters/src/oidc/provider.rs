//! `OidcProvider` with the openidconnect crate: authorization URL with PKCE (S256), code
//! exchange with `client_secret_basic`, and ID-token verification with an RSA-only allow-list.

use std::str::FromStr as _;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthUrl, ClaimsVerificationError, ClientId, CsrfToken,
    IdTokenVerifier, IssuerUrl, JsonWebKeySet, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
    SignatureVerificationError,
};
use serde::Deserialize;
use time::OffsetDateTime;
use url::form_urlencoded;

use codex_cloud_core::domain::{
    AuthorizationRequest, Email, IdTokenRejection, Issuer, ProviderKeys, ProviderTokens,
    RsaAlgorithm, SecretString, Subject, VerifiedIdentity,
};
use codex_cloud_core::ports::{OidcProvider, OidcProviderError, ProviderStatus};

use crate::oidc::OidcClientSettings;
use crate::oidc::discovery::Discovery;
use crate::oidc::http::OutboundHttp;
use crate::oidc::jwk::RsaJwk;

/// Leeway for `exp` and for an `iat` slightly in the future (clock skew).
const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);
/// An ID token issued longer ago than this is refused.
const MAX_ID_TOKEN_AGE: TimeDelta = TimeDelta::hours(1);

pub struct OpenIdConnectProvider {
    settings: OidcClientSettings,
    discovery: Arc<Discovery>,
    http: OutboundHttp,
}

#[derive(Deserialize)]
struct TokenEndpointResponse {
    access_token: Option<String>,
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenEndpointError {
    error: Option<String>,
}

fn chrono_time(at: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond()).unwrap_or_default()
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
fn basic_credentials(client_id: &str, secret: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let secret: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The verifier of ID tokens, its signatures checked by AWS-LC (see `RsaJwk`).
type Verifier = IdTokenVerifier<'static, RsaJwk>;

fn to_jwks(keys: &ProviderKeys) -> JsonWebKeySet<RsaJwk> {
    // The JWK's own `alg` is not carried over: the crate would then refuse, say, an RS384 token
    // signed with a key advertised for RS256; the allow-list below bounds the algorithms, and
    // `bound_algorithm_matches` the key's own.
    JsonWebKeySet::new(keys.keys.iter().map(RsaJwk::of).collect())
}

/// A key whose JWK names an `alg` verifies only tokens signed with that algorithm (RFC 8725
/// §3.1: a key is bound to one algorithm). Checked after the signature: a mismatch is a
/// rejection, never a reason to fetch keys again.
fn bound_algorithm_matches(
    id_token: &CoreIdToken,
    verifier: &Verifier,
    keys: &ProviderKeys,
) -> Result<(), IdTokenRejection> {
    let invalid = |e: String| IdTokenRejection::Invalid(e);
    let alg = id_token.signing_alg().map_err(|e| invalid(e.to_string()))?;
    let used = id_token.signing_key(verifier).map_err(|e| invalid(e.to_string()))?;
    let kid = openidconnect::JsonWebKey::key_id(used).map(|kid| kid.as_str());
    let key = match kid {
        Some(kid) => keys.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
        None => keys.keys.first().filter(|_| keys.keys.len() == 1),
    };
    let signed_with = match alg {
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => RsaAlgorithm::Rs256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384 => RsaAlgorithm::Rs384,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512 => RsaAlgorithm::Rs512,
        _ => return Err(invalid("the ID token's algorithm is not allowed".into())),
    };
    match key.and_then(|k| k.alg) {
        Some(bound) if bound != signed_with => Err(invalid(format!(
            "the key is bound to {bound:?}, the ID token is signed with {signed_with:?}"
        ))),
        _ => Ok(()),
    }
}

impl OpenIdConnectProvider {
    pub fn new(
        settings: OidcClientSettings,
        discovery: Arc<Discovery>,
        http: OutboundHttp,
    ) -> Self {
        Self { settings, discovery, http }
    }

    async fn endpoints(&self) -> Result<Arc<crate::oidc::discovery::Endpoints>, OidcProviderError> {
        match self.discovery.ensure().await {
            ProviderStatus::Ready => {}
            ProviderStatus::Unavailable(why) => return Err(OidcProviderError::Unavailable(why)),
            ProviderStatus::Misconfigured(why) => {
                return Err(OidcProviderError::Misconfigured(why));
            }
        }
        self.discovery
            .endpoints()
            .ok_or_else(|| OidcProviderError::Unavailable("the provider is not discovered".into()))
    }

    fn verifier(
        &self,
        keys: &ProviderKeys,
        now: OffsetDateTime,
    ) -> Result<Verifier, IdTokenRejection> {
        let issuer = IssuerUrl::new(self.settings.issuer.as_str().to_owned())
            .map_err(|e| IdTokenRejection::Invalid(format!("configured issuer: {e}")))?;
        let now = chrono_time(now);
        let verifier = Verifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            issuer,
            to_jwks(keys),
        )
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
        ])
        .set_time_fn(move || now - CLOCK_SKEW)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > now + CLOCK_SKEW {
                Err("iat is in the future".to_owned())
            } else if now - iat > MAX_ID_TOKEN_AGE {
                Err("iat is too old".to_owned())
            } else {
                Ok(())
            }
        });
        Ok(verifier)
    }
}

fn rejection(error: ClaimsVerificationError) -> IdTokenRejection {
    match error {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => IdTokenRejection::UnknownKey,
        other => IdTokenRejection::Invalid(other.to_string()),
    }
}

#[async_trait]
impl OidcProvider for OpenIdConnectProvider {
    fn issuer(&self) -> &Issuer {
        &self.settings.issuer
    }

    fn status(&self) -> ProviderStatus {
        self.discovery.status()
    }

    async fn requires_iss(&self) -> Result<bool, OidcProviderError> {
        Ok(self.endpoints().await?.iss_parameter_supported)
    }

    async fn authorization_request(
        &self,
        force_login: bool,
    ) -> Result<AuthorizationRequest, OidcProviderError> {
        let endpoints = self.endpoints().await?;
        let issuer = IssuerUrl::new(self.settings.issuer.as_str().to_owned())
            .map_err(|e| OidcProviderError::Misconfigured(e.to_string()))?;
        let client = CoreClient::new(
            ClientId::new(self.settings.client_id.clone()),
            issuer,
            CoreJsonWebKeySet::default(),
        )
        .set_auth_uri(AuthUrl::from_url(endpoints.authorization.clone()))
        .set_redirect_uri(
            RedirectUrl::new(self.settings.redirect_uri.clone())
                .map_err(|e| OidcProviderError::Misconfigured(e.to_string()))?,
        );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if force_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: SecretString::new(state.secret().clone()),
            nonce: SecretString::new(nonce.secret().clone()),
            pkce_verifier: SecretString::new(verifier.secret().clone()),
        })
    }

    async fn exchange_code(
        &self,
        code: &SecretString,
        pkce_verifier: &SecretString,
    ) -> Result<ProviderTokens, OidcProviderError> {
        let endpoints = self.endpoints().await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", self.settings.redirect_uri.as_str()),
            ("code_verifier", pkce_verifier.expose()),
        ];
        let request = self
            .http
            .client()
            .post(endpoints.token.clone())
            .header(
                "authorization",
                basic_credentials(&self.settings.client_id, self.settings.client_secret.expose()),
            )
            .header("accept", "application/json")
            .form(&form);
        let failed = |why: String| OidcProviderError::TokenEndpoint(why);
        let response = self.http.send(request).await.map_err(|e| failed(e.to_string()))?;
        if !response.status.is_success() {
            let code = serde_json::from_slice::<TokenEndpointError>(&response.body)
                .ok()
                .and_then(|e| e.error)
                .filter(|e| e.len() <= 64 && e.chars().all(|c| c.is_ascii_graphic()))
                .unwrap_or_else(|| "no error code".into());
            return Err(failed(format!(
                "the token endpoint answered {} ({code})",
                response.status
            )));
        }
        let body: TokenEndpointResponse = serde_json::from_slice(&response.body)
            .map_err(|_| failed("the token response is not valid JSON".into()))?;
        Ok(ProviderTokens {
            id_token: SecretString::new(
                body.id_token.ok_or_else(|| failed("the token response has no id_token".into()))?,
            ),
            access_token: SecretString::new(
                body.access_token
                    .ok_or_else(|| failed("the token response has no access_token".into()))?,
            ),
        })
    }

    async fn end_session_url(
        &self,
        id_token_hint: Option<&SecretString>,
    ) -> Result<Option<String>, OidcProviderError> {
        let endpoints = self.endpoints().await?;
        let Some(endpoint) = &endpoints.end_session else { return Ok(None) };
        let mut url = endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint.expose());
            }
            query.append_pair("client_id", &self.settings.client_id);
            if let Some(uri) = &self.settings.post_logout_redirect_uri {
                query.append_pair("post_logout_redirect_uri", uri);
            }
        }
        Ok(Some(url.to_string()))
    }

    fn verify_id_token(
        &self,
        tokens: &ProviderTokens,
        nonce: &SecretString,
        keys: &ProviderKeys,
        now: OffsetDateTime,
    ) -> Result<VerifiedIdentity, IdTokenRejection> {
        let id_token = CoreIdToken::from_str(tokens.id_token.expose()).map_err(|e| {
            IdTokenRejection::Invalid(format!("the ID token cannot be parsed: {e}"))
        })?;
        let verifier = self.verifier(keys, now)?;
        let nonce = Nonce::new(nonce.expose().to_owned());
        let claims = id_token.claims(&verifier, &nonce).map_err(rejection)?;
        bound_algorithm_matches(&id_token, &verifier, keys)?;
        if let Some(expected) = claims.access_token_hash() {
            let alg =
                id_token.signing_alg().map_err(|e| IdTokenRejection::Invalid(e.to_string()))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| IdTokenRejection::Invalid(e.to_string()))?;
            let access_token = AccessToken::new(tokens.access_token.expose().to_owned());
            let actual = AccessTokenHash::from_token(&access_token, alg, key)
                .map_err(|e| IdTokenRejection::Invalid(e.to_string()))?;
            if actual != *expected {
                return Err(IdTokenRejection::Invalid(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        let issuer = Issuer::new(claims.issuer().as_str().to_owned())
            .map_err(|_| IdTokenRejection::Invalid("the issuer is malformed".into()))?;
        let subject = Subject::new(claims.subject().as_str().to_owned())
            .map_err(|_| IdTokenRejection::Invalid("sub must be 1 to 255 characters".into()))?;
        let email = claims.email().and_then(|e| Email::parse(e.as_str()).ok());
        Ok(VerifiedIdentity { issuer, subject, email })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_form_encode_reserved_characters() {
        let header = basic_credentials("client id", "s3cr:t/+&%");
        let encoded = header.strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "client+id:s3cr%3At%2F%2B%26%25");
    }
}
