//! The OpenID Connect relying party: discovery, the authorization-code flow with PKCE, ID-token
//! verification (openidconnect crate), and the provider's JWKS behind a cache.

pub mod check;
mod discovery;
mod http;
mod jwk;
mod jwks;
mod provider;

use std::time::Duration;

use codex_cloud_core::domain::{Issuer, SecretString};

pub use discovery::Discovery;
pub use http::OutboundHttp;
pub use jwks::{HttpJwksKeyProvider, JwksFetchStats};
pub use provider::OpenIdConnectProvider;

/// The relying party's registration with the provider.
#[derive(Clone, Debug)]
pub struct OidcClientSettings {
    pub issuer: Issuer,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Sent exactly as configured (the provider compares it byte for byte).
    pub redirect_uri: String,
    /// Sent as `post_logout_redirect_uri` at provider logout, when set.
    pub post_logout_redirect_uri: Option<String>,
}

/// How long provider keys may be used, and when to refresh them.
#[derive(Clone, Copy, Debug)]
pub struct JwksCacheSettings {
    /// Hard maximum age: older keys are never used.
    pub ttl: Duration,
    /// Age after which keys are refreshed while still being served.
    pub refresh: Duration,
    /// Minimum spacing between refetches caused by unknown key ids.
    pub unknown_kid_cooldown: Duration,
}

impl JwksCacheSettings {
    pub const DEFAULT_UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(10);
}
