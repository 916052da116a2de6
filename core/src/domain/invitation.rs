//! Invitations: a single-use link that lets a person attach their provider account to a local
//! user chosen by an administrator, without anyone typing the provider's subject by hand.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{SessionId, TokenDigest, UserId};

/// An invitation as stored: only the digest of its token is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub user_id: UserId,
    pub token: TokenDigest,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When a provider login redeemed it.
    pub spent_at: Option<OffsetDateTime>,
}

/// Where an invitation stands at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Spent,
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Spent => "spent",
            Self::Expired => "expired",
        }
    }
}

impl Invitation {
    pub fn status(&self, now: OffsetDateTime) -> InvitationStatus {
        match self.spent_at {
            Some(_) => InvitationStatus::Spent,
            None if now >= self.expires_at => InvitationStatus::Expired,
            None => InvitationStatus::Pending,
        }
    }
}

/// What a provider login is for, decided when it begins and kept with the pending login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginPurpose {
    /// Sign in with an identity linked already.
    Login,
    /// Redeem this invitation: link the identity to the invited user, then sign in.
    Invitation(Uuid),
    /// Link the identity to the user of this session, which must still be live at the
    /// callback; no new session starts.
    Link(SessionId),
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn an_invitation_is_pending_until_spent_or_until_it_expires() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let mut invitation = Invitation {
            id: Uuid::nil(),
            user_id: UserId::from_uuid(Uuid::nil()),
            token: TokenDigest::of("t"),
            created_at: now,
            expires_at: now + Duration::hours(1),
            spent_at: None,
        };
        assert_eq!(invitation.status(now), InvitationStatus::Pending);
        assert_eq!(invitation.status(now + Duration::hours(1)), InvitationStatus::Expired);
        invitation.spent_at = Some(now);
        assert_eq!(invitation.status(now + Duration::hours(2)), InvitationStatus::Spent);
    }
}
