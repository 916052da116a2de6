//! A fake OpenID Provider on 127.0.0.1: discovery, token and JWKS endpoints that sign real RSA
//! ID tokens, and misbehave on demand (the OpenID Foundation RP conformance cases, algorithm
//! confusion, key rotation, failing endpoints). It counts and records what it is asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use poem::listener::{Acceptor as _, TcpAcceptor};
use poem::{EndpointExt as _, Route, Server, get, post};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use url::Url;

use codex_cloud_core::ports::Clock;

mod endpoints;
mod id_token;

pub use endpoints::MOVED_DISCOVERY_PATH;
use endpoints::{discovery, jwks, moved_discovery, token_endpoint};

/// The client registration every fake provider expects. The secret is full of characters that
/// `client_secret_basic` must form-encode.
pub const CLIENT_ID: &str = "codex test:client";
pub const CLIENT_SECRET: &str = "s3cr:t/+&%=? é";
pub const REDIRECT_URI: &str = "http://localhost:8000/auth/oidc/callback";
/// The same callback on an https public origin (registered too).
pub const HTTPS_REDIRECT_URI: &str = "https://localhost:8000/auth/oidc/callback";
const ES256_TEST_KEY: &str = include_str!("../../fixtures/es256-test-key.pem");

/// RSA keys are slow to make: a few per test process, shared by every fake provider.
fn rsa_pool() -> &'static [rsa::RsaPrivateKey] {
    static POOL: OnceLock<Vec<rsa::RsaPrivateKey>> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa key")
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("keygen thread")).collect()
    })
}

/// One signing key of the provider.
#[derive(Clone)]
pub struct OpKey {
    pub kid: String,
    private: rsa::RsaPrivateKey,
}

impl OpKey {
    fn new(index: usize) -> Self {
        let pool = rsa_pool();
        Self {
            kid: uuid::Uuid::new_v4().simple().to_string(),
            private: pool[index % pool.len()].clone(),
        }
    }

    fn encoding_key(&self) -> EncodingKey {
        let pem = self.private.to_pkcs1_pem(LineEnding::LF).expect("pem");
        EncodingKey::from_rsa_pem(pem.as_bytes()).expect("encoding key")
    }

    fn public_pem(&self) -> String {
        self.private.to_public_key().to_pkcs1_pem(LineEnding::LF).expect("public pem")
    }

    /// The public JWK, with or without `kid`.
    pub fn jwk(&self, with_kid: bool) -> Value {
        let public = self.private.to_public_key();
        let mut jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        if with_kid {
            jwk["kid"] = json!(self.kid);
        }
        jwk
    }
}

/// How the next ID tokens are made wrong.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum IdTokenFault {
    #[default]
    None,
    /// `iss` replaced.
    Issuer(String),
    /// `aud` replaced (any JSON value).
    Audience(Value),
    /// A claim removed (`sub`, `iat`, `aud`, `nonce`, `exp`).
    Remove(&'static str),
    Nonce(String),
    /// Signature bytes corrupted.
    CorruptSignature,
    /// `alg: none`, no signature.
    AlgNone,
    /// HS256, MACed with the client secret.
    Hs256WithClientSecret,
    /// HS256, MACed with the RSA public key (PEM) as secret.
    Hs256WithPublicKey,
    /// ES256 with a P-256 key.
    Es256,
    /// Signed with this RSA algorithm instead of RS256.
    Rsa(Algorithm),
    /// No `kid` in the header.
    NoKid,
    /// `kid` names a key that is not published.
    UnknownKid,
    /// Expired this many seconds ago.
    ExpiredSecondsAgo(i64),
    /// `iat` this many seconds in the future.
    IatInFuture(i64),
    /// `iat` this many seconds in the past, `exp` still 300 s ahead.
    IatSecondsAgo(i64),
    /// `at_hash` of another access token.
    WrongAtHash,
}

/// What the JWKS endpoint publishes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum JwksMode {
    /// Every current key, with kids.
    #[default]
    Normal,
    /// One RSA key without kid, plus EC and OKP keys.
    SingleRsaNoKid,
    /// Two RSA keys without kid, plus EC keys.
    MultipleRsaNoKid,
    /// The endpoint answers this status.
    Status(u16),
    /// The current keys padded to more than 1 MiB; `chunked`: without `Content-Length`.
    Oversized { chunked: bool },
}

/// The padding of an `Oversized` JWKS body (the backend reads at most 1 MiB).
pub const OVERSIZED_PADDING_BYTES: usize = 1024 * 1024 + 4096;

/// A token request as the provider received it.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub basic_client_id: Option<String>,
    pub basic_client_secret: Option<String>,
    pub form: HashMap<String, String>,
}

struct Grant {
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
    subject: String,
}

