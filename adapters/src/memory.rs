//! In-memory adapters for tests: a store with the same contracts as the SeaORM one, a clock that
//! moves only when told, and a fast password hasher for tests that are not about hashing.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use uuid::Uuid;

use codex_cloud_core::domain::{
    AuditEvent, AuditFilter, Email, ExternalIdentity, Invitation, Issuer, NewExternalIdentity,
    NewUser, Password, PasswordHash, PendingLogin, SealedIdToken, Session, SessionId,
    SessionMethod, StateDigest, StoredSigningKey, Subject, ThrottleKey, ThrottleRecord,
    TokenDigest, User, UserId, VerifiedIdentity,
};
use codex_cloud_core::ports::{
    AuditLog, Clock, DisableOutcome, IdentityLinkStore, InvitationStore, InvitationStoreError,
    LinkStoreError, NewSession, OwnUnlink, PasswordHasher, PasswordHasherError, PendingLoginLimit,
    PendingLoginStore, PendingLoginStoreError, Readiness, RedeemError, RefreshOutcome,
    RefreshTokenStore, RevokeScope, SessionStore, SessionStoreError, SigningKeyStore, StoreError,
    ThrottleStore, UserStore, UserStoreError,
};

use crate::sync::lock;

/// A clock for tests: starts where told and moves only by `advance`.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: time::Duration) {
        *lock(&self.0) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *lock(&self.0)
    }
}

/// A password hasher for tests that are not about hashing: salted SHA-256, no work factor.
/// Never for production: it makes guessing passwords cheap.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastTestPasswordHasher;

const FAST_PREFIX: &str = "$test-sha256$";

fn fast_digest(salt: &str, password: &str) -> String {
    let digest = Sha256::digest(format!("{salt}:{password}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl PasswordHasher for FastTestPasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHasherError> {
        let salt = Uuid::new_v4().simple().to_string();
        let digest = fast_digest(&salt, password.expose());
        Ok(PasswordHash::new(format!("{FAST_PREFIX}{salt}${digest}")))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PasswordHasherError> {
        let parsed = hash
            .and_then(|h| h.as_str().strip_prefix(FAST_PREFIX))
            .and_then(|rest| rest.split_once('$'));
        // Without a hash, the same work against a dummy one.
        let (salt, digest) = parsed.unwrap_or(("dummy", ""));
        let matches: bool =
            fast_digest(salt, password.expose()).as_bytes().ct_eq(digest.as_bytes()).into();
        Ok(matches && parsed.is_some())
    }

    fn needs_rehash(&self, _hash: &PasswordHash) -> bool {
        false
    }
}

#[derive(Default)]
struct State {
    users: Vec<User>,
    identities: Vec<ExternalIdentity>,
    sessions: HashMap<SessionId, Session>,
    cookies: HashMap<TokenDigest, SessionId>,
    refresh: HashMap<TokenDigest, (SessionId, Option<OffsetDateTime>)>,
    throttles: HashMap<String, ThrottleRecord>,
    audit: Vec<AuditEvent>,
    pending: HashMap<StateDigest, PendingLogin>,
    invitations: Vec<Invitation>,
    id_tokens: HashMap<SessionId, SealedIdToken>,
    signing_keys: Vec<StoredSigningKey>,
}

/// Every store port in one mutex: one lock per call, so every operation is atomic.
#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl InMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut lock(&self.state))
    }
}

