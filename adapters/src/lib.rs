//! Adapters for the ports of `codex-cloud-core`. Each one translates between a port and one
//! outside thing; none of them decides business rules.

mod background;
pub mod blocklist;
pub mod clock;
pub mod oidc;
pub mod password;
pub mod sealing;
pub mod store;
mod sync;
pub mod token;

#[cfg(feature = "memory")]
pub mod memory;

pub use blocklist::ZxcvbnBlocklist;
pub use clock::SystemClock;
pub use oidc::{
    Discovery, HttpJwksKeyProvider, JwksCacheSettings, JwksFetchStats, OidcClientSettings,
    OpenIdConnectProvider, OutboundHttp,
};

pub use password::{Argon2PasswordHasher, HashQueue, HashSlot};
pub use sealing::{KeySealer, SealingError};
pub use store::SeaOrmStore;
pub use token::{JwtTokenIssuer, KeyRing, SigningKey, UNKNOWN_KID_RELOAD_COOLDOWN};
