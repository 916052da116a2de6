//! `SigningKeyStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use codex_cloud_core::domain::{SecretString, StoredSigningKey};
use codex_cloud_core::ports::{SigningKeyStore, StoreError};

use crate::store::entity::signing_keys::{ActiveModel, Column, Entity};
use crate::store::{SeaOrmStore, corrupt, internal};

/// The row id of the first key: replicas racing to create it all insert this id, and one wins.
const FIRST_KEY_ROW: i32 = 1;
/// How often a rotation tries the next row id before giving up.
const ADD_ATTEMPTS: usize = 16;

fn row(id: i32, key: &StoredSigningKey) -> ActiveModel {
    ActiveModel {
        id: Set(id),
        kid: Set(key.kid.clone()),
        algorithm: Set(key.algorithm.clone()),
        private_key_pem: Set(key.private_key_pem.expose().to_owned()),
        created_at: Set(key.created_at),
        activates_at: Set(Some(key.activates_at)),
    }
}

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
                    activates_at: row.activates_at.unwrap_or(row.created_at),
                })
            })
            .collect()
    }

    async fn add_first_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        Entity::insert(row(FIRST_KEY_ROW, key))
            .on_conflict_do_nothing()
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(internal)
    }

    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        // The next row id; a concurrent rotation that takes it first makes this one try the
        // following id.
        for _ in 0..ADD_ATTEMPTS {
            let last = Entity::find()
                .select_only()
                .column(Column::Id)
                .order_by_desc(Column::Id)
                .into_tuple::<i32>()
                .one(&self.db)
                .await
                .map_err(internal)?;
            let id = last.map_or(FIRST_KEY_ROW, |id| id.saturating_add(1));
            let on_id = OnConflict::column(Column::Id).do_nothing().to_owned();
            let inserted = Entity::insert(row(id, key))
                .on_conflict(on_id)
                .exec_without_returning(&self.db)
                .await
                .map_err(internal)?;
            if inserted == 1 {
                return Ok(());
            }
        }
        Err(StoreError::new("too many concurrent signing key rotations; try again"))
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        let deleted = Entity::delete_many()
            .filter(Column::Kid.eq(kid))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected > 0)
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
