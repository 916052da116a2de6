//! A `TestApp` with OpenID Connect on, wired with the real adapters (discovery, the
//! openidconnect-based provider, the HTTP JWKS cache) against a `FakeOp`, and the browser's
//! side of the login.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::test::TestResponse;

use codex_cloud_adapters::{
    Discovery, HttpJwksKeyProvider, JwksCacheSettings, OidcClientSettings, OpenIdConnectProvider,
    OutboundHttp,
};
use codex_cloud_core::domain::{Issuer, SecretString, User};
use codex_cloud_core::service::{LinkIdentity, OidcLogin};

use crate::fake_op::{CLIENT_ID, CLIENT_SECRET, FakeOp, REDIRECT_URI};
use crate::http::Reply;
use crate::{StoreBackend, TestApp};

pub const JWKS_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
pub const JWKS_REFRESH: std::time::Duration = std::time::Duration::from_secs(300);
pub const UNKNOWN_KID_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(10);

/// The cache settings of the defaults (`CODEX_OIDC_JWKS_CACHE_TTL` 3600 s, `..._REFRESH` 300 s).
pub const DEFAULT_CACHE: JwksCacheSettings = JwksCacheSettings {
    ttl: JWKS_TTL,
    refresh: JWKS_REFRESH,
    unknown_kid_cooldown: UNKNOWN_KID_COOLDOWN,
};

/// How a harness is wired beyond the provider: `HarnessOptions::default()` is what `start` uses.
#[derive(Clone, Copy, Debug)]
pub struct HarnessOptions {
    pub backend: StoreBackend,
    pub cache: JwksCacheSettings,
    /// Connect and total timeouts of the backend's client for the provider (`None`: the
    /// product's defaults, `OutboundHttp::new`).
    pub outbound_timeouts: Option<(Duration, Duration)>,
    /// `TestAppBuilder::secure_cookies`.
    pub secure_cookies: bool,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            cache: DEFAULT_CACHE,
            outbound_timeouts: None,
            secure_cookies: false,
        }
    }
}

/// The backend, the provider it trusts, and its key cache.
pub struct OidcHarness {
    pub app: TestApp,
    pub op: FakeOp,
    pub keys: Arc<HttpJwksKeyProvider>,
}

/// What the login endpoint answered: where to go, and the state cookie.
pub struct Begun {
    pub authorization_url: String,
    pub state_cookie: String,
}

/// The `name=value` of a `Set-Cookie` header of `reply` for `name`.
pub fn set_cookie<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=').map(|(_, v)| v.to_owned()).unwrap_or_default()
}

impl OidcHarness {
    /// A provider and a backend (in-memory store) that trusts it.
    pub async fn start() -> Self {
        Self::start_with(StoreBackend::Memory, |_| {}).await
    }

    /// As `start`, with a store of choice and the provider prepared before discovery.
    pub async fn start_with(backend: StoreBackend, prepare: impl FnOnce(&FakeOp)) -> Self {
        Self::try_start_with(backend, prepare).await.expect("store backend available")
    }

    /// `None` when the store backend is not available here.
    pub async fn try_start_with(
        backend: StoreBackend,
        prepare: impl FnOnce(&FakeOp),
    ) -> Option<Self> {
        Self::try_start_full(backend, DEFAULT_CACHE, FakeOp::start().await, prepare).await
    }

    /// With these JWKS cache settings.
    pub async fn start_with_cache(cache: JwksCacheSettings) -> Self {
        let op = FakeOp::start().await;
        Self::try_start_full(StoreBackend::Memory, cache, op, |_| {}).await.expect("memory store")
    }

    /// Against an already running provider (or one that will run at its address later).
    pub async fn try_start_full(
        backend: StoreBackend,
        cache: JwksCacheSettings,
        op: FakeOp,
        prepare: impl FnOnce(&FakeOp),
    ) -> Option<Self> {
        let options = HarnessOptions { backend, cache, ..HarnessOptions::default() };
        Self::try_start_options(options, op, prepare).await
    }

    /// A new provider (prepared before discovery) and a backend wired as `options` say.
    ///
    /// # Panics
    /// When the store backend is not available here.
    pub async fn start_options(options: HarnessOptions, prepare: impl FnOnce(&FakeOp)) -> Self {
        let op = FakeOp::start().await;
        let backend = options.backend;
        Self::try_start_options(options, op, prepare)
            .await
            .unwrap_or_else(|| panic!("the {backend} store is not available here"))
    }

