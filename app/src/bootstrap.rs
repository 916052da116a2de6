//! The composition root: the only place that names concrete adapters. `serve`, the CLI commands
//! that use the services and the test harness build the backend here (`Backend::build`), from
//! settings plus optional overrides; `db::seed_external_identities` takes only the identity
//! links from here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use codex_cloud_adapters::{
    Argon2PasswordHasher, Discovery, HashQueue, HttpJwksKeyProvider, JwksCacheSettings,
    JwksFetchStats, JwtTokenIssuer, KeyRing, KeySealer, OidcClientSettings, OpenIdConnectProvider,
    OutboundHttp, SeaOrmStore, SystemClock, ZxcvbnBlocklist,
};
use codex_cloud_core::domain::{PasswordPolicy, SigningKeyStatus, retired_key_retention};
use codex_cloud_core::ports::{
    AuditLog, Clock, IdentityLinkStore, InvitationStore, OidcProvider, PasswordHasher,
    PendingLoginStore, Readiness, RefreshTokenStore, SessionStore, SigningKeyStore, ThrottleStore,
    UserStore,
};
use codex_cloud_core::service::{
    Accounts, Auth, AuthPorts, AuthSettings, Housekeeping, IdentityLinks, Invitations, OidcLogin,
    OidcLoginPorts, PasswordRules, ReadinessCheck,
};

use crate::config::{OidcSettings, Settings, TrustedProxies};

