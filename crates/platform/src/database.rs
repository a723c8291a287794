//! Opening a service's own database, as every database owner does at start.

use anyhow::Context;
use sqlx::migrate::Migrator;
use telemetry::db::Database;
use url::Url;

/// Connects (creating the database if missing) and applies `migrator`.
/// Errors name the service's database and the variable to check.
pub async fn open(service: &str, url: &Url, migrator: &Migrator) -> anyhow::Result<Database> {
    let db = Database::connect(url.as_str())
        .await
        .with_context(|| format!("cannot connect to the {service} database (DATABASE_URL)"))?;
    db.migrate(migrator)
        .await
        .with_context(|| format!("cannot migrate the {service} database"))?;
    Ok(db)
}
