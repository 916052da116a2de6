//! In-memory fakes of every port a use case needs, for the unit tests of the use cases: each
//! does the least that honours its port's contract.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::domain::{
    AccessTokenClaims, AuditEvent, AuditFilter, AuditKind, AuditOutcome, AuthorizationRequest,
    Email, ExternalIdentity, IdTokenRejection, Invitation, IssuedToken, Issuer,
    NewExternalIdentity, NewUser, Password, PasswordHash, PasswordPolicy, PendingLogin,
    ProviderKeys, ProviderTokens, SealedIdToken, SecretString, Session, SessionId, SessionMethod,
    SessionPolicy, StateDigest, Subject, ThrottleKey, ThrottlePolicy, ThrottleRecord, TokenDigest,
    User, UserId, VerifiedIdentity,
};
use crate::ports::{
    AuditLog, Clock, DisableOutcome, IdentityLinkStore, InvitationStore, InvitationStoreError,
    KeyProvider, KeyProviderError, LinkStoreError, NewSession, OidcProvider, OidcProviderError,
    OwnUnlink, PasswordBlocklist, PasswordHasher, PasswordHasherError, PendingLoginLimit,
    PendingLoginStore, PendingLoginStoreError, ProviderStatus, RedeemError, RefreshOutcome,
    RefreshTokenStore, RevokeScope, SessionStore, SessionStoreError, StoreError, ThrottleStore,
    TokenIssuer, TokenIssuerError, UserStore, UserStoreError,
};
use crate::service::{
    Accounts, Admin, Auth, AuthPorts, AuthSettings, CreateUser, IdentityLinks, Invitations,
    OidcLogin, OidcLoginPorts, PasswordRules,
};

pub const T0: OffsetDateTime = time::macros::datetime!(2030-01-01 00:00:00 UTC);
pub const TTL: Duration = Duration::minutes(15);
pub const PASSWORD: &str = "correct horse battery staple";
pub const ISSUER: &str = "https://op.example.com";
pub const SESSIONS: SessionPolicy =
    SessionPolicy { idle_timeout: Duration::hours(24), max_age: Duration::days(14) };
pub const THROTTLE: ThrottlePolicy = ThrottlePolicy {
    free_failures: 5,
    delay: Duration::seconds(30),
    max_delay: Duration::seconds(3600),
    address_failures: 100,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct FakeClock(Mutex<OffsetDateTime>);

impl FakeClock {
    pub fn advance(&self, by: Duration) {
        *lock(&self.0) += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        *lock(&self.0)
    }
}

/// Hashes are `plain:<password>`; counts verifications, so tests see the work done.
#[derive(Default)]
pub struct FakeHasher {
    pub verifications: AtomicU32,
    /// While set, new hashes are refused as `Busy` (verifications still run).
    pub busy_hashing: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHasherError> {
        if self.busy_hashing.load(Ordering::SeqCst) {
            return Err(PasswordHasherError::Busy {
                retry_after: std::time::Duration::from_secs(5),
            });
        }
        Ok(PasswordHash::new(format!("plain:{}", password.expose())))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PasswordHasherError> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        let plain = format!("plain:{}", password.expose());
        let weak = format!("weak:{}", password.expose());
        Ok(hash.is_some_and(|h| h.as_str() == plain || h.as_str() == weak))
    }

    /// `weak:` hashes stand for hashes made with weaker parameters.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        hash.as_str().starts_with("weak:")
    }
}

/// Knows a handful of common passwords.
pub struct FakeBlocklist;

impl PasswordBlocklist for FakeBlocklist {
    fn is_common(&self, password: &str) -> bool {
        ["password1234", "123456789012"].contains(&password.to_lowercase().as_str())
    }
}

#[async_trait]
impl ThrottleStore for FakeStore {
    async fn throttle_records(
        &self,
        keys: &[ThrottleKey],
    ) -> Result<Vec<Option<ThrottleRecord>>, StoreError> {
        let state = lock(&self.0);
        Ok(keys.iter().map(|k| state.throttles.get(&k.as_key()).copied()).collect())
    }

