//! The audit trail: who did what to which account, from where, and how it ended.

use std::fmt;
use std::net::IpAddr;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::UserId;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    LoginPassword,
    LoginOidc,
    LoginThrottled,
    Logout,
    Refresh,
    RefreshReuseDetected,
    PasswordChanged,
    UserCreated,
    UserDisabled,
    UserEnabled,
    IdentityLinked,
    IdentityUnlinked,
    SessionsRevoked,
    InvitationCreated,
    InvitationRevoked,
}

impl AuditKind {
    pub const ALL: [Self; 15] = [
        Self::LoginPassword,
        Self::LoginOidc,
        Self::LoginThrottled,
        Self::Logout,
        Self::Refresh,
        Self::RefreshReuseDetected,
        Self::PasswordChanged,
        Self::UserCreated,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::SessionsRevoked,
        Self::InvitationCreated,
        Self::InvitationRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginPassword => "login.password",
            Self::LoginOidc => "login.oidc",
            Self::LoginThrottled => "login.throttled",
            Self::Logout => "logout",
            Self::Refresh => "refresh",
            Self::RefreshReuseDetected => "refresh.reuse_detected",
            Self::PasswordChanged => "password.changed",
            Self::UserCreated => "user.created",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::IdentityLinked => "identity.linked",
            Self::IdentityUnlinked => "identity.unlinked",
            Self::SessionsRevoked => "sessions.revoked",
            Self::InvitationCreated => "invitation.created",
            Self::InvitationRevoked => "invitation.revoked",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOutcome {
    Success,
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Success, Self::Failure].into_iter().find(|o| o.as_str() == raw)
    }
}

/// One entry of the trail. `detail` holds small, non-secret facts (a problem code, a session
/// id, an issuer): never a password, token, code, secret or cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub kind: AuditKind,
    pub outcome: AuditOutcome,
    /// The account concerned.
    pub user_id: Option<UserId>,
    /// Who acted, when someone other than the user (an administrator).
    pub actor_id: Option<UserId>,
    pub client_address: Option<IpAddr>,
    pub detail: Vec<(String, String)>,
}

impl AuditEvent {
    pub fn new(kind: AuditKind, outcome: AuditOutcome, occurred_at: OffsetDateTime) -> Self {
        Self {
            id: Uuid::now_v7(),
            occurred_at,
            kind,
            outcome,
            user_id: None,
            actor_id: None,
            client_address: None,
            detail: Vec::new(),
        }
    }

    pub fn user(mut self, user: UserId) -> Self {
        self.user_id = Some(user);
        self
    }

    pub fn actor(mut self, actor: Option<UserId>) -> Self {
        self.actor_id = actor;
        self
    }

    pub fn from_address(mut self, address: Option<IpAddr>) -> Self {
        self.client_address = address;
        self
    }

    pub fn detail(mut self, key: &str, value: impl ToString) -> Self {
        self.detail.push((key.to_owned(), value.to_string()));
        self
    }
}

/// Which events to list: all of them, or those of one user or one kind, older than `before`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub user_id: Option<UserId>,
    pub kind: Option<AuditKind>,
    pub before: Option<OffsetDateTime>,
}
