//! Configuration: built-in defaults → optional TOML file → `CODEX_*` environment variables,
//! deserialized once and validated into typed `Settings` with messages that name the variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use figment::Figment;
use figment::error::Kind;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

use codex_cloud_core::domain::{Issuer, SecretString, SessionPolicy, ThrottlePolicy};

/// The TOML file named by `CODEX_CONFIG`, or `codex.toml` in the working directory.
pub const CONFIG_FILE_VARIABLE: &str = "CODEX_CONFIG";
pub const DEFAULT_CONFIG_FILE: &str = "codex.toml";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://codex.db?mode=rwc";
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8000/auth/oidc/callback";

/// Every setting as read, before validation. Keys are the variable names without `CODEX_`.
#[derive(Clone, Deserialize, Serialize)]
struct Raw {
    database_url: String,
    bind: String,
    access_token_ttl: u64,
    token_issuer: String,
    token_audience: String,
    log_format: String,
    max_concurrent_hashes: usize,
    hash_queue_timeout: u64,
    max_connections: usize,
    metrics_bind: Option<String>,
    signing_key_publish_delay: u64,
    signing_key_reload_interval: u64,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_redirect_uri: String,
    oidc_jwks_cache_ttl: u64,
    oidc_jwks_cache_refresh: u64,
    oidc_allow_insecure_http: bool,
    oidc_ca_file: Option<String>,
    oidc_post_logout_redirect_uri: Option<String>,
    invitation_ttl: u64,
    key_encryption_key: Option<String>,
    key_encryption_key_file: Option<String>,
    login_throttle_failures: u64,
    login_throttle_delay: u64,
    login_throttle_max_delay: u64,
    login_throttle_address_failures: u64,
    trusted_proxies: String,
    cors_allowed_origins: String,
    cors_allow_credentials: bool,
    password_min_length: usize,
    session_idle_timeout: u64,
    session_max_age: u64,
    audit_retention_days: u64,
}

impl Default for Raw {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            bind: "127.0.0.1:8000".into(),
            access_token_ttl: 900,
            token_issuer: "codex-cloud-backend".into(),
            token_audience: "codex-cloud".into(),
            log_format: "text".into(),
            max_concurrent_hashes: 4,
            hash_queue_timeout: 5,
            max_connections: 10_000,
            metrics_bind: None,
            signing_key_publish_delay: 3600,
            signing_key_reload_interval: 60,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_redirect_uri: DEFAULT_REDIRECT_URI.into(),
            oidc_jwks_cache_ttl: 3600,
            oidc_jwks_cache_refresh: 300,
            oidc_allow_insecure_http: false,
            oidc_ca_file: None,
            oidc_post_logout_redirect_uri: None,
            invitation_ttl: 604_800,
            key_encryption_key: None,
            key_encryption_key_file: None,
            login_throttle_failures: 5,
            login_throttle_delay: 30,
            login_throttle_max_delay: 3600,
            login_throttle_address_failures: 100,
            trusted_proxies: String::new(),
            cors_allowed_origins: String::new(),
            cors_allow_credentials: false,
            password_min_length: 12,
            session_idle_timeout: 86_400,
            session_max_age: 1_209_600,
            audit_retention_days: 90,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub bind: SocketAddr,
    pub access_token_ttl: time::Duration,
    pub token_issuer: String,
    pub token_audience: String,
    pub log_format: LogFormat,
    pub max_concurrent_hashes: usize,
    /// `CODEX_HASH_QUEUE_TIMEOUT`: the longest wait for a hashing slot.
    pub hash_queue_timeout: std::time::Duration,
    /// `CODEX_MAX_CONNECTIONS`: connections open at once.
    pub max_connections: usize,
    /// `CODEX_METRICS_BIND`: where `/metrics` is served (none: no metrics listener).
    pub metrics_bind: Option<SocketAddr>,
    /// `CODEX_SIGNING_KEY_PUBLISH_DELAY`: how long a rotated-in key is published before it
    /// signs.
    pub signing_key_publish_delay: time::Duration,
    /// `CODEX_SIGNING_KEY_RELOAD_INTERVAL`: how often each replica reads the signing keys again.
    pub signing_key_reload_interval: std::time::Duration,
    /// `CODEX_KEY_ENCRYPTION_KEY` (or the content of `CODEX_KEY_ENCRYPTION_KEY_FILE`): base64
    /// of the 256-bit key that seals private keys at rest; checked to be one.
    pub key_encryption_key: Option<SecretString>,
    pub oidc: Option<OidcSettings>,
    pub throttle: ThrottlePolicy,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// `CODEX_CORS_ALLOWED_ORIGINS`: origins (`https://app.example.com`) whose pages may call
    /// the API from another origin; none by default.
    pub cors_allowed_origins: Vec<String>,
    /// `CODEX_CORS_ALLOW_CREDENTIALS`: whether those pages may send and read cookies too.
    pub cors_allow_credentials: bool,
    pub password_min_length: usize,
    pub sessions: SessionPolicy,
    /// How long audit events are kept.
    pub audit_retention: time::Duration,
    /// Where browsers reach this service: `CODEX_OIDC_REDIRECT_URI` (its origin), validated
    /// whether or not OpenID Connect is on.
    pub public_origin: RedirectUri,
}

