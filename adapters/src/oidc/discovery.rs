//! Discovery of the provider's endpoints from `{issuer}/.well-known/openid-configuration`, with
//! an exact issuer match, retried until it succeeds.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use codex_cloud_core::domain::Issuer;
use codex_cloud_core::ports::{Clock, ProviderStatus};
use time::OffsetDateTime;

use crate::oidc::http::OutboundHttp;
use crate::sync::{read, write};

/// The endpoints taken from a trusted discovery document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: Url,
    pub token: Url,
    pub jwks: Url,
    pub userinfo: Option<Url>,
    /// OpenID Connect RP-Initiated Logout 1.0.
    pub end_session: Option<Url>,
    /// RFC 9207: the provider says its authorization responses carry `iss`.
    pub iss_parameter_supported: bool,
}

#[derive(Clone, Debug)]
enum State {
    Pending(String),
    Ready(Arc<Endpoints>),
    Misconfigured(String),
}

#[derive(Deserialize)]
struct Document {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    authorization_response_iss_parameter_supported: Option<bool>,
}

/// The discovery state shared by the provider and the key provider.
pub struct Discovery {
    issuer: Issuer,
    http: OutboundHttp,
    /// `CODEX_OIDC_ALLOW_INSECURE_HTTP`: plain http allowed on any host (development only).
    allow_insecure_http: bool,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
    /// Held while an attempt runs; remembers when the last one started.
    in_flight: Mutex<Option<OffsetDateTime>>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// On-demand attempts (from logins) are at least this far apart.
const MIN_ATTEMPT_SPACING: time::Duration = time::Duration::seconds(1);

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `[::1]`).
pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// https, or http on a loopback host or with the development flag; the reason otherwise.
pub(super) fn transport_allowed(
    url: &Url,
    name: &str,
    allow_insecure_http: bool,
) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{name} {url} is plain http on a host that is not this machine \
             (set CODEX_OIDC_ALLOW_INSECURE_HTTP=true only for development)"
        )),
        _ => Err(format!("{name} is not an http(s) URL")),
    }
}

fn endpoint(value: Option<String>, name: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let raw = value.ok_or_else(|| format!("the discovery document has no {name}"))?;
    let url = Url::parse(&raw).map_err(|_| format!("{name} is not a URL"))?;
    transport_allowed(&url, name, allow_insecure_http)?;
    Ok(url)
}

