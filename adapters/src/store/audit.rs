//! `AuditLog` over SeaORM, and the one way every store writes an event (inside the caller's
//! transaction).

use async_trait::async_trait;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::OffsetDateTime;

use codex_cloud_core::domain::{AuditEvent, AuditFilter, AuditKind, AuditOutcome, UserId};
use codex_cloud_core::ports::{AuditLog, StoreError};

use crate::store::entity::audit_events::{ActiveModel, Column, Entity, Model};
use crate::store::{SeaOrmStore, corrupt, internal};

/// Writes `event` through `db` (a connection or the transaction of the change it records).
pub(super) async fn write(db: &impl ConnectionTrait, event: &AuditEvent) -> Result<(), StoreError> {
    insert(event).exec(db).await.map(|_| ()).map_err(internal)
}

/// The `INSERT` of `event`, for a caller that sends it along with other statements.
pub(super) fn insert(event: &AuditEvent) -> sea_orm::Insert<ActiveModel> {
    let detail: serde_json::Map<String, serde_json::Value> = event
        .detail
        .iter()
        .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
        .collect();
    let row = ActiveModel {
        id: Set(event.id),
        occurred_at: Set(event.occurred_at),
        kind: Set(event.kind.as_str().to_owned()),
        outcome: Set(event.outcome.as_str().to_owned()),
        user_id: Set(event.user_id.map(|u| u.as_uuid())),
        actor_id: Set(event.actor_id.map(|u| u.as_uuid())),
        client_address: Set(event.client_address.map(|a| a.to_string())),
        detail: Set(serde_json::Value::Object(detail).to_string()),
    };
    Entity::insert(row)
}

fn event_from_row(row: Model) -> Result<AuditEvent, StoreError> {
    let detail: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&row.detail).map_err(|_| corrupt("audit_events", "detail"))?;
    let detail = detail
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(value) => Ok((key, value)),
            _ => Err(corrupt("audit_events", "detail")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditEvent {
        id: row.id,
        occurred_at: row.occurred_at,
        kind: AuditKind::parse(&row.kind).ok_or_else(|| corrupt("audit_events", "kind"))?,
        outcome: AuditOutcome::parse(&row.outcome)
            .ok_or_else(|| corrupt("audit_events", "outcome"))?,
        user_id: row.user_id.map(UserId::from_uuid),
        actor_id: row.actor_id.map(UserId::from_uuid),
        client_address: match row.client_address {
            Some(raw) => Some(raw.parse().map_err(|_| corrupt("audit_events", "client_address"))?),
            None => None,
        },
        detail,
    })
}

#[async_trait]
impl AuditLog for SeaOrmStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        write(&self.db, event).await
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut query = Entity::find();
        if let Some(user) = filter.user_id {
            query = query.filter(Column::UserId.eq(user.as_uuid()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(Column::Kind.eq(kind.as_str()));
        }
        if let Some(before) = filter.before {
            query = query.filter(Column::OccurredAt.lt(before));
        }
        let rows = query
            .order_by_desc(Column::OccurredAt)
            .order_by_desc(Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(internal)?;
        rows.into_iter().map(event_from_row).collect()
    }

    async fn purge_audit_events(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        let batch_ids = Query::select()
            .column(Column::Id)
            .from(Entity)
            .cond_where(Column::OccurredAt.lt(before))
            .limit(batch)
            .to_owned();
        let deleted = Entity::delete_many()
            .filter(Column::Id.in_subquery(batch_ids))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected)
    }
}
