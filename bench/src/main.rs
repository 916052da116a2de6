//! The provider figures of `bench/run.sh` (P4, P5, P9): a local OpenID Provider stand-in
//! (discovery, authorize, token and JWKS endpoints; real RS256 ID tokens signed with AWS-LC) and a
//! client that drives the backend through it. Both are compiled and run on one thread each, so
//! that the part of a login spent outside the backend stays smaller than the backend's own.
//!
//! ```text
//! bench-oidc provider <port>                 serve the stand-in until killed
//! bench-oidc measure <backend> <provider> <server pid> <healthz req/s> <logins>
//! bench-oidc server-time <backend> <provider> <server log> <logins>
//! ```
//!
//! `measure` prints one JSON line: P4 (JWKS fetches for 100 concurrent callbacks on a cold cache,
//! and for 100 ID tokens under an unknown kid), P5 as this client sees it (p50 of the callback's
//! round trip less the token endpoint's time), P9 (sequential provider logins per second, and
//! server CPU per login). `server-time` prints P5 by the server's own clock: the p50 of each
//! callback's `elapsed_ms` in the server's access log (JSON lines, `RUST_LOG=info`), found by its
//! `x-request-id`, less the token endpoint's time. That still counts the token request's trip over
//! loopback and through the stand-in's HTTP server: an upper bound of the time inside the
//! server's middleware stack.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use poem::http::{StatusCode, header};
use poem::listener::TcpListener;
use poem::web::{Data, Path, Query};
use poem::{Body, EndpointExt as _, Request, Response, Route, Server, get, handler, post};
use serde_json::{Value, json};
use url::Url;

const CLIENT_ID: &str = "bench";
const CLIENT_SECRET: &str = "bench-secret";
const SUBJECT: &str = "bench-user";
const STATE_COOKIE: &str = "codex_oidc_state=";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let text = |i| argument(&args, i);
    match args.first().map(String::as_str) {
        Some("provider") => runtime.block_on(provider(parsed(&args, 1)?)),
        Some("measure") => runtime.block_on(measure(
            text(1)?,
            text(2)?,
            parsed(&args, 3)?,
            parsed(&args, 4)?,
            parsed(&args, 5)?,
        )),
        Some("server-time") => {
            runtime.block_on(server_time(text(1)?, text(2)?, text(3)?, parsed(&args, 4)?))
        }
        _ => bail!(
            "usage: bench-oidc provider <port> | measure <backend> <provider> <pid> <healthz> \
             <logins> | server-time <backend> <provider> <log> <logins>"
        ),
    }
}

fn argument(args: &[String], i: usize) -> Result<&str> {
    args.get(i).map(String::as_str).ok_or_else(|| anyhow!("argument {i} is missing"))
}

/// Argument `i`, parsed as the number its use asks for.
fn parsed<T>(args: &[String], i: usize) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let arg = argument(args, i)?;
    arg.parse().with_context(|| format!("argument {i} ({arg}) is not a valid number"))
}

/// One signing key of the stand-in and its JWK.
struct Key {
    kid: String,
    pair: KeyPair,
    jwk: Value,
}

impl Key {
    fn new() -> Result<Self> {
        let pair =
            KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA key generation"))?;
        let kid = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
        let public = pair.public_key();
        let jwk = json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            "kid": kid,
            "alg": "RS256",
            "use": "sig",
        });
        Ok(Self { kid, pair, jwk })
    }

    fn sign(&self, message: &[u8]) -> Result<String> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .map_err(|_| anyhow!("RSA signature"))?;
        Ok(URL_SAFE_NO_PAD.encode(signature))
    }
}

/// The stand-in's state: its key, the codes it issued (with their nonces), and what it counts.
struct Provider {
    issuer: String,
    key: Key,
    codes: HashMap<String, String>,
    jwks_fetches: u64,
    token_ms: HashMap<String, f64>,
}

type Shared = Arc<Mutex<Provider>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Provider> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder().status(status).content_type("application/json").body(body.to_string())
}