    async fn swap_throttle(
        &self,
        key: &ThrottleKey,
        expected: Option<&ThrottleRecord>,
        next: Option<&ThrottleRecord>,
    ) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        if state.throttles.get(&key.as_key()) != expected {
            return Ok(false);
        }
        match next {
            Some(next) => state.throttles.insert(key.as_key(), *next),
            None => state.throttles.remove(&key.as_key()),
        };
        Ok(true)
    }

    async fn forgive_attempt(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        if let Some(record) = lock(&self.0).throttles.get_mut(&key.as_key()) {
            record.failures = record.failures.saturating_sub(1);
        }
        Ok(())
    }

    async fn clear_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        lock(&self.0).throttles.remove(&key.as_key());
        Ok(())
    }

    async fn purge_throttles(
        &self,
        before: OffsetDateTime,
        _batch: u64,
    ) -> Result<u64, StoreError> {
        let mut state = lock(&self.0);
        let count = state.throttles.len();
        state.throttles.retain(|_, r| r.last_failure_at >= before);
        Ok((count - state.throttles.len()) as u64)
    }
}

/// Tokens are opaque numbers; the fake remembers their claims and checks nothing else, so the
/// session rules of the use cases are what refuses a token.
#[derive(Default)]
pub struct FakeTokens(Mutex<Vec<AccessTokenClaims>>);

impl FakeTokens {
    /// A token with these claims, as if this deployment had signed it.
    pub fn forge(&self, claims: AccessTokenClaims) -> String {
        let mut issued = lock(&self.0);
        issued.push(claims);
        format!("token-{}", issued.len() - 1)
    }
}

#[async_trait::async_trait]
impl TokenIssuer for FakeTokens {
    async fn issue(&self, claims: &AccessTokenClaims) -> Result<IssuedToken, TokenIssuerError> {
        let mut issued = lock(&self.0);
        issued.push(claims.clone());
        Ok(IssuedToken {
            token: SecretString::new(format!("token-{}", issued.len() - 1)),
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
        })
    }

    async fn verify(
        &self,
        token: &str,
        _now: OffsetDateTime,
    ) -> Result<AccessTokenClaims, TokenIssuerError> {
        let index: usize = token
            .strip_prefix("token-")
            .and_then(|n| n.parse().ok())
            .ok_or(TokenIssuerError::Invalid)?;
        lock(&self.0).get(index).cloned().ok_or(TokenIssuerError::Invalid)
    }

    fn published_keys(&self, _now: OffsetDateTime) -> Vec<crate::domain::PublishedKey> {
        Vec::new()
    }
}

#[derive(Default)]
struct State {
    users: Vec<User>,
    links: Vec<ExternalIdentity>,
    sessions: HashMap<SessionId, Session>,
    cookies: HashMap<TokenDigest, SessionId>,
    refresh: HashMap<TokenDigest, (SessionId, bool)>,
    pending: HashMap<StateDigest, PendingLogin>,
    invitations: Vec<Invitation>,
    id_tokens: HashMap<SessionId, SealedIdToken>,
    throttles: HashMap<String, ThrottleRecord>,
    audit: Vec<AuditEvent>,
}

#[derive(Default)]
pub struct FakeStore(Mutex<State>);

impl FakeStore {
    fn set_disabled(&self, id: UserId, disabled: bool) -> Option<User> {
        let mut state = lock(&self.0);
        let user = state.users.iter_mut().find(|u| u.id == id)?;
        user.disabled = disabled;
        Some(user.clone())
    }

    pub fn session(&self, id: SessionId) -> Option<Session> {
        lock(&self.0).sessions.get(&id).cloned()
    }

    pub fn session_count(&self) -> usize {
        lock(&self.0).sessions.len()
    }

