//! In-memory fakes of every port a use case needs, for the unit tests of the use cases: each
//! does the least that honours its port's contract.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::domain::{
    AccessTokenClaims, AuthorizationRequest, Email, ExternalIdentity, IdTokenRejection,
    IssuedToken, Issuer, NewExternalIdentity, NewUser, Password, PasswordHash, PendingLogin,
    ProviderKeys, ProviderTokens, SecretString, Session, SessionId, StateDigest, Subject, User,
    UserId, VerifiedIdentity,
};
use crate::ports::{
    Clock, IdentityLinkStore, KeyProvider, KeyProviderError, LinkStoreError, OidcProvider,
    OidcProviderError, PasswordHasher, PasswordHasherError, PendingLoginStore,
    PendingLoginStoreError, ProviderStatus, SessionStore, SessionStoreError, StoreError,
    TokenIssuer, TokenIssuerError, UserStore, UserStoreError,
};
use crate::service::{Accounts, Admin, Auth, CreateUser, IdentityLinks, OidcLogin, OidcLoginPorts};

pub const T0: OffsetDateTime = time::macros::datetime!(2030-01-01 00:00:00 UTC);
pub const TTL: Duration = Duration::minutes(15);
pub const PASSWORD: &str = "correct horse battery staple";
pub const ISSUER: &str = "https://op.example.com";

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
}

#[async_trait]
impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHasherError> {
        Ok(PasswordHash::new(format!("plain:{}", password.expose())))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PasswordHasherError> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        Ok(hash.is_some_and(|h| h.as_str() == format!("plain:{}", password.expose())))
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

impl TokenIssuer for FakeTokens {
    fn issue(&self, claims: &AccessTokenClaims) -> Result<IssuedToken, TokenIssuerError> {
        let mut issued = lock(&self.0);
        issued.push(claims.clone());
        Ok(IssuedToken {
            token: SecretString::new(format!("token-{}", issued.len() - 1)),
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
        })
    }

    fn verify(
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
}

#[derive(Default)]
struct State {
    users: Vec<User>,
    links: Vec<ExternalIdentity>,
    sessions: HashMap<SessionId, Session>,
    pending: HashMap<StateDigest, PendingLogin>,
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

    pub fn pending_count(&self) -> usize {
        lock(&self.0).pending.len()
    }
}

#[async_trait]
impl UserStore for FakeStore {
    async fn create_user(&self, user: NewUser) -> Result<User, UserStoreError> {
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
        _: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.set_disabled(id, true))
    }

    async fn enable_user(&self, id: UserId, _: OffsetDateTime) -> Result<Option<User>, StoreError> {
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
    async fn create_session(&self, session: &Session) -> Result<(), SessionStoreError> {
        let mut state = lock(&self.0);
        if !state.users.iter().any(|u| u.id == session.user_id) {
            return Err(SessionStoreError::UnknownUser);
        }
        if state.sessions.insert(session.id, session.clone()).is_some() {
            return Err(SessionStoreError::DuplicateId);
        }
        Ok(())
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

    async fn revoke_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError> {
        if let Some(session) = lock(&self.0).sessions.get_mut(&id) {
            session.revoked_at.get_or_insert(at);
        }
        Ok(())
    }
}

#[async_trait]
impl IdentityLinkStore for FakeStore {
    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        let mut state = lock(&self.0);
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
    ) -> Result<ExternalIdentity, LinkStoreError> {
        let (issuer, subject) = (identity.issuer.clone(), identity.subject.clone());
        self.unlink_identity(&issuer, &subject).await?;
        self.link_identity(identity).await
    }

    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        let before = state.links.len();
        state.links.retain(|l| !(l.issuer == *issuer && l.subject == *subject));
        Ok(state.links.len() != before)
    }

    async fn unlink_identity_of(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<bool, StoreError> {
        let mut state = lock(&self.0);
        let before = state.links.len();
        state
            .links
            .retain(|l| !(l.issuer == *issuer && l.subject == *subject && l.user_id == user));
        Ok(state.links.len() != before)
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
impl PendingLoginStore for FakeStore {
    async fn save_pending_login(&self, login: &PendingLogin) -> Result<(), PendingLoginStoreError> {
        match lock(&self.0).pending.insert(login.state.clone(), login.clone()) {
            Some(_) => Err(PendingLoginStoreError::DuplicateState),
            None => Ok(()),
        }
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        Ok(lock(&self.0).pending.remove(state))
    }

    async fn count_pending_logins_since(&self, since: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(lock(&self.0).pending.values().filter(|l| l.created_at >= since).count() as u64)
    }

    async fn purge_pending_logins(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut state = lock(&self.0);
        let count = state.pending.len();
        state.pending.retain(|_, l| l.created_at >= before);
        Ok((count - state.pending.len()) as u64)
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

    async fn authorization_request(&self) -> Result<AuthorizationRequest, OidcProviderError> {
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
        let auth = Auth::new(
            store.clone(),
            store.clone(),
            hasher.clone(),
            tokens.clone(),
            clock.clone(),
            TTL,
        );
        let accounts = Accounts::new(store.clone(), hasher.clone(), clock.clone());
        let links = IdentityLinks::new(store.clone(), store.clone(), clock.clone());
        let ports = OidcLoginPorts {
            pending: store.clone(),
            links: store.clone(),
            provider: provider.clone(),
            keys: Arc::new(FakeKeys),
            clock: clock.clone(),
        };
        let oidc = OidcLogin::new(auth.clone(), ports);
        Self { store, clock, hasher, tokens, provider, auth, accounts, links, oidc }
    }

    pub async fn user(&self, email: &str, password: Option<&str>, is_admin: bool) -> User {
        let request = CreateUser { email, password, is_admin };
        self.accounts
            .create_user(&Admin::operator(), request)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}
