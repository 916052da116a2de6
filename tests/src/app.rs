//! `TestApp`: the real use cases and HTTP endpoint over a chosen identity store, with a manual
//! clock, the shared test signing key and a `poem::test::TestClient`.

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use poem::{EndpointExt as _, Response};
use serde_json::json;
use time::{Duration, OffsetDateTime, macros::datetime};

use codex_cloud_adapters::Argon2PasswordHasher;
use codex_cloud_adapters::memory::ManualClock;
use codex_cloud_backend::bootstrap::published_keys;
use codex_cloud_backend::http::{HttpParts, JwkSet, endpoint};
use codex_cloud_core::domain::User;
use codex_cloud_core::ports::{Clock, IdentityStore};
use codex_cloud_core::service::{Auth, CreateUser, OidcLogin};

use crate::database::{StoreBackend, TestStore};
use crate::failing_store::PingFailingStore;
use crate::keys::{TOKEN_AUDIENCE, TOKEN_ISSUER, signing_key, token_issuer};

/// Where every test clock starts: a whole second, so stored timestamps round-trip exactly.
pub const T0: OffsetDateTime = datetime!(2030-01-01 00:00:00 UTC);

/// The access token lifetime of `CODEX_ACCESS_TOKEN_TTL`'s default.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::seconds(900);

/// A password that satisfies the policy, for users whose password does not matter.
pub const PASSWORD: &str = "correct horse battery staple";

type OidcWiring = Box<dyn FnOnce(&Auth) -> OidcLogin + Send>;

/// Builds a `TestApp`. Defaults: in-memory store, a 900 s token lifetime, OpenID Connect off,
/// cookies without `Secure`, a store that answers `ping`.
pub struct TestAppBuilder {
    backend: StoreBackend,
    access_token_ttl: Duration,
    oidc: Option<OidcWiring>,
    secure_cookies: bool,
    store_ping_fails: bool,
}

impl TestAppBuilder {
    pub fn backend(mut self, backend: StoreBackend) -> Self {
        self.backend = backend;
        self
    }

    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Turns OpenID Connect on: `wire` builds the login use case from the app's `Auth` (e.g.
    /// `OidcLogin::new(auth.clone(), provider, keys)` against a fake provider).
    pub fn oidc(mut self, wire: impl FnOnce(&Auth) -> OidcLogin + Send + 'static) -> Self {
        self.oidc = Some(Box::new(wire));
        self
    }

    /// Whether cookies get the `Secure` attribute (off by default: the test client speaks http).
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Uses a `PingFailingStore` (in memory, whatever `backend` says): the database looks
    /// unreachable to readiness checks while every other call works.
    pub fn store_ping_fails(mut self, fails: bool) -> Self {
        self.store_ping_fails = fails;
        self
    }

    /// The app, or `None` (after saying so on stderr) when the backend is not available here.
    pub async fn try_build(self) -> Option<TestApp> {
        let store = if self.store_ping_fails {
            TestStore::custom(Arc::new(PingFailingStore::new()))
        } else {
            self.backend.open().await?
        };
        let clock = Arc::new(ManualClock::new(T0));
        let hasher = Argon2PasswordHasher::new(4).expect("argon2 hasher");
        let tokens = token_issuer(TOKEN_ISSUER, TOKEN_AUDIENCE, signing_key());
        let jwks = published_keys(&tokens);
        let auth = Auth::new(
            store.store(),
            Arc::new(hasher),
            Arc::new(tokens),
            clock.clone() as Arc<dyn Clock>,
            self.access_token_ttl,
        );
        let oidc = self.oidc.map(|wire| wire(&auth));
        let parts = HttpParts {
            auth: auth.clone(),
            store: store.store(),
            oidc,
            jwks: jwks.clone(),
            secure_cookies: self.secure_cookies,
        };
        let client = TestClient::new(endpoint(parts).map_to_response().boxed());
        Some(TestApp { client, auth, clock, jwks, store })
    }

    /// The app.
    ///
    /// # Panics
    /// When the backend is not available here (PostgreSQL without `CODEX_TEST_DATABASE_URL`).
    pub async fn build(self) -> TestApp {
        let backend = self.backend;
        self.try_build()
            .await
            .unwrap_or_else(|| panic!("the {backend} store is not available here"))
    }
}

/// The backend as a client sees it, plus handles on its insides.
pub struct TestApp {
    pub client: TestClient<BoxEndpoint<'static, Response>>,
    pub auth: Auth,
    pub clock: Arc<ManualClock>,
    pub jwks: JwkSet,
    pub store: TestStore,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            backend: StoreBackend::Memory,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            oidc: None,
            secure_cookies: false,
            store_ping_fails: false,
        }
    }

    /// With the in-memory store and default settings.
    pub async fn spawn() -> Self {
        Self::builder().build().await
    }

    pub fn identity_store(&self) -> Arc<dyn IdentityStore> {
        self.store.store()
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
        self.auth.create_user(request).await.unwrap_or_else(|e| panic!("create user {email}: {e}"))
    }

    pub async fn disable(&self, user: &User) {
        self.auth.set_user_disabled(user.id, true).await.expect("disable user");
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