struct OpState {
    issuer: String,
    keys: Vec<OpKey>,
    next_key: usize,
    subject: String,
    id_token_fault: IdTokenFault,
    jwks_mode: JwksMode,
    discovery_issuer: Option<String>,
    jwks_path: String,
    token_status: Option<(u16, &'static str)>,
    token_delay: Option<std::time::Duration>,
    discovery_redirect: bool,
    /// Published instead of the real `jwks_uri` (an absolute URL elsewhere).
    jwks_uri: Option<String>,
    /// The `alg` every published RSA key is bound to.
    jwk_alg: Option<&'static str>,
    /// Whether discovery says authorization responses carry `iss` (RFC 9207).
    iss_parameter_supported: bool,
    moved_discovery_requests: u64,
    /// Whether discovery publishes `end_session_endpoint` (`{issuer}/session/end`).
    end_session: bool,
    /// Fields of the discovery document replaced (`Some`) or removed (`None`).
    discovery_fields: Vec<(String, Option<Value>)>,
    /// Served as the discovery document instead of JSON.
    discovery_body: Option<String>,
    /// Seconds added to this machine's time in discovery's `Date` header.
    date_offset: Option<i64>,
    /// Every ID token the token endpoint issued, in order.
    issued_id_tokens: Vec<String>,
    down: bool,
    codes: HashMap<String, Grant>,
    discovery_requests: u64,
    jwks_requests: u64,
    token_requests: Vec<TokenRequest>,
    clock: Arc<dyn Clock>,
}

/// A running fake provider.
pub struct FakeOp {
    pub issuer: String,
    state: Arc<Mutex<OpState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeOp {
    /// Starts a provider on a free port of 127.0.0.1, timing its tokens by the system clock
    /// until `set_clock`.
    pub async fn start() -> Self {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake provider"))
    }

    /// Starts a provider on this listener (for a provider that comes up after the backend).
    pub fn start_on(listener: std::net::TcpListener) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(codex_cloud_adapters::SystemClock);
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local addr").port();
        let issuer = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(OpState {
            issuer: issuer.clone(),
            keys: vec![OpKey::new(0)],
            next_key: 1,
            subject: "subject-1".into(),
            id_token_fault: IdTokenFault::None,
            jwks_mode: JwksMode::Normal,
            discovery_issuer: None,
            jwks_path: "/jwks".into(),
            token_status: None,
            token_delay: None,
            discovery_redirect: false,
            jwks_uri: None,
            jwk_alg: None,
            iss_parameter_supported: false,
            moved_discovery_requests: 0,
            end_session: false,
            discovery_fields: Vec::new(),
            discovery_body: None,
            date_offset: None,
            issued_id_tokens: Vec::new(),
            down: false,
            codes: HashMap::new(),
            discovery_requests: 0,
            jwks_requests: 0,
            token_requests: Vec::new(),
            clock,
        }));
        let app = Route::new()
            .at("/.well-known/openid-configuration", get(discovery))
            .at(MOVED_DISCOVERY_PATH, get(moved_discovery))
            .at("/token", post(token_endpoint))
            .at("/*path", get(jwks))
            .data(state.clone());
        let acceptor = TcpAcceptor::from_std(listener).expect("acceptor");
        assert!(!acceptor.local_addr().is_empty());
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self { issuer, state, server }
    }

    /// Starts a provider reached only over TLS, at `https://127.0.0.1:<port>`, with a server
    /// certificate from a certificate authority of its own (made with `openssl`); the
    /// authority's PEM, as `CODEX_OIDC_CA_FILE` would hold it.
    pub async fn start_tls() -> (Self, crate::tls::TlsFront) {
        let mut op = Self::start().await;
        let plain = op.issuer.trim_start_matches("http://").to_owned();
        let front = crate::tls::TlsFront::start(plain).await;
        op.issuer = front.origin();
        let issuer = op.issuer.clone();
        op.with(|s| s.issuer = issuer);
        (op, front)
    }

    fn with<T>(&self, f: impl FnOnce(&mut OpState) -> T) -> T {
        f(&mut self.state.lock().expect("fake provider lock"))
    }

    /// Whether discovery publishes `end_session_endpoint` at `{issuer}/session/end`.
    pub fn set_end_session_endpoint(&self, published: bool) {
        self.with(|s| s.end_session = published);
    }

    /// Replaces (`Some`) or removes (`None`) a field of the discovery document.
    pub fn set_discovery_field(&self, field: &str, value: Option<Value>) {
        self.with(|s| s.discovery_fields.push((field.to_owned(), value)));
    }

    /// Serves this text as the discovery document (status 200, not JSON).
    pub fn set_discovery_body(&self, body: &str) {
        self.with(|s| s.discovery_body = Some(body.to_owned()));
    }

    /// Sends discovery's `Date` header this many seconds off this machine's clock.
    pub fn set_date_offset(&self, seconds: i64) {
        self.with(|s| s.date_offset = Some(seconds));
    }

    /// The ID tokens the token endpoint issued, oldest first.
    pub fn issued_id_tokens(&self) -> Vec<String> {
        self.with(|s| s.issued_id_tokens.clone())
    }

