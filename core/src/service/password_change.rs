//! Change one's own password (throttled like a login); it ends the user's other sessions.

use std::net::IpAddr;

use crate::BoxError;
use crate::domain::{AuditEvent, AuditKind, AuditOutcome, Password, PasswordError};
use crate::ports::{RevokeScope, StoreError};
use crate::service::{Auth, Principal, throttle};

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password is wrong (or the account has none).
    #[error("the current password is wrong")]
    InvalidCredentials,
    #[error("too many failed attempts; try again in {} seconds", retry_after.whole_seconds())]
    Throttled { retry_after: time::Duration },
    /// Password hashing is saturated (the queue is full or the wait too long): nothing was
    /// checked or changed; try again after `retry_after`.
    #[error("the server is busy; try again in {} seconds", retry_after.as_secs())]
    Busy { retry_after: std::time::Duration },
    #[error(transparent)]
    InvalidPassword(#[from] PasswordError),
    #[error("{0}")]
    Internal(#[source] BoxError),
}

hasher_errors_into!(PasswordChangeError);

impl From<StoreError> for PasswordChangeError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

impl Auth {
    /// Checks the current password, sets the new one, and revokes every other session of the
    /// user (the caller's stays).
    ///
    /// # Errors
    /// `Throttled`, `InvalidCredentials`, `InvalidPassword`.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        client: Option<IpAddr>,
    ) -> Result<(), PasswordChangeError> {
        let now = self.clock.now();
        let user = &principal.user;
        let keys = throttle::keys(user.email.as_str(), client);
        let policy = &self.settings.throttle;
        let event =
            |kind, outcome| AuditEvent::new(kind, outcome, now).user(user.id).from_address(client);
        let attempt = match throttle::begin(&*self.throttles, policy, &keys, now).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                let throttled = event(AuditKind::LoginThrottled, AuditOutcome::Failure)
                    .detail("code", "too_many_attempts")
                    .detail("route", "password");
                self.audit.record(&throttled).await?;
                return Err(PasswordChangeError::Throttled { retry_after });
            }
        };
        let current = Password::candidate(current).ok();
        let hash = user.password_hash.as_ref();
        let matches = match &current {
            Some(current) => match self.hasher.verify(current, hash).await {
                Ok(matches) => matches,
                Err(error) => {
                    throttle::abandoned(&*self.throttles, attempt).await?;
                    return Err(error.into());
                }
            },
            None => false,
        };
        if !(matches && hash.is_some()) {
            let failed = event(AuditKind::PasswordChanged, AuditOutcome::Failure)
                .detail("code", "invalid_credentials");
            self.audit.record(&failed).await?;
            return Err(PasswordChangeError::InvalidCredentials);
        }
        throttle::succeeded(&*self.throttles, attempt).await?;
        let new = self.passwords.check(new, &user.email)?;
        let hash = self.hasher.hash(&new).await?;
        let changed = event(AuditKind::PasswordChanged, AuditOutcome::Success);
        let others = RevokeScope::User { user: user.id, except: Some(principal.session) };
        self.users.set_password_hash(user.id, &hash, now, Some(&others), Some(&changed)).await?;
        Ok(())
    }
}
