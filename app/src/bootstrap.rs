//! The composition root: the only place that names concrete adapters. `serve`, the CLI commands
//! that use the services and the test harness build the backend here (`Backend::build`), from
//! settings plus optional overrides; `db::seed_external_identities` takes only the identity
//! links from here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use codex_cloud_adapters::{
    Argon2PasswordHasher, Discovery, HttpJwksKeyProvider, JwksCacheSettings, JwksFetchStats,
    JwtTokenIssuer, OidcClientSettings, OpenIdConnectProvider, OutboundHttp, SeaOrmStore,
    SystemClock, load_or_create_signing_keys,
};
use codex_cloud_core::domain::PublishedKey;
use codex_cloud_core::ports::{
    Clock, IdentityLinkStore, OidcProvider, PasswordHasher, PendingLoginStore, Readiness,
    SessionStore, SigningKeyStore, UserStore,
};
use codex_cloud_core::service::{
    Accounts, Auth, IdentityLinks, OidcLogin, OidcLoginPorts, ReadinessCheck,
};

use crate::config::{OidcSettings, Settings};

/// Every store port, each possibly from a different adapter.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub links: Arc<dyn IdentityLinkStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub pending_logins: Arc<dyn PendingLoginStore>,
    pub signing_keys: Arc<dyn SigningKeyStore>,
    pub readiness: Arc<dyn Readiness>,
}

impl Stores {
    /// Every port from one adapter.
    pub fn of<S>(store: Arc<S>) -> Self
    where
        S: UserStore
            + IdentityLinkStore
            + SessionStore
            + PendingLoginStore
            + SigningKeyStore
            + Readiness
            + 'static,
    {
        Self {
            users: store.clone(),
            links: store.clone(),
            sessions: store.clone(),
            pending_logins: store.clone(),
            signing_keys: store.clone(),
            readiness: store,
        }
    }

    /// The SeaORM store over an open, migrated connection.
    pub fn sea_orm(db: sea_orm::DatabaseConnection) -> Self {
        Self::of(Arc::new(SeaOrmStore::new(db)))
    }
}

/// Adapters to use instead of the ones the settings choose (tests, library callers).
#[derive(Default)]
pub struct Overrides {
    /// Instead of connecting to `CODEX_DATABASE_URL` and migrating.
    pub stores: Option<Stores>,
    /// Instead of the system clock.
    pub clock: Option<Arc<dyn Clock>>,
    /// Instead of argon2id.
    pub hasher: Option<Arc<dyn PasswordHasher>>,
    /// Instead of the product's client for the OpenID Provider (for other timeouts).
    pub outbound_http: Option<OutboundHttp>,
}

/// The use cases, as the HTTP layer and the CLI call them.
#[derive(Clone)]
pub struct Services {
    pub auth: Auth,
    pub accounts: Accounts,
    pub links: IdentityLinks,
    /// `None` when OpenID Connect is off.
    pub oidc: Option<OidcLogin>,
    pub readiness: ReadinessCheck,
    /// The public keys of Codex access tokens.
    pub published_keys: Vec<PublishedKey>,
    /// Whether cookies get the `Secure` attribute.
    pub secure_cookies: bool,
}

/// How often stale pending logins are purged.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

/// A wired-up backend.
pub struct Backend {
    pub services: Services,
    discovery: Option<Arc<Discovery>>,
    provider_keys: Option<Arc<HttpJwksKeyProvider>>,
}

/// Linking identities needs only the links, the users and the clock: no keys, no hasher.
pub fn identity_links(stores: &Stores, clock: Arc<dyn Clock>) -> IdentityLinks {
    IdentityLinks::new(stores.links.clone(), stores.users.clone(), clock)
}

