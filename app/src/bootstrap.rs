//! The composition root: the only place that names concrete adapters.

use std::sync::Arc;

use anyhow::Context as _;
use sea_orm::DatabaseConnection;

use codex_cloud_adapters::{
    Argon2PasswordHasher, Discovery, HttpJwksKeyProvider, JwksCacheSettings, JwtTokenIssuer,
    OidcClientSettings, OpenIdConnectProvider, OutboundHttp, SeaOrmIdentityStore, SystemClock,
    store,
};
use codex_cloud_core::ports::{Clock, IdentityStore};
use codex_cloud_core::service::{Auth, OidcLogin};

use crate::config::{OidcSettings, Settings};
use crate::http::{HttpParts, Jwk, JwkSet};

/// A wired-up backend.
pub struct Backend {
    pub db: DatabaseConnection,
    pub parts: HttpParts,
}

impl Backend {
    /// Connects, migrates, loads (or creates) the token signing key and wires the ports.
    /// OpenID Connect is wired only when `with_oidc` and the settings enable it.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or the signing key cannot be loaded.
    pub async fn build(settings: &Settings, with_oidc: bool) -> anyhow::Result<Self> {
        let db = crate::db::connect(&settings.database_url)
            .await
            .context("cannot open the database (CODEX_DATABASE_URL)")?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let keys = store::load_or_create_signing_keys(&db, clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the token signing key: {e}"))?;
        let tokens = JwtTokenIssuer::new(&settings.token_issuer, &settings.token_audience, &keys)?;
        let jwks = published_keys(&tokens);
        let store: Arc<dyn IdentityStore> = Arc::new(SeaOrmIdentityStore::new(db.clone()));
        let hasher = Arc::new(Argon2PasswordHasher::new(settings.max_concurrent_hashes)?);
        let auth =
            Auth::new(store.clone(), hasher, Arc::new(tokens), clock, settings.access_token_ttl);
        let oidc = match (&settings.oidc, with_oidc) {
            (Some(oidc), true) => Some(wire_oidc(oidc, auth.clone())?),
            _ => None,
        };
        let secure_cookies = settings.oidc.as_ref().is_some_and(|o| {
            o.redirect_uri.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        });
        Ok(Self { db, parts: HttpParts { auth, store, oidc, jwks, secure_cookies } })
    }
}

/// The OpenID Connect adapters around one provider; discovery starts now and is retried in the
/// background until it succeeds.
fn wire_oidc(settings: &OidcSettings, auth: Auth) -> anyhow::Result<OidcLogin> {
    let http = OutboundHttp::new().context("cannot build the HTTP client")?;
    let discovery = Arc::new(Discovery::new(settings.issuer.clone(), http.clone()));
    discovery.spawn_retry();
    let client = OidcClientSettings {
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri: settings.redirect_uri.clone(),
    };
    let provider = Arc::new(OpenIdConnectProvider::new(client, discovery.clone(), http.clone()));
    let cache = JwksCacheSettings {
        ttl: settings.jwks_cache_ttl,
        refresh: settings.jwks_cache_refresh,
        unknown_kid_cooldown: JwksCacheSettings::DEFAULT_UNKNOWN_KID_COOLDOWN,
    };
    let keys = Arc::new(HttpJwksKeyProvider::new(discovery, http, auth.clock().clone(), cache));
    Ok(OidcLogin::new(auth, provider, keys))
}

/// The public keys of `tokens`, as `/.well-known/jwks.json` publishes them.
pub fn published_keys(tokens: &JwtTokenIssuer) -> JwkSet {
    let keys = tokens
        .public_keys()
        .iter()
        .map(|k| Jwk {
            kty: k.kty.clone(),
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            key_use: k.key_use.clone(),
            n: k.n.clone(),
            e: k.e.clone(),
        })
        .collect();
    JwkSet { keys }
}