async fn provider(port: u16) -> Result<()> {
    let app = routes(format!("http://127.0.0.1:{port}"))?;
    Server::new(TcpListener::bind(format!("127.0.0.1:{port}"))).run(app).await?;
    Ok(())
}

fn routes(issuer: String) -> Result<impl poem::Endpoint> {
    let state = Provider {
        issuer,
        key: Key::new()?,
        codes: HashMap::new(),
        jwks_fetches: 0,
        token_ms: HashMap::new(),
    };
    Ok(Route::new()
        .at("/.well-known/openid-configuration", get(discovery))
        .at("/jwks", get(jwks))
        .at("/authorize", get(authorize))
        .at("/token", post(token))
        .at("/stats", get(stats))
        .at("/rotate", post(rotate))
        .at("/reset", post(reset))
        .at("/token-ms/:code", get(token_ms))
        .data(Arc::new(Mutex::new(state))))
}

#[handler]
fn discovery(shared: Data<&Shared>) -> Response {
    let issuer = lock(&shared).issuer.clone();
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
        }),
    )
}

#[handler]
fn jwks(shared: Data<&Shared>) -> Response {
    let mut provider = lock(&shared);
    provider.jwks_fetches += 1;
    json_response(StatusCode::OK, &json!({ "keys": [provider.key.jwk] }))
}

/// Approves every request at once: a code for the nonce, back to `redirect_uri` with the state.
#[handler]
fn authorize(shared: Data<&Shared>, Query(query): Query<HashMap<String, String>>) -> Response {
    let (Some(redirect), Some(state)) = (query.get("redirect_uri"), query.get("state")) else {
        return json_response(StatusCode::BAD_REQUEST, &json!({ "error": "invalid_request" }));
    };
    let Ok(mut back) = Url::parse(redirect) else {
        return json_response(StatusCode::BAD_REQUEST, &json!({ "error": "invalid_request" }));
    };
    let code = uuid::Uuid::new_v4().simple().to_string();
    let nonce = query.get("nonce").cloned().unwrap_or_default();
    lock(&shared).codes.insert(code.clone(), nonce);
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
    Response::builder().status(StatusCode::FOUND).header(header::LOCATION, back.as_str()).finish()
}

/// The authorization-code grant with `client_secret_basic`: an ID token for the code's nonce.
#[handler]
async fn token(shared: Data<&Shared>, request: &Request, body: Body) -> Response {
    // Timed from before the body is read until the response is ready to be written.
    let started = Instant::now();
    let Ok(body) = body.into_string().await else {
        return json_response(StatusCode::BAD_REQUEST, &json!({ "error": "invalid_request" }));
    };
    let code = url::form_urlencoded::parse(body.as_bytes())
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|value| STANDARD.decode(value).ok());
    if basic.as_deref() != Some(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes()) {
        return json_response(StatusCode::UNAUTHORIZED, &json!({ "error": "invalid_client" }));
    }
    let mut provider = lock(&shared);
    let Some(nonce) = provider.codes.remove(&code) else {
        return json_response(StatusCode::BAD_REQUEST, &json!({ "error": "invalid_grant" }));
    };
    // A stand-in outside the server: it has no Clock port, and its tokens' times are the wall's.
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": provider.key.kid });
    let claims = json!({
        "iss": provider.issuer, "sub": SUBJECT, "aud": CLIENT_ID,
        "iat": now, "exp": now + 300, "nonce": nonce,
    });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match provider.key.sign(signed.as_bytes()) {
        Ok(signature) => signature,
        Err(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": e.to_string() }),
            );
        }
    };
    let response = json_response(
        StatusCode::OK,
        &json!({
            "access_token": uuid::Uuid::new_v4().simple().to_string(),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": format!("{signed}.{signature}"),
        }),
    );
    provider.token_ms.insert(code, started.elapsed().as_secs_f64() * 1000.0);
    response
}

