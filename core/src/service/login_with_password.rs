//! Log in with e-mail and password; start a session and issue an access token.

use std::net::IpAddr;

use uuid::Uuid;

use crate::BoxError;
use time::OffsetDateTime;

use crate::domain::{
    AccessTokenClaims, AuditEvent, AuditKind, AuditOutcome, Email, IssuedToken, OpaqueToken,
    Password, SealedIdToken, SecretString, Session, SessionId, SessionMethod, User, UserId,
};
use crate::ports::{NewSession, PasswordHasherError};
use crate::service::{Auth, both, throttle};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password, disabled user and identity-only user all look alike.
    #[error("invalid e-mail or password")]
    InvalidCredentials,
    /// Too many failures for this account or from this address: try again after the wait
    /// (whole seconds), the same for every account, known or not.
    #[error("too many failed attempts; try again in {} seconds", retry_after.whole_seconds())]
    Throttled { retry_after: time::Duration },
    /// Password hashing is saturated (the queue is full or the wait too long): nothing was
    /// checked or changed; try again after `retry_after`.
    #[error("the server is busy; try again in {} seconds", retry_after.as_secs())]
    Busy { retry_after: std::time::Duration },
    #[error("{0}")]
    Internal(#[source] BoxError),
}

hasher_errors_into!(LoginError);

/// The long-lived credential a new session hands out besides its access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A refresh token, for API clients (`POST /auth/refresh`).
    RefreshToken,
    /// The browser's session credential, kept in a cookie.
    Cookie,
}

/// What a password check found.
enum Checked {
    Accepted(User),
    /// Refused; the account's id when the address names one (for the audit trail only).
    Refused(Option<UserId>),
}

/// How a session starts: what proved the user, what the client keeps, where it came from.
#[derive(Clone, Debug)]
pub(crate) struct StartSession {
    pub method: SessionMethod,
    pub credential: Credential,
    pub address: Option<IpAddr>,
    /// The provider's ID token, kept sealed with a browser session for provider logout.
    pub id_token: Option<SecretString>,
}

/// A new session, its access token and its long-lived credential.
#[derive(Debug)]
pub struct LoginSuccess {
    pub user: User,
    pub session: SessionId,
    pub token: IssuedToken,
    pub refresh_token: Option<OpaqueToken>,
    pub cookie: Option<OpaqueToken>,
    /// When the session ends at the latest (its maximum age).
    pub session_expires_at: OffsetDateTime,
}