    /// Against this provider, wired as `options` say; `None` when the store backend is not
    /// available here.
    pub async fn try_start_options(
        options: HarnessOptions,
        op: FakeOp,
        prepare: impl FnOnce(&FakeOp),
    ) -> Option<Self> {
        let HarnessOptions { backend, cache, outbound_timeouts, secure_cookies } = options;
        prepare(&op);
        let issuer = Issuer::new(op.issuer.clone()).expect("issuer");
        let keys_out: Arc<Mutex<Option<Arc<HttpJwksKeyProvider>>>> = Arc::default();
        let keys_in = keys_out.clone();
        let app = TestApp::builder()
            .backend(backend)
            .secure_cookies(secure_cookies)
            .oidc(move |auth| {
                let http = match outbound_timeouts {
                    Some((connect, total)) => OutboundHttp::with_timeouts(connect, total),
                    None => OutboundHttp::new(),
                }
                .expect("http client");
                let discovery = Arc::new(Discovery::new(issuer.clone(), http.clone()));
                let settings = OidcClientSettings {
                    issuer,
                    client_id: CLIENT_ID.to_owned(),
                    client_secret: SecretString::new(CLIENT_SECRET),
                    redirect_uri: REDIRECT_URI.to_owned(),
                };
                let provider =
                    Arc::new(OpenIdConnectProvider::new(settings, discovery.clone(), http.clone()));
                let keys = Arc::new(HttpJwksKeyProvider::new(
                    discovery,
                    http,
                    auth.clock().clone(),
                    cache,
                ));
                *keys_in.lock().expect("lock") = Some(keys.clone());
                OidcLogin::new(auth.clone(), provider, keys)
            })
            .try_build()
            .await?;
        op.set_clock(app.auth.clock().clone());
        let keys = keys_out.lock().expect("lock").take().expect("oidc wired");
        Some(Self { app, op, keys })
    }

    /// Creates a user and links the provider's `subject` to it.
    pub async fn linked_user(&self, email: &str, subject: &str) -> User {
        let user = self.app.create_identity_only_user(email).await;
        self.link(&user, subject).await;
        user
    }

    pub async fn link(&self, user: &User, subject: &str) {
        let request =
            LinkIdentity { issuer: &self.op.issuer, subject, user_id: user.id, email: None };
        self.app.auth.identity_links().link_identity(request, false).await.expect("link identity");
    }

    /// `GET /auth/oidc/login`, read to the end.
    pub async fn begin_reply(&self, return_to: Option<&str>) -> Reply {
        let mut request = self.app.client.get("/auth/oidc/login");
        if let Some(return_to) = return_to {
            request = request.query("return_to", &return_to);
        }
        Reply::read(request.send().await).await
    }

    /// Begins a login that must be redirected to the provider.
    pub async fn begin(&self, return_to: Option<&str>) -> Begun {
        let reply = self.begin_reply(return_to).await;
        assert!(
            matches!(reply.status.as_u16(), 302 | 303),
            "login must redirect: {}",
            reply.text()
        );
        let authorization_url = reply.header("location").expect("location").to_owned();
        let state_cookie =
            cookie_value(set_cookie(&reply, "codex_oidc_state").expect("state cookie"));
        Begun { authorization_url, state_cookie }
    }

    /// `GET /auth/oidc/callback` with this query and state cookie.
    pub async fn callback(
        &self,
        query: &[(&str, &str)],
        state_cookie: Option<&str>,
    ) -> TestResponse {
        let mut request = self.app.client.get("/auth/oidc/callback");
        for (name, value) in query {
            request = request.query(*name, value);
        }
        if let Some(cookie) = state_cookie {
            request = request.header("cookie", format!("codex_oidc_state={cookie}"));
        }
        request.send().await
    }

    /// A whole login as a browser does it: begin, approve at the provider, come back.
    pub async fn login(&self) -> Reply {
        self.login_returning_to(None).await
    }

    pub async fn login_returning_to(&self, return_to: Option<&str>) -> Reply {
        let begun = self.begin(return_to).await;
        let (code, state) = self.op.approve(&begun.authorization_url);
        let response =
            self.callback(&[("code", &code), ("state", &state)], Some(&begun.state_cookie)).await;
        Reply::read(response).await
    }
}