impl State {
    fn has_user(&self, id: UserId) -> bool {
        self.users.iter().any(|u| u.id == id)
    }

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
    ) -> Result<ExternalIdentity, LinkStoreError> {
        if !self.has_user(identity.user_id) {
            return Err(LinkStoreError::UnknownUser);
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

    /// Removes the link of (issuer, subject) (only `owner`'s when given); records `audit` with
    /// the link's user when it did.
    fn unlink(
        &mut self,
        issuer: &Issuer,
        subject: &Subject,
        owner: Option<UserId>,
        audit: &AuditEvent,
    ) -> bool {
        let position = self.identities.iter().position(|i| {
            i.issuer == *issuer && i.subject == *subject && owner.is_none_or(|o| o == i.user_id)
        });
        let Some(position) = position else { return false };
        let removed = self.identities.remove(position);
        let scope = RevokeScope::Identity { issuer: removed.issuer, subject: removed.subject };
        let revoked = self.revoke(&scope, audit.occurred_at);
        let mut audit = audit.clone().detail("sessions_revoked", revoked);
        audit.user_id.get_or_insert(removed.user_id);
        self.audit.push(audit);
        true
    }

    fn session_with_user(&self, id: SessionId) -> Option<(Session, User)> {
        let session = self.sessions.get(&id)?;
        let user = self.users.iter().find(|u| u.id == session.user_id)?;
        Some((session.clone(), user.clone()))
    }

    fn revoke(&mut self, scope: &RevokeScope, at: OffsetDateTime) -> u64 {
        let mut count = 0;
        for session in self.sessions.values_mut() {
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
        count
    }

    fn set_disabled(&mut self, id: UserId, disabled: bool, at: OffsetDateTime) -> Option<User> {
        let user = self.users.iter_mut().find(|u| u.id == id)?;
        user.disabled = disabled;
        user.updated_at = at;
        Some(user.clone())
    }
}

#[async_trait]
impl Readiness for InMemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl UserStore for InMemoryStore {
    async fn create_user(&self, user: NewUser, audit: &AuditEvent) -> Result<User, UserStoreError> {
        self.with(|s| {
            if s.users.iter().any(|u| u.email == user.email) {
                return Err(UserStoreError::DuplicateEmail);
            }
            if s.has_user(user.id) {
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
            s.users.push(user.clone());
            s.audit.push(audit.clone());
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
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(self.with(|s| {
            let mut users = s.users.clone();
            users.sort_by_key(|u| (u.created_at, u.id));
            users.into_iter().skip(offset).take(limit).collect()
        }))
    }

    async fn disable_user(
        &self,
        id: UserId,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<DisableOutcome, StoreError> {
        Ok(self.with(|s| {
            let admins: Vec<UserId> =
                s.users.iter().filter(|u| u.is_admin && !u.disabled).map(|u| u.id).collect();
            if admins == [id] {
                return DisableOutcome::LastAdmin;
            }
            let Some(user) = s.set_disabled(id, true, at) else {
                return DisableOutcome::UnknownUser;
            };
            let revoked = s.revoke(&RevokeScope::User { user: id, except: None }, at);
            s.audit.push(audit.clone().detail("sessions_revoked", revoked));
            DisableOutcome::Disabled(user)
        }))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        at: OffsetDateTime,
        revoke: Option<&RevokeScope>,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let Some(user) = s.users.iter_mut().find(|u| u.id == id) else { return false };
            user.password_hash = Some(hash.clone());
            user.updated_at = at;
            let revoked = revoke.map_or(0, |scope| s.revoke(scope, at));
            s.audit.extend(audit.map(|a| a.clone().detail("sessions_revoked", revoked)));
            true
        }))
    }

    async fn enable_user(
        &self,
        id: UserId,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.with(|s| {
            let user = s.set_disabled(id, false, at)?;
            s.audit.push(audit.clone());
            Some(user)
        }))
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let before = s.users.len();
            s.users.retain(|u| u.id != id);
            s.identities.retain(|i| i.user_id != id);
            s.sessions.retain(|_, session| session.user_id != id);
            let sessions = &s.sessions;
            s.cookies.retain(|_, session| sessions.contains_key(session));
            s.refresh.retain(|_, (session, _)| sessions.contains_key(session));
            s.id_tokens.retain(|session, _| sessions.contains_key(session));
            s.invitations.retain(|i| i.user_id != id);
            s.users.len() != before
        }))
    }
}