#[handler]
fn stats(shared: Data<&Shared>) -> Response {
    json_response(StatusCode::OK, &json!({ "jwks": lock(&shared).jwks_fetches }))
}

#[handler]
fn rotate(shared: Data<&Shared>) -> Response {
    match Key::new() {
        Ok(key) => {
            let mut provider = lock(&shared);
            provider.key = key;
            provider.jwks_fetches = 0;
            json_response(StatusCode::OK, &json!({ "kid": provider.key.kid }))
        }
        Err(e) => {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({ "error": e.to_string() }))
        }
    }
}

#[handler]
fn reset(shared: Data<&Shared>) -> Response {
    lock(&shared).jwks_fetches = 0;
    json_response(StatusCode::OK, &json!({}))
}

#[handler]
fn token_ms(shared: Data<&Shared>, Path(code): Path<String>) -> Response {
    json_response(StatusCode::OK, &json!({ "ms": lock(&shared).token_ms.get(&code) }))
}

/// The backend's client: kept-alive connections, no redirects followed.
#[derive(Clone)]
struct Client(reqwest::Client);

/// A begun login, approved at the stand-in: the callback URL and the state cookie.
struct Begun {
    callback: String,
    cookie: String,
}

impl Begun {
    fn code(&self) -> Result<String> {
        let url = Url::parse(&self.callback)?;
        let code = url.query_pairs().find(|(name, _)| name == "code").map(|(_, v)| v.into_owned());
        code.ok_or_else(|| anyhow!("the callback carries no code: {}", self.callback))
    }
}

fn location(response: &reqwest::Response) -> Result<String> {
    let value = response.headers().get(header::LOCATION).ok_or_else(|| anyhow!("no location"))?;
    Ok(value.to_str()?.to_owned())
}

impl Client {
    fn new() -> Result<Self> {
        // Straight to 127.0.0.1, whatever proxy the environment names.
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy();
        Ok(Self(client.build()?))
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        Ok(request.send().await?.json().await?)
    }

    /// Begins a login at the backend and approves it at the stand-in.
    async fn begun(&self, backend: &str) -> Result<Begun> {
        let begin = self.0.get(format!("{backend}/auth/oidc/login")).send().await?;
        let status = begin.status();
        let cookie = begin
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(STATE_COOKIE))
            .and_then(|value| value.split(';').next())
            .map(str::to_owned);
        let authorize_url = location(&begin);
        let body = begin.text().await?;
        let (Some(cookie), Ok(authorize_url)) = (cookie, authorize_url) else {
            bail!("login answered {status}: {body}");
        };
        ensure!(status == StatusCode::FOUND, "login answered {status}: {body}");
        let approval = self.0.get(authorize_url).send().await?;
        let status = approval.status();
        ensure!(status == StatusCode::FOUND, "the stand-in's authorize answered {status}");
        let callback = location(&approval)?;
        approval.bytes().await?;
        Ok(Begun { callback, cookie })
    }

    /// Completes a begun login: the response's `x-request-id` and its round trip in ms.
    async fn completed(&self, login: &Begun) -> Result<(Option<String>, f64)> {
        let started = Instant::now();
        let response =
            self.0.get(&login.callback).header(header::COOKIE, &login.cookie).send().await?;
        let status = response.status();
        let id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok());
        let id = id.map(str::to_owned);
        let body = response.bytes().await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        ensure!(status == StatusCode::OK, "callback answered {status}: {body:?}");
        Ok((id, ms))
    }

    /// `count` logins one after the other: each one's code, callback `x-request-id` and round
    /// trip in ms.
    async fn sequential_logins(
        &self,
        backend: &str,
        count: usize,
    ) -> Result<Vec<(String, Option<String>, f64)>> {
        let mut timed = Vec::with_capacity(count);
        for _ in 0..count {
            let login = self.begun(backend).await?;
            let (id, ms) = self.completed(&login).await?;
            timed.push((login.code()?, id, ms));
        }
        Ok(timed)
    }

    /// Begins `count` logins at once, then completes them at once.
    async fn concurrent_logins(&self, backend: &str, count: usize) -> Result<()> {
        let mut begins = tokio::task::JoinSet::new();
        for _ in 0..count {
            let (client, backend) = (self.clone(), backend.to_owned());
            begins.spawn(async move { client.begun(&backend).await });
        }
        let begun = begins.join_all().await.into_iter().collect::<Result<Vec<_>>>()?;
        let mut callbacks = tokio::task::JoinSet::new();
        for login in begun {
            let client = self.clone();
            callbacks.spawn(async move { client.completed(&login).await });
        }
        callbacks.join_all().await.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    /// The stand-in's time in its token endpoint for `code`, in ms.
    async fn token_ms(&self, provider: &str, code: &str) -> Result<f64> {
        let answer = self.json(self.0.get(format!("{provider}/token-ms/{code}"))).await?;
        answer["ms"].as_f64().ok_or_else(|| anyhow!("no token endpoint time for code {code}"))
    }
}

