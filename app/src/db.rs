//! Database access for application code and one-off scripts: connecting (with migrations) and
//! seeding external identity links.

use uuid::Uuid;

use std::sync::Arc;

use codex_cloud_adapters::{SystemClock, store};
use codex_cloud_core::domain::UserId;
use codex_cloud_core::service::{Admin, IdentityLinkError, LinkIdentity};

use crate::bootstrap::{self, Stores};

/// The database connection pool handed out by this library.
pub use sea_orm::DatabaseConnection;

/// One link from a provider's (issuer, subject) to a local user.
#[derive(Clone, Copy, Debug)]
pub struct ExternalIdentitySeed<'a> {
    /// The provider's issuer, exactly as configured in `CODEX_OIDC_ISSUER`.
    pub issuer: &'a str,
    /// The provider's `sub` for the user.
    pub subject: &'a str,
    pub user_id: Uuid,
    pub email: Option<&'a str>,
}

/// Why a seed could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("external identity seed {index} ({issuer}, {subject}): {source}")]
pub struct SeedError {
    pub index: usize,
    pub issuer: String,
    pub subject: String,
    #[source]
    pub source: IdentityLinkError,
}

/// Connects to `url` and applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn connect(url: &str) -> Result<DatabaseConnection, store::SetupError> {
    let db = store::connect(url).await?;
    store::migrate(&db).await?;
    Ok(db)
}

/// Links each (issuer, subject) to its user. Seeding a pair that is already linked updates the
/// link (user and e-mail) instead of failing, so running the same seeds twice is harmless.
///
/// # Errors
/// The first seed that names an unknown user or an invalid issuer, subject or e-mail address.
pub async fn seed_external_identities(
    pool: &DatabaseConnection,
    seeds: &[ExternalIdentitySeed<'_>],
) -> Result<(), SeedError> {
    let links = bootstrap::identity_links(&Stores::sea_orm(pool.clone()), Arc::new(SystemClock));
    for (index, seed) in seeds.iter().enumerate() {
        let request = LinkIdentity {
            issuer: seed.issuer,
            subject: seed.subject,
            user_id: UserId::from_uuid(seed.user_id),
            email: seed.email,
        };
        links.link_or_update_identity(&Admin::operator(), request).await.map_err(|source| {
            SeedError {
                index,
                issuer: seed.issuer.to_owned(),
                subject: seed.subject.to_owned(),
                source,
            }
        })?;
    }
    Ok(())
}
