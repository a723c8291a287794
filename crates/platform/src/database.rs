//! Opening a service's own database, as every database owner does at start:
//! create it if it is missing, connect, migrate.

use anyhow::Context;
use sqlx::{
    Postgres,
    migrate::{MigrateDatabase, Migrator},
};
use telemetry::db::Database;
use url::Url;

/// Creates the database if missing (and the role may), connects and
/// applies `migrator`. Errors name the service's database and the variable
/// to check.
pub async fn open(service: &str, url: &Url, migrator: &Migrator) -> anyhow::Result<Database> {
    let context = || format!("cannot connect to the {service} database (DATABASE_URL)");
    create_if_missing(url.as_str())
        .await
        .with_context(context)?;
    let db = Database::connect(url.as_str())
        .await
        .with_context(context)?;
    migrator
        .run(db.pool())
        .await
        .with_context(|| format!("cannot migrate the {service} database"))?;
    Ok(db)
}

async fn create_if_missing(url: &str) -> sqlx::Result<()> {
    if Postgres::database_exists(url).await? {
        return Ok(());
    }
    // Two replicas starting at once may both try: the loser's error is
    // harmless if the database now exists.
    match Postgres::create_database(url).await {
        Err(error) if !Postgres::database_exists(url).await? => Err(error),
        _ => Ok(()),
    }
}