/// The process's CPU time (user and system), in seconds, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?
        .1
        .split(' ')
        .collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields.get(i).ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?.parse::<f64>()?)
    };
    // utime and stime, in clock ticks of 1/100 s.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn median(mut values: Vec<f64>) -> Result<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().ok_or_else(|| anyhow!("no values"))
}

async fn measure(
    backend: &str,
    provider: &str,
    pid: u32,
    healthz: f64,
    logins: usize,
) -> Result<()> {
    let client = Client::new()?;
    let jwks_fetches = async || -> Result<u64> {
        let counts = client.json(client.0.get(format!("{provider}/stats"))).await?;
        counts["jwks"].as_u64().ok_or_else(|| anyhow!("no JWKS count"))
    };
    // P4: 100 callbacks at once on a cold key cache (no login has run yet)…
    client.0.post(format!("{provider}/reset")).send().await?.error_for_status()?;
    client.concurrent_logins(backend, 100).await?;
    let cold = jwks_fetches().await?;
    // …and 100 ID tokens signed by a key the backend has not seen.
    client.0.post(format!("{provider}/rotate")).send().await?.error_for_status()?;
    client.concurrent_logins(backend, 100).await?;
    let unknown_kid = jwks_fetches().await?;
    // P5 and P9: sequential logins, each begin → authorize → callback.
    let cpu_before = cpu_seconds(pid)?;
    let started = Instant::now();
    let timed = client.sequential_logins(backend, logins).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid)? - cpu_before;
    // The token endpoint's own time, asked for after the timed loop.
    let mut server_ms = Vec::with_capacity(logins);
    for (code, _, ms) in &timed {
        server_ms.push(ms - client.token_ms(provider, code).await?);
    }
    let logins = logins as f64;
    println!(
        "{}",
        json!({
            "p4_cold": cold,
            "p4_unknown_kid": unknown_kid,
            "p5_p50_ms": median(server_ms)?,
            "p9_logins_per_s": logins / seconds,
            "p9_ratio": logins / seconds / healthz,
            "p9_cpu_ms": cpu * 1000.0 / logins,
        })
    );
    Ok(())
}

