//! `oidc-check`: the provider configuration checked against the provider itself, one finding
//! per check (`ok`, `warn` or `FAIL`, what was seen, and how to fix it). It never shows the
//! client secret.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use codex_cloud_core::ports::Clock;

use crate::oidc::OidcClientSettings;
use crate::oidc::discovery::{is_loopback, transport_allowed};
use crate::oidc::http::OutboundHttp;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Warn,
    Fail,
}

impl Outcome {
    /// As printed: `ok`, `warn`, `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        }
    }
}

/// One check's finding.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub outcome: Outcome,
    /// What was seen.
    pub seen: String,
    /// How to fix it (empty when nothing needs fixing).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

/// The greatest clock difference from the provider that is not worth a warning.
const MAX_CLOCK_SKEW_SECONDS: i64 = 30;
/// The ID-token algorithms this relying party verifies.
const SUPPORTED_ALGS: [&str; 3] = ["RS256", "RS384", "RS512"];

struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, check: &'static str, outcome: Outcome, seen: impl Into<String>, fix: &str) {
        let (seen, fix) = (seen.into(), fix.to_owned());
        self.0.push(Finding { check, outcome, seen, fix });
    }
}

/// Runs every check against the provider of `client`.
pub async fn check_provider(
    client: &OidcClientSettings,
    http: &OutboundHttp,
    allow_insecure_http: bool,
    clock: &dyn Clock,
) -> Vec<Finding> {
    let mut found = Findings(Vec::new());
    found.add(
        "variables",
        Outcome::Ok,
        format!(
            "CODEX_OIDC_ISSUER={}, CODEX_OIDC_CLIENT_ID={}, CODEX_OIDC_CLIENT_SECRET is set",
            client.issuer.as_str(),
            client.client_id
        ),
        "",
    );
    check_redirect_uri(&mut found, &client.redirect_uri);
    if let Some(document) = check_discovery(&mut found, client, http, clock).await {
        check_document(&mut found, client, &document, allow_insecure_http);
        check_jwks(&mut found, http, &document).await;
        // The secret goes only where `serve` would send it: a discovery document of the
        // configured issuer whose token endpoint is reached as the transport rules allow.
        match secret_may_go_to(client, &document, allow_insecure_http) {
            Ok(()) => check_credentials(&mut found, client, http, &document).await,
            Err(why) => found.add(
                "client_credentials",
                Outcome::Fail,
                format!("not tried: {why}, so the client secret is not sent there"),
                "fix the failures above first",
            ),
        }
    }
    found.0
}

/// Whether the client secret may be sent to the document's token endpoint.
fn secret_may_go_to(
    client: &OidcClientSettings,
    document: &Value,
    allow_insecure_http: bool,
) -> Result<(), String> {
    if document["issuer"].as_str() != Some(client.issuer.as_str()) {
        return Err("the document is not the configured issuer's".to_owned());
    }
    let issuer = Url::parse(client.issuer.as_str()).map_err(|_| "the issuer is not a URL")?;
    transport_allowed(&issuer, "the issuer", allow_insecure_http)?;
    let raw = document["token_endpoint"].as_str().ok_or("the document has no token_endpoint")?;
    let endpoint = Url::parse(raw).map_err(|_| "token_endpoint is not a URL")?;
    transport_allowed(&endpoint, "token_endpoint", allow_insecure_http)
}

