//! `TestApp`: the backend built by the composition root over a chosen store, with a manual
//! clock, the shared test signing key, a fast password hasher (unless a test is about hashing)
//! and a `poem::test::TestClient`.

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use poem::{EndpointExt as _, Response};
use serde_json::json;
use time::{Duration, OffsetDateTime, macros::datetime};

use codex_cloud_adapters::memory::{FastTestPasswordHasher, ManualClock};
use codex_cloud_adapters::{Argon2PasswordHasher, HashQueue, OutboundHttp};
use codex_cloud_backend::bootstrap::{Backend, Overrides, Services};
use codex_cloud_backend::config::{OidcSettings, Settings};
use codex_cloud_backend::http::{JwkSet, endpoint};
use codex_cloud_core::domain::{
    AuditEvent, AuditKind, AuditOutcome, OpaqueToken, Session, SessionId, SessionMethod, User,
};
use codex_cloud_core::ports::NewSession;
use codex_cloud_core::ports::{Clock, PasswordHasher};
use codex_cloud_core::service::{Admin, CreateUser};

use crate::database::{StoreBackend, TestStore};
use crate::failing_store::FailingPing;
use crate::keys::signing_key;

/// Where every test clock starts: a whole second, so stored timestamps round-trip exactly.
pub const T0: OffsetDateTime = datetime!(2030-01-01 00:00:00 UTC);

/// The access token lifetime of `CODEX_ACCESS_TOKEN_TTL`'s default.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::seconds(900);

/// A password that satisfies the policy, for users whose password does not matter.
pub const PASSWORD: &str = "correct horse battery staple";

/// Builds a `TestApp`. Defaults: in-memory store, the built-in settings (900 s tokens, OpenID
/// Connect off), the fast test hasher, a store that answers `ping`.
pub struct TestAppBuilder {
    backend: StoreBackend,
    settings: Settings,
    outbound_http: Option<OutboundHttp>,
    argon2: Option<Arc<HashQueue>>,
    store_ping_fails: bool,
}

impl TestAppBuilder {
    pub fn backend(mut self, backend: StoreBackend) -> Self {
        self.backend = backend;
        self
    }

    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.settings.access_token_ttl = ttl;
        self
    }

    /// Turns OpenID Connect on with these settings (and, optionally, this client for the
    /// provider instead of the product's).
    pub fn oidc(mut self, settings: OidcSettings, http: Option<OutboundHttp>) -> Self {
        self.settings.public_origin = settings.redirect_uri.clone();
        self.settings.oidc = Some(settings);
        self.outbound_http = http;
        self
    }

    /// Changes the settings (as the `CODEX_*` variables would).
    pub fn configure(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.settings);
        self
    }

    /// Hashes passwords with the product's argon2id hasher instead of the fast test one.
    pub fn argon2(self) -> Self {
        self.argon2_queue(Arc::new(HashQueue::new(4, std::time::Duration::from_secs(5))))
    }

    /// Hashes passwords with the product's argon2id hasher, admitted through this queue.
    pub fn argon2_queue(mut self, queue: Arc<HashQueue>) -> Self {
        self.argon2 = Some(queue);
        self
    }

    /// The database looks unreachable to readiness checks while every other call works.
    pub fn store_ping_fails(mut self, fails: bool) -> Self {
        self.store_ping_fails = fails;
        self
    }

    /// The app.
    ///
    /// # Panics
    /// When the store cannot be opened or the backend cannot be built.
    pub async fn build(self) -> TestApp {
        let store = self.backend.open().await;
        // Every app signs with the shared test key, so tests can forge tokens with it.
        let key = signing_key().to_stored(T0, T0).expect("encode the test signing key");
        store.store().add_first_signing_key(&key).await.expect("store the test signing key");
        let mut stores = store.stores();
        if self.store_ping_fails {
            stores.readiness = Arc::new(FailingPing);
        }
        let clock = Arc::new(ManualClock::new(T0));
        let hasher: Arc<dyn PasswordHasher> = match self.argon2 {
            Some(queue) => Arc::new(Argon2PasswordHasher::new(queue).expect("argon2 hasher")),
            None => Arc::new(FastTestPasswordHasher),
        };
        let overrides = Overrides {
            stores: Some(stores),
            clock: Some(clock.clone() as Arc<dyn Clock>),
            hasher: Some(hasher),
            outbound_http: self.outbound_http,
        };
        let backend = Backend::build(&self.settings, overrides).await.expect("build the backend");
        let services = backend.services.clone();
        let checked = crate::conformance::checked(endpoint(services.clone()).map_to_response());
        let client = TestClient::new(checked.boxed());
        let jwks = JwkSet::of(&services.auth.published_keys());
        TestApp { client, services, clock, jwks, store, backend }
    }
}