    pub fn pending_count(&self) -> usize {
        lock(&self.0).pending.len()
    }
}

#[async_trait]
impl UserStore for FakeStore {
    async fn create_user(&self, user: NewUser, audit: &AuditEvent) -> Result<User, UserStoreError> {
        lock(&self.0).audit.push(audit.clone());
        let mut state = lock(&self.0);
        if state.users.iter().any(|u| u.email == user.email) {
            return Err(UserStoreError::DuplicateEmail);
        }
        if state.users.iter().any(|u| u.id == user.id) {
            return Err(UserStoreError::DuplicateId);
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
        state.users.push(user.clone());
        Ok(user)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(lock(&self.0).users.iter().find(|u| u.id == id).cloned())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        Ok(lock(&self.0).users.iter().find(|u| u.email == *email).cloned())
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, StoreError> {
        let users = lock(&self.0).users.clone();
        Ok(users.into_iter().skip(offset as usize).take(limit as usize).collect())
    }

    async fn disable_user(
        &self,
        id: UserId,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<DisableOutcome, StoreError> {
        lock(&self.0).audit.push(audit.clone());
        {
            let state = lock(&self.0);
            let admins = state.users.iter().filter(|u| u.is_admin && !u.disabled).count();
            let target = state.users.iter().find(|u| u.id == id);
            if target.is_some_and(|u| u.is_admin && !u.disabled) && admins <= 1 {
                return Ok(DisableOutcome::LastAdmin);
            }
        }
        let Some(user) = self.set_disabled(id, true) else {
            return Ok(DisableOutcome::UnknownUser);
        };
        self.revoke_sessions(&RevokeScope::User { user: id, except: None }, at, None).await?;
        Ok(DisableOutcome::Disabled(user))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        at: OffsetDateTime,
        revoke: Option<&RevokeScope>,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let found = {
            let mut state = lock(&self.0);
            state.audit.extend(audit.cloned());
            let user = state.users.iter_mut().find(|u| u.id == id);
            user.map(|u| u.password_hash = Some(hash.clone())).is_some()
        };
        if let (true, Some(scope)) = (found, revoke) {
            self.revoke_sessions(scope, at, None).await?;
        }
        Ok(found)
    }

    async fn enable_user(
        &self,
        id: UserId,
        _: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        lock(&self.0).audit.push(audit.clone());
        Ok(self.set_disabled(id, false))
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        let before = state.users.len();
        state.users.retain(|u| u.id != id);
        state.links.retain(|l| l.user_id != id);
        state.sessions.retain(|_, s| s.user_id != id);
        Ok(state.users.len() != before)
    }
}

#[async_trait]
impl SessionStore for FakeStore {
    async fn start_session(
        &self,
        new: &NewSession,
        audit: &AuditEvent,
    ) -> Result<(), SessionStoreError> {
        let mut state = lock(&self.0);
        state.audit.push(audit.clone());
        let session = &new.session;
        if !state.users.iter().any(|u| u.id == session.user_id) {
            return Err(SessionStoreError::UnknownUser);
        }
        if state.sessions.insert(session.id, session.clone()).is_some() {
            return Err(SessionStoreError::DuplicateId);
        }
        if let Some(cookie) = &new.cookie {
            state.cookies.insert(cookie.clone(), session.id);
        }
        if let Some(id_token) = &new.id_token {
            state.id_tokens.insert(session.id, id_token.clone());
        }
        if let Some(refresh) = &new.refresh_token {
            state.refresh.insert(refresh.clone(), (session.id, false));
        }
        Ok(())
    }

    async fn sealed_id_token(&self, id: SessionId) -> Result<Option<SealedIdToken>, StoreError> {
        Ok(lock(&self.0).id_tokens.get(&id).cloned())
    }

    async fn session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let state = lock(&self.0);
        let Some(session) = state.sessions.get(&id) else { return Ok(None) };
        let user = state.users.iter().find(|u| u.id == session.user_id);
        Ok(user.map(|user| (session.clone(), user.clone())))
    }

    async fn session_by_cookie(
        &self,
        cookie: &TokenDigest,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let id = lock(&self.0).cookies.get(cookie).copied();
        match id {
            Some(id) => self.session_with_user(id).await,
            None => Ok(None),
        }
    }

    async fn touch_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError> {
        if let Some(session) = lock(&self.0).sessions.get_mut(&id) {
            session.last_used_at = at;
        }
        Ok(())
    }

    async fn sessions_of_user(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let state = lock(&self.0);
        let mut sessions: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.revoked_at.is_none())
            .cloned()
            .collect();
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions)
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        state.audit.extend(audit.cloned());
        let Some(session) = state.sessions.get_mut(&id) else { return Ok(false) };
        let live = session.revoked_at.is_none();
        session.revoked_at.get_or_insert(at);
        Ok(live)
    }

