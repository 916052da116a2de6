//! The admin API through the `TestClient`: who may use it (administrators only, every error a
//! problem document), users, and their links to external identities.

mod identities;
mod users;

use poem::http::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use codex_cloud_core::domain::User;
use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::{StoreBackend, TestApp};

/// An app with an administrator, logged in.
struct AdminApp {
    app: TestApp,
    admin: User,
    token: String,
}

impl AdminApp {
    async fn spawn() -> Self {
        Self::on(StoreBackend::Memory).await
    }

    async fn on(backend: StoreBackend) -> Self {
        let app = TestApp::builder().backend(backend).build().await;
        let admin = app.create_admin("root@example.com", PASSWORD).await;
        let token = app.token("root@example.com", PASSWORD).await;
        Self { app, admin, token }
    }

    async fn get(&self, path: &str) -> Reply {
        send(&self.app, Method::GET, path, Some(&self.token), &[], None).await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> Reply {
        send(&self.app, Method::POST, path, Some(&self.token), &[], body.as_ref()).await
    }

    async fn delete(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        send(&self.app, Method::DELETE, path, Some(&self.token), query, None).await
    }

    /// `GET /admin/users` with this query.
    async fn list(&self, query: &[(&str, &str)]) -> Reply {
        send(&self.app, Method::GET, "/admin/users", Some(&self.token), query, None).await
    }

    /// `POST /admin/users` with this body.
    async fn create(&self, body: Value) -> Reply {
        self.post("/admin/users", Some(body)).await
    }

    /// Creates a user with a password through the API; their id.
    async fn create_user(&self, email: &str) -> Uuid {
        let reply = self.create(json!({ "email": email, "password": PASSWORD })).await;
        assert_eq!(reply.status, 201, "create {email}: {}", reply.text());
        id_of(&reply.json())
    }
}

/// One request to the app, with a bearer token if given.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    query: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut request = app.client.request(method, path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in query {
        request = request.query(*name, value);
    }
    if let Some(body) = body {
        request = request.body_json(body);
    }
    Reply::read(request.send().await).await
}

/// The `id` of a user or identity view.
#[track_caller]
fn id_of(view: &Value) -> Uuid {
    let id = view["id"].as_str().unwrap_or_else(|| panic!("no id in {view}"));
    Uuid::parse_str(id).unwrap_or_else(|e| panic!("id {id:?} is not a UUID: {e}"))
}

/// The sorted keys of a JSON object.
#[track_caller]
fn keys(value: &Value) -> Vec<&str> {
    let object = value.as_object().unwrap_or_else(|| panic!("not an object: {value}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// One admin operation, with a query and body it would accept.
struct AdminRoute {
    method: Method,
    path: String,
    query: Vec<(&'static str, &'static str)>,
    body: Option<Value>,
}

impl AdminRoute {
    fn new(method: Method, path: String) -> Self {
        Self { method, path, query: Vec::new(), body: None }
    }

    async fn send(&self, app: &TestApp, token: Option<&str>) -> Reply {
        send(app, self.method.clone(), &self.path, token, &self.query, self.body.as_ref()).await
    }
}

/// Every admin operation, on `user` where it takes one.
fn every_admin_route(user: Uuid) -> Vec<AdminRoute> {
    let identities = format!("/admin/users/{user}/identities");
    let new_user = json!({ "email": "new@example.com", "password": PASSWORD, "is_admin": true });
    let link = json!({ "issuer": "https://op.example.com", "subject": "sub-1" });
    vec![
        AdminRoute::new(Method::GET, "/admin/users".to_owned()),
        AdminRoute { body: Some(new_user), ..AdminRoute::new(Method::POST, "/admin/users".into()) },
        AdminRoute::new(Method::GET, format!("/admin/users/{user}")),
        AdminRoute::new(Method::POST, format!("/admin/users/{user}/disable")),
        AdminRoute::new(Method::POST, format!("/admin/users/{user}/enable")),
        AdminRoute::new(Method::GET, identities.clone()),
        AdminRoute { body: Some(link), ..AdminRoute::new(Method::POST, identities.clone()) },
        AdminRoute {
            query: vec![("issuer", "https://op.example.com"), ("subject", "sub-1")],
            ..AdminRoute::new(Method::DELETE, identities)
        },
    ]
}

#[tokio::test]
async fn a_non_admin_token_is_403_forbidden_on_every_admin_route_and_changes_nothing() {
    let admin = AdminApp::spawn().await;
    let (user, token) = admin.app.user_with_token("ada@example.com").await;
    let identity = json!({ "issuer": "https://op.example.com", "subject": "sub-1" });
    let linked = admin.post(&format!("/admin/users/{}/identities", user.id), Some(identity)).await;
    assert_eq!(linked.status, 201, "{}", linked.text());

    for route in every_admin_route(user.id.as_uuid()) {
        let reply = route.send(&admin.app, Some(&token)).await;
        reply.assert_problem(403, "forbidden");
        assert!(reply.header("www-authenticate").is_none(), "{} {}", route.method, route.path);
    }

    let users = admin.list(&[]).await.json();
    assert_eq!(users.as_array().map(Vec::len), Some(2), "no user was created: {users}");
    let identities = admin.get(&format!("/admin/users/{}/identities", user.id)).await.json();
    assert_eq!(identities.as_array().map(Vec::len), Some(1), "nothing was unlinked");
    assert_eq!(admin.app.me(&token).await.0.status(), 200, "the user was not disabled");
}

#[tokio::test]
async fn without_a_token_every_admin_route_is_401_invalid_token() {
    let admin = AdminApp::spawn().await;
    for route in every_admin_route(admin.admin.id.as_uuid()) {
        for token in [None, Some("not-a-jwt")] {
            let reply = route.send(&admin.app, token).await;
            reply.assert_problem(401, "invalid_token");
            let (method, path) = (&route.method, &route.path);
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn an_administrator_created_through_the_api_may_use_the_admin_api() {
    let admin = AdminApp::spawn().await;
    let created = admin
        .create(json!({ "email": "second@example.com", "password": PASSWORD, "is_admin": true }))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["is_admin"], true);

    let token = admin.app.token("second@example.com", PASSWORD).await;

    let reply = send(&admin.app, Method::GET, "/admin/users", Some(&token), &[], None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
