//! Identity stores that fail on purpose: `PingFailingStore` answers every call from an
//! `InMemoryIdentityStore` but reports the database unreachable on `ping`.

use async_trait::async_trait;
use time::OffsetDateTime;

use codex_cloud_adapters::memory::InMemoryIdentityStore;
use codex_cloud_core::domain::{
    Email, ExternalIdentity, Issuer, NewExternalIdentity, NewUser, PendingLogin, Session,
    SessionId, StateDigest, Subject, User, UserId,
};
use codex_cloud_core::ports::{IdentityStore, StoreError};

/// The message of the error `ping` returns.
pub const PING_FAILURE: &str = "connection refused (a test store that cannot be reached)";

/// An in-memory store whose `ping` fails: the database "is down" for readiness checks only.
#[derive(Default)]
pub struct PingFailingStore {
    inner: InMemoryIdentityStore,
}

impl PingFailingStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl IdentityStore for PingFailingStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Internal(PING_FAILURE.into()))
    }

    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.inner.create_user(user).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.inner.user_by_id(id).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(email).await
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, StoreError> {
        self.inner.list_users(offset, limit).await
    }

    async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        self.inner.set_user_disabled(id, disabled, at).await
    }

    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError> {
        self.inner.link_identity(identity).await
    }

    async fn upsert_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError> {
        self.inner.upsert_identity(identity).await
    }

    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<bool, StoreError> {
        self.inner.unlink_identity(issuer, subject).await
    }

    async fn identities_of_user(&self, id: UserId) -> Result<Vec<ExternalIdentity>, StoreError> {
        self.inner.identities_of_user(id).await
    }

    async fn user_by_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<Option<User>, StoreError> {
        self.inner.user_by_identity(issuer, subject).await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.inner.create_session(session).await
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        self.inner.session(id).await
    }

    async fn revoke_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.revoke_session(id, at).await
    }

    async fn save_pending_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        self.inner.save_pending_login(login).await
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        self.inner.take_pending_login(state).await
    }

    async fn count_pending_logins(&self) -> Result<u64, StoreError> {
        self.inner.count_pending_logins().await
    }

    async fn purge_pending_logins(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_pending_logins(before).await
    }
}