    async fn revoke_sessions(
        &self,
        scope: &RevokeScope,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<u64, StoreError> {
        let mut state = lock(&self.0);
        state.audit.extend(audit.cloned());
        let mut count = 0;
        for session in state.sessions.values_mut() {
            let in_scope = match scope {
                RevokeScope::User { user, except } => {
                    session.user_id == *user && Some(session.id) != *except
                }
                RevokeScope::Identity { issuer, subject } => matches!(
                    &session.method,
                    SessionMethod::Oidc { issuer: i, subject: s } if i == issuer && s == subject
                ),
            };
            if in_scope && session.revoked_at.is_none() {
                session.revoked_at = Some(at);
                count += 1;
            }
        }
        Ok(count)
    }

    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        _batch: u64,
    ) -> Result<u64, StoreError> {
        let mut state = lock(&self.0);
        let count = state.sessions.len();
        state.sessions.retain(|_, s| {
            s.expires_at > now && s.revoked_at.is_none() && s.last_used_at > idle_cutoff
        });
        Ok((count - state.sessions.len()) as u64)
    }
}

#[async_trait]
impl RefreshTokenStore for FakeStore {
    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        at: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut state = lock(&self.0);
        let Some((session, spent)) = state.refresh.get(presented).copied() else {
            return Ok(RefreshOutcome::Unknown);
        };
        if spent {
            return Ok(RefreshOutcome::Reused(session));
        }
        let live = state.sessions.get(&session).is_some_and(|s| {
            s.revoked_at.is_none() && s.expires_at > at && s.last_used_at > idle_cutoff
        });
        if !live {
            return Ok(RefreshOutcome::SessionEnded);
        }
        state.refresh.insert(presented.clone(), (session, true));
        state.refresh.insert(next.clone(), (session, false));
        state.audit.push(audit.clone());
        Ok(RefreshOutcome::Rotated(session))
    }
}

