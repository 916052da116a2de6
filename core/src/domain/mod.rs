//! Domain types: parsed at the edge, valid by construction.

mod email;
mod identity;
mod oidc;
mod password;
mod secret;
mod session;
mod token;
mod user;

pub use email::{Email, EmailError};
pub use identity::{ExternalIdentity, IdentityError, Issuer, NewExternalIdentity, Subject};
pub use oidc::{
    AuthorizationRequest, CallbackParams, IdTokenRejection, PendingLogin, ProviderKey,
    ProviderKeys, ProviderTokens, ReturnTo, ReturnToError, RsaAlgorithm, StateDigest,
    VerifiedIdentity,
};
pub use password::{Password, PasswordError, PasswordHash};
pub use secret::SecretString;
pub use session::{Session, SessionId};
pub use token::{AccessTokenClaims, IssuedToken, PublishedKey, StoredSigningKey};
pub use user::{NewUser, User, UserId};