/// Every store port, each possibly from a different adapter.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub links: Arc<dyn IdentityLinkStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    pub throttles: Arc<dyn ThrottleStore>,
    pub audit: Arc<dyn AuditLog>,
    pub pending_logins: Arc<dyn PendingLoginStore>,
    pub invitations: Arc<dyn InvitationStore>,
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
            + RefreshTokenStore
            + ThrottleStore
            + AuditLog
            + PendingLoginStore
            + InvitationStore
            + SigningKeyStore
            + Readiness
            + 'static,
    {
        Self {
            users: store.clone(),
            links: store.clone(),
            sessions: store.clone(),
            refresh_tokens: store.clone(),
            throttles: store.clone(),
            audit: store.clone(),
            pending_logins: store.clone(),
            invitations: store.clone(),
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
    /// `None` when OpenID Connect is off.
    pub invitations: Option<Invitations>,
    pub readiness: ReadinessCheck,
    /// Whether cookies get the `Secure` attribute and `__Host-` names.
    pub secure_cookies: bool,
    /// The origin browsers reach this service at (scheme, host, port).
    pub public_origin: String,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Origins whose pages may call the API (CORS), and whether with credentials.
    pub cors_allowed_origins: Vec<String>,
    pub cors_allow_credentials: bool,
    /// The shortest new password, in characters (`CODEX_PASSWORD_MIN_LENGTH`), as the document
    /// declares it.
    pub password_min_chars: usize,
}

/// How often stale pending logins are purged.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

/// A wired-up backend.
pub struct Backend {
    pub services: Services,
    housekeeping: Housekeeping,
    signing_keys: Arc<KeyRing>,
    clock: Arc<dyn Clock>,
    signing_key_publish_delay: time::Duration,
    signing_key_reload_interval: Duration,
    /// The SeaORM store when the settings chose it (for its pool's usage).
    pool: Option<Arc<SeaOrmStore>>,
    discovery: Option<Arc<Discovery>>,
    provider_keys: Option<Arc<HttpJwksKeyProvider>>,
}

/// Linking identities needs only the links, the users and the clock: no keys, no hasher.
pub fn identity_links(stores: &Stores, clock: Arc<dyn Clock>) -> IdentityLinks {
    IdentityLinks::new(stores.links.clone(), stores.users.clone(), clock)
}

/// Invitations need the invitations, the users, the clock and the public origin.
pub fn invitations(stores: &Stores, clock: Arc<dyn Clock>, oidc: &OidcSettings) -> Invitations {
    let origin = oidc.redirect_uri.origin();
    Invitations::new(
        stores.invitations.clone(),
        stores.users.clone(),
        clock,
        oidc.invitation_ttl,
        origin,
    )
}

impl Backend {
    /// Opens the stores (connecting and migrating unless overridden), loads or creates the
    /// token signing key, and wires every use case. Nothing runs in the background until
    /// `spawn_background_tasks`.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or the signing key cannot be loaded.
    pub async fn build(settings: &Settings, overrides: Overrides) -> anyhow::Result<Self> {
        let (stores, pool) = match overrides.stores {
            Some(stores) => (stores, None),
            None => {
                let db = crate::db::connect(&settings.database_url)
                    .await
                    .context("cannot open the database (CODEX_DATABASE_URL)")?;
                let store = Arc::new(SeaOrmStore::new(db));
                (Stores::of(store.clone()), Some(store))
            }
        };
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let hasher = match overrides.hasher {
            Some(hasher) => hasher,
            None => {
                let queue =
                    HashQueue::new(settings.max_concurrent_hashes, settings.hash_queue_timeout);
                Arc::new(Argon2PasswordHasher::new(Arc::new(queue))?)
            }
        };
        let sealer = match &settings.key_encryption_key {
            Some(key) => {
                Some(KeySealer::from_base64(key.expose()).context("CODEX_KEY_ENCRYPTION_KEY")?)
            }
            None => {
                tracing::warn!(
                    "CODEX_KEY_ENCRYPTION_KEY is not set: token signing keys are stored \
                     unencrypted in the database"
                );
                None
            }
        };
        let reload = time::Duration::try_from(settings.signing_key_reload_interval)
            .context("CODEX_SIGNING_KEY_RELOAD_INTERVAL")?;
        let keep_retired = retired_key_retention(settings.access_token_ttl, reload);
        let signing_keys =
            KeyRing::load(stores.signing_keys.clone(), sealer, keep_retired, clock.now())
                .await
                .map_err(|e| anyhow::anyhow!("cannot load the token signing key: {e}"))?;
        let signing_keys = Arc::new(signing_keys);
        let tokens = JwtTokenIssuer::with_ring(
            &settings.token_issuer,
            &settings.token_audience,
            signing_keys.clone(),
        );
        let ports = AuthPorts {
            users: stores.users.clone(),
            sessions: stores.sessions.clone(),
            refresh_tokens: stores.refresh_tokens.clone(),
            throttles: stores.throttles.clone(),
            audit: stores.audit.clone(),
            hasher,
            passwords: PasswordRules {
                policy: PasswordPolicy { min_chars: settings.password_min_length },
                blocklist: Arc::new(ZxcvbnBlocklist),
            },
            tokens: Arc::new(tokens),
            clock: clock.clone(),
        };
        let auth = Auth::new(
            ports.clone(),
            AuthSettings {
                access_token_ttl: settings.access_token_ttl,
                sessions: settings.sessions,
                throttle: settings.throttle,
            },
        );
        let accounts = Accounts::new(&ports);
        let links = identity_links(&stores, clock.clone());
        let wired = match &settings.oidc {
            Some(oidc) => {
                let http = match overrides.outbound_http {
                    Some(http) => http,
                    None => OutboundHttp::with_extra_roots(oidc.ca_pem.as_deref())
                        .context("cannot build the HTTP client (CODEX_OIDC_CA_FILE)")?,
                };
                if oidc.allow_insecure_http {
                    tracing::warn!(
                        "CODEX_OIDC_ALLOW_INSECURE_HTTP is on: the provider may be reached over \
                         plain http; for development only"
                    );
                }
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
            invitations: settings
                .oidc
                .as_ref()
                .map(|oidc| invitations(&stores, clock.clone(), oidc)),
            readiness: ReadinessCheck::new(stores.readiness.clone(), provider),
            secure_cookies: settings.secure_cookies(),
            public_origin: settings.public_origin.origin().to_owned(),
            trusted_proxies: settings.trusted_proxies.clone(),
            cors_allowed_origins: settings.cors_allowed_origins.clone(),
            cors_allow_credentials: settings.cors_allow_credentials,
            password_min_chars: settings.password_min_length,
        };
        let housekeeping = Housekeeping::new(&ports, settings.sessions, settings.audit_retention);
        Ok(Self {
            services,
            housekeeping,
            signing_keys,
            clock,
            signing_key_publish_delay: settings.signing_key_publish_delay,
            signing_key_reload_interval: settings.signing_key_reload_interval,
            pool,
            discovery: wired.as_ref().map(|w| w.discovery.clone()),
            provider_keys: wired.map(|w| w.keys),
        })
    }

    /// One round of housekeeping now (the background task runs one a minute); how many rows
    /// went.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn housekeep(&self) -> anyhow::Result<u64> {
        let mut purged = self.housekeeping.run().await?;
        if let Some(oidc) = &self.services.oidc {
            purged += oidc.purge_pending_logins().await?;
        }
        Ok(purged)
    }

    /// Makes a new token signing key, *next* for `CODEX_SIGNING_KEY_PUBLISH_DELAY` and active
    /// after that.
    ///
    /// # Errors
    /// When the key cannot be made or stored.
    pub async fn rotate_signing_key(&self) -> anyhow::Result<SigningKeyStatus> {
        let now = self.clock.now();
        self.signing_keys
            .rotate(now, self.signing_key_publish_delay)
            .await
            .map_err(|e| anyhow::anyhow!("cannot rotate the token signing key: {e}"))
    }

    /// Every token signing key with its state and dates, in activation order.
    pub fn signing_keys(&self) -> Vec<SigningKeyStatus> {
        self.signing_keys.schedule(self.clock.now())
    }

    /// The database pool's usage now, for `/metrics`: (open, idle) connections.
    pub fn pool_usage(&self) -> crate::metrics::PoolUsage {
        let pool = self.pool.clone();
        Arc::new(move || pool.as_ref().map(|store| store.pool_usage()))
    }

    /// How often the provider's keys were fetched, and how often that failed (`None` with
    /// OpenID Connect off).
    pub fn provider_key_stats(&self) -> Option<JwksFetchStats> {
        self.provider_keys.as_ref().map(|keys| keys.stats())
    }

    /// Starts what a serving process runs besides requests: discovery retried until it
    /// succeeds, the token signing keys read again every `CODEX_SIGNING_KEY_RELOAD_INTERVAL`,
    /// and housekeeping once a minute (ended sessions, spent refresh tokens, stale
    /// throttle counts, pending logins that never came back), in bounded batches that any
    /// number of replicas may run at once.
    pub fn spawn_background_tasks(&self) {
        if let Some(discovery) = &self.discovery {
            discovery.spawn_retry();
        }
        let (keys, clock) = (self.signing_keys.clone(), self.clock.clone());
        let every = self.signing_key_reload_interval;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                if let Err(e) = keys.reload(clock.now()).await {
                    tracing::warn!(error = %e, "reloading the token signing keys failed");
                }
            }
        });
        let housekeeping = self.housekeeping.clone();
        let oidc = self.services.oidc.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(HOUSEKEEPING_INTERVAL);
            loop {
                interval.tick().await;
                match housekeeping.run().await {
                    Ok(0) => {}
                    Ok(purged) => tracing::debug!(purged, "housekeeping purged stale rows"),
                    Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
                }
                if let Some(oidc) = &oidc
                    && let Err(e) = oidc.purge_pending_logins().await
                {
                    tracing::warn!(error = %e, "purging pending logins failed");
                }
            }
        });
    }
}