#[async_trait]
impl IdentityLinkStore for FakeStore {
    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        let mut state = lock(&self.0);
        state.audit.push(audit.clone());
        if !state.users.iter().any(|u| u.id == identity.user_id) {
            return Err(LinkStoreError::UnknownUser);
        }
        if state.links.iter().any(|l| l.issuer == identity.issuer && l.subject == identity.subject)
        {
            return Err(LinkStoreError::AlreadyLinked);
        }
        let link = ExternalIdentity {
            id: uuid::Uuid::new_v4(),
            issuer: identity.issuer,
            subject: identity.subject,
            user_id: identity.user_id,
            email: identity.email,
            created_at: identity.created_at,
            updated_at: identity.created_at,
        };
        state.links.push(link.clone());
        Ok(link)
    }

    async fn link_or_update_identity(
        &self,
        identity: NewExternalIdentity,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        let (issuer, subject) = (identity.issuer.clone(), identity.subject.clone());
        lock(&self.0).links.retain(|l| !(l.issuer == issuer && l.subject == subject));
        self.link_identity(identity, audit).await
    }

    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        state.audit.push(audit.clone());
        let before = state.links.len();
        state.links.retain(|l| !(l.issuer == *issuer && l.subject == *subject));
        Ok(state.links.len() != before)
    }

    async fn unlink_identity_of(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        state.audit.push(audit.clone());
        let before = state.links.len();
        state
            .links
            .retain(|l| !(l.issuer == *issuer && l.subject == *subject && l.user_id == user));
        Ok(state.links.len() != before)
    }

    async fn unlink_own_identity(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<OwnUnlink, StoreError> {
        let mut state = lock(&self.0);
        let mine = |l: &ExternalIdentity| l.user_id == user;
        let Some(at) = state
            .links
            .iter()
            .position(|l| mine(l) && l.issuer == *issuer && l.subject == *subject)
        else {
            return Ok(OwnUnlink::NotLinked);
        };
        let others = state.links.iter().filter(|l| mine(l)).count() - 1;
        let password = state.users.iter().any(|u| u.id == user && u.password_hash.is_some());
        if others == 0 && !password {
            return Ok(OwnUnlink::LastLoginMethod);
        }
        let removed = state.links.remove(at);
        let mut revoked = 0;
        for session in state.sessions.values_mut() {
            let through = matches!(&session.method, SessionMethod::Oidc { issuer, subject }
                if *issuer == removed.issuer && *subject == removed.subject);
            if through && session.revoked_at.is_none() {
                session.revoked_at = Some(audit.occurred_at);
                revoked += 1;
            }
        }
        state.audit.push(audit.clone().detail("sessions_revoked", revoked));
        Ok(OwnUnlink::Removed)
    }

    async fn identities_of_user(&self, id: UserId) -> Result<Vec<ExternalIdentity>, StoreError> {
        Ok(lock(&self.0).links.iter().filter(|l| l.user_id == id).cloned().collect())
    }

    async fn user_by_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<Option<User>, StoreError> {
        let state = lock(&self.0);
        let link = state.links.iter().find(|l| l.issuer == *issuer && l.subject == *subject);
        Ok(link.and_then(|l| state.users.iter().find(|u| u.id == l.user_id).cloned()))
    }
}