impl Backend {
    /// Opens the stores (connecting and migrating unless overridden), loads or creates the
    /// token signing key, and wires every use case. Nothing runs in the background until
    /// `spawn_background_tasks`.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or the signing key cannot be loaded.
    pub async fn build(settings: &Settings, overrides: Overrides) -> anyhow::Result<Self> {
        let stores = match overrides.stores {
            Some(stores) => stores,
            None => Stores::sea_orm(
                crate::db::connect(&settings.database_url)
                    .await
                    .context("cannot open the database (CODEX_DATABASE_URL)")?,
            ),
        };
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let hasher = match overrides.hasher {
            Some(hasher) => hasher,
            None => Arc::new(Argon2PasswordHasher::new(settings.max_concurrent_hashes)?),
        };
        let keys = load_or_create_signing_keys(&*stores.signing_keys, clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the token signing key: {e}"))?;
        let tokens = JwtTokenIssuer::new(&settings.token_issuer, &settings.token_audience, &keys)?;
        let published_keys = tokens.published_keys().to_vec();
        let auth = Auth::new(
            stores.users.clone(),
            stores.sessions.clone(),
            hasher.clone(),
            Arc::new(tokens),
            clock.clone(),
            settings.access_token_ttl,
        );
        let accounts = Accounts::new(stores.users.clone(), hasher, clock.clone());
        let links = identity_links(&stores, clock.clone());
        let wired = match &settings.oidc {
            Some(oidc) => {
                let http = match overrides.outbound_http {
                    Some(http) => http,
                    None => OutboundHttp::new().context("cannot build the HTTP client")?,
                };
                Some(wire_oidc(oidc, http, auth.clone(), &stores, clock.clone()))
            }
            None => None,
        };
        let provider = wired.as_ref().map(|w| w.provider.clone());
        let services = Services {
            auth,
            accounts,
            links,
            oidc: wired.as_ref().map(|w| w.login.clone()),
            readiness: ReadinessCheck::new(stores.readiness.clone(), provider),
            published_keys,
            secure_cookies: settings.secure_cookies(),
        };
        Ok(Self {
            services,
            discovery: wired.as_ref().map(|w| w.discovery.clone()),
            provider_keys: wired.map(|w| w.keys),
        })
    }

    /// How often the provider's keys were fetched, and how often that failed (`None` with
    /// OpenID Connect off).
    pub fn provider_key_stats(&self) -> Option<JwksFetchStats> {
        self.provider_keys.as_ref().map(|keys| keys.stats())
    }

    /// Starts what a serving process runs besides requests: discovery retried until it
    /// succeeds, and the periodic purge of pending logins that never came back.
    pub fn spawn_background_tasks(&self) {
        if let Some(discovery) = &self.discovery {
            discovery.spawn_retry();
        }
        if let Some(oidc) = self.services.oidc.clone() {
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(HOUSEKEEPING_INTERVAL);
                loop {
                    interval.tick().await;
                    match oidc.purge_pending_logins().await {
                        Ok(0) => {}
                        Ok(purged) => tracing::debug!(purged, "stale pending logins purged"),
                        Err(e) => tracing::warn!(error = %e, "purging pending logins failed"),
                    }
                }
            });
        }
    }
}

struct WiredOidc {
    login: OidcLogin,
    provider: Arc<dyn OidcProvider>,
    discovery: Arc<Discovery>,
    keys: Arc<HttpJwksKeyProvider>,
}

/// The OpenID Connect adapters around one provider.
fn wire_oidc(
    settings: &OidcSettings,
    http: OutboundHttp,
    auth: Auth,
    stores: &Stores,
    clock: Arc<dyn Clock>,
) -> WiredOidc {
    let discovery = Arc::new(Discovery::new(settings.issuer.clone(), http.clone(), clock.clone()));
    let client = OidcClientSettings {
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri: settings.redirect_uri.as_str().to_owned(),
    };
    let provider: Arc<dyn OidcProvider> =
        Arc::new(OpenIdConnectProvider::new(client, discovery.clone(), http.clone()));
    let cache = JwksCacheSettings {
        ttl: settings.jwks_cache_ttl,
        refresh: settings.jwks_cache_refresh,
        unknown_kid_cooldown: JwksCacheSettings::DEFAULT_UNKNOWN_KID_COOLDOWN,
    };
    let keys = Arc::new(HttpJwksKeyProvider::new(discovery.clone(), http, clock.clone(), cache));
    let ports = OidcLoginPorts {
        pending: stores.pending_logins.clone(),
        links: stores.links.clone(),
        provider: provider.clone(),
        keys: keys.clone(),
        clock,
    };
    WiredOidc { login: OidcLogin::new(auth, ports), provider, discovery, keys }
}
