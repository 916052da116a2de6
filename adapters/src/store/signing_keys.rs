//! Codex token signing keys, stored so that restarts and replicas share them.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};
use time::OffsetDateTime;

use crate::store::entity::signing_keys;
use crate::token::SigningKey;
use codex_cloud_core::BoxError;

/// The row of the key that signs (the first ever stored; later rows are for rotation).
const PRIMARY_KEY_ROW: i32 = 1;

/// The stored signing keys, newest row first; creates the first one if there is none. Replicas
/// starting together race on the same row id: exactly one key wins, and all of them use it.
///
/// # Errors
/// When the database fails or a stored key is malformed.
pub async fn load_or_create_signing_keys(
    db: &DatabaseConnection,
    now: OffsetDateTime,
) -> Result<Vec<SigningKey>, BoxError> {
    let mut keys = load(db).await?;
    if keys.is_empty() {
        let key = tokio::task::spawn_blocking(SigningKey::generate).await??;
        let row = signing_keys::ActiveModel {
            id: Set(PRIMARY_KEY_ROW),
            kid: Set(key.kid().to_owned()),
            algorithm: Set("RS256".to_owned()),
            private_key_pem: Set(key.to_pkcs1_pem()?.expose().to_owned()),
            created_at: Set(now),
        };
        signing_keys::Entity::insert(row).on_conflict_do_nothing().exec(db).await?;
        keys = load(db).await?;
    }
    Ok(keys)
}

async fn load(db: &DatabaseConnection) -> Result<Vec<SigningKey>, BoxError> {
    let rows = signing_keys::Entity::find().order_by_desc(signing_keys::Column::Id).all(db).await?;
    rows.iter()
        .map(|row| SigningKey::from_pkcs1_pem(&row.private_key_pem).map_err(Into::into))
        .collect()
}
