//! Ports: the traits through which use cases reach everything outside the process.

mod clock;
mod identity_store;
mod key_provider;
mod oidc_provider;
mod password_hasher;
mod token_issuer;

pub use clock::Clock;
pub use identity_store::{IdentityStore, StoreError};
pub use key_provider::{KeyProvider, KeyProviderError};
pub use oidc_provider::{OidcProvider, OidcProviderError, ProviderStatus};
pub use password_hasher::{PasswordHasher, PasswordHasherError};
pub use token_issuer::{TokenIssuer, TokenIssuerError};
