//! Login through the configured OpenID Connect provider: the redirect to the provider and the
//! callback that finishes the login.

use crate::http::json::Json;
use crate::http::problems::{CrossSiteRequest, OidcNotConfigured};
use codex_cloud_core::service::{
    AuthenticateError, BeginOidcLoginError, CompleteOidcLoginError, ProviderLogoutError,
    StartOidcLoginError,
};
use poem::web::cookie::{Cookie, CookieJar};
use poem_openapi::param::Query;
use poem_openapi::{ApiResponse, Object, OpenApi};

use codex_cloud_core::domain::{CallbackParams, SecretString};
use codex_cloud_core::service::{Auth, OidcCallback, OidcLogin};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::auth::TokenResponse;
use crate::http::error::ApiError;
use crate::http::middleware::ClientAddress;
use crate::http::security::{self, Credentials};

/// Binds a pending login to the browser that began it (public origin on http).
pub const STATE_COOKIE: &str = "codex_oidc_state";
/// Its name when the public origin is https.
pub const HOST_STATE_COOKIE: &str = "__Host-codex_oidc_state";

#[derive(ApiResponse)]
pub enum LoginRedirect {
    /// Go to the provider's authorization endpoint. Sets the `codex_oidc_state` cookie.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// Where to send the browser to begin a provider login.
#[derive(Debug, Object)]
pub struct AuthorizationUrl {
    /// The provider's authorization endpoint, with this login's parameters.
    pub authorization_url: String,
}

#[derive(ApiResponse)]
pub enum LinkStart {
    /// For a client that asks for JSON (`Accept: application/json` without `text/html`: a page's
    /// script, Swagger UI): where to send the browser. The `codex_oidc_state` cookie is set on
    /// this answer, so the browser that received it is the one to go there.
    #[oai(status = 200)]
    Url(Json<AuthorizationUrl>),
    /// Go to the provider's authorization endpoint (a browser's navigation, or any client that
    /// does not ask for JSON). Sets the `codex_oidc_state` cookie.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum CallbackResponse {
    /// Logged in: the same body as `POST /auth/login`, with a refresh token.
    #[oai(status = 200)]
    Token(Json<TokenResponse>),
    /// Logged in, and the login asked to return to a page: go there, with the session's
    /// credential in the HttpOnly `codex_session` cookie (it lives as long as the session). Or,
    /// for a login begun at `GET /auth/oidc/link`: the identity is linked to the signed-in
    /// user; go to `return_to` (default `/`), no new session.
    #[oai(status = 303)]
    SeeOther(#[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum LogoutRedirect {
    /// The Codex session (if any) has ended and its cookie is cleared: go to the provider's
    /// end-session endpoint (with `id_token_hint`, `client_id` and, when configured,
    /// `post_logout_redirect_uri`), or to `return_to` (default `/`) when the provider has none.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

error_set!(BeginOidcLoginProblem: OidcNotConfigured, BeginOidcLoginError);
error_set!(CompleteOidcLoginProblem: OidcNotConfigured, CompleteOidcLoginError);
error_set!(BeginOidcLinkProblem: OidcNotConfigured, CrossSiteRequest, AuthenticateError, StartOidcLoginError);
error_set!(OidcLogoutProblem: OidcNotConfigured, ProviderLogoutError);

pub struct OidcApi {
    pub auth: Auth,
    pub oidc: Option<OidcLogin>,
    /// Whether cookies get the `Secure` attribute (the redirect URI is https).
    pub secure_cookies: bool,
}

impl OidcApi {
    fn cookie(&self, name: &str, value: &str, max_age: time::Duration) -> Cookie {
        security::cookie(name, value, max_age, self.secure_cookies)
    }

    fn state_cookie(&self) -> &'static str {
        if self.secure_cookies { HOST_STATE_COOKIE } else { STATE_COOKIE }
    }
}

#[OpenApi(tag = "ApiTags::Oidc")]
impl OidcApi {
    /// Begin an OpenID Connect login
    ///
    /// Records a pending login and redirects the browser to the provider (authorization-code
    /// flow with PKCE). The `codex_oidc_state` cookie binds the login to this browser.
    #[oai(path = "/auth/oidc/login", method = "get", operation_id = "beginOidcLogin")]
    async fn begin(
        &self,
        /// Where to send the browser after login: a relative path starting with a single `/`.
        return_to: Query<Option<String>>,
        /// An invitation's token (from its URL): the identity that logs in is linked to the
        /// invited user, if it is linked to nobody.
        invitation: Query<Option<String>>,
        cookies: &CookieJar,
    ) -> Result<LoginRedirect, ApiError<BeginOidcLoginProblem>> {
        let start = self
            .oidc
            .as_ref()
            .ok_or(OidcNotConfigured)?
            .begin(return_to.0.as_deref(), ClientAddress::current(), invitation.0.as_deref())
            .await?;
        let max_age = codex_cloud_core::service::PENDING_LOGIN_MAX_AGE;
        cookies.add(self.cookie(self.state_cookie(), start.state.expose(), max_age));
        Ok(LoginRedirect::Found(start.authorization_url))
    }