/// OpenID Connect is on exactly when issuer, client id and client secret are all set.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    pub issuer: Issuer,
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: RedirectUri,
    pub jwks_cache_ttl: std::time::Duration,
    pub jwks_cache_refresh: std::time::Duration,
    /// `CODEX_OIDC_ALLOW_INSECURE_HTTP`: plain http to a provider off this machine (development
    /// only).
    pub allow_insecure_http: bool,
    /// `CODEX_OIDC_CA_FILE`, read: certificate authorities trusted besides the built-in roots.
    pub ca_pem: Option<Vec<u8>>,
    /// `CODEX_OIDC_POST_LOGOUT_REDIRECT_URI`: sent at provider logout when set.
    pub post_logout_redirect_uri: Option<String>,
    /// `CODEX_INVITATION_TTL`: how long an invitation's URL works.
    pub invitation_ttl: time::Duration,
}

/// The callback URL registered at the provider, parsed once: kept exactly as configured (the
/// provider compares it byte for byte) together with what it says about the public origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    is_https: bool,
    origin: String,
}

impl RedirectUri {
    /// # Errors
    /// When `raw` is not an absolute http(s) URL without a fragment.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let url = Url::parse(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none())
            .ok_or_else(|| "must be an absolute http(s) URL without fragment".to_owned())?;
        let origin = url.origin().ascii_serialization();
        Ok(Self { raw: raw.to_owned(), is_https: url.scheme() == "https", origin })
    }

    /// Exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the public origin is https (cookies get `Secure`).
    pub fn is_https(&self) -> bool {
        self.is_https
    }

    /// The public origin: scheme, host and port (`https://codex.example.com`).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// Address ranges (CIDR) of proxies whose `X-Forwarded-For` header is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Comma-separated CIDRs (`10.0.0.0/8, ::1/128`); a bare address is one host.
    ///
    /// # Errors
    /// When a range is not a CIDR.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ranges = raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (address, bits) = part.split_once('/').unwrap_or((part, ""));
                let address: IpAddr =
                    address.parse().map_err(|_| format!("{part:?} is not an address range"))?;
                let max = if address.is_ipv4() { 32 } else { 128 };
                let bits = if bits.is_empty() { Ok(max) } else { bits.parse::<u8>() };
                match bits {
                    Ok(bits) if bits <= max => Ok((address, bits)),
                    _ => Err(format!("{part:?} has an invalid prefix length")),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self(ranges))
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|(network, bits)| match (network, address) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            (IpAddr::V6(_), IpAddr::V4(a)) => {
                self.contains_v6(&a.to_ipv6_mapped().octets(), network, *bits)
            }
            (IpAddr::V4(_), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(
                |a| matches!(network, IpAddr::V4(n) if prefix_eq(&n.octets(), &a.octets(), *bits)),
            ),
        })
    }

    fn contains_v6(&self, address: &[u8; 16], network: &IpAddr, bits: u8) -> bool {
        matches!(network, IpAddr::V6(n) if prefix_eq(&n.octets(), address, bits))
    }
}