impl Auth {
    /// Checks the password (doing the same work whether or not the user exists) and, when it
    /// matches an enabled user, starts a session. Throttled per offered account and per client
    /// address: an attempt inside the delay is refused before any hashing.
    ///
    /// # Errors
    /// `Throttled`; `InvalidCredentials` for every other kind of refusal.
    pub async fn login_with_password(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<LoginSuccess, LoginError> {
        let internal = |e: crate::ports::StoreError| LoginError::Internal(e.0);
        let now = self.clock.now();
        let keys = throttle::keys(email, client);
        let policy = &self.settings.throttle;
        // Only a well-formed address is recorded: a password typed into the e-mail field is not.
        let offered = Email::parse(email).ok();
        let event = |kind, outcome, code: &str| {
            let mut event =
                AuditEvent::new(kind, outcome, now).from_address(client).detail("code", code);
            if let Some(email) = &offered {
                event = event.detail("email", email);
            }
            event
        };
        let attempt = match throttle::begin(&*self.throttles, policy, &keys, now)
            .await
            .map_err(internal)?
        {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                let throttled =
                    event(AuditKind::LoginThrottled, AuditOutcome::Failure, "too_many_attempts");
                self.audit.record(&throttled).await.map_err(internal)?;
                return Err(LoginError::Throttled { retry_after });
            }
        };
        let checked = match self.check_password(email, password).await {
            Ok(checked) => checked,
            Err(error) => {
                // Not the client's failure (a busy or broken hasher): the attempt is taken back.
                throttle::abandoned(&*self.throttles, attempt).await.map_err(internal)?;
                return Err(error);
            }
        };
        match checked {
            Checked::Accepted(user) => {
                throttle::succeeded(&*self.throttles, attempt).await.map_err(internal)?;
                let started = StartSession {
                    method: SessionMethod::Password,
                    credential: Credential::RefreshToken,
                    address: client,
                    id_token: None,
                };
                self.start_session(user, started).await.map_err(LoginError::Internal)
            }
            Checked::Refused(account) => {
                let mut failed =
                    event(AuditKind::LoginPassword, AuditOutcome::Failure, "invalid_credentials");
                failed.user_id = account;
                self.audit.record(&failed).await.map_err(internal)?;
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// The enabled user whose password this is, if any; replaces a hash made with weaker
    /// parameters than the hasher's.
    async fn check_password(&self, email: &str, password: &str) -> Result<Checked, LoginError> {
        let Ok(password) = Password::candidate(password) else {
            return Ok(Checked::Refused(None));
        };
        let user = match Email::parse(email) {
            Ok(email) => {
                self.users.user_by_email(&email).await.map_err(|e| LoginError::Internal(e.0))?
            }
            Err(_) => None,
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = self.hasher.verify(&password, hash.as_ref()).await?;
        let account = user.as_ref().map(|u| u.id);
        let (Some(user), Some(hash), true) = (user, hash, matches) else {
            return Ok(Checked::Refused(account));
        };
        if user.disabled {
            return Ok(Checked::Refused(account));
        }
        if self.hasher.needs_rehash(&hash) {
            // The password is right: a busy hasher postpones the upgrade to a later login
            // rather than refusing this one.
            let rehashed = match self.hasher.hash(&password).await {
                Ok(rehashed) => rehashed,
                Err(PasswordHasherError::Busy { .. }) => return Ok(Checked::Accepted(user)),
                Err(e) => return Err(e.into()),
            };
            let at = self.clock.now();
            self.users
                .set_password_hash(user.id, &rehashed, at, None, None)
                .await
                .map_err(|e| LoginError::Internal(e.0))?;
        }
        Ok(Checked::Accepted(user))
    }

    /// Starts a session for a user who has proved who they are, and signs its access token.
    pub(crate) async fn start_session(
        &self,
        user: User,
        start: StartSession,
    ) -> Result<LoginSuccess, BoxError> {
        let StartSession { method, credential, address, id_token } = start;
        let now = self.clock.now();
        let session = Session {
            id: SessionId::random(),
            user_id: user.id,
            method,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.sessions.max_age,
            revoked_at: None,
        };
        let secret = OpaqueToken::random()?;
        let (refresh_token, cookie) = match credential {
            Credential::RefreshToken => (Some(secret), None),
            Credential::Cookie => (None, Some(secret)),
        };
        let new = NewSession {
            session: session.clone(),
            refresh_token: refresh_token.as_ref().map(OpaqueToken::digest),
            cookie: cookie.as_ref().map(OpaqueToken::digest),
            // Only a browser session can end at the provider, and its cookie opens the seal.
            id_token: match (&cookie, &id_token) {
                (Some(cookie), Some(id_token)) => {
                    Some(SealedIdToken::seal(id_token, session.id, cookie.expose())?)
                }
                _ => None,
            },
        };
        let kind = match &session.method {
            SessionMethod::Password => AuditKind::LoginPassword,
            SessionMethod::Oidc { .. } => AuditKind::LoginOidc,
        };
        let mut event = AuditEvent::new(kind, AuditOutcome::Success, now)
            .user(user.id)
            .from_address(address)
            .detail("session", session.id);
        if let SessionMethod::Oidc { issuer, subject } = &session.method {
            event = event.detail("issuer", issuer).detail("subject", subject);
        }
        // The token is signed while the session is written (each takes a fraction of a
        // millisecond, on different threads); it is handed out only once the session is stored.
        let (stored, token) =
            both(self.sessions.start_session(&new, &event), self.access_token(&session, now)).await;
        stored.map_err(Box::new)?;
        let token = token?;
        let session_expires_at = session.expires_at;
        Ok(LoginSuccess {
            user,
            session: session.id,
            token,
            refresh_token,
            cookie,
            session_expires_at,
        })
    }

    /// A new access token of `session`: it never outlives the session's maximum age.
    pub(crate) async fn access_token(
        &self,
        session: &Session,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, BoxError> {
        let expires_at = (now + self.settings.access_token_ttl).min(session.expires_at);
        Ok(self
            .tokens
            .issue(&AccessTokenClaims {
                subject: session.user_id,
                session: session.id,
                issued_at: now,
                expires_at,
                token_id: Uuid::new_v4(),
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use crate::service::LoginError;
    use crate::service::fakes::{PASSWORD, SESSIONS, TTL, World};

    #[tokio::test]
    async fn a_right_password_starts_a_session_whose_token_lives_the_configured_ttl() {
        let w = World::new();
        let user = w.user("ada@example.com", Some(PASSWORD), false).await;

        let login = w.auth.login_with_password("ADA@example.com", PASSWORD, None).await.unwrap();

        assert_eq!(login.user.id, user.id);
        assert_eq!(login.token.expires_in(), TTL);
        assert!(login.refresh_token.is_some() && login.cookie.is_none());
        let session = w.store.session(login.session).unwrap();
        assert_eq!(session.user_id, user.id);
        assert_eq!(session.expires_at, session.created_at + SESSIONS.max_age);
    }

    #[tokio::test]
    async fn a_session_that_cannot_be_stored_gives_an_error_not_a_token() {
        let w = World::new();
        let user = w.user("ada@example.com", Some(PASSWORD), false).await;
        // A user the store does not know: the session's write fails while its token is signed.
        let ghost = crate::domain::User { id: crate::domain::UserId::new(), ..user };
        let start = super::StartSession {
            method: crate::domain::SessionMethod::Password,
            credential: super::Credential::RefreshToken,
            address: None,
            id_token: None,
        };

        let result = w.auth.start_session(ghost, start).await;

        assert!(result.is_err(), "{result:?}");
        assert_eq!(w.store.session_count(), 0);
    }

    #[tokio::test]
    async fn every_refusal_is_invalid_credentials_and_costs_one_verification() {
        let w = World::new();
        w.user("ada@example.com", Some(PASSWORD), false).await;
        let off = w.user("off@example.com", Some(PASSWORD), false).await;
        w.accounts.disable_user(&crate::service::Admin::operator(), off.id).await.unwrap();
        w.user("sso@example.com", None, false).await;

        for (email, password) in [
            ("ada@example.com", "wrong password"),
            ("nobody@example.com", PASSWORD),
            ("off@example.com", PASSWORD),
            ("sso@example.com", PASSWORD),
            ("not an address", PASSWORD),
        ] {
            let before = w.hasher.verifications.load(Ordering::SeqCst);
            let result = w.auth.login_with_password(email, password, None).await;
            assert!(matches!(result, Err(LoginError::InvalidCredentials)), "{email}: {result:?}");
            let after = w.hasher.verifications.load(Ordering::SeqCst);
            assert_eq!(after - before, 1, "{email}: the same work as a known user");
        }
    }

    #[tokio::test]
    async fn a_password_longer_than_the_bound_is_refused_without_hashing() {
        let w = World::new();
        let huge = "x".repeat(2000);

        let result = w.auth.login_with_password("ada@example.com", &huge, None).await;

        assert!(matches!(result, Err(LoginError::InvalidCredentials)));
        assert_eq!(w.hasher.verifications.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn after_five_failures_every_attempt_waits_the_doubling_delay_known_or_not() {
        use time::Duration;
        let w = World::new();
        w.user("ada@example.com", Some(PASSWORD), false).await;
        for email in ["ada@example.com", "nobody@example.com"] {
            for _ in 0..5 {
                let r = w.auth.login_with_password(email, "wrong password", None).await;
                assert!(matches!(r, Err(LoginError::InvalidCredentials)), "{r:?}");
            }
            let r = w.auth.login_with_password(email, PASSWORD, None).await;
            let Err(LoginError::Throttled { retry_after }) = r else { panic!("{email}: {r:?}") };
            assert_eq!(retry_after, Duration::seconds(30), "{email}");
        }
        let before = w.hasher.verifications.load(Ordering::SeqCst);
        let _ = w.auth.login_with_password("ada@example.com", PASSWORD, None).await;
        assert_eq!(
            w.hasher.verifications.load(Ordering::SeqCst),
            before,
            "no hashing inside the delay"
        );
        w.clock.advance(Duration::seconds(30));
        let wrong = w.auth.login_with_password("ada@example.com", "wrong again", None).await;
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
        let r = w.auth.login_with_password("ada@example.com", PASSWORD, None).await;
        assert!(
            matches!(r, Err(LoginError::Throttled { retry_after }) if retry_after == Duration::seconds(60))
        );
        w.clock.advance(Duration::seconds(60));
        w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap();
        for _ in 0..5 {
            let _ = w.auth.login_with_password("ada@example.com", "wrong", None).await;
        }
        assert!(
            matches!(
                w.auth.login_with_password("ada@example.com", PASSWORD, None).await,
                Err(LoginError::Throttled { .. })
            ),
            "a success reset the count: five more failures are free, then the delay again"
        );
    }

    #[tokio::test]
    async fn a_hash_made_with_weaker_parameters_is_replaced_at_the_next_login() {
        use crate::ports::UserStore as _;
        let w = World::new();
        let user = w.user("ada@example.com", Some(PASSWORD), false).await;
        let weak = crate::domain::PasswordHash::new(format!("weak:{PASSWORD}"));
        w.store
            .set_password_hash(user.id, &weak, super::OffsetDateTime::UNIX_EPOCH, None, None)
            .await
            .unwrap();

        w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap();

        let stored = w.store.user_by_id(user.id).await.unwrap().unwrap().password_hash.unwrap();
        assert_eq!(stored.as_str(), format!("plain:{PASSWORD}"));
    }

    #[tokio::test]
    async fn a_busy_hasher_postpones_the_upgrade_of_a_weak_hash_and_lets_the_login_through() {
        use crate::ports::UserStore as _;
        let w = World::new();
        let user = w.user("ada@example.com", Some(PASSWORD), false).await;
        let weak = crate::domain::PasswordHash::new(format!("weak:{PASSWORD}"));
        w.store
            .set_password_hash(user.id, &weak, super::OffsetDateTime::UNIX_EPOCH, None, None)
            .await
            .unwrap();
        w.hasher.busy_hashing.store(true, Ordering::SeqCst);

        w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap();

        let stored = w.store.user_by_id(user.id).await.unwrap().unwrap().password_hash.unwrap();
        assert_eq!(stored.as_str(), format!("weak:{PASSWORD}"), "upgraded at a later login");
        w.hasher.busy_hashing.store(false, Ordering::SeqCst);
        w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap();
        let stored = w.store.user_by_id(user.id).await.unwrap().unwrap().password_hash.unwrap();
        assert_eq!(stored.as_str(), format!("plain:{PASSWORD}"));
    }

    #[tokio::test]
    async fn the_audit_trail_records_failures_throttling_logins_refreshes_and_reuse() {
        use crate::domain::{AuditKind as K, AuditOutcome as O};
        let w = World::new();
        w.user("ada@example.com", Some(PASSWORD), false).await;
        for _ in 0..5 {
            let _ = w.auth.login_with_password("ada@example.com", "wrong", None).await;
        }
        let _ = w.auth.login_with_password("ada@example.com", PASSWORD, None).await;
        w.clock.advance(time::Duration::seconds(30));
        let login = w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap();
        let spent = login.refresh_token.unwrap();
        let next = w.auth.refresh(spent.expose(), None).await.unwrap();
        let _ = w.auth.refresh(spent.expose(), None).await;
        let principal = w.auth.authenticate_token(login.token.token.expose(), None).await;
        assert!(principal.is_err(), "the reuse ended the session");
        drop(next);

        let kinds = w.store.audit_kinds();
        let expected: Vec<(K, O)> = [(K::UserCreated, O::Success)]
            .into_iter()
            .chain(std::iter::repeat_n((K::LoginPassword, O::Failure), 5))
            .chain([
                (K::LoginThrottled, O::Failure),
                (K::LoginPassword, O::Success),
                (K::Refresh, O::Success),
                (K::RefreshReuseDetected, O::Failure),
            ])
            .collect();
        assert_eq!(kinds, expected);
    }
}
