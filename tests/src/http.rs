//! Reading responses of the `TestClient`: status, headers and body at once, JSON bodies, and the
//! checks every RFC 9457 problem response must pass.

use poem::http::{HeaderMap, StatusCode};
use poem::test::TestResponse;
use serde_json::Value;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// A response read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn read(response: TestResponse) -> Self {
        let (parts, body) = response.0.into_parts();
        let body = body.into_vec().await.expect("read the response body");
        Self { status: parts.status, headers: parts.headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When the body is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Asserts that this is a problem document with this status and `code`; returns it.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        let problem = self.assert_is_problem();
        assert_eq!(problem["code"], code, "unexpected code in {problem}");
        problem
    }

    /// Asserts that this is a well-formed problem document of any error status; returns it.
    #[track_caller]
    pub fn assert_is_problem(&self) -> Value {
        assert!(
            self.status.is_client_error() || self.status.is_server_error(),
            "not an error status: {}",
            self.status
        );
        assert_eq!(
            self.content_type(),
            PROBLEM_CONTENT_TYPE,
            "an error response must be a problem document; body: {}",
            self.text()
        );
        let problem = self.json();
        let code = problem["code"].as_str().unwrap_or_default();
        assert!(!code.is_empty(), "a problem needs a code: {problem}");
        assert_eq!(problem["status"], self.status.as_u16(), "status in {problem}");
        assert!(problem["title"].is_string(), "a problem needs a title: {problem}");
        assert_eq!(problem["type"], format!("urn:codex:problem:{code}"), "type of {problem}");
        problem
    }
}

/// The body of a response as JSON.
pub async fn json_body(response: TestResponse) -> Value {
    Reply::read(response).await.json()
}
