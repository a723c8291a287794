use telemetry::{
    db::{Statement, Transaction},
    messaging::StoredContext,
};

/// An event waiting to be published.
#[derive(Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub event_id: String,
    pub subject: String,
    pub payload: String,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub baggage: Option<String>,
}

impl OutboxRow {
    pub fn creation_context(&self) -> StoredContext {
        StoredContext {
            traceparent: self.traceparent.clone(),
            tracestate: self.tracestate.clone(),
            baggage: self.baggage.clone(),
        }
    }
}

/// An event to write to the outbox, with the W3C context it was created
/// in; [`super::orders::confirm`] writes it with the change it announces.
pub struct OutboxEvent {
    pub event_id: String,
    pub subject: &'static str,
    pub payload: String,
    pub creation: StoredContext,
}

/// The oldest unsent events, locked until the transaction ends; rows
/// another relay (another replica) holds are skipped, not waited for, so
/// two replicas never publish the same row at once.
const UNSENT: Statement = Statement::new(
    "SELECT",
    "outbox",
    "SELECT event_id, subject, payload, traceparent, tracestate, baggage FROM outbox \
     WHERE sent_at IS NULL ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
);

pub async fn unsent(tx: &mut Transaction, limit: i64) -> sqlx::Result<Vec<OutboxRow>> {
    UNSENT.query_as().bind(limit).fetch_all(tx).await
}

const MARK_SENT: Statement = Statement::new(
    "UPDATE",
    "outbox",
    "UPDATE outbox SET sent_at = now() WHERE event_id = $1",
);

pub async fn mark_sent(tx: &mut Transaction, event_id: &str) -> sqlx::Result<()> {
    MARK_SENT
        .query()
        .bind(event_id.to_owned())
        .execute(tx)
        .await?;
    Ok(())
}

const COUNT_UNSENT: Statement = Statement::new(
    "SELECT",
    "outbox",
    "SELECT count(*) FROM outbox WHERE sent_at IS NULL",
);

/// How many events wait to be published.
pub async fn count_unsent(db: &telemetry::db::Database) -> sqlx::Result<i64> {
    COUNT_UNSENT
        .query_as::<(i64,)>()
        .fetch_one(db)
        .await
        .map(|(count,)| count)
}