#[async_trait]
impl IdentityLinkStore for InMemoryStore {
    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        self.with(|s| {
            if s.identity_mut(&identity.issuer, &identity.subject).is_some() {
                return Err(LinkStoreError::AlreadyLinked);
            }
            let linked = s.insert_identity(identity)?;
            s.audit.push(audit.clone());
            Ok(linked)
        })
    }

    async fn link_or_update_identity(
        &self,
        identity: NewExternalIdentity,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        self.with(|s| {
            if !s.has_user(identity.user_id) {
                return Err(LinkStoreError::UnknownUser);
            }
            let linked = match s.identity_mut(&identity.issuer, &identity.subject) {
                Some(existing) => {
                    let moved = existing.user_id != identity.user_id;
                    existing.user_id = identity.user_id;
                    existing.email = identity.email;
                    existing.updated_at = identity.created_at;
                    let linked = existing.clone();
                    if moved {
                        let scope = RevokeScope::Identity {
                            issuer: linked.issuer.clone(),
                            subject: linked.subject.clone(),
                        };
                        s.revoke(&scope, audit.occurred_at);
                    }
                    linked
                }
                None => s.insert_identity(identity)?,
            };
            s.audit.push(audit.clone());
            Ok(linked)
        })
    }

    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.unlink(issuer, subject, None, audit)))
    }

    async fn unlink_identity_of(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.unlink(issuer, subject, Some(user), audit)))
    }

    async fn unlink_own_identity(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<OwnUnlink, StoreError> {
        Ok(self.with(|s| {
            let mine = s.identities.iter().filter(|i| i.user_id == user);
            let (this, others): (Vec<_>, Vec<_>) =
                mine.partition(|i| i.issuer == *issuer && i.subject == *subject);
            let password = s.users.iter().any(|u| u.id == user && u.password_hash.is_some());
            match (this.is_empty(), others.is_empty() && !password) {
                (true, _) => OwnUnlink::NotLinked,
                (false, true) => OwnUnlink::LastLoginMethod,
                (false, false) => {
                    s.unlink(issuer, subject, Some(user), audit);
                    OwnUnlink::Removed
                }
            }
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
}

#[async_trait]
impl InvitationStore for InMemoryStore {
    async fn create_invitation(
        &self,
        invitation: &Invitation,
        audit: &AuditEvent,
    ) -> Result<(), InvitationStoreError> {
        self.with(|s| {
            if !s.has_user(invitation.user_id) {
                return Err(InvitationStoreError::UnknownUser);
            }
            s.invitations.push(invitation.clone());
            s.audit.push(audit.clone());
            Ok(())
        })
    }

    async fn invitations_of_user(&self, user: UserId) -> Result<Vec<Invitation>, StoreError> {
        Ok(self.with(|s| {
            let mut invitations: Vec<_> =
                s.invitations.iter().filter(|i| i.user_id == user).cloned().collect();
            invitations.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
            invitations
        }))
    }

    async fn invitation_by_token(
        &self,
        token: &TokenDigest,
    ) -> Result<Option<Invitation>, StoreError> {
        Ok(self.with(|s| s.invitations.iter().find(|i| i.token == *token).cloned()))
    }

    async fn revoke_invitation(&self, id: Uuid, audit: &AuditEvent) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let Some(at) = s.invitations.iter().position(|i| i.id == id) else { return false };
            let removed = s.invitations.remove(at);
            let mut audit = audit.clone();
            audit.user_id.get_or_insert(removed.user_id);
            s.audit.push(audit);
            true
        }))
    }

    async fn redeem_invitation(
        &self,
        id: Uuid,
        identity: &VerifiedIdentity,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, RedeemError> {
        self.with(|s| {
            let usable =
                |i: &&mut Invitation| i.id == id && i.spent_at.is_none() && at < i.expires_at;
            let invited = s.invitations.iter_mut().find(usable).map(|i| i.user_id);
            let invited = invited.ok_or(RedeemError::InvalidInvitation)?;
            if !s.users.iter().any(|u| u.id == invited && !u.disabled) {
                return Err(RedeemError::InvalidInvitation);
            }
            let link = match s.identity_mut(&identity.issuer, &identity.subject) {
                Some(existing) if existing.user_id != invited => {
                    return Err(RedeemError::AlreadyLinked);
                }
                Some(existing) => existing.clone(),
                None => {
                    let new = NewExternalIdentity {
                        issuer: identity.issuer.clone(),
                        subject: identity.subject.clone(),
                        user_id: invited,
                        email: identity.email.clone(),
                        created_at: at,
                    };
                    let linked =
                        s.insert_identity(new).map_err(|_| RedeemError::InvalidInvitation)?;
                    let mut audit = audit.clone();
                    audit.user_id.get_or_insert(invited);
                    s.audit.push(audit);
                    linked
                }
            };
            if let Some(spent) = s.invitations.iter_mut().find(|i| i.id == id) {
                spent.spent_at = Some(at);
            }
            Ok(link)
        })
    }
}

#[async_trait]
impl SessionStore for InMemoryStore {
    async fn start_session(
        &self,
        new: &NewSession,
        audit: &AuditEvent,
    ) -> Result<(), SessionStoreError> {
        let session = &new.session;
        self.with(|s| {
            if s.sessions.contains_key(&session.id) {
                return Err(SessionStoreError::DuplicateId);
            }
            if !s.has_user(session.user_id) {
                return Err(SessionStoreError::UnknownUser);
            }
            s.sessions.insert(session.id, session.clone());
            if let Some(cookie) = &new.cookie {
                s.cookies.insert(cookie.clone(), session.id);
            }
            if let Some(id_token) = &new.id_token {
                s.id_tokens.insert(session.id, id_token.clone());
            }
            if let Some(refresh) = &new.refresh_token {
                s.refresh.insert(refresh.clone(), (session.id, None));
            }
            s.audit.push(audit.clone());
            Ok(())
        })
    }

    async fn sealed_id_token(&self, id: SessionId) -> Result<Option<SealedIdToken>, StoreError> {
        Ok(self.with(|s| s.id_tokens.get(&id).cloned()))
    }

    async fn session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        Ok(self.with(|s| s.session_with_user(id)))
    }

    async fn session_by_cookie(
        &self,
        cookie: &TokenDigest,
    ) -> Result<Option<(Session, User)>, StoreError> {
        Ok(self.with(|s| s.cookies.get(cookie).copied().and_then(|id| s.session_with_user(id))))
    }

    async fn touch_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(session) = s.sessions.get_mut(&id) {
                session.last_used_at = at;
            }
        });
        Ok(())
    }

    async fn sessions_of_user(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        Ok(self.with(|s| {
            let mut sessions: Vec<Session> = s
                .sessions
                .values()
                .filter(|session| session.user_id == user && session.revoked_at.is_none())
                .cloned()
                .collect();
            sessions.sort_by_key(|session| (session.created_at, session.id.as_uuid()));
            sessions
        }))
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let Some(session) = s.sessions.get_mut(&id) else { return false };
            let live = session.revoked_at.is_none();
            session.revoked_at.get_or_insert(at);
            let user = session.user_id;
            if let (true, Some(audit)) = (live, audit) {
                let mut audit = audit.clone();
                audit.user_id.get_or_insert(user);
                s.audit.push(audit);
            }
            live
        }))
    }

    async fn revoke_sessions(
        &self,
        scope: &RevokeScope,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let revoked = s.revoke(scope, at);
            if let (true, Some(audit)) = (revoked > 0, audit) {
                s.audit.push(audit.clone().detail("count", revoked));
            }
            revoked
        }))
    }

    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let ended: Vec<SessionId> = s
                .sessions
                .values()
                .filter(|x| {
                    x.expires_at <= now || x.revoked_at.is_some() || x.last_used_at <= idle_cutoff
                })
                .map(|x| x.id)
                .take(usize::try_from(batch).unwrap_or(usize::MAX))
                .collect();
            for id in &ended {
                s.sessions.remove(id);
            }
            s.cookies.retain(|_, id| !ended.contains(id));
            s.refresh.retain(|_, (id, _)| !ended.contains(id));
            s.id_tokens.retain(|id, _| !ended.contains(id));
            ended.len() as u64
        }))
    }
}