/// A string from the provider, safe to print (no control characters).
fn printable(raw: &str) -> String {
    raw.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

fn check_redirect_uri(found: &mut Findings, raw: &str) {
    const FIX: &str = "set CODEX_OIDC_REDIRECT_URI to the absolute https URL of /auth/oidc/callback \
                       registered at the provider";
    match Url::parse(raw) {
        Err(_) => {
            found.add("redirect_uri", Outcome::Fail, format!("{raw} is not an absolute URL"), FIX)
        }
        Ok(url) if url.fragment().is_some() => {
            found.add("redirect_uri", Outcome::Fail, format!("{raw} has a fragment"), FIX);
        }
        Ok(url) if url.scheme() == "https" => {
            found.add(
                "redirect_uri",
                Outcome::Ok,
                format!("{raw} (register it at the provider exactly so)"),
                "",
            );
        }
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => {
            found.add(
                "redirect_uri",
                Outcome::Ok,
                format!("{raw} (plain http on this machine only)"),
                "",
            );
        }
        Ok(_) => found.add("redirect_uri", Outcome::Fail, format!("{raw} is not https"), FIX),
    }
}

async fn check_discovery(
    found: &mut Findings,
    client: &OidcClientSettings,
    http: &OutboundHttp,
    clock: &dyn Clock,
) -> Option<Value> {
    let configured = client.issuer.as_str();
    let url = format!("{}/.well-known/openid-configuration", configured.trim_end_matches('/'));
    let started = Instant::now();
    let response = http.client().get(&url).header("accept", "application/json").send().await;
    let elapsed = started.elapsed().as_millis();
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            let why = if e.is_timeout() { "timed out" } else { "could not be reached" };
            found.add(
                "discovery",
                Outcome::Fail,
                format!("{url} {why}"),
                "check CODEX_OIDC_ISSUER, the network path to the provider, and CODEX_OIDC_CA_FILE \
                 for a private certificate authority",
            );
            return None;
        }
    };
    let status = response.status();
    let date = response.headers().get("date").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        found.add(
            "discovery",
            Outcome::Fail,
            format!("{url} answered {status} in {elapsed} ms"),
            "CODEX_OIDC_ISSUER must be the issuer whose /.well-known/openid-configuration the \
             provider serves",
        );
        return None;
    }
    let Ok(document) = serde_json::from_slice::<Value>(&body) else {
        found.add(
            "discovery",
            Outcome::Fail,
            format!("{url} answered {status} in {elapsed} ms, but not with JSON"),
            "CODEX_OIDC_ISSUER must point at the provider itself",
        );
        return None;
    };
    found.add("discovery", Outcome::Ok, format!("{url} answered {status} in {elapsed} ms"), "");
    check_clock(found, date.as_deref(), clock.now().unix_timestamp());
    let announced = document["issuer"].as_str().unwrap_or_default();
    if announced == configured {
        found.add("issuer", Outcome::Ok, format!("the document names {announced}"), "");
    } else {
        found.add(
            "issuer",
            Outcome::Fail,
            format!(
                "the document names {}, CODEX_OIDC_ISSUER is {configured:?}: {}",
                printable(&format!("{announced:?}")),
                issuer_difference(announced, configured)
            ),
            "set CODEX_OIDC_ISSUER to the document's issuer, byte for byte",
        );
    }
    Some(document)
}

/// What tells two issuer strings apart, in words, from the strings as written (a URL parser
/// would fold the case of the scheme and host, and drop a default port).
fn issuer_difference(announced: &str, configured: &str) -> &'static str {
    let (a, c) = (announced.trim_end_matches('/'), configured.trim_end_matches('/'));
    if a == c {
        return "they differ only in a trailing slash";
    }
    // scheme "://" authority path
    let parts = |s: &str| {
        let (scheme, rest) = s.split_once("://").unwrap_or(("", s));
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        (scheme.to_owned(), authority.to_owned(), path.to_owned())
    };
    let ((a_scheme, a_authority, a_path), (c_scheme, c_authority, c_path)) = (parts(a), parts(c));
    if a_scheme != c_scheme {
        if a_scheme.eq_ignore_ascii_case(&c_scheme) {
            "the case of the scheme differs"
        } else {
            "the scheme differs"
        }
    } else if a_authority != c_authority {
        let host =
            |authority: &str| authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_owned();
        if a_authority.eq_ignore_ascii_case(&c_authority) {
            "the case of the host differs"
        } else if host(&a_authority) == host(&c_authority) {
            "the port differs"
        } else {
            "the host differs"
        }
    } else if a_path.eq_ignore_ascii_case(&c_path) {
        "the case of the path differs"
    } else {
        "the path differs"
    }
}

