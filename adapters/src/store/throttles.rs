//! `ThrottleStore` over SeaORM: one upsert per failure, so concurrent failures all count.

use async_trait::async_trait;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use codex_cloud_core::domain::{ThrottleKey, ThrottleRecord};
use codex_cloud_core::ports::{StoreError, ThrottleStore};

use crate::store::entity::login_throttles::{ActiveModel, Column, Entity, Model};
use crate::store::{SeaOrmStore, internal};

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

    async fn record_failure(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
        window_cutoff: OffsetDateTime,
    ) -> Result<ThrottleRecord, StoreError> {
        use sea_orm::ActiveValue::Set;
        let row = ActiveModel {
            key: Set(key.as_key()),
            failures: Set(1),
            window_started_at: Set(now),
            last_failure_at: Set(now),
        };
        let table = Entity;
        let stale = Expr::col((table, Column::WindowStartedAt)).lt(window_cutoff);
        let failures = CaseStatement::new()
            .case(stale.clone(), Expr::val(1_i64))
            .finally(Expr::col((table, Column::Failures)).add(1_i64));
        let window = CaseStatement::new()
            .case(stale, Expr::val(now))
            .finally(Expr::col((table, Column::WindowStartedAt)));
        let on_conflict = OnConflict::column(Column::Key)
            .value(Column::Failures, failures)
            .value(Column::WindowStartedAt, window)
            .value(Column::LastFailureAt, Expr::val(now))
            .to_owned();
        let stored = Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_with_returning(&self.db)
            .await
            .map_err(internal)?;
        Ok(record(&stored))
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