#[async_trait]
impl RefreshTokenStore for InMemoryStore {
    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        at: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<RefreshOutcome, StoreError> {
        Ok(self.with(|s| {
            let Some((session, spent)) = s.refresh.get(presented).copied() else {
                return RefreshOutcome::Unknown;
            };
            if spent.is_some() {
                return RefreshOutcome::Reused(session);
            }
            let live = s.sessions.get(&session).is_some_and(|x| {
                x.revoked_at.is_none() && x.expires_at > at && x.last_used_at > idle_cutoff
            });
            if !live {
                return RefreshOutcome::SessionEnded;
            }
            s.refresh.insert(presented.clone(), (session, Some(at)));
            s.refresh.insert(next.clone(), (session, None));
            let mut audit = audit.clone().detail("session", session);
            audit.user_id = s.sessions.get(&session).map(|x| x.user_id);
            s.audit.push(audit);
            RefreshOutcome::Rotated(session)
        }))
    }
}

#[async_trait]
impl ThrottleStore for InMemoryStore {
    async fn throttle_records(
        &self,
        keys: &[ThrottleKey],
    ) -> Result<Vec<Option<ThrottleRecord>>, StoreError> {
        Ok(self.with(|s| keys.iter().map(|k| s.throttles.get(&k.as_key()).copied()).collect()))
    }