fn check_clock(found: &mut Findings, date: Option<&str>, ours: i64) {
    let theirs = date.and_then(httpdate_to_unix);
    let Some(theirs) = theirs else {
        found.add("clock", Outcome::Warn, "the provider sent no Date header", "");
        return;
    };
    let skew = theirs - ours;
    if skew.abs() <= MAX_CLOCK_SKEW_SECONDS {
        found.add(
            "clock",
            Outcome::Ok,
            format!("the provider's clock is {skew:+} s from ours"),
            "",
        );
    } else {
        found.add(
            "clock",
            Outcome::Warn,
            format!("the provider's clock is {skew:+} s from ours"),
            "synchronise this machine's clock (NTP): ID tokens are checked against it",
        );
    }
}

/// An RFC 9110 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as a Unix time.
fn httpdate_to_unix(date: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let parsed = time::PrimitiveDateTime::parse(date.trim(), &format).ok()?;
    Some(parsed.assume_utc().unix_timestamp())
}

fn strings(document: &Value, field: &str) -> Option<Vec<String>> {
    let list = document[field].as_array()?;
    Some(list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
}

fn check_document(
    found: &mut Findings,
    client: &OidcClientSettings,
    document: &Value,
    allow_insecure_http: bool,
) {
    // Transport of the issuer and of every endpoint the login uses.
    let mut endpoints = vec![("issuer", Some(client.issuer.as_str().to_owned()))];
    for field in ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"] {
        endpoints.push((field, document[field].as_str().map(str::to_owned)));
    }
    for (name, value) in endpoints {
        let Some(raw) = value else {
            if name != "userinfo_endpoint" {
                found.add("https", Outcome::Fail, format!("the document has no {name}"), "");
            }
            continue;
        };
        let fix = "use the provider's https endpoints; CODEX_OIDC_ALLOW_INSECURE_HTTP=true is \
                   for development only";
        match Url::parse(&raw) {
            Ok(url) if url.scheme() == "https" => {
                found.add("https", Outcome::Ok, format!("{name} {}", printable(&raw)), "");
            }
            Ok(url) => match transport_allowed(&url, name, allow_insecure_http) {
                Ok(()) => found.add(
                    "https",
                    Outcome::Warn,
                    format!(
                        "{name} {} is plain http (allowed: loopback or development flag)",
                        printable(&raw)
                    ),
                    "",
                ),
                Err(why) => found.add("https", Outcome::Fail, printable(&why), fix),
            },
            Err(_) => found.add("https", Outcome::Fail, format!("{name} {raw:?} is not a URL"), ""),
        }
    }

    match strings(document, "response_types_supported") {
        Some(types) if types.iter().any(|t| t == "code") => {
            found.add("response_type", Outcome::Ok, "code is supported", "");
        }
        other => found.add(
            "response_type",
            Outcome::Fail,
            format!("response_types_supported is {:?}", other.unwrap_or_default()),
            "enable the authorization-code flow for this client at the provider",
        ),
    }
    match strings(document, "code_challenge_methods_supported") {
        Some(methods) if methods.iter().any(|m| m == "S256") => {
            found.add("pkce", Outcome::Ok, "S256 is supported", "");
        }
        Some(methods) => found.add(
            "pkce",
            Outcome::Warn,
            format!("code_challenge_methods_supported is {methods:?}, without S256"),
            "Codex always sends an S256 challenge; a provider that ignores it gives no PKCE \
             protection",
        ),
        None => found.add(
            "pkce",
            Outcome::Warn,
            "code_challenge_methods_supported is not advertised",
            "check that the provider honours S256 PKCE challenges",
        ),
    }
    match strings(document, "token_endpoint_auth_methods_supported") {
        None => found.add(
            "client_auth",
            Outcome::Ok,
            "not advertised: client_secret_basic is the default",
            "",
        ),
        Some(methods) if methods.iter().any(|m| m == "client_secret_basic") => {
            found.add("client_auth", Outcome::Ok, "client_secret_basic is supported", "");
        }
        Some(methods) => found.add(
            "client_auth",
            Outcome::Fail,
            format!("token_endpoint_auth_methods_supported is {methods:?}"),
            "allow client_secret_basic for this client at the provider",
        ),
    }
    let algs = strings(document, "id_token_signing_alg_values_supported").unwrap_or_default();
    let usable: Vec<&String> =
        algs.iter().filter(|a| SUPPORTED_ALGS.contains(&a.as_str())).collect();
    if usable.is_empty() {
        found.add(
            "id_token_alg",
            Outcome::Fail,
            format!("the provider signs ID tokens only with {algs:?}"),
            "configure the client at the provider to sign ID tokens with RS256",
        );
    } else {
        found.add("id_token_alg", Outcome::Ok, format!("{usable:?} supported"), "");
    }
}

