use telemetry::db::{Database, Statement};

/// A key's stored state.
#[derive(Debug, sqlx::FromRow)]
pub struct KeyRow {
    pub fingerprint: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
}

/// Claims the key for this request; also reclaims a key older than a day.
/// Returns whether this request owns it.
const CLAIM: Statement = Statement::new(
    "INSERT",
    "idempotency_keys",
    "INSERT INTO idempotency_keys (key, fingerprint) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
     response_status = NULL, response_body = NULL, created_at = now() \
     WHERE idempotency_keys.created_at < now() - interval '24 hours'",
);

pub async fn claim(db: &Database, key: &str, fingerprint: &str) -> sqlx::Result<bool> {
    let claimed = CLAIM
        .query()
        .bind(key.to_owned())
        .bind(fingerprint.to_owned())
        .execute(db)
        .await?;
    Ok(claimed.rows_affected() == 1)
}

const FIND: Statement = Statement::new(
    "SELECT",
    "idempotency_keys",
    "SELECT fingerprint, response_status, response_body FROM idempotency_keys WHERE key = $1",
);

pub async fn find(db: &Database, key: &str) -> sqlx::Result<Option<KeyRow>> {
    FIND.query_as()
        .bind(key.to_owned())
        .fetch_optional(db)
        .await
}

const ANSWER: Statement = Statement::new(
    "UPDATE",
    "idempotency_keys",
    "UPDATE idempotency_keys SET response_status = $2, response_body = $3 WHERE key = $1",
);

pub async fn answer(db: &Database, key: &str, status: u16, body: String) -> sqlx::Result<()> {
    ANSWER
        .query()
        .bind(key.to_owned())
        .bind(i32::from(status))
        .bind(body)
        .execute(db)
        .await?;
    Ok(())
}

/// Gives the key up, so the caller may try again (the request failed on
/// our side, and a retry may succeed).
const RELEASE: Statement = Statement::new(
    "DELETE",
    "idempotency_keys",
    "DELETE FROM idempotency_keys WHERE key = $1 AND response_status IS NULL",
);

pub async fn release(db: &Database, key: &str) -> sqlx::Result<()> {
    RELEASE.query().bind(key.to_owned()).execute(db).await?;
    Ok(())
}
