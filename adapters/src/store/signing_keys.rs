//! `SigningKeyStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use codex_cloud_core::domain::{SecretString, StoredSigningKey};
use codex_cloud_core::ports::{SigningKeyStore, StoreError};

use crate::store::entity::signing_keys::{ActiveModel, Column, Entity};
use crate::store::{SeaOrmStore, corrupt, internal};

/// The row id of the first key: replicas racing to create it all insert this id, and one wins.
const FIRST_KEY_ROW: i32 = 1;

#[async_trait]
impl SigningKeyStore for SeaOrmStore {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let rows =
            Entity::find().order_by_desc(Column::Id).all(&self.db).await.map_err(internal)?;
        rows.into_iter()
            .map(|row| {
                if row.kid.is_empty() {
                    return Err(corrupt("signing_keys", "kid"));
                }
                if row.algorithm != "RS256" {
                    return Err(corrupt("signing_keys", "algorithm"));
                }
                Ok(StoredSigningKey {
                    kid: row.kid,
                    algorithm: row.algorithm,
                    private_key_pem: SecretString::new(row.private_key_pem),
                    created_at: row.created_at,
                })
            })
            .collect()
    }

    async fn add_first_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        let row = ActiveModel {
            id: Set(FIRST_KEY_ROW),
            kid: Set(key.kid.clone()),
            algorithm: Set(key.algorithm.clone()),
            private_key_pem: Set(key.private_key_pem.expose().to_owned()),
            created_at: Set(key.created_at),
        };
        Entity::insert(row)
            .on_conflict_do_nothing()
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(internal)
    }

    async fn seal_signing_key(
        &self,
        kid: &str,
        plain: &SecretString,
        sealed: &SecretString,
    ) -> Result<bool, StoreError> {
        let updated = Entity::update_many()
            .col_expr(Column::PrivateKeyPem, Expr::value(sealed.expose()))
            .filter(Column::Kid.eq(kid))
            .filter(Column::PrivateKeyPem.eq(plain.expose()))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(updated.rows_affected == 1)
    }
}
