//! HTTP tests of the operational and descriptive endpoints: health, readiness, the JWKS, the
//! OpenAPI document and Swagger UI.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use poem::EndpointExt;

use codex_cloud_tests::conformance::checked;
use codex_cloud_tests::http::{PROBLEM_CONTENT_TYPE, Reply};
use codex_cloud_tests::keys::{TOKEN_AUDIENCE, TOKEN_ISSUER};
use codex_cloud_tests::tokens::{AccessClaims, header_of};
use codex_cloud_tests::{StoreBackend, TestApp};

async fn get(app: &TestApp, path: &str) -> Reply {
    Reply::read(app.client.get(path).send().await).await
}

#[tokio::test]
async fn healthz_and_readyz_answer_200() {
    for backend in [StoreBackend::Memory, StoreBackend::Sqlite] {
        let app = TestApp::builder().backend(backend).build().await;

        let health = get(&app, "/healthz").await;
        let ready = get(&app, "/readyz").await;

        assert_eq!(health.status, 200, "{backend}: {}", health.text());
        assert_eq!(health.json()["status"], "ok");
        assert_eq!(ready.status, 200, "{backend}: {}", ready.text());
        assert_eq!(ready.json()["status"], "ready");
    }
}

#[tokio::test]
async fn the_jwks_publishes_the_rs256_key_that_verifies_issued_tokens() {
    let app = TestApp::spawn().await;
    let (user, token) = app.user_with_token("ada@example.com").await;

    let jwks = get(&app, "/.well-known/jwks.json").await;

    assert_eq!(jwks.status, 200);
    assert!(jwks.content_type().starts_with("application/json"));
    let body = jwks.json();
    let keys = body["keys"].as_array().expect("keys");
    let kid = header_of(&token)["kid"].clone();
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("no key with the token's kid {kid} in {body}"));
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "the JWKS leaks {private}");
    }
    let decoding = DecodingKey::from_rsa_components(
        key["n"].as_str().expect("n"),
        key["e"].as_str().expect("e"),
    )
    .expect("an RSA public key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[TOKEN_ISSUER]);
    validation.set_audience(&[TOKEN_AUDIENCE]);
    validation.validate_exp = false;
    let verified = jsonwebtoken::decode::<AccessClaims>(&token, &decoding, &validation)
        .expect("the published key verifies the token");
    assert_eq!(verified.claims.sub, user.id.as_uuid());
}

