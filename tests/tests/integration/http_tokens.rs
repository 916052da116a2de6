//! HTTP tests of bearer token verification: only RS256 `at+jwt` tokens signed by our key, for our
//! issuer and audience, naming a live session of their subject, are accepted.

use jsonwebtoken::Algorithm;
use serde_json::json;
use uuid::Uuid;

use codex_cloud_tests::TestApp;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::keys::{other_signing_key, signing_key};
use codex_cloud_tests::tokens::{AccessClaims, header, sign_hmac, sign_rsa, unsigned};

/// An app, a logged-in user's token, and its claims.
async fn logged_in() -> (TestApp, String, AccessClaims) {
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("ada@example.com").await;
    let claims = AccessClaims::of(&token);
    (app, token, claims)
}

fn kid() -> &'static str {
    signing_key().kid()
}

/// `claims` signed with the real key and the header a real token has, but a fresh `jti`.
fn genuine(claims: &AccessClaims) -> String {
    let claims = AccessClaims { jti: Uuid::new_v4(), ..claims.clone() };
    sign_rsa(signing_key(), &header(Algorithm::RS256, Some("at+jwt"), Some(kid())), &claims)
}

#[track_caller]
fn assert_refused(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.text());
    reply.assert_problem(401, "invalid_token");
}

async fn assert_me_refuses(app: &TestApp, token: &str, what: &str) {
    assert_refused(&Reply::read(app.me(token).await).await, what);
}

#[tokio::test]
async fn a_token_forged_like_a_real_one_with_the_real_key_is_accepted() {
    // The control for every refusal below: the forging helpers make tokens that would pass.
    let (app, _, claims) = logged_in().await;

    let reply = Reply::read(app.me(&genuine(&claims)).await).await;

    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_401_whatever_its_kid() {
    let (app, _, claims) = logged_in().await;
    let other = other_signing_key();

    for kid in [Some(kid()), Some(other.kid()), None] {
        let token = sign_rsa(other, &header(Algorithm::RS256, Some("at+jwt"), kid), &claims);
        assert_me_refuses(&app, &token, &format!("kid {kid:?}")).await;
    }
}

#[tokio::test]
async fn a_token_without_the_at_jwt_type_is_401() {
    let (app, _, claims) = logged_in().await;

    for typ in [Some("JWT"), Some("jwt"), Some("id_token+jwt"), None] {
        let token = sign_rsa(signing_key(), &header(Algorithm::RS256, typ, Some(kid())), &claims);
        assert_me_refuses(&app, &token, &format!("typ {typ:?}")).await;
    }
}

#[tokio::test]
async fn a_token_for_another_audience_or_issuer_is_401() {
    let (app, _, claims) = logged_in().await;
    let forged = [
        ("audience", AccessClaims { aud: "someone-else".into(), ..claims.clone() }),
        ("issuer", AccessClaims { iss: "https://evil.example".into(), ..claims.clone() }),
    ];

    for (what, claims) in forged {
        assert_me_refuses(&app, &genuine(&claims), what).await;
    }
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_401() {
    let (app, _, claims) = logged_in().await;
    let jwk = &app.jwks.keys[0];

    for secret in [jwk.n.as_bytes(), b"secret".as_slice()] {
        let token =
            sign_hmac(secret, &header(Algorithm::HS256, Some("at+jwt"), Some(kid())), &claims);
        assert_me_refuses(&app, &token, "HS256").await;
    }
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_401() {
    let (app, _, claims) = logged_in().await;

    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": kid() });
        assert_me_refuses(&app, &unsigned(&header, &claims), alg).await;
    }
}

#[tokio::test]
async fn an_rsa_token_with_another_rsa_algorithm_is_401() {
    let (app, _, claims) = logged_in().await;

    for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let token = sign_rsa(signing_key(), &header(alg, Some("at+jwt"), Some(kid())), &claims);
        assert_me_refuses(&app, &token, &format!("{alg:?}")).await;
    }
}

#[tokio::test]
async fn a_token_naming_an_unknown_session_or_another_users_session_is_401() {
    let (app, _, claims) = logged_in().await;
    let (bob, _) = app.user_with_token("bob@example.com").await;
    let forged = [
        ("unknown session", AccessClaims { sid: Uuid::new_v4(), ..claims.clone() }),
        ("another user", AccessClaims { sub: bob.id.as_uuid(), ..claims.clone() }),
        ("unknown user", AccessClaims { sub: Uuid::new_v4(), ..claims.clone() }),
    ];

    for (what, claims) in forged {
        assert_me_refuses(&app, &genuine(&claims), what).await;
    }
}

#[tokio::test]
async fn a_token_whose_exp_has_passed_is_401_even_while_its_session_lives() {
    let (app, _, claims) = logged_in().await;
    let now = app.now().unix_timestamp();
    let expired = AccessClaims { exp: now, ..claims.clone() };

    assert_me_refuses(&app, &genuine(&expired), "exp = now").await;
    let live = AccessClaims { exp: now + 1, ..claims };
    assert_eq!(app.me(&genuine(&live)).await.0.status(), 200);
}

#[tokio::test]
async fn a_tampered_token_is_401() {
    let (app, token, claims) = logged_in().await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let other_claims = AccessClaims { exp: claims.exp + 3600, ..claims };
    let forged = genuine(&other_claims);
    parts[1] = forged.split('.').nth(1).expect("payload").to_owned();

    assert_me_refuses(&app, &parts.join("."), "payload swapped").await;
    let truncated = &token[..token.len() - 2];
    assert_me_refuses(&app, truncated, "signature truncated").await;
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401() {
    let (app, token, _) = logged_in().await;
    let headers = [
        None,
        Some(String::new()),
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some(token.clone()),
        Some(format!("Basic {token}")),
        Some("Bearer not-a-jwt".to_owned()),
        Some("Bearer a.b.c".to_owned()),
    ];

    for value in headers {
        for (method, path) in [("GET", "/auth/me"), ("POST", "/auth/logout")] {
            let mut request = match method {
                "GET" => app.client.get(path),
                _ => app.client.post(path),
            };
            if let Some(value) = &value {
                request = request.header("authorization", value);
            }
            let reply = Reply::read(request.send().await).await;
            assert_refused(&reply, &format!("{method} {path} with {value:?}"));
        }
    }
}
