//! Outbound HTTP to the provider: no redirects, connect and total timeouts, a body size cap.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, StatusCode};

/// Largest response body read from the provider.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("request failed: {0}")]
    Transport(String),
    #[error("the response is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// A response read to the end (within the cap).
#[derive(Debug)]
pub struct OutboundResponse {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// The HTTP client used for every request to the provider.
#[derive(Clone, Debug)]
pub struct OutboundHttp {
    client: Client,
}

impl OutboundHttp {
    /// # Errors
    /// When the TLS stack cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        Self::with_timeouts(Duration::from_secs(5), Duration::from_secs(10))
    }

    /// With other timeouts (for tests of slow providers).
    ///
    /// # Errors
    /// When the TLS stack cannot be initialised.
    pub fn with_timeouts(connect: Duration, total: Duration) -> Result<Self, reqwest::Error> {
        Self::build(connect, total, None)
    }

    /// With the product's timeouts, trusting the certificate authorities of `ca_pem` (a PEM
    /// bundle) besides the built-in roots.
    ///
    /// # Errors
    /// When the bundle holds no certificate or the TLS stack cannot be initialised.
    pub fn with_extra_roots(ca_pem: Option<&[u8]>) -> Result<Self, reqwest::Error> {
        Self::build(Duration::from_secs(5), Duration::from_secs(10), ca_pem)
    }

    fn build(
        connect: Duration,
        total: Duration,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, reqwest::Error> {
        let mut builder = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect)
            .timeout(total)
            .user_agent(concat!("codex-cloud-backend/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            for certificate in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        Ok(Self { client: builder.build()? })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends the request and reads at most `MAX_BODY_BYTES` of the body.
    ///
    /// # Errors
    /// Transport failures and timeouts, or an oversized body.
    pub async fn send(&self, request: RequestBuilder) -> Result<OutboundResponse, OutboundError> {
        let mut response =
            request.send().await.map_err(|e| OutboundError::Transport(describe(&e)))?;
        if response.content_length().is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return Err(OutboundError::TooLarge);
        }
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| OutboundError::Transport(describe(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse { status, body })
    }
}

/// A description without the URL's query (which may carry secrets).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "could not read the response"
    } else {
        "failed"
    };
    match error.url() {
        Some(url) => format!("{kind} ({}{})", url.origin().ascii_serialization(), url.path()),
        None => kind.to_owned(),
    }
}
