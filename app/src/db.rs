//! Database access for application code and one-off scripts: connecting (with migrations) and
//! seeding external identity links.

use uuid::Uuid;

use codex_cloud_adapters::store;
use codex_cloud_core::domain::UserId;
use codex_cloud_core::service::{Admin, IdentityLinkError, LinkIdentity};

use crate::bootstrap::{Backend, Overrides, Stores};
use crate::config::Settings;

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
pub enum SeedError {
    #[error("external identity seed {index} ({issuer}, {subject}): {source}")]
    Seed {
        index: usize,
        issuer: String,
        subject: String,
        #[source]
        source: IdentityLinkError,
    },
    /// The backend could not be set up over this connection.
    #[error("cannot seed: {0:#}")]
    Setup(anyhow::Error),
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
    let settings = Settings::builtin().map_err(|e| SeedError::Setup(e.into()))?;
    let overrides =
        Overrides { stores: Some(Stores::sea_orm(pool.clone())), ..Overrides::default() };
    let backend = Backend::build(&settings, overrides).await.map_err(SeedError::Setup)?;
    let links = &backend.services.links;
    for (index, seed) in seeds.iter().enumerate() {
        let request = LinkIdentity {
            issuer: seed.issuer,
            subject: seed.subject,
            user_id: UserId::from_uuid(seed.user_id),
            email: seed.email,
        };
        links.link_or_update_identity(&Admin::operator(), request).await.map_err(|source| {
            SeedError::Seed {
                index,
                issuer: seed.issuer.to_owned(),
                subject: seed.subject.to_owned(),
                source,
            }
        })?;
    }
    Ok(())
}