    /// Times tokens by this clock (the backend's, so `iat` and `exp` agree with it).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        self.with(|s| s.clock = clock);
    }

    /// The `sub` of the next logins.
    pub fn set_subject(&self, subject: &str) {
        self.with(|s| s.subject = subject.to_owned());
    }

    pub fn set_id_token_fault(&self, fault: IdTokenFault) {
        self.with(|s| s.id_token_fault = fault);
    }

    pub fn set_jwks_mode(&self, mode: JwksMode) {
        self.with(|s| s.jwks_mode = mode);
    }

    /// The `issuer` that discovery reports (default: the real one).
    pub fn set_discovery_issuer(&self, issuer: &str) {
        self.with(|s| s.discovery_issuer = Some(issuer.to_owned()));
    }

    /// Serve the JWKS at another path (announced by discovery).
    pub fn set_jwks_path(&self, path: &str) {
        self.with(|s| s.jwks_path = path.to_owned());
    }

    /// Discovery publishes this `jwks_uri` (anywhere) instead of its own.
    pub fn set_jwks_uri(&self, uri: &str) {
        self.with(|s| s.jwks_uri = Some(uri.to_owned()));
    }

    /// Every published RSA key carries this `alg`.
    pub fn set_jwk_alg(&self, alg: &'static str) {
        self.with(|s| s.jwk_alg = Some(alg));
    }

    /// Discovery says (`true`) or does not say that authorization responses carry `iss`.
    pub fn set_iss_parameter_supported(&self, supported: bool) {
        self.with(|s| s.iss_parameter_supported = supported);
    }

    /// While down, discovery answers 503.
    pub fn set_down(&self, down: bool) {
        self.with(|s| s.down = down);
    }

    /// While set, discovery answers `302 Found` to a valid document at `MOVED_DISCOVERY_PATH`
    /// (which a client must not follow).
    pub fn set_discovery_redirect(&self, redirect: bool) {
        self.with(|s| s.discovery_redirect = redirect);
    }

    /// How often the document discovery redirects to was fetched.
    pub fn moved_discovery_requests(&self) -> u64 {
        self.with(|s| s.moved_discovery_requests)
    }

    /// The token endpoint waits this long before answering (a slow provider).
    pub fn delay_token_endpoint(&self, delay: std::time::Duration) {
        self.with(|s| s.token_delay = Some(delay));
    }

    /// The token endpoint answers this status and OAuth error code.
    pub fn fail_token_endpoint(&self, status: u16, error: &'static str) {
        self.with(|s| s.token_status = Some((status, error)));
    }

    /// A new signing key with a new kid replaces the current ones.
    pub fn rotate_key(&self) -> String {
        self.with(|s| {
            let key = OpKey::new(s.next_key);
            s.next_key += 1;
            let kid = key.kid.clone();
            s.keys = vec![key];
            kid
        })
    }

    pub fn current_kid(&self) -> String {
        self.with(|s| s.keys[0].kid.clone())
    }

    pub fn jwks_requests(&self) -> u64 {
        self.with(|s| s.jwks_requests)
    }

    pub fn discovery_requests(&self) -> u64 {
        self.with(|s| s.discovery_requests)
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.with(|s| s.token_requests.clone())
    }

    /// Plays the user's visit to the authorization endpoint: checks the request the backend
    /// built, approves it for the current subject, and returns the callback query
    /// (`code`, `state`).
    ///
    /// # Panics
    /// When the authorization request is not what a code-flow client with PKCE must send.
    pub fn approve(&self, authorization_url: &str) -> (String, String) {
        let url = Url::parse(authorization_url).expect("authorization URL");
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let expect = |name: &str, value: &str| {
            assert_eq!(
                query.get(name).map(String::as_str),
                Some(value),
                "authorization request {name}"
            );
        };
        expect("response_type", "code");
        expect("client_id", CLIENT_ID);
        let redirect_uri = query.get("redirect_uri").map(String::as_str);
        assert!(
            matches!(redirect_uri, Some(REDIRECT_URI | HTTPS_REDIRECT_URI)),
            "authorization request redirect_uri {redirect_uri:?} is not registered"
        );
        expect("code_challenge_method", "S256");
        let scopes: Vec<&str> = query["scope"].split(' ').collect();
        for scope in ["openid", "email", "profile"] {
            assert!(scopes.contains(&scope), "scope {scope} missing from {scopes:?}");
        }
        let state = query.get("state").expect("state").clone();
        let code = uuid::Uuid::new_v4().simple().to_string();
        self.with(|s| {
            assert!(url.as_str().starts_with(&format!("{}/authorize", s.issuer)));
            let grant = Grant {
                nonce: query.get("nonce").expect("nonce").clone(),
                code_challenge: query.get("code_challenge").expect("code_challenge").clone(),
                redirect_uri: query["redirect_uri"].clone(),
                subject: s.subject.clone(),
            };
            s.codes.insert(code.clone(), grant);
        });
        (code, state)
    }
}