fn prefix_eq(network: &[u8], address: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    if network[..whole] != address[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        (network[whole] & mask) == (address[whole] & mask)
    }
}

/// A configuration problem, naming the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Settings whose environment values are text, never parsed: (variable suffix, key).
const VERBATIM: [(&str, &str); 16] = [
    ("OIDC_CA_FILE", "oidc_ca_file"),
    ("OIDC_POST_LOGOUT_REDIRECT_URI", "oidc_post_logout_redirect_uri"),
    ("KEY_ENCRYPTION_KEY", "key_encryption_key"),
    ("KEY_ENCRYPTION_KEY_FILE", "key_encryption_key_file"),
    ("TRUSTED_PROXIES", "trusted_proxies"),
    ("CORS_ALLOWED_ORIGINS", "cors_allowed_origins"),
    ("DATABASE_URL", "database_url"),
    ("BIND", "bind"),
    ("METRICS_BIND", "metrics_bind"),
    ("TOKEN_ISSUER", "token_issuer"),
    ("TOKEN_AUDIENCE", "token_audience"),
    ("LOG_FORMAT", "log_format"),
    ("OIDC_ISSUER", "oidc_issuer"),
    ("OIDC_CLIENT_ID", "oidc_client_id"),
    ("OIDC_CLIENT_SECRET", "oidc_client_secret"),
    ("OIDC_REDIRECT_URI", "oidc_redirect_uri"),
];

fn variable(key: &str) -> String {
    format!("CODEX_{}", key.to_uppercase())
}

impl Settings {
    /// The built-in defaults alone (no file, no environment).
    ///
    /// # Errors
    /// Never in practice: the defaults are valid.
    pub fn builtin() -> Result<Self, ConfigError> {
        Raw::default().validate()
    }

    /// Whether cookies get the `Secure` attribute and `__Host-` names: the public origin (the
    /// redirect URI's) is https. Cookies are set only by the OpenID Connect routes.
    pub fn secure_cookies(&self) -> bool {
        self.public_origin.is_https()
    }

    /// Reads defaults, the TOML file and the process environment.
    ///
    /// # Errors
    /// When a value is malformed or the settings are inconsistent.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os(CONFIG_FILE_VARIABLE).map(PathBuf::from);
        Self::from_figment(Self::figment(file))
    }

    /// The layered sources: defaults, then the TOML file (`file`, or `codex.toml` if present),
    /// then `CODEX_*` variables.
    pub fn figment(file: Option<PathBuf>) -> Figment {
        let figment = Figment::from(Serialized::defaults(Raw::default()));
        let figment = match file {
            Some(path) => figment.merge(Toml::file_exact(path)),
            // Only the working directory (Toml::file would also search its parents).
            None if std::path::Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => figment,
        };
        let mut ignored = vec!["CONFIG", "TEST_DATABASE_URL"];
        ignored.extend(VERBATIM.iter().map(|key| key.0));
        let mut figment = figment.merge(Env::prefixed("CODEX_").ignore(&ignored));
        // Text settings are taken verbatim: figment would read `12345` as a number and strip
        // quotes, changing (or refusing, and printing) a secret.
        // An empty variable counts as unset: it leaves the file's value in place.
        for (variable, key) in VERBATIM {
            match std::env::var(format!("CODEX_{variable}")) {
                Ok(value) if !value.is_empty() => {
                    figment = figment.merge(Serialized::default(key, value));
                }
                _ => {}
            }
        }
        figment
    }

    /// # Errors
    /// When a value is malformed or the settings are inconsistent.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: Raw = figment.extract().map_err(|errors| {
            let messages: Vec<String> = errors
                .into_iter()
                .map(|e| {
                    // The expectation only: the value may be a secret.
                    let why = match &e.kind {
                        Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
                            format!("must be {expected}")
                        }
                        other => other.to_string(),
                    };
                    match e.path.last() {
                        Some(key) => format!("{}: {why}", variable(key)),
                        // A file that does not parse: its error quotes the line, which may hold
                        // a secret.
                        None => match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                            Some(source) => format!("{source}: cannot be read as TOML"),
                            None => "the configuration cannot be read".to_owned(),
                        },
                    }
                })
                .collect();
            ConfigError(messages.join("; "))
        })?;
        raw.validate()
    }
}