    /// Finish an OpenID Connect login
    ///
    /// The provider redirects the browser here. The pending login is consumed whatever the
    /// outcome; on success a Codex session starts for the linked user.
    #[oai(path = "/auth/oidc/callback", method = "get", operation_id = "completeOidcLogin")]
    #[allow(clippy::too_many_arguments)]
    async fn callback(
        &self,
        state: Query<Option<String>>,
        code: Query<Option<String>>,
        error: Query<Option<String>>,
        error_description: Query<Option<String>>,
        /// RFC 9207 issuer identifier.
        iss: Query<Option<String>>,
        cookies: &CookieJar,
    ) -> Result<CallbackResponse, ApiError<CompleteOidcLoginProblem>> {
        let oidc = self.oidc.as_ref().ok_or(OidcNotConfigured)?;
        let browser_state = cookies.get(self.state_cookie()).map(|c| c.value_str().to_owned());
        cookies.add(self.cookie(self.state_cookie(), "", time::Duration::ZERO));
        let params = CallbackParams {
            state: state.0,
            code: code.0.map(SecretString::new),
            error: error.0,
            error_description: error_description.0,
            iss: iss.0,
        };
        let done = match oidc
            .complete(params, browser_state.as_deref(), ClientAddress::current())
            .await?
        {
            OidcCallback::LoggedIn(done) => done,
            OidcCallback::Linked { identity, return_to } => {
                crate::http::middleware::record_user(identity.user_id);
                return Ok(CallbackResponse::SeeOther(return_to.as_str().to_owned()));
            }
        };
        crate::http::middleware::record_user(done.login.user.id);
        let token = TokenResponse::from_login(&done.login);
        match done.return_to {
            None => Ok(CallbackResponse::Token(Json(token))),
            Some(return_to) => {
                let login = &done.login;
                let lifetime = login.session_expires_at - login.token.issued_at;
                let credential = login.cookie.as_ref().map(|c| c.expose()).unwrap_or_default();
                let name = security::session_cookie_name(self.secure_cookies);
                cookies.add(self.cookie(name, credential, lifetime));
                Ok(CallbackResponse::SeeOther(return_to.as_str().to_owned()))
            }
        }
    }

    /// Link another external identity to the caller
    ///
    /// Begins a provider login (like `GET /auth/oidc/login`, with `prompt=login` so the
    /// provider asks which account) whose identity, at the callback, is linked to the signed-in
    /// caller, whose session must still be live then: never to someone else's account (409
    /// `identity_already_linked` then), audited as `identity.linked`. The callback then sends the
    /// browser to `return_to` (default `/`); no new session starts.
    #[oai(path = "/auth/oidc/link", method = "get", operation_id = "beginOidcLink")]
    async fn link(
        &self,
        credentials: Credentials,
        /// Where to send the browser after linking: a relative path starting with a single `/`.
        return_to: Query<Option<String>>,
        cookies: &CookieJar,
        req: &poem::Request,
    ) -> Result<LinkStart, ApiError<BeginOidcLinkProblem>> {
        let oidc = self.oidc.as_ref().ok_or(OidcNotConfigured)?;
        let principal = credentials.authenticate(&self.auth).await?;
        let start =
            oidc.begin_link(&principal, return_to.0.as_deref(), ClientAddress::current()).await?;
        let max_age = codex_cloud_core::service::PENDING_LOGIN_MAX_AGE;
        cookies.add(self.cookie(self.state_cookie(), start.state.expose(), max_age));
        if asks_for_json(req) {
            return Ok(LinkStart::Url(Json(AuthorizationUrl {
                authorization_url: start.authorization_url,
            })));
        }
        Ok(LinkStart::Found(start.authorization_url))
    }

    /// Log out here and at the provider
    ///
    /// Ends the browser's Codex session (the session cookie; cleared) and redirects to the
    /// provider's `end_session_endpoint` (OpenID Connect RP-Initiated Logout) with
    /// `id_token_hint` (the ID token of the login that started the session, kept sealed with it),
    /// `client_id` and, when `CODEX_OIDC_POST_LOGOUT_REDIRECT_URI` is set,
    /// `post_logout_redirect_uri`. A provider without an end-session endpoint: to `return_to`.
    #[oai(path = "/auth/oidc/logout", method = "get", operation_id = "oidcLogout")]
    async fn logout(
        &self,
        /// Where to go when the provider has no end-session endpoint (default `/`).
        return_to: Query<Option<String>>,
        cookies: &CookieJar,
    ) -> Result<LogoutRedirect, ApiError<OidcLogoutProblem>> {
        let oidc = self.oidc.as_ref().ok_or(OidcNotConfigured)?;
        let name = security::session_cookie_name(self.secure_cookies);
        let cookie = cookies.get(name).map(|c| c.value_str().to_owned()).filter(|c| !c.is_empty());
        let principal = match &cookie {
            Some(cookie) => {
                match self.auth.authenticate_cookie(cookie, ClientAddress::current()).await {
                    Ok(principal) => Some(principal),
                    Err(AuthenticateError::InvalidToken) => None,
                    Err(AuthenticateError::Internal(e)) => {
                        return Err(ProviderLogoutError::Internal(e).into());
                    }
                }
            }
            None => None,
        };
        if let Some(principal) = &principal {
            crate::http::middleware::record_user(principal.user.id);
        }
        cookies.add(self.cookie(name, "", time::Duration::ZERO));
        let out = oidc
            .provider_logout(principal.as_ref(), cookie.as_deref(), return_to.0.as_deref())
            .await?;
        Ok(LogoutRedirect::Found(out.location))
    }
}

/// Whether the client asks for JSON rather than a page (`Accept` names `application/json` and
/// not `text/html`; a type with `q=0` is one it refuses).
fn asks_for_json(req: &poem::Request) -> bool {
    let accept = req.headers().get_all(poem::http::header::ACCEPT);
    let types: Vec<String> = accept
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|range| {
            let refused = |p: &str| {
                let p = p.trim().to_ascii_lowercase();
                p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            };
            !range.split(';').skip(1).any(refused)
        })
        .map(|t| t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .collect();
    types.iter().any(|t| t == "application/json") && !types.iter().any(|t| t == "text/html")
}