async fn server_time(backend: &str, provider: &str, log: &str, logins: usize) -> Result<()> {
    let client = Client::new()?;
    let timed = client.sequential_logins(backend, logins).await?;
    // The access log is written before the response leaves, so every line is there now.
    let mut elapsed = HashMap::new();
    for line in std::fs::read_to_string(log)?.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else { continue };
        let (id, ms) =
            (entry["span"]["request_id"].as_str(), entry["fields"]["elapsed_ms"].as_f64());
        if entry["fields"]["message"] == "request"
            && entry["span"]["route"] == "/auth/oidc/callback"
            && let (Some(id), Some(ms)) = (id, ms)
        {
            elapsed.insert(id.to_owned(), ms);
        }
    }
    let mut server_ms = Vec::with_capacity(logins);
    for (code, id, _) in &timed {
        let id = id.as_deref().ok_or_else(|| anyhow!("a callback without x-request-id"))?;
        let ms = elapsed.get(id).ok_or_else(|| anyhow!("no access-log line for request {id}"))?;
        server_ms.push(ms - client.token_ms(provider, code).await?);
    }
    println!("{}", json!({ "p5_server_p50_ms": median(server_ms)? }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    use poem::test::TestClient;

    use super::*;

    const ISSUER: &str = "http://127.0.0.1:1";

    #[tokio::test]
    async fn the_token_endpoint_signs_an_id_token_its_jwks_verifies_once_per_code() {
        let client = TestClient::new(routes(ISSUER.to_owned()).unwrap());
        let approval = client
            .get("/authorize")
            .query("redirect_uri", &"http://127.0.0.1:2/cb")
            .query("state", &"s")
            .query("nonce", &"n")
            .send()
            .await;
        approval.assert_status(StatusCode::FOUND);
        let back = Url::parse(approval.0.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        let query: HashMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "s");
        let form = format!("grant_type=authorization_code&code={}", query["code"]);
        let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));

        let wrong = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:wrong")));
        let refused = client.post("/token").header(header::AUTHORIZATION, wrong);
        refused.body(form.clone()).send().await.assert_status(StatusCode::UNAUTHORIZED);
        let answer = client.post("/token").header(header::AUTHORIZATION, &basic);
        let answer = answer.body(form.clone()).send().await;
        answer.assert_status_is_ok();
        let id_token = answer.json().await.value().object().get("id_token").string().to_owned();
        let again = client.post("/token").header(header::AUTHORIZATION, &basic);
        again.body(form).send().await.assert_status(StatusCode::BAD_REQUEST);

        let keys = client.get("/jwks").send().await.json().await.value().deserialize::<Value>();
        let key = &keys["keys"][0];
        let part = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
        let (signed, signature) = id_token.rsplit_once('.').unwrap();
        let public = RsaPublicKeyComponents { n: part("n"), e: part("e") };
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        public.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature).unwrap();
        let (header, claims) = signed.split_once('.').unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(
            (header["alg"].as_str(), header["kid"].as_str()),
            (Some("RS256"), key["kid"].as_str())
        );
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], SUBJECT);
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["nonce"], "n");
        let (iat, exp) = (claims["iat"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
        assert!(iat > 1_700_000_000 && exp == iat + 300, "iat {iat}, exp {exp}");
        let timed = client.get(format!("/token-ms/{}", query["code"])).send().await;
        let ms = timed.json().await.value().deserialize::<Value>()["ms"].as_f64().unwrap();
        assert!(ms > 0.0, "the token endpoint's time is recorded: {ms}");

        let counts = client.get("/stats").send().await.json().await.value().deserialize::<Value>();
        assert_eq!(counts["jwks"], 1);
        let rotated =
            client.post("/rotate").send().await.json().await.value().deserialize::<Value>();
        assert_ne!(rotated["kid"], key["kid"]);
        let counts = client.get("/stats").send().await.json().await.value().deserialize::<Value>();
        assert_eq!(counts["jwks"], 0, "rotating resets the count");
        let keys = client.get("/jwks").send().await.json().await.value().deserialize::<Value>();
        assert_eq!(keys["keys"][0]["kid"], rotated["kid"]);
    }

    #[test]
    fn the_median_is_the_upper_middle_value() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]).unwrap(), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]).unwrap(), 3.0);
        assert!(median(Vec::new()).is_err());
    }

    #[test]
    fn cpu_seconds_reads_this_process() {
        let before = cpu_seconds(std::process::id()).unwrap();
        let spin = Instant::now();
        while spin.elapsed().as_millis() < 50 {
            std::hint::black_box(0);
        }
        let after = cpu_seconds(std::process::id()).unwrap();
        assert!(after - before >= 0.02, "{before} → {after}");
    }
}
