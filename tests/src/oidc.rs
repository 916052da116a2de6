//! A `TestApp` with OpenID Connect on, built by the composition root against a `FakeOp` (real
//! discovery, the openidconnect-based provider and the HTTP JWKS cache), and the browser's side
//! of the login.

use std::time::Duration;

use poem::test::TestResponse;

use codex_cloud_adapters::OutboundHttp;
use codex_cloud_backend::config::{OidcSettings, RedirectUri};
use codex_cloud_core::domain::{Issuer, SecretString, User};
use codex_cloud_core::service::{Admin, LinkIdentity};

use crate::fake_op::{CLIENT_ID, CLIENT_SECRET, FakeOp, HTTPS_REDIRECT_URI, REDIRECT_URI};
use crate::http::Reply;
use crate::{StoreBackend, TestApp};

pub const JWKS_TTL: Duration = Duration::from_secs(3600);
pub const JWKS_REFRESH: Duration = Duration::from_secs(300);

/// The provider key cache's settings: `CODEX_OIDC_JWKS_CACHE_TTL` and `..._REFRESH`.
#[derive(Clone, Copy, Debug)]
pub struct CacheSettings {
    pub ttl: Duration,
    pub refresh: Duration,
}

/// The defaults (3600 s and 300 s).
pub const DEFAULT_CACHE: CacheSettings = CacheSettings { ttl: JWKS_TTL, refresh: JWKS_REFRESH };

/// How a harness is wired beyond the provider: `HarnessOptions::default()` is what `start` uses.
#[derive(Clone, Debug)]
pub struct HarnessOptions {
    pub backend: StoreBackend,
    pub cache: CacheSettings,
    /// Connect and total timeouts of the backend's client for the provider (`None`: the
    /// product's defaults, `OutboundHttp::new`).
    pub outbound_timeouts: Option<(Duration, Duration)>,
    /// Registers the https callback (`HTTPS_REDIRECT_URI`): the public origin is https.
    pub https_redirect_uri: bool,
    /// `CODEX_OIDC_ALLOW_INSECURE_HTTP`.
    pub allow_insecure_http: bool,
    /// `CODEX_OIDC_CA_FILE`'s content.
    pub ca_pem: Option<Vec<u8>>,
    /// `CODEX_OIDC_POST_LOGOUT_REDIRECT_URI`.
    pub post_logout_redirect_uri: Option<String>,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            cache: DEFAULT_CACHE,
            outbound_timeouts: None,
            https_redirect_uri: false,
            allow_insecure_http: false,
            ca_pem: None,
            post_logout_redirect_uri: None,
        }
    }
}

/// The backend and the provider it trusts.
pub struct OidcHarness {
    pub app: TestApp,
    pub op: FakeOp,
    /// `codex_oidc_state`, or `__Host-codex_oidc_state` with an https redirect URI.
    pub state_cookie: &'static str,
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

pub fn cookie_value(set_cookie: &str) -> String {
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
        let options = HarnessOptions { backend, ..HarnessOptions::default() };
        Self::start_on(options, FakeOp::start().await, prepare).await
    }

    /// With these JWKS cache settings.
    pub async fn start_with_cache(cache: CacheSettings) -> Self {
        let options = HarnessOptions { cache, ..HarnessOptions::default() };
        Self::start_on(options, FakeOp::start().await, |_| {}).await
    }

    /// A new provider (prepared before discovery) and a backend wired as `options` say.
    pub async fn start_options(options: HarnessOptions, prepare: impl FnOnce(&FakeOp)) -> Self {
        Self::start_on(options, FakeOp::start().await, prepare).await
    }

    /// Against this provider (running, or to run at its address later), wired as `options` say.
    pub async fn start_on(
        options: HarnessOptions,
        op: FakeOp,
        prepare: impl FnOnce(&FakeOp),
    ) -> Self {
        let HarnessOptions {
            backend,
            cache,
            outbound_timeouts,
            https_redirect_uri,
            allow_insecure_http,
            ca_pem,
            post_logout_redirect_uri,
        } = options;
        assert!(
            ca_pem.is_none() || outbound_timeouts.is_none(),
            "a client with its own timeouts does not take the CA file"
        );
        prepare(&op);
        let redirect_uri = if https_redirect_uri { HTTPS_REDIRECT_URI } else { REDIRECT_URI };
        let settings = OidcSettings {
            issuer: Issuer::new(op.issuer.clone()).expect("issuer"),
            client_id: CLIENT_ID.to_owned(),
            client_secret: SecretString::new(CLIENT_SECRET),
            redirect_uri: RedirectUri::parse(redirect_uri).expect("redirect URI"),
            jwks_cache_ttl: cache.ttl,
            jwks_cache_refresh: cache.refresh,
            allow_insecure_http,
            ca_pem,
            post_logout_redirect_uri,
            invitation_ttl: time::Duration::days(7),
        };
        let http = outbound_timeouts.map(|(connect, total)| {
            OutboundHttp::with_timeouts(connect, total).expect("http client")
        });
        let app = TestApp::builder().backend(backend).oidc(settings, http).build().await;
        op.set_clock(app.clock.clone());
        let state_cookie =
            if https_redirect_uri { "__Host-codex_oidc_state" } else { "codex_oidc_state" };
        Self { app, op, state_cookie }
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
        let links = &self.app.services.links;
        links.link_identity(&Admin::operator(), request).await.expect("link identity");
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
            cookie_value(set_cookie(&reply, self.state_cookie).expect("state cookie"));
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
            request = request.header("cookie", format!("{}={cookie}", self.state_cookie));
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