const ROUTES: [(&str, &str); 6] = [
    ("/auth/login", "post"),
    ("/auth/me", "get"),
    ("/auth/logout", "post"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/.well-known/jwks.json", "get"),
];

async fn spec(app: &TestApp) -> Value {
    let reply = get(app, "/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type().starts_with("application/json"));
    reply.json()
}

fn statuses(operation: &Value) -> Vec<String> {
    let responses = operation["responses"].as_object().expect("responses");
    responses.keys().cloned().collect()
}

#[tokio::test]
async fn the_openapi_document_is_openapi_3_and_lists_every_route_with_id_tags_and_summary() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;

    let version = spec["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "{version}");
    let mut ids = Vec::new();
    for (path, method) in ROUTES {
        let operation = &spec["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        ids.push(id.to_owned());
        let tags = operation["tags"].as_array().map(Vec::len).unwrap_or(0);
        assert!(tags > 0, "{method} {path} has no tags");
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty(), "{method} {path} has no summary");
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ROUTES.len(), "operationIds are unique");
}

#[tokio::test]
async fn every_operation_declares_its_error_statuses_as_problem_documents() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let expected: [(&str, &str, &[&str]); 4] = [
        ("/auth/login", "post", &["400", "401", "413", "415", "500"]),
        ("/auth/me", "get", &["401", "500"]),
        ("/auth/logout", "post", &["401", "500"]),
        ("/readyz", "get", &["503"]),
    ];

    for (path, method, errors) in expected {
        let declared = statuses(&spec["paths"][path][method]);
        for status in errors {
            assert!(
                declared.iter().any(|s| s == status),
                "{method} {path} does not declare {status}: {declared:?}"
            );
        }
    }
    for (path, method) in ROUTES {
        let operation = &spec["paths"][path][method];
        for status in statuses(operation) {
            if status.starts_with('4') || status.starts_with('5') {
                let content = &operation["responses"][&status]["content"];
                assert!(
                    content.get(PROBLEM_CONTENT_TYPE).is_some(),
                    "{method} {path} {status} is not a problem document: {content}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_openapi_document_has_a_bearer_scheme_required_by_the_session_operations() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;

    let schemes =
        spec["components"]["securitySchemes"].as_object().expect("components.securitySchemes");
    let bearer = schemes
        .iter()
        .find(|(_, s)| s["type"] == "http" && s["scheme"] == "bearer")
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| panic!("no bearer scheme in {schemes:?}"));
    for path in ["/auth/me", "/auth/logout"] {
        let operation = spec["paths"][path]
            .as_object()
            .and_then(|ops| ops.values().next())
            .expect("an operation");
        let requirements = operation["security"].as_array().expect("security");
        assert!(
            requirements.iter().any(|r| r.get(&bearer).is_some()),
            "{path} does not accept {bearer}: {requirements:?}"
        );
    }
}

#[tokio::test]
async fn docs_serves_swagger_ui() {
    let app = TestApp::spawn().await;

    let reply = get(&app, "/docs").await;

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.content_type().starts_with("text/html"), "{}", reply.content_type());
    assert!(reply.text().to_lowercase().contains("swagger"));
}

#[tokio::test]
async fn api_responses_forbid_every_load_and_frame_and_docs_allow_only_their_inline_assets() {
    let app = TestApp::spawn().await;

    let health = Reply::read(app.client.get("/healthz").send().await).await;
    let problem = Reply::read(app.client.get("/nowhere").send().await).await;
    let docs = Reply::read(app.client.get("/docs").send().await).await;

    for reply in [&health, &problem] {
        assert_eq!(
            reply.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'")
        );
        assert!(reply.header("strict-transport-security").is_none(), "http: no HSTS");
    }
    let csp = docs.header("content-security-policy").expect("a policy for /docs");
    for directive in ["default-src 'none'", "script-src 'unsafe-inline'", "connect-src 'self'"] {
        assert!(csp.contains(directive), "{csp}");
    }
    let page = docs.text();
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "nothing from elsewhere"
    );
}

#[tokio::test]
async fn docs_are_compressed_when_accepted_and_revalidated_with_an_etag() {
    let app = TestApp::spawn().await;
    let plain = Reply::read(app.client.get("/docs").send().await).await;
    assert_eq!(plain.status, 200);
    let etag = plain.headers.get("etag").expect("an ETag").to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(plain.headers.get("cache-control").unwrap(), "no-cache");
    assert!(plain.headers.get_all("vary").iter().any(|v| v == "Accept-Encoding"));

    let gzip =
        Reply::read(app.client.get("/docs").header("accept-encoding", "gzip").send().await).await;
    assert_eq!(gzip.headers.get("content-encoding").unwrap(), "gzip");
    assert!(gzip.body.len() * 3 < plain.body.len(), "{} vs {}", gzip.body.len(), plain.body.len());
    let gzip_etag = gzip.headers.get("etag").expect("an ETag").to_str().unwrap().to_owned();
    assert_ne!(gzip_etag, etag, "each encoding is a representation of its own");

    let again = app.client.get("/docs").header("if-none-match", etag.as_str()).send().await;
    let again = Reply::read(again).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    // A browser revalidates with Accept-Encoding: the 304 carries no content headers.
    for _ in 0..2 {
        let revalidate = app
            .client
            .get("/docs")
            .header("accept-encoding", "gzip")
            .header("if-none-match", gzip_etag.as_str())
            .send()
            .await;
        let revalidate = Reply::read(revalidate).await;
        assert_eq!(revalidate.status, 304);
        assert_eq!(revalidate.headers.get("etag").unwrap(), gzip_etag.as_str());
        for absent in ["content-encoding", "content-type", "content-length"] {
            assert!(revalidate.headers.get(absent).is_none(), "a 304 with {absent}");
        }
    }
    let zstd =
        Reply::read(app.client.get("/docs").header("accept-encoding", "zstd").send().await).await;
    assert_eq!(zstd.headers.get("content-encoding"), None, "zstd is not offered");
    let other = app.client.get("/docs").header("if-none-match", "W/\"0\"").send().await;
    assert_eq!(Reply::read(other).await.status, 200);
}

#[tokio::test]
#[should_panic(expected = "which the document does not declare")]
async fn the_conformance_check_refuses_an_undeclared_status() {
    let teapot = poem::endpoint::make(|_| async { poem::http::StatusCode::IM_A_TEAPOT });
    let client = poem::test::TestClient::new(checked(teapot.map_to_response()));
    client.get("/healthz").send().await;
}

#[tokio::test]
#[should_panic(expected = "\"user_not_found\" is not one of")]
async fn the_conformance_check_refuses_an_undeclared_code() {
    let not_found = poem::endpoint::make(|_| async {
        let body = r#"{"type":"urn:codex:problem:user_not_found","title":"Not Found","status":404,"code":"user_not_found"}"#;
        poem::Response::builder()
            .status(poem::http::StatusCode::BAD_REQUEST)
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(body)
    });
    let client = poem::test::TestClient::new(checked(not_found.map_to_response()));
    client.get("/admin/users").send().await;
}

#[tokio::test]
#[should_panic(expected = "the document says")]
async fn the_conformance_check_refuses_an_undeclared_media_type() {
    let charset = poem::endpoint::make(|_| async {
        poem::Response::builder().content_type("application/json; charset=utf-8").body("{}")
    });
    let client = poem::test::TestClient::new(checked(charset.map_to_response()));
    client.get("/healthz").send().await;
}

#[tokio::test]
async fn json_is_declared_and_sent_as_application_json_and_problems_as_problem_json() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;

    let mut media_types = Vec::new();
    collect_media_types(&spec["paths"], &mut media_types);
    media_types.sort();
    media_types.dedup();
    assert_eq!(media_types, ["application/json", "application/problem+json"]);
    let health = get(&app, "/healthz").await;
    assert_eq!(health.content_type(), "application/json");
    let login = app.post_json("/auth/login", None, serde_json::json!({})).await;
    assert_eq!(login.content_type(), PROBLEM_CONTENT_TYPE);
}

fn collect_media_types(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(content) = map.get("content").and_then(Value::as_object) {
                into.extend(content.keys().cloned());
            }
            map.values().for_each(|v| collect_media_types(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_media_types(v, into)),
        _ => {}
    }
}

#[tokio::test]
async fn each_operation_declares_only_the_errors_it_can_meet_with_codes_as_an_enum() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let op = |path: &str, method: &str| spec["paths"][path][method].clone();
    let codes = |operation: &Value| -> Vec<String> {
        let status = statuses(operation).into_iter().find(|s| s.as_str() >= "400").unwrap();
        let schema =
            operation["responses"][&status]["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"]
                .as_str()
                .expect("a problem schema")
                .trim_start_matches("#/components/schemas/")
                .to_owned();
        let codes = spec["components"]["schemas"][&schema]["properties"]["code"]["enum"].clone();
        serde_json::from_value(codes).expect("`code` is an enum")
    };

    // The user list finds no single user; body-less operations read no body.
    let list = op("/admin/users", "get");
    assert!(!statuses(&list).contains(&"404".to_owned()), "{:?}", statuses(&list));
    assert!(!codes(&list).contains(&"user_not_found".to_owned()));
    for (path, method) in [
        ("/admin/users/{user_id}/sessions", "delete"),
        ("/admin/invitations/{invitation_id}", "delete"),
        ("/auth/sessions/{session_id}", "delete"),
        ("/admin/users/{user_id}/identities", "delete"),
        ("/auth/identities", "delete"),
    ] {
        let declared = statuses(&op(path, method));
        for status in ["413", "415"] {
            assert!(!declared.contains(&status.to_owned()), "{method} {path}: {declared:?}");
        }
    }
    assert!(!statuses(&op("/admin/users/{user_id}/sessions", "delete")).contains(&"409".into()));
    // Each code appears under its own status only, and every declared status has a code.
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if !statuses(operation).iter().any(|s| s.as_str() >= "400") {
                continue;
            }
            let all = codes(operation);
            for status in statuses(operation).into_iter().filter(|s| s.as_str() >= "400") {
                let about = operation["responses"][&status]["description"].as_str().unwrap();
                let here: Vec<&String> =
                    all.iter().filter(|c| about.contains(&format!("`{c}`:"))).collect();
                assert!(!here.is_empty(), "{method} {path} {status} names no code: {about}");
            }
        }
    }
    // Codes are an enum clients can switch on.
    let login = codes(&op("/auth/login", "post"));
    for code in ["invalid_request", "invalid_credentials", "too_many_attempts", "server_busy"] {
        assert!(login.contains(&code.to_owned()), "{login:?}");
    }
}