impl Discovery {
    pub fn new(
        issuer: Issuer,
        http: OutboundHttp,
        clock: Arc<dyn Clock>,
        allow_insecure_http: bool,
    ) -> Self {
        Self {
            issuer,
            http,
            allow_insecure_http,
            clock,
            state: RwLock::new(State::Pending("discovery has not run yet".into())),
            in_flight: Mutex::new(None),
        }
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    pub fn status(&self) -> ProviderStatus {
        match &*read(&self.state) {
            State::Pending(why) => ProviderStatus::Unavailable(why.clone()),
            State::Ready(_) => ProviderStatus::Ready,
            State::Misconfigured(why) => ProviderStatus::Misconfigured(why.clone()),
        }
    }

    /// The trusted endpoints, if discovery has succeeded.
    pub fn endpoints(&self) -> Option<Arc<Endpoints>> {
        match &*read(&self.state) {
            State::Ready(endpoints) => Some(endpoints.clone()),
            _ => None,
        }
    }

    /// The status, running discovery now if it has not succeeded yet: one attempt at a time,
    /// and not more than once a second, so that logins cannot flood the provider.
    pub async fn ensure(&self) -> ProviderStatus {
        if self.endpoints().is_some() {
            return ProviderStatus::Ready;
        }
        let mut last_attempt = self.in_flight.lock().await;
        let now = self.clock.now();
        let due = last_attempt.is_none_or(|at| now - at >= MIN_ATTEMPT_SPACING);
        if self.endpoints().is_none() && due {
            *last_attempt = Some(now);
            self.discover_once().await;
        }
        self.status()
    }

    /// Fetches the document again, although it was trusted before (the provider may have moved
    /// its keys or changed its issuer). A failure to reach it keeps the trusted endpoints; a
    /// document that must not be trusted replaces them, so logins stop.
    pub async fn rediscover(&self) {
        let mut last_attempt = self.in_flight.lock().await;
        *last_attempt = Some(self.clock.now());
        match self.fetch().await {
            Ok(endpoints) => {
                let endpoints = Arc::new(endpoints);
                if self.endpoints() != Some(endpoints.clone()) {
                    tracing::info!(issuer = %self.issuer, "OpenID provider endpoints changed");
                }
                *write(&self.state) = State::Ready(endpoints);
            }
            Err(State::Misconfigured(why)) => {
                tracing::error!(issuer = %self.issuer, reason = %why, "OpenID provider refused");
                *write(&self.state) = State::Misconfigured(why);
            }
            Err(_) => tracing::warn!(issuer = %self.issuer, "OpenID provider rediscovery failed"),
        }
    }

    /// One attempt; records the outcome.
    pub async fn discover_once(&self) {
        let state = match self.fetch().await {
            Ok(endpoints) => {
                tracing::info!(issuer = %self.issuer, "OpenID provider discovered");
                State::Ready(Arc::new(endpoints))
            }
            Err(State::Misconfigured(why)) => {
                tracing::error!(issuer = %self.issuer, reason = %why, "OpenID provider refused");
                State::Misconfigured(why)
            }
            Err(other) => {
                if let State::Pending(why) = &other {
                    tracing::warn!(issuer = %self.issuer, reason = %why, "OpenID provider discovery failed");
                }
                other
            }
        };
        *write(&self.state) = state;
    }

    async fn fetch(&self) -> Result<Endpoints, State> {
        let fetched = self.fetch_endpoints().await;
        let outcome = match &fetched {
            Ok(_) => "success",
            Err(State::Misconfigured(_)) => "refused",
            Err(_) => "failure",
        };
        metrics::counter!("codex_oidc_discovery_fetches_total", "outcome" => outcome).increment(1);
        fetched
    }

    async fn fetch_endpoints(&self) -> Result<Endpoints, State> {
        // Nothing is sent to an issuer that would be reached without TLS.
        let issuer = Url::parse(self.issuer.as_str())
            .map_err(|_| State::Misconfigured("the issuer is not a URL".into()))?;
        transport_allowed(&issuer, "the issuer", self.allow_insecure_http)
            .map_err(State::Misconfigured)?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.as_str().trim_end_matches('/')
        );
        let request = self.http.client().get(&url).header("accept", "application/json");
        let response = self.http.send(request).await.map_err(|e| State::Pending(e.to_string()))?;
        if !response.status.is_success() {
            return Err(State::Pending(format!("discovery answered {}", response.status)));
        }
        let document: Document = serde_json::from_slice(&response.body)
            .map_err(|_| State::Misconfigured("the discovery document is not valid JSON".into()))?;
        if document.issuer.as_deref() != Some(self.issuer.as_str()) {
            return Err(State::Misconfigured(format!(
                "the discovery document names issuer {:?}, not the configured {:?}",
                document.issuer.unwrap_or_default(),
                self.issuer.as_str()
            )));
        }
        let insecure = self.allow_insecure_http;
        let misconfigured = State::Misconfigured;
        let userinfo = match document.userinfo_endpoint {
            Some(raw) => {
                Some(endpoint(Some(raw), "userinfo_endpoint", insecure).map_err(misconfigured)?)
            }
            None => None,
        };
        let end_session = match document.end_session_endpoint {
            Some(raw) => {
                Some(endpoint(Some(raw), "end_session_endpoint", insecure).map_err(misconfigured)?)
            }
            None => None,
        };
        Ok(Endpoints {
            authorization: endpoint(
                document.authorization_endpoint,
                "authorization_endpoint",
                insecure,
            )
            .map_err(misconfigured)?,
            token: endpoint(document.token_endpoint, "token_endpoint", insecure)
                .map_err(misconfigured)?,
            jwks: endpoint(document.jwks_uri, "jwks_uri", insecure).map_err(misconfigured)?,
            userinfo,
            end_session,
            iss_parameter_supported: document
                .authorization_response_iss_parameter_supported
                .unwrap_or(false),
        })
    }

    /// Retries discovery in the background until it succeeds (backing off to a minute).
    pub fn spawn_retry(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let discovery = Arc::clone(self);
        tokio::spawn(async move {
            let mut delay = Duration::from_secs(1);
            loop {
                if discovery.ensure().await == ProviderStatus::Ready {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        })
    }
}