#[async_trait]
impl InvitationStore for FakeStore {
    async fn create_invitation(
        &self,
        invitation: &Invitation,
        audit: &AuditEvent,
    ) -> Result<(), InvitationStoreError> {
        let mut state = lock(&self.0);
        if !state.users.iter().any(|u| u.id == invitation.user_id) {
            return Err(InvitationStoreError::UnknownUser);
        }
        state.invitations.push(invitation.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn invitations_of_user(&self, user: UserId) -> Result<Vec<Invitation>, StoreError> {
        let state = lock(&self.0);
        Ok(state.invitations.iter().rev().filter(|i| i.user_id == user).cloned().collect())
    }

    async fn invitation_by_token(
        &self,
        token: &TokenDigest,
    ) -> Result<Option<Invitation>, StoreError> {
        Ok(lock(&self.0).invitations.iter().find(|i| i.token == *token).cloned())
    }

    async fn revoke_invitation(
        &self,
        id: uuid::Uuid,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        let before = state.invitations.len();
        state.invitations.retain(|i| i.id != id);
        let removed = state.invitations.len() != before;
        if removed {
            state.audit.push(audit.clone());
        }
        Ok(removed)
    }

    async fn redeem_invitation(
        &self,
        id: uuid::Uuid,
        identity: &VerifiedIdentity,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, RedeemError> {
        let mut state = lock(&self.0);
        let invitation = state
            .invitations
            .iter()
            .find(|i| i.id == id && i.spent_at.is_none() && at < i.expires_at)
            .cloned()
            .ok_or(RedeemError::InvalidInvitation)?;
        if !state.users.iter().any(|u| u.id == invitation.user_id && !u.disabled) {
            return Err(RedeemError::InvalidInvitation);
        }
        let existing = state
            .links
            .iter()
            .find(|l| l.issuer == identity.issuer && l.subject == identity.subject)
            .cloned();
        let link = match existing {
            Some(link) if link.user_id != invitation.user_id => {
                return Err(RedeemError::AlreadyLinked);
            }
            Some(link) => link,
            None => {
                let link = ExternalIdentity {
                    id: uuid::Uuid::new_v4(),
                    issuer: identity.issuer.clone(),
                    subject: identity.subject.clone(),
                    user_id: invitation.user_id,
                    email: identity.email.clone(),
                    created_at: at,
                    updated_at: at,
                };
                state.links.push(link.clone());
                state.audit.push(audit.clone().user(invitation.user_id));
                link
            }
        };
        if let Some(spent) = state.invitations.iter_mut().find(|i| i.id == id) {
            spent.spent_at = Some(at);
        }
        Ok(link)
    }
}

#[async_trait]
impl PendingLoginStore for FakeStore {
    async fn save_pending_login(
        &self,
        login: &PendingLogin,
        limit: PendingLoginLimit,
    ) -> Result<(), PendingLoginStoreError> {
        let mut state = lock(&self.0);
        if limit.is_reached_by(&login.client_key, state.pending.values()) {
            return Err(PendingLoginStoreError::LimitReached);
        }
        if state.pending.contains_key(&login.state) {
            return Err(PendingLoginStoreError::DuplicateState);
        }
        state.pending.insert(login.state.clone(), login.clone());
        Ok(())
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        Ok(lock(&self.0).pending.remove(state))
    }

    async fn purge_pending_logins(
        &self,
        before: OffsetDateTime,
        _batch: u64,
    ) -> Result<u64, StoreError> {
        let mut state = lock(&self.0);
        let count = state.pending.len();
        state.pending.retain(|_, l| l.created_at >= before);
        Ok((count - state.pending.len()) as u64)
    }
}

#[async_trait]
impl AuditLog for FakeStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        lock(&self.0).audit.push(event.clone());
        Ok(())
    }

    async fn audit_events(
        &self,
        _filter: &AuditFilter,
        _offset: u64,
        _limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(lock(&self.0).audit.iter().rev().cloned().collect())
    }

    async fn purge_audit_events(
        &self,
        _before: OffsetDateTime,
        _batch: u64,
    ) -> Result<u64, StoreError> {
        Ok(0)
    }
}

impl FakeStore {
    /// The kinds and outcomes recorded so far, oldest first.
    pub fn audit_kinds(&self) -> Vec<(AuditKind, AuditOutcome)> {
        lock(&self.0).audit.iter().map(|e| (e.kind, e.outcome)).collect()
    }
}

/// A provider whose every login asserts `subject`; states are numbered.
pub struct FakeProvider {
    issuer: Issuer,
    pub subject: Mutex<String>,
    begun: AtomicU32,
}

#[async_trait]
impl OidcProvider for FakeProvider {
    fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    fn status(&self) -> ProviderStatus {
        ProviderStatus::Ready
    }

    async fn requires_iss(&self) -> Result<bool, OidcProviderError> {
        Ok(true)
    }

    async fn authorization_request(
        &self,
        _force_login: bool,
    ) -> Result<AuthorizationRequest, OidcProviderError> {
        let n = self.begun.fetch_add(1, Ordering::SeqCst);
        Ok(AuthorizationRequest {
            url: format!("{ISSUER}/authorize?state=state-{n}"),
            state: SecretString::new(format!("state-{n}")),
            nonce: SecretString::new(format!("nonce-{n}")),
            pkce_verifier: SecretString::new(format!("verifier-{n}")),
        })
    }

    async fn exchange_code(
        &self,
        code: &SecretString,
        _verifier: &SecretString,
    ) -> Result<ProviderTokens, OidcProviderError> {
        Ok(ProviderTokens { id_token: code.clone(), access_token: code.clone() })
    }

