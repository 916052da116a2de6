//! In-memory adapters for tests: an identity store with the same contract as the SeaORM one, and
//! a clock that moves only when told.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use codex_cloud_core::domain::{
    Email, ExternalIdentity, Issuer, NewExternalIdentity, NewUser, PendingLogin, Session,
    SessionId, StateDigest, Subject, User, UserId,
};
use codex_cloud_core::ports::{Clock, IdentityStore, StoreError};

/// A clock for tests: starts where told and moves only by `advance`.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock lock")
    }
}

#[derive(Default)]
struct State {
    users: Vec<User>,
    identities: Vec<ExternalIdentity>,
    sessions: HashMap<SessionId, Session>,
    pending: HashMap<StateDigest, PendingLogin>,
}

/// `IdentityStore` in a mutex: one lock per call, so every operation is atomic.
#[derive(Default)]
pub struct InMemoryIdentityStore {
    state: Mutex<State>,
}

impl InMemoryIdentityStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("store lock"))
    }
}

impl State {
    fn identity_mut(
        &mut self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Option<&mut ExternalIdentity> {
        self.identities.iter_mut().find(|i| i.issuer == *issuer && i.subject == *subject)
    }

    /// Adds a link of a user that must exist.
    fn insert_identity(
        &mut self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError> {
        if !self.users.iter().any(|u| u.id == identity.user_id) {
            return Err(StoreError::UnknownUser);
        }
        let identity = ExternalIdentity {
            id: Uuid::now_v7(),
            issuer: identity.issuer,
            subject: identity.subject,
            user_id: identity.user_id,
            email: identity.email,
            created_at: identity.created_at,
            updated_at: identity.created_at,
        };
        self.identities.push(identity.clone());
        Ok(identity)
    }
}

#[async_trait]
impl IdentityStore for InMemoryIdentityStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.with(|s| {
            if s.users.iter().any(|u| u.email == user.email) {
                return Err(StoreError::DuplicateEmail);
            }
            let user = User {
                id: user.id,
                email: user.email,
                password_hash: user.password_hash,
                is_admin: user.is_admin,
                disabled: false,
                created_at: user.created_at,
                updated_at: user.created_at,
            };
            s.users.push(user.clone());
            Ok(user)
        })
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.with(|s| s.users.iter().find(|u| u.id == id).cloned()))
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        Ok(self.with(|s| s.users.iter().find(|u| u.email == *email).cloned()))
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, StoreError> {
        let (offset, limit) = (usize::try_from(offset), usize::try_from(limit));
        let (offset, limit) = (offset.unwrap_or(usize::MAX), limit.unwrap_or(usize::MAX));
        Ok(self.with(|s| {
            let mut users = s.users.clone();
            users.sort_by_key(|u| (u.created_at, u.id));
            users.into_iter().skip(offset).take(limit).collect()
        }))
    }

    async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.with(|s| {
            let user = s.users.iter_mut().find(|u| u.id == id)?;
            user.disabled = disabled;
            user.updated_at = at;
            Some(user.clone())
        }))
    }

    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError> {
        self.with(|s| {
            if s.identity_mut(&identity.issuer, &identity.subject).is_some() {
                return Err(StoreError::IdentityAlreadyLinked);
            }
            s.insert_identity(identity)
        })
    }

    async fn upsert_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError> {
        self.with(|s| {
            if !s.users.iter().any(|u| u.id == identity.user_id) {
                return Err(StoreError::UnknownUser);
            }
            if let Some(existing) = s.identity_mut(&identity.issuer, &identity.subject) {
                existing.user_id = identity.user_id;
                existing.email = identity.email;
                existing.updated_at = identity.created_at;
                return Ok(existing.clone());
            }
            s.insert_identity(identity)
        })
    }

    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let before = s.identities.len();
            s.identities.retain(|i| !(i.issuer == *issuer && i.subject == *subject));
            s.identities.len() != before
        }))
    }

    async fn identities_of_user(&self, id: UserId) -> Result<Vec<ExternalIdentity>, StoreError> {
        Ok(self.with(|s| {
            let mut identities: Vec<_> =
                s.identities.iter().filter(|i| i.user_id == id).cloned().collect();
            identities.sort_by_key(|i| (i.created_at, i.id));
            identities
        }))
    }

    async fn user_by_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.with(|s| {
            let identity =
                s.identities.iter().find(|i| i.issuer == *issuer && i.subject == *subject)?;
            s.users.iter().find(|u| u.id == identity.user_id).cloned()
        }))
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.with(|s| {
            if !s.users.iter().any(|u| u.id == session.user_id) {
                return Err(StoreError::UnknownUser);
            }
            s.sessions.insert(session.id, session.clone());
            Ok(())
        })
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.with(|s| s.sessions.get(&id).cloned()))
    }

    async fn revoke_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(session) = s.sessions.get_mut(&id) {
                session.revoked_at.get_or_insert(at);
            }
        });
        Ok(())
    }

    async fn save_pending_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        self.with(|s| s.pending.insert(login.state.clone(), login.clone()));
        Ok(())
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        Ok(self.with(|s| s.pending.remove(state)))
    }

    async fn count_pending_logins(&self) -> Result<u64, StoreError> {
        Ok(self.with(|s| s.pending.len() as u64))
    }

    async fn purge_pending_logins(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let count = s.pending.len();
            s.pending.retain(|_, login| login.created_at >= before);
            (count - s.pending.len()) as u64
        }))
    }
}