struct WiredOidc {
    login: OidcLogin,
    provider: Arc<dyn OidcProvider>,
    discovery: Arc<Discovery>,
    keys: Arc<HttpJwksKeyProvider>,
}

/// The relying party's registration, as the settings give it.
pub fn oidc_client_settings(settings: &OidcSettings) -> OidcClientSettings {
    OidcClientSettings {
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri: settings.redirect_uri.as_str().to_owned(),
        post_logout_redirect_uri: settings.post_logout_redirect_uri.clone(),
    }
}

/// The OpenID Connect adapters around one provider.
fn wire_oidc(
    settings: &OidcSettings,
    http: OutboundHttp,
    auth: Auth,
    stores: &Stores,
    clock: Arc<dyn Clock>,
) -> WiredOidc {
    let discovery = Arc::new(Discovery::new(
        settings.issuer.clone(),
        http.clone(),
        clock.clone(),
        settings.allow_insecure_http,
    ));
    let client = oidc_client_settings(settings);
    let provider: Arc<dyn OidcProvider> =
        Arc::new(OpenIdConnectProvider::new(client, discovery.clone(), http.clone()));
    let cache = JwksCacheSettings {
        ttl: settings.jwks_cache_ttl,
        refresh: settings.jwks_cache_refresh,
        unknown_kid_cooldown: JwksCacheSettings::DEFAULT_UNKNOWN_KID_COOLDOWN,
    };
    let keys = Arc::new(HttpJwksKeyProvider::new(discovery.clone(), http, clock.clone(), cache));
    let ports = OidcLoginPorts {
        audit: stores.audit.clone(),
        pending: stores.pending_logins.clone(),
        invitations: stores.invitations.clone(),
        links: stores.links.clone(),
        provider: provider.clone(),
        keys: keys.clone(),
        clock,
    };
    WiredOidc { login: OidcLogin::new(auth, ports), provider, discovery, keys }
}