/// The backend as a client sees it, plus handles on its insides.
pub struct TestApp {
    pub client: TestClient<BoxEndpoint<'static, Response>>,
    pub services: Services,
    pub clock: Arc<ManualClock>,
    pub jwks: JwkSet,
    pub store: TestStore,
    pub backend: Backend,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            backend: StoreBackend::Memory,
            settings: Settings::builtin().expect("the built-in settings are valid"),
            outbound_http: None,
            argon2: None,
            store_ping_fails: false,
        }
    }

    /// With the in-memory store and default settings.
    pub async fn spawn() -> Self {
        Self::builder().build().await
    }

    /// Creates a user (not an administrator) through the use case.
    pub async fn create_user(&self, email: &str, password: &str) -> User {
        self.create(email, Some(password), false).await
    }

    pub async fn create_admin(&self, email: &str, password: &str) -> User {
        self.create(email, Some(password), true).await
    }

    /// A user without a password, who could only sign in through a linked identity.
    pub async fn create_identity_only_user(&self, email: &str) -> User {
        self.create(email, None, false).await
    }

    async fn create(&self, email: &str, password: Option<&str>, is_admin: bool) -> User {
        let request = CreateUser { email, password, is_admin };
        let accounts = &self.services.accounts;
        let user = accounts.create_user(&Admin::operator(), request).await;
        user.unwrap_or_else(|e| panic!("create user {email}: {e}"))
    }

    pub async fn disable(&self, user: &User) {
        let accounts = &self.services.accounts;
        accounts.disable_user(&Admin::operator(), user.id).await.expect("disable user");
    }

    pub async fn enable(&self, user: &User) {
        let accounts = &self.services.accounts;
        accounts.enable_user(&Admin::operator(), user.id).await.expect("enable user");
    }

    /// `POST /auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.client
            .post("/auth/login")
            .body_json(&json!({ "email": email, "password": password }))
            .send()
            .await
    }

    /// Logs in and returns the access token.
    ///
    /// # Panics
    /// When the login is refused.
    pub async fn token(&self, email: &str, password: &str) -> String {
        let response = self.login(email, password).await;
        let status = response.0.status();
        let body = crate::http::json_body(response).await;
        assert_eq!(status, 200, "login of {email} failed: {body}");
        body["access_token"].as_str().expect("access_token is a string").to_owned()
    }

    /// Creates a user and logs them in: the user and an access token.
    pub async fn user_with_token(&self, email: &str) -> (User, String) {
        let user = self.create_user(email, PASSWORD).await;
        let token = self.token(email, PASSWORD).await;
        (user, token)
    }

    /// A browser session of `user`, as a provider login with `return_to` starts one: the
    /// `codex_session` cookie value, and an access token of the same session (from
    /// `POST /auth/token`).
    pub async fn cookie_session(&self, user: &User) -> (String, String) {
        self.cookie_session_named(user, "codex_session").await
    }

    /// As `cookie_session`, presenting the cookie under `name` (`__Host-codex_session` when the
    /// public origin is https).
    pub async fn cookie_session_named(&self, user: &User, name: &str) -> (String, String) {
        let cookie = OpaqueToken::random().expect("randomness");
        let now = self.now();
        let session = Session {
            id: SessionId::random(),
            user_id: user.id,
            method: SessionMethod::Password,
            created_at: now,
            last_used_at: now,
            expires_at: now + Duration::days(14),
            revoked_at: None,
        };
        let new = NewSession {
            session,
            refresh_token: None,
            cookie: Some(cookie.digest()),
            id_token: None,
        };
        let event = AuditEvent::new(AuditKind::LoginOidc, AuditOutcome::Success, now).user(user.id);
        self.store.store().start_session(&new, &event).await.expect("start a cookie session");
        let reply = self
            .client
            .post("/auth/token")
            .header("cookie", format!("{name}={}", cookie.expose()))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await;
        let status = reply.0.status();
        let body = crate::http::json_body(reply).await;
        assert_eq!(status, 200, "POST /auth/token: {body}");
        let token = body["access_token"].as_str().expect("access_token").to_owned();
        (cookie.expose().to_owned(), token)
    }

    /// A new user with a browser session: the user, the cookie value and an access token.
    pub async fn user_with_cookie(&self, email: &str) -> (User, String, String) {
        let user = self.create_user(email, PASSWORD).await;
        let (cookie, token) = self.cookie_session(&user).await;
        (user, cookie, token)
    }

    /// A request with a JSON body (when given) and a bearer token (when given), read to the end.
    pub async fn send(
        &self,
        method: poem::http::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> crate::http::Reply {
        let mut request = self.client.request(method, path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.body_json(body);
        }
        crate::http::Reply::read(request.send().await).await
    }

    /// `POST path` with this JSON body and bearer token.
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> crate::http::Reply {
        self.send(poem::http::Method::POST, path, token, Some(&body)).await
    }

    /// Logs in and returns the whole token response (access and refresh token).
    pub async fn login_body(&self, email: &str, password: &str) -> serde_json::Value {
        let reply = crate::http::Reply::read(self.login(email, password).await).await;
        assert_eq!(reply.status, 200, "login of {email}: {}", reply.text());
        reply.json()
    }

    /// `GET /auth/me` with a bearer token.
    pub async fn me(&self, token: &str) -> TestResponse {
        self.client.get("/auth/me").header("authorization", format!("Bearer {token}")).send().await
    }

    /// `POST /auth/logout` with a bearer token.
    pub async fn logout(&self, token: &str) -> TestResponse {
        self.client
            .post("/auth/logout")
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
    }

    /// The app's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Moves the app's clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}
