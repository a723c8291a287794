//! The suite's databases on the local Postgres: one set per run, and what
//! runs that died left behind.

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use anyhow::{Context as _, ensure};

/// Postgres as the contract's local setup has it; every run gets its own
/// databases on it.
pub(super) const POSTGRES: &str = "postgres://postgres:postgres@127.0.0.1:5432";
/// Where [`POSTGRES`] listens, for a proxy in front of it.
pub const POSTGRES_ADDRESS: &str = "127.0.0.1:5432";

/// `<pid>_<n>`: unique among the suites of this process and of any other
/// test process running at the same time.
pub(super) fn run_id() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test databases of processes that are gone.
pub(super) fn stale_databases() -> anyhow::Result<Vec<String>> {
    let names = query("SELECT datname FROM pg_database WHERE datname LIKE 'e2e\\_%'")?;
    let is_gone = |pid: &str| !Path::new("/proc").join(pid).exists();
    Ok(names
        .lines()
        .filter(|name| name.split('_').nth(1).is_some_and(is_gone))
        .map(str::to_owned)
        .collect())
}

/// `DROP DATABASE ... WITH (FORCE)` through `psql`: synchronous, so `Drop`
/// can use it, and it needs no runtime.
pub(super) fn drop_databases<'a>(
    names: impl IntoIterator<Item = &'a String>,
) -> anyhow::Result<()> {
    let drops: Vec<String> = names
        .into_iter()
        .map(|name| format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .collect();
    psql(&drops)?;
    Ok(())
}

/// Transactions committed or rolled back in the databases `names`, as
/// Postgres counts them (`pg_stat_database`). A backend reports its counts
/// when it goes idle (at most once a second) and when it exits, so read
/// after the clients have disconnected ([`connected`]).
pub(super) fn transactions<'a>(names: impl IntoIterator<Item = &'a String>) -> anyhow::Result<u64> {
    query(&format!(
        "SELECT coalesce(sum(xact_commit + xact_rollback), 0) FROM pg_stat_database \
         WHERE datname IN ({})",
        quoted(names)
    ))?
    .parse()
    .context("reading pg_stat_database")
}

/// Whether any client is still connected to one of the databases `names`.
pub(super) fn connected<'a>(names: impl IntoIterator<Item = &'a String>) -> anyhow::Result<bool> {
    Ok(query(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname IN ({})",
        quoted(names)
    ))? != "0")
}

/// `'a', 'b'`: the suite's names need no escaping (`e2e_<pid>_<n>_<service>`).
fn quoted<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|name| format!("'{name}'")).collect();
    quoted.join(", ")
}

/// One value from a query on the server's `postgres` database.
fn query(sql: &str) -> anyhow::Result<String> {
    psql(&[sql])
}

/// Runs `commands` in order through `psql` on the server's `postgres`
/// database, stopping at the first that fails; what they printed, as bare
/// values.
fn psql(commands: &[impl AsRef<str>]) -> anyhow::Result<String> {
    let mut command = Command::new("psql");
    command.arg(format!("{POSTGRES}/postgres")).args([
        "--quiet",
        "--no-psqlrc",
        "--tuples-only",
        "--no-align",
        "-v",
        "ON_ERROR_STOP=1",
    ]);
    for sql in commands {
        command.arg("-c").arg(sql.as_ref());
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .context("running psql")?;
    ensure!(
        output.status.success(),
        "psql failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