async fn check_jwks(found: &mut Findings, http: &OutboundHttp, document: &Value) {
    let Some(uri) = document["jwks_uri"].as_str() else { return };
    let response = http.client().get(uri).header("accept", "application/json").send().await;
    let body = match response {
        Ok(r) if r.status().is_success() => r.bytes().await.unwrap_or_default(),
        Ok(r) => {
            found.add("jwks", Outcome::Fail, format!("{uri} answered {}", r.status()), "");
            return;
        }
        Err(_) => {
            found.add("jwks", Outcome::Fail, format!("{uri} could not be reached"), "");
            return;
        }
    };
    let uri = printable(uri);
    let listed = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|set| set["keys"].as_array().map(Vec::len))
        .unwrap_or(0);
    // The same rule the server applies: RSA signing keys of at least 2048 bits, RS256/384/512.
    let usable = match crate::oidc::jwks::usable_keys(&body) {
        Ok(keys) => keys.keys,
        Err(_) => {
            found.add(
                "jwks",
                Outcome::Fail,
                format!(
                    "{uri} holds {listed} keys, none a usable RSA signing key (2048 bits or more)"
                ),
                "the provider must publish the RSA key it signs ID tokens with",
            );
            return;
        }
    };
    found.add(
        "jwks",
        Outcome::Ok,
        format!("{uri} holds {} usable RSA signing keys (of {listed})", usable.len()),
        "",
    );
    let without_kid = usable.iter().filter(|k| k.kid.is_none()).count();
    if without_kid > 0 {
        found.add(
            "jwks",
            Outcome::Warn,
            format!("{without_kid} of them have no kid"),
            "without kid, a key rotation at the provider cannot be told apart",
        );
    }
}

async fn check_credentials(
    found: &mut Findings,
    client: &OidcClientSettings,
    http: &OutboundHttp,
    document: &Value,
) {
    let Some(token_endpoint) = document["token_endpoint"].as_str() else { return };
    // A code that cannot exist: accepted credentials give invalid_grant, wrong ones
    // invalid_client.
    let mut random = [0_u8; 32];
    if getrandom::fill(&mut random).is_err() {
        return;
    }
    let code = format!("codex-oidc-check-{}", URL_SAFE_NO_PAD.encode(random));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", "codex-oidc-check-verifier-that-matches-nothing-at-all"),
    ];
    // RFC 6749 §2.3.1: both are form-urlencoded before they go into the Basic credentials.
    let encode =
        |raw: &str| url::form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>();
    let (id, secret) = (encode(&client.client_id), encode(client.client_secret.expose()));
    let request = http.client().post(token_endpoint).basic_auth(id, Some(secret)).form(&form);
    let response = match request.send().await {
        Ok(response) => response,
        Err(_) => {
            found.add(
                "client_credentials",
                Outcome::Fail,
                format!("{token_endpoint} could not be reached"),
                "",
            );
            return;
        }
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    match error.as_str() {
        "invalid_grant" => found.add(
            "client_credentials",
            Outcome::Ok,
            "a made-up code was refused with invalid_grant: the client id and secret were accepted",
            "",
        ),
        "invalid_client" | "unauthorized_client" => found.add(
            "client_credentials",
            Outcome::Fail,
            format!("the token endpoint answered {status} {error}"),
            "check CODEX_OIDC_CLIENT_ID and CODEX_OIDC_CLIENT_SECRET, and that the client may \
             use client_secret_basic",
        ),
        _ if status == reqwest::StatusCode::UNAUTHORIZED => found.add(
            "client_credentials",
            Outcome::Fail,
            format!("the token endpoint answered {status}"),
            "check CODEX_OIDC_CLIENT_ID and CODEX_OIDC_CLIENT_SECRET",
        ),
        _ => found.add(
            "client_credentials",
            Outcome::Warn,
            format!("the token endpoint answered {status} {error:?} to a made-up code"),
            "expected invalid_grant; check the client's settings at the provider",
        ),
    }
}