/// Comma-separated origins, each exactly `scheme://host[:port]` as browsers send `Origin`
/// (http or https, no path, query or fragment), kept in that serialisation.
fn cors_origins(raw: &str) -> Result<Vec<String>, String> {
    let mut origins = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || format!("{entry:?} is not an origin like https://app.example.com");
        let url = Url::parse(entry).map_err(|_| bad())?;
        let origin = url.origin().ascii_serialization();
        let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
        let exact = entry.trim_end_matches('/').eq_ignore_ascii_case(&origin);
        if !matches!(url.scheme(), "http" | "https") || !bare || !exact {
            return Err(bad());
        }
        origins.push(origin);
    }
    Ok(origins)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl Raw {
    fn validate(self) -> Result<Settings, ConfigError> {
        let fail = |key: &str, why: &str| ConfigError(format!("{}: {why}", variable(key)));
        let url = self.database_url.trim().to_owned();
        let known_scheme =
            ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| url.starts_with(p));
        if !known_scheme || Url::parse(&url).is_err() {
            return Err(fail("database_url", "must be a sqlite: or postgres:// URL"));
        }
        let bind = self
            .bind
            .parse()
            .map_err(|_| fail("bind", "must be an address like 127.0.0.1:8000"))?;
        if !(1..=86_400).contains(&self.access_token_ttl) {
            return Err(fail("access_token_ttl", "must be between 1 and 86400 seconds"));
        }
        if self.token_issuer.trim().is_empty() {
            return Err(fail("token_issuer", "must not be empty"));
        }
        if self.token_audience.trim().is_empty() {
            return Err(fail("token_audience", "must not be empty"));
        }
        let log_format = match self.log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(fail("log_format", "must be text or json")),
        };
        if !(1..=256).contains(&self.max_concurrent_hashes) {
            return Err(fail("max_concurrent_hashes", "must be between 1 and 256"));
        }
        if !(1..=300).contains(&self.hash_queue_timeout) {
            return Err(fail("hash_queue_timeout", "must be between 1 and 300 seconds"));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(fail("max_connections", "must be between 1 and 1000000"));
        }
        if self.signing_key_publish_delay > 31_536_000 {
            return Err(fail(
                "signing_key_publish_delay",
                "must be between 0 and 31536000 seconds",
            ));
        }
        if !(1..=86_400).contains(&self.signing_key_reload_interval) {
            return Err(fail("signing_key_reload_interval", "must be between 1 and 86400 seconds"));
        }
        let metrics_bind = match non_empty(self.metrics_bind.clone()) {
            Some(raw) => Some(
                raw.trim()
                    .parse()
                    .map_err(|_| fail("metrics_bind", "must be an address like 127.0.0.1:9100"))?,
            ),
            None => None,
        };
        let access_token_ttl = time::Duration::seconds(self.access_token_ttl as i64);
        let public_origin = RedirectUri::parse(&self.oidc_redirect_uri)
            .map_err(|why| fail("oidc_redirect_uri", &why))?;
        let oidc = self.oidc()?;
        let key_encryption_key = self.key_encryption_key()?;
        let throttle = self.throttle()?;
        let trusted_proxies = TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|why| fail("trusted_proxies", &why))?;
        let cors_allowed_origins = cors_origins(&self.cors_allowed_origins)
            .map_err(|why| fail("cors_allowed_origins", &why))?;
        if !(8..=128).contains(&self.password_min_length) {
            return Err(fail("password_min_length", "must be between 8 and 128 characters"));
        }
        let seconds = |key: &str, value: u64| match i64::try_from(value) {
            Ok(v) if (1..=315_360_000).contains(&v) => Ok(time::Duration::seconds(v)),
            _ => Err(fail(key, "must be between 1 and 315360000 seconds")),
        };
        if !(1..=36_500).contains(&self.audit_retention_days) {
            return Err(fail("audit_retention_days", "must be between 1 and 36500 days"));
        }
        let audit_retention = time::Duration::days(self.audit_retention_days as i64);
        let sessions = SessionPolicy {
            idle_timeout: seconds("session_idle_timeout", self.session_idle_timeout)?,
            max_age: seconds("session_max_age", self.session_max_age)?,
        };
        Ok(Settings {
            database_url: url,
            bind,
            access_token_ttl,
            token_issuer: self.token_issuer,
            token_audience: self.token_audience,
            log_format,
            max_concurrent_hashes: self.max_concurrent_hashes,
            hash_queue_timeout: std::time::Duration::from_secs(self.hash_queue_timeout),
            max_connections: self.max_connections,
            metrics_bind,
            signing_key_publish_delay: time::Duration::seconds(
                self.signing_key_publish_delay as i64,
            ),
            signing_key_reload_interval: std::time::Duration::from_secs(
                self.signing_key_reload_interval,
            ),
            key_encryption_key,
            oidc,
            throttle,
            trusted_proxies,
            cors_allowed_origins,
            cors_allow_credentials: self.cors_allow_credentials,
            password_min_length: self.password_min_length,
            sessions,
            audit_retention,
            public_origin,
        })
    }

    fn key_encryption_key(&self) -> Result<Option<SecretString>, ConfigError> {
        let fail = |key: &str, why: &str| ConfigError(format!("{}: {why}", variable(key)));
        let inline = non_empty(self.key_encryption_key.clone());
        let file = non_empty(self.key_encryption_key_file.clone());
        let (text, key) = match (inline, file) {
            (Some(_), Some(_)) => {
                return Err(fail(
                    "key_encryption_key",
                    "and CODEX_KEY_ENCRYPTION_KEY_FILE are both set; set one",
                ));
            }
            (Some(text), None) => (text, "key_encryption_key"),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    fail("key_encryption_key_file", &format!("cannot be read ({})", e.kind()))
                })?;
                (text, "key_encryption_key_file")
            }
            (None, None) => return Ok(None),
        };
        codex_cloud_adapters::KeySealer::from_base64(&text).map_err(|_| {
            fail(key, "must hold a 256-bit key in base64 (openssl rand -base64 32)")
        })?;
        Ok(Some(SecretString::new(text.trim().to_owned())))
    }

    fn throttle(&self) -> Result<ThrottlePolicy, ConfigError> {
        let fail = |key: &str, why: &str| ConfigError(format!("{}: {why}", variable(key)));
        let seconds = |key: &str, value: u64| match i64::try_from(value) {
            Ok(v) if (1..=86_400 * 365).contains(&v) => Ok(time::Duration::seconds(v)),
            _ => Err(fail(key, "must be between 1 and 31536000 seconds")),
        };
        let delay = seconds("login_throttle_delay", self.login_throttle_delay)?;
        let max_delay = seconds("login_throttle_max_delay", self.login_throttle_max_delay)?;
        if max_delay < delay {
            return Err(fail(
                "login_throttle_max_delay",
                "must be at least CODEX_LOGIN_THROTTLE_DELAY",
            ));
        }
        if self.login_throttle_address_failures == 0 {
            return Err(fail("login_throttle_address_failures", "must be at least 1"));
        }
        Ok(ThrottlePolicy {
            free_failures: self.login_throttle_failures,
            delay,
            max_delay,
            address_failures: self.login_throttle_address_failures,
        })
    }

    fn oidc(&self) -> Result<Option<OidcSettings>, ConfigError> {
        let fail = |key: &str, why: &str| ConfigError(format!("{}: {why}", variable(key)));
        // Validated whether or not OpenID Connect is on.
        let redirect_uri = RedirectUri::parse(&self.oidc_redirect_uri)
            .map_err(|why| fail("oidc_redirect_uri", &why))?;
        if self.oidc_jwks_cache_ttl == 0 {
            return Err(fail("oidc_jwks_cache_ttl", "must be at least 1 second"));
        }
        let post_logout_redirect_uri = match non_empty(self.oidc_post_logout_redirect_uri.clone()) {
            Some(raw) => Some(
                RedirectUri::parse(&raw)
                    .map_err(|why| fail("oidc_post_logout_redirect_uri", &why))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        if !(60..=31_536_000).contains(&self.invitation_ttl) {
            return Err(fail("invitation_ttl", "must be between 60 and 31536000 seconds"));
        }
        let invitation_ttl =
            time::Duration::seconds(i64::try_from(self.invitation_ttl).unwrap_or(i64::MAX));
        if self.oidc_jwks_cache_refresh == 0 {
            return Err(fail("oidc_jwks_cache_refresh", "must be at least 1 second"));
        }
        // A refresh interval past the TTL would never come first: keys are refetched at the TTL.
        let refresh = self.oidc_jwks_cache_refresh.min(self.oidc_jwks_cache_ttl);
        let issuer = non_empty(self.oidc_issuer.clone());
        let client_id = non_empty(self.oidc_client_id.clone());
        let client_secret = non_empty(self.oidc_client_secret.clone());
        let (issuer, client_id, client_secret) = match (issuer, client_id, client_secret) {
            (None, None, None) => return Ok(None),
            (Some(i), Some(c), Some(s)) => (i, c, s),
            (i, c, s) => {
                let missing: Vec<String> = [
                    ("oidc_issuer", i.is_none()),
                    ("oidc_client_id", c.is_none()),
                    ("oidc_client_secret", s.is_none()),
                ]
                .into_iter()
                .filter(|(_, missing)| *missing)
                .map(|(key, _)| variable(key))
                .collect();
                return Err(ConfigError(format!(
                    "OpenID Connect is partly configured; set {} (or unset all of CODEX_OIDC_ISSUER, CODEX_OIDC_CLIENT_ID and CODEX_OIDC_CLIENT_SECRET)",
                    missing.join(" and ")
                )));
            }
        };
        let ca_pem = match non_empty(self.oidc_ca_file.clone()) {
            Some(path) => {
                let pem =
                    std::fs::read(&path).map_err(|_| fail("oidc_ca_file", "cannot be read"))?;
                let certificates =
                    String::from_utf8_lossy(&pem).matches("-----BEGIN CERTIFICATE-----").count();
                if certificates == 0 {
                    return Err(fail("oidc_ca_file", "holds no PEM certificate"));
                }
                Some(pem)
            }
            None => None,
        };
        let issuer = Issuer::new(issuer).map_err(|e| fail("oidc_issuer", &e.to_string()))?;
        Ok(Some(OidcSettings {
            issuer,
            client_id,
            client_secret: SecretString::new(client_secret),
            redirect_uri,
            jwks_cache_ttl: std::time::Duration::from_secs(self.oidc_jwks_cache_ttl),
            jwks_cache_refresh: std::time::Duration::from_secs(refresh),
            allow_insecure_http: self.oidc_allow_insecure_http,
            ca_pem,
            post_logout_redirect_uri,
            invitation_ttl,
        }))
    }
}
