//! The fake provider's HTTP endpoints: discovery, JWKS and token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use poem::web::{Data, Form};
use poem::{IntoResponse, Request, Response, handler};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::id_token::id_token;
use super::*;

pub(super) fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(poem::http::StatusCode::from_u16(status).expect("status"))
        .content_type("application/json")
        .body(body.to_string())
}

/// Where discovery redirects to when told to (`set_discovery_redirect`).
pub const MOVED_DISCOVERY_PATH: &str = "/moved/.well-known/openid-configuration";

#[handler]
pub(super) fn discovery(state: Data<&Arc<Mutex<OpState>>>) -> Response {
    let mut s = state.lock().expect("lock");
    s.discovery_requests += 1;
    if s.down {
        return json_response(503, json!({"error": "temporarily_unavailable"}));
    }
    if s.discovery_redirect {
        return Response::builder()
            .status(poem::http::StatusCode::FOUND)
            .header("location", format!("{}{MOVED_DISCOVERY_PATH}", s.issuer))
            .finish();
    }
    discovery_document(&s)
}

#[handler]
pub(super) fn moved_discovery(state: Data<&Arc<Mutex<OpState>>>) -> Response {
    let mut s = state.lock().expect("lock");
    s.moved_discovery_requests += 1;
    discovery_document(&s)
}

fn discovery_document(s: &OpState) -> Response {
    let issuer = s.discovery_issuer.clone().unwrap_or_else(|| s.issuer.clone());
    let mut document = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{}/authorize", s.issuer),
            "token_endpoint": format!("{}/token", s.issuer),
            "jwks_uri": s.jwks_uri.clone().unwrap_or_else(|| format!("{}{}", s.issuer, s.jwks_path)),
            "authorization_response_iss_parameter_supported": s.iss_parameter_supported,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "RS384", "RS512", "HS256", "none"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
    });
    if s.end_session {
        document["end_session_endpoint"] = json!(format!("{}/session/end", s.issuer));
    }
    for (field, value) in &s.discovery_fields {
        match (value, document.as_object_mut()) {
            (Some(value), Some(fields)) => {
                fields.insert(field.clone(), value.clone());
            }
            (None, Some(fields)) => {
                fields.remove(field);
            }
            _ => {}
        }
    }
    let mut response = match &s.discovery_body {
        Some(body) => Response::builder().content_type("text/html").body(body.clone()),
        None => json_response(200, document),
    };
    if let Some(offset) = s.date_offset {
        let at = s.clock.now() + time::Duration::seconds(offset);
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let date = at.format(&format).expect("an HTTP date");
        response.headers_mut().insert("date", date.parse().expect("a header value"));
    }
    response
}

#[handler]
pub(super) fn jwks(req: &Request, state: Data<&Arc<Mutex<OpState>>>) -> Response {
    let mut s = state.lock().expect("lock");
    if req.uri().path() != s.jwks_path {
        return json_response(404, json!({"error": "not_found"}));
    }
    s.jwks_requests += 1;
    let ec = json!({"kty": "EC", "crv": "P-256", "use": "sig",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
    let okp = json!({"kty": "OKP", "crv": "Ed25519", "use": "sig",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let keys: Vec<Value> = match s.jwks_mode {
        JwksMode::Normal => s
            .keys
            .iter()
            .map(|k| {
                let mut jwk = k.jwk(true);
                if let Some(alg) = s.jwk_alg {
                    jwk["alg"] = json!(alg);
                }
                jwk
            })
            .collect(),
        JwksMode::SingleRsaNoKid => vec![ec, s.keys[0].jwk(false), okp],
        JwksMode::MultipleRsaNoKid => {
            let other = OpKey::new(s.next_key);
            vec![s.keys[0].jwk(false), ec, other.jwk(false)]
        }
        JwksMode::Status(status) => return json_response(status, json!({"error": "unavailable"})),
        JwksMode::Oversized { chunked } => {
            let keys: Vec<Value> = s.keys.iter().map(|k| k.jwk(true)).collect();
            let padding = "x".repeat(OVERSIZED_PADDING_BYTES);
            let body = json!({ "keys": keys, "padding": padding }).to_string().into_bytes();
            let builder = Response::builder().content_type("application/json");
            return if chunked {
                builder.body(poem::Body::from_async_read(std::io::Cursor::new(body)))
            } else {
                builder.body(body)
            };
        }
    };
    json_response(200, json!({ "keys": keys }))
}

fn basic_credentials(req: &Request) -> (Option<String>, Option<String>) {
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let header =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(encoded) = header.strip_prefix("Basic ") else { return (None, None) };
    let Some(decoded) = STANDARD.decode(encoded).ok().and_then(|d| String::from_utf8(d).ok())
    else {
        return (None, None);
    };
    match decoded.split_once(':') {
        Some((id, secret)) => (decode(id), decode(secret)),
        None => (None, None),
    }
}

fn token_error(error: &str) -> Response {
    json_response(400, json!({"error": error}))
}

#[handler]
pub(super) async fn token_endpoint(
    req: &Request,
    Form(form): Form<HashMap<String, String>>,
    state: Data<&Arc<Mutex<OpState>>>,
) -> Response {
    let (id, secret) = basic_credentials(req);
    let delay = {
        let mut s = state.lock().expect("lock");
        s.token_requests.push(TokenRequest {
            basic_client_id: id.clone(),
            basic_client_secret: secret.clone(),
            form: form.clone(),
        });
        s.token_delay
    };
    if let Some(delay) = delay {
        // The provider being slow, not a wait for the test's sake.
        tokio::time::sleep(delay).await;
    }
    token_response(id, secret, &form, &state)
}

fn token_response(
    id: Option<String>,
    secret: Option<String>,
    form: &HashMap<String, String>,
    state: &Mutex<OpState>,
) -> Response {
    let mut s = state.lock().expect("lock");
    if let Some((status, error)) = s.token_status {
        return json_response(status, json!({"error": error}));
    }
    if id.as_deref() != Some(CLIENT_ID) || secret.as_deref() != Some(CLIENT_SECRET) {
        return json_response(401, json!({"error": "invalid_client"}));
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error("unsupported_grant_type");
    }
    let Some(grant) = form.get("code").and_then(|code| s.codes.remove(code)) else {
        return token_error("invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.code_challenge || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error("invalid_grant");
    }
    let access_token = uuid::Uuid::new_v4().simple().to_string();
    let id_token = id_token(&s, &grant, &access_token);
    s.issued_id_tokens.push(id_token.to_string());
    json_response(
        200,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }),
    )
    .into_response()
}
