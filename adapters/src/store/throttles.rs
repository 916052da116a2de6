//! `ThrottleStore` over SeaORM: compare-and-set in single statements, so of concurrent attempts
//! counted from the same state only one succeeds.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use codex_cloud_core::domain::{ThrottleKey, ThrottleRecord};
use codex_cloud_core::ports::{StoreError, ThrottleStore};

use crate::store::entity::login_throttles::{ActiveModel, Column, Entity, Model};
use crate::store::{SeaOrmStore, internal};

fn row(key: &str, record: &ThrottleRecord) -> ActiveModel {
    ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(i64::try_from(record.failures).unwrap_or(i64::MAX)),
        window_started_at: Set(record.window_started_at),
        last_failure_at: Set(record.last_failure_at),
    }
}

/// Narrows an update or delete to the row of `key` exactly as `expected`.
fn matching<Q: QueryFilter>(query: Q, key: &str, expected: &ThrottleRecord) -> Q {
    query
        .filter(Column::Key.eq(key))
        .filter(Column::Failures.eq(i64::try_from(expected.failures).unwrap_or(i64::MAX)))
        .filter(Column::WindowStartedAt.eq(expected.window_started_at))
        .filter(Column::LastFailureAt.eq(expected.last_failure_at))
}

fn record(row: &Model) -> ThrottleRecord {
    ThrottleRecord {
        failures: u64::try_from(row.failures).unwrap_or(0),
        window_started_at: row.window_started_at,
        last_failure_at: row.last_failure_at,
    }
}

#[async_trait]
impl ThrottleStore for SeaOrmStore {
    async fn throttle_records(
        &self,
        keys: &[ThrottleKey],
    ) -> Result<Vec<Option<ThrottleRecord>>, StoreError> {
        let names: Vec<String> = keys.iter().map(ThrottleKey::as_key).collect();
        let rows = Entity::find()
            .filter(Column::Key.is_in(names.clone()))
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(names.iter().map(|name| rows.iter().find(|r| r.key == *name).map(record)).collect())
    }

    async fn swap_throttle(
        &self,
        key: &ThrottleKey,
        expected: Option<&ThrottleRecord>,
        next: Option<&ThrottleRecord>,
    ) -> Result<bool, StoreError> {
        let name = key.as_key();
        let swapped = match (expected, next) {
            (None, None) => return Ok(false),
            // Absent → present: an insert that a concurrent insert makes a no-op.
            (None, Some(next)) => Entity::insert(row(&name, next))
                .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
                .exec_without_returning(&self.db)
                .await
                .map_err(internal)?,
            (Some(expected), Some(next)) => {
                let failures = i64::try_from(next.failures).unwrap_or(i64::MAX);
                let updated = matching(Entity::update_many(), &name, expected)
                    .col_expr(Column::Failures, Expr::value(failures))
                    .col_expr(Column::WindowStartedAt, Expr::value(next.window_started_at))
                    .col_expr(Column::LastFailureAt, Expr::value(next.last_failure_at))
                    .exec(&self.db)
                    .await
                    .map_err(internal)?;
                updated.rows_affected
            }
            (Some(expected), None) => {
                let deleted = matching(Entity::delete_many(), &name, expected)
                    .exec(&self.db)
                    .await
                    .map_err(internal)?;
                deleted.rows_affected
            }
        };
        Ok(swapped == 1)
    }

    async fn forgive_attempt(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::Failures, Expr::col(Column::Failures).sub(1_i64))
            .filter(Column::Key.eq(key.as_key()))
            .filter(Column::Failures.gt(0_i64))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(internal)
    }

    async fn clear_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        Entity::delete_by_id(key.as_key()).exec(&self.db).await.map(|_| ()).map_err(internal)
    }

    async fn purge_throttles(&self, before: OffsetDateTime, batch: u64) -> Result<u64, StoreError> {
        let batch_keys = Query::select()
            .column(Column::Key)
            .from(Entity)
            .cond_where(Column::LastFailureAt.lt(before))
            .limit(batch)
            .to_owned();
        let deleted = Entity::delete_many()
            .filter(Column::Key.in_subquery(batch_keys))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected)
    }
}
