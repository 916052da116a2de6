//! Domain types: parsed at the edge, valid by construction.

mod audit;
mod email;
mod identity;
mod invitation;
mod oidc;
mod password;
mod sealed;
mod secret;
mod session;
mod throttle;
mod token;
mod user;

pub use audit::{AuditEvent, AuditFilter, AuditKind, AuditOutcome};
pub use email::{Email, EmailError};
pub use identity::{ExternalIdentity, IdentityError, Issuer, NewExternalIdentity, Subject};
pub use invitation::{Invitation, InvitationStatus, LoginPurpose};
pub use oidc::{
    AuthorizationRequest, CallbackParams, IdTokenRejection, PendingLogin, ProviderKey,
    ProviderKeys, ProviderTokens, ReturnTo, ReturnToError, RsaAlgorithm, StateDigest,
    VerifiedIdentity,
};
pub use password::{Password, PasswordError, PasswordHash, PasswordPolicy};
pub use sealed::SealedIdToken;
pub use secret::SecretString;
pub use session::{
    OpaqueToken, RandomnessError, Session, SessionId, SessionMethod, SessionPolicy, TokenDigest,
};
pub use throttle::{ThrottleKey, ThrottlePolicy, ThrottleRecord};
pub use token::{
    AccessTokenClaims, IssuedToken, PublishedKey, SigningKeyState, SigningKeyStatus,
    StoredSigningKey, retired_key_retention, signing_key_schedule,
};
pub use user::{NewUser, User, UserId};