#[tokio::test]
async fn the_document_names_its_server_license_public_operations_and_request_rules() {
    let app = TestApp::builder().configure(|s| s.password_min_length = 20).build().await;
    let spec = spec(&app).await;

    assert_eq!(spec["servers"][0]["url"], "/");
    assert_eq!(spec["info"]["license"]["name"], "Apache-2.0");
    for path in ["/auth/login", "/healthz", "/.well-known/jwks.json"] {
        let operation = spec["paths"][path].as_object().unwrap().values().next().unwrap().clone();
        assert_eq!(operation["security"], serde_json::json!([]), "{path} is public");
    }
    let me = &spec["paths"]["/auth/me"]["get"]["security"];
    assert!(me.as_array().is_some_and(|s| !s.is_empty()), "{me}");

    let schemas = &spec["components"]["schemas"];
    for (schema, field) in [("NewUserRequest", "password"), ("PasswordChange", "new_password")] {
        let password = &schemas[schema]["properties"][field];
        assert_eq!(password["minLength"], 20, "the configured minimum: {password}");
        assert_eq!(password["maxLength"], 1024);
    }
    for schema in ["LoginRequest", "NewUserRequest", "LinkRequest", "PasswordChange"] {
        assert_eq!(schemas[schema]["additionalProperties"], false, "{schema}");
    }
    assert!(schemas["NewUserRequest"]["properties"]["email"]["pattern"].is_string());
    assert_eq!(schemas["NewUserRequest"]["properties"]["email"]["maxLength"], 254);
    assert_eq!(schemas["LinkRequest"]["properties"]["subject"]["minLength"], 1);
    let users = &spec["paths"]["/admin/users"]["get"]["parameters"];
    for parameter in users.as_array().unwrap() {
        assert_eq!(parameter["schema"]["minimum"].as_f64(), Some(0.0), "{parameter}");
    }
    let kinds = &schemas["AuditEventView"]["properties"]["kind"]["enum"];
    assert!(kinds.as_array().unwrap().contains(&"logout".into()), "{kinds}");
    assert!(schemas["LinkRequest"]["properties"]["issuer"]["pattern"].is_string());
    assert_eq!(schemas["LinkRequest"]["properties"]["subject"]["maxLength"], 255);
    let parameters = &spec["paths"]["/admin/audit-events"]["get"]["parameters"];
    let kind = parameters.as_array().unwrap().iter().find(|p| p["name"] == "kind").unwrap();
    assert!(kind["schema"]["enum"].as_array().unwrap().contains(&"login.password".into()));
    let offset = parameters.as_array().unwrap().iter().find(|p| p["name"] == "offset").unwrap();
    assert_eq!(offset["schema"]["minimum"].as_f64(), Some(0.0));

    // No Rust comment reaches the document.
    assert!(!spec.to_string().contains("Debug"), "a Rust comment is published");

    // Swagger UI embeds the same finished document.
    let docs = get(&app, "/docs").await.text();
    assert!(docs.contains("\"minLength\": 20"), "Swagger UI shows the configured rules");
    assert!(docs.contains("\"name\": \"Apache-2.0\""));
}