    async fn end_session_url(
        &self,
        id_token_hint: Option<&SecretString>,
    ) -> Result<Option<String>, OidcProviderError> {
        let hint = id_token_hint.map(SecretString::expose).unwrap_or("none");
        Ok(Some(format!("{ISSUER}/logout?id_token_hint={hint}")))
    }

    fn verify_id_token(
        &self,
        _tokens: &ProviderTokens,
        _nonce: &SecretString,
        _keys: &ProviderKeys,
        _now: OffsetDateTime,
    ) -> Result<VerifiedIdentity, IdTokenRejection> {
        let subject = lock(&self.subject).clone();
        Ok(VerifiedIdentity {
            issuer: self.issuer.clone(),
            subject: Subject::new(subject).map_err(|e| IdTokenRejection::Invalid(e.to_string()))?,
            email: None,
        })
    }
}

pub struct FakeKeys;

#[async_trait]
impl KeyProvider for FakeKeys {
    async fn keys(&self) -> Result<ProviderKeys, KeyProviderError> {
        Ok(ProviderKeys::default())
    }

    async fn keys_after_unknown_kid(&self) -> Result<ProviderKeys, KeyProviderError> {
        Ok(ProviderKeys::default())
    }
}

/// Every service over one set of fakes.
pub struct World {
    pub store: Arc<FakeStore>,
    pub clock: Arc<FakeClock>,
    pub hasher: Arc<FakeHasher>,
    pub tokens: Arc<FakeTokens>,
    pub provider: Arc<FakeProvider>,
    pub auth: Auth,
    pub accounts: Accounts,
    pub links: IdentityLinks,
    pub oidc: OidcLogin,
    pub invitations: Invitations,
}

impl World {
    pub fn new() -> Self {
        let store = Arc::new(FakeStore::default());
        let clock = Arc::new(FakeClock(Mutex::new(T0)));
        let hasher = Arc::new(FakeHasher::default());
        let provider = Arc::new(FakeProvider {
            issuer: Issuer::new(ISSUER).unwrap_or_else(|e| panic!("{e}")),
            subject: Mutex::new("subject-1".to_owned()),
            begun: AtomicU32::new(0),
        });
        let tokens = Arc::new(FakeTokens::default());
        let passwords = PasswordRules {
            policy: PasswordPolicy { min_chars: 12 },
            blocklist: Arc::new(FakeBlocklist),
        };
        let ports = AuthPorts {
            users: store.clone(),
            sessions: store.clone(),
            refresh_tokens: store.clone(),
            throttles: store.clone(),
            audit: store.clone(),
            hasher: hasher.clone(),
            passwords,
            tokens: tokens.clone(),
            clock: clock.clone(),
        };
        let settings =
            AuthSettings { access_token_ttl: TTL, sessions: SESSIONS, throttle: THROTTLE };
        let auth = Auth::new(ports.clone(), settings);
        let accounts = Accounts::new(&ports);
        let links = IdentityLinks::new(store.clone(), store.clone(), clock.clone());
        let ports = OidcLoginPorts {
            audit: store.clone(),
            pending: store.clone(),
            invitations: store.clone(),
            links: store.clone(),
            provider: provider.clone(),
            keys: Arc::new(FakeKeys),
            clock: clock.clone(),
        };
        let oidc = OidcLogin::new(auth.clone(), ports);
        let invitations = Invitations::new(
            store.clone(),
            store.clone(),
            clock.clone(),
            Duration::days(7),
            "https://codex.example/",
        );
        Self { store, clock, hasher, tokens, provider, auth, accounts, links, oidc, invitations }
    }

    pub async fn user(&self, email: &str, password: Option<&str>, is_admin: bool) -> User {
        let request = CreateUser { email, password, is_admin };
        self.accounts
            .create_user(&Admin::operator(), request)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}