    async fn swap_throttle(
        &self,
        key: &ThrottleKey,
        expected: Option<&ThrottleRecord>,
        next: Option<&ThrottleRecord>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            if s.throttles.get(&key.as_key()) != expected {
                return false;
            }
            match next {
                Some(next) => s.throttles.insert(key.as_key(), *next),
                None => s.throttles.remove(&key.as_key()),
            };
            true
        }))
    }

    async fn forgive_attempt(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(record) = s.throttles.get_mut(&key.as_key()) {
                record.failures = record.failures.saturating_sub(1);
            }
        });
        Ok(())
    }

    async fn clear_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.with(|s| s.throttles.remove(&key.as_key()));
        Ok(())
    }

    async fn purge_throttles(&self, before: OffsetDateTime, batch: u64) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let stale: Vec<String> = s
                .throttles
                .iter()
                .filter(|(_, r)| r.last_failure_at < before)
                .map(|(k, _)| k.clone())
                .take(usize::try_from(batch).unwrap_or(usize::MAX))
                .collect();
            for key in &stale {
                s.throttles.remove(key);
            }
            stale.len() as u64
        }))
    }
}

#[async_trait]
impl PendingLoginStore for InMemoryStore {
    async fn save_pending_login(
        &self,
        login: &PendingLogin,
        limit: PendingLoginLimit,
    ) -> Result<(), PendingLoginStoreError> {
        self.with(|s| {
            if limit.is_reached_by(&login.client_key, s.pending.values()) {
                return Err(PendingLoginStoreError::LimitReached);
            }
            if s.pending.contains_key(&login.state) {
                return Err(PendingLoginStoreError::DuplicateState);
            }
            s.pending.insert(login.state.clone(), login.clone());
            Ok(())
        })
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        Ok(self.with(|s| s.pending.remove(state)))
    }

    async fn purge_pending_logins(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let stale: Vec<StateDigest> = s
                .pending
                .iter()
                .filter(|(_, login)| login.created_at < before)
                .map(|(state, _)| state.clone())
                .take(usize::try_from(batch).unwrap_or(usize::MAX))
                .collect();
            for state in &stale {
                s.pending.remove(state);
            }
            stale.len() as u64
        }))
    }
}

#[async_trait]
impl AuditLog for InMemoryStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.with(|s| s.audit.push(event.clone()));
        Ok(())
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(self.with(|s| {
            let mut events: Vec<AuditEvent> = s
                .audit
                .iter()
                .filter(|e| filter.user_id.is_none_or(|u| e.user_id == Some(u)))
                .filter(|e| filter.kind.is_none_or(|k| e.kind == k))
                .filter(|e| filter.before.is_none_or(|b| e.occurred_at < b))
                .cloned()
                .collect();
            events.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.id)));
            events.into_iter().skip(offset).take(limit).collect()
        }))
    }

    async fn purge_audit_events(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let mut purged = 0;
            s.audit.retain(|e| {
                let gone = e.occurred_at < before && purged < batch;
                purged += u64::from(gone);
                !gone
            });
            purged
        }))
    }
}

#[async_trait]
impl SigningKeyStore for InMemoryStore {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        Ok(self.with(|s| s.signing_keys.iter().rev().cloned().collect()))
    }

    async fn add_first_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.with(|s| {
            if s.signing_keys.is_empty() {
                s.signing_keys.push(key.clone());
            }
        });
        Ok(())
    }

    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.with(|s| {
            if s.signing_keys.iter().any(|k| k.kid == key.kid) {
                return Err(StoreError::new("a signing key with this id is stored already"));
            }
            s.signing_keys.push(key.clone());
            Ok(())
        })
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let before = s.signing_keys.len();
            s.signing_keys.retain(|k| k.kid != kid);
            s.signing_keys.len() < before
        }))
    }

    async fn seal_signing_key(
        &self,
        kid: &str,
        plain: &codex_cloud_core::domain::SecretString,
        sealed: &codex_cloud_core::domain::SecretString,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = s.signing_keys.iter_mut().find(|k| {
                let same: bool =
                    k.private_key_pem.expose().as_bytes().ct_eq(plain.expose().as_bytes()).into();
                k.kid == kid && same
            });
            key.map(|k| k.private_key_pem = sealed.clone()).is_some()
        }))
    }
}