/// Every code an operation's problem schema lists.
fn problem_codes(spec: &Value, operation: &Value) -> Vec<String> {
    let Some(status) = statuses(operation).into_iter().find(|s| s.as_str() >= "400") else {
        return Vec::new();
    };
    let schema = operation["responses"][&status]["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"]
        .as_str()
        .expect("a problem schema")
        .trim_start_matches("#/components/schemas/");
    serde_json::from_value(
        spec["components"]["schemas"][schema]["properties"]["code"]["enum"].clone(),
    )
    .expect("`code` is an enum")
}

#[tokio::test]
async fn what_a_request_meets_before_its_handler_is_declared_by_exactly_the_operations_it_can_reach()
 {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;

    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let codes = problem_codes(&spec, operation);
            let has = |code: &str| codes.iter().any(|c| c == code);
            let schemes: Vec<&str> = operation["security"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s.as_object().unwrap().keys().map(String::as_str))
                .collect();
            let cookie = schemes.iter().any(|s| s.contains("SessionCookie"));
            let body = operation.get("requestBody").is_some();
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            let parsed = parameters.iter().any(|p| {
                p["required"] == true
                    || p["schema"]["type"] != "string"
                    || p["schema"]["format"].is_string()
            });
            let at = format!("{method} {path}: {codes:?}");

            // A body is read, bounded and typed only where the operation takes one.
            for code in ["payload_too_large", "unsupported_media_type"] {
                assert_eq!(has(code), body, "{code} on {at}");
            }
            if body || parsed {
                assert!(has("invalid_request"), "invalid_request on {at}");
            }
            // Credentials are checked where the operation asks for them.
            assert_eq!(has("invalid_token"), !schemes.is_empty(), "invalid_token on {at}");
            // The cross-site guard stops unsafe methods carrying the session cookie, and links.
            let guarded = cookie && (method != "get" || path == "/auth/oidc/link");
            assert_eq!(has("cross_site_request"), guarded, "cross_site_request on {at}");
        }
    }
}
