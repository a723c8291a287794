//! Postgres with a CLIENT span for every statement.
//!
//! sqlx emits no spans of its own, so every query goes through this module:
//! a [`Statement`] names its operation and collection next to its SQL, and
//! running it opens a span named `{db.operation.name} {db.collection.name}`
//! with the database semantic conventions' attributes. A statement that does
//! several things at once (a `WITH` that updates one table and inserts into
//! another, to save round trips) also says so in a summary
//! ([`Statement::summarized`]), which names its span instead.
//!
//! ```ignore
//! const FIND_USER: Statement = Statement::new(
//!     "SELECT", "users", "SELECT id, name FROM users WHERE id = $1");
//!
//! let user: Option<UserRow> = FIND_USER.query_as().bind(id).fetch_optional(&db).await?;
//! let mut tx = db.begin().await?;
//! FIND_USER.query_as::<UserRow>().bind(id).fetch_one(&mut tx).await?;
//! ```
//!
//! `BEGIN` and `COMMIT` are not traced: they carry no statement a reader of
//! the trace needs, and the spans inside the transaction already show it.

use std::{future::Future, sync::Arc, time::Duration};

use opentelemetry_semantic_conventions::attribute as semconv;
use sqlx::{
    Executor, PgPool, Postgres,
    postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow},
};
use tracing::{Instrument, Span, field::Empty};

/// How long a request may wait for a free connection before it fails: a
/// saturated or unreachable database must not hang requests.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one statement may run. Postgres enforces it on its side
/// (`statement_timeout`); the client enforces it too, because a database
/// that vanished from the network never answers at all.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection idle in the pool for longer than this is pinged before it
/// is used; one used more recently is not (see [`ping_if_idle`]).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_millis(500);

/// How long `/readyz` waits for Postgres: a probe must answer quickly,
/// most of all when the database is away.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// One SQL statement and what the conventions say about it.
///
/// The operation and collection are written next to the SQL, not parsed
/// out of it: the conventions prefer values "as provided by the
/// application", and a parser would be more code than all of them.
#[derive(Debug)]
pub struct Statement {
    operation: &'static str,
    collection: &'static str,
    sql: &'static str,
    summary: Option<&'static str>,
}

impl Statement {
    /// `operation` is the SQL keyword (`SELECT`, `INSERT`, ...), `collection`
    /// the table it works on, `sql` the parameterised statement: values are
    /// always bound, so `db.query.text` never holds one.
    #[must_use]
    pub const fn new(operation: &'static str, collection: &'static str, sql: &'static str) -> Self {
        Self {
            operation,
            collection,
            sql,
            summary: None,
        }
    }

    /// The same statement, with `db.query.summary`: every operation and the
    /// table it works on, in the order the SQL has them (`SELECT products
    /// UPDATE products INSERT orders`). The conventions name the span after
    /// the summary when there is one; `operation` and `collection` stay
    /// what the statement is for, which the duration metric is keyed on.
    #[must_use]
    pub const fn summarized(self, summary: &'static str) -> Self {
        Self {
            summary: Some(summary),
            ..self
        }
    }

    /// A statement whose result is ignored or counted.
    pub fn query(&'static self) -> Query {
        Query {
            statement: self,
            inner: sqlx::query(self.sql),
        }
    }

    /// A statement whose rows are read as `O`.
    pub fn query_as<O>(&'static self) -> QueryAs<O>
    where
        O: for<'r> sqlx::FromRow<'r, PgRow>,
    {
        QueryAs {
            statement: self,
            inner: sqlx::query_as(self.sql),
        }
    }

    /// `db.client.operation.duration`'s attributes: the span's, less the
    /// query text and the server.
    fn metric_attributes(&self, peer: &Peer) -> Vec<opentelemetry::KeyValue> {
        use opentelemetry::KeyValue;
        vec![
            KeyValue::new(semconv::DB_SYSTEM_NAME, "postgresql"),
            KeyValue::new(semconv::DB_NAMESPACE, peer.database.clone()),
            KeyValue::new(semconv::DB_OPERATION_NAME, self.operation),
            KeyValue::new(semconv::DB_COLLECTION_NAME, self.collection),
        ]
    }

    fn span(&self, peer: &Peer) -> Span {
        if UNTRACED.try_with(|()| ()).is_ok() {
            return Span::none();
        }
        let name = match self.summary {
            Some(summary) => summary.to_owned(),
            None => format!("{} {}", self.operation, self.collection),
        };
        tracing::info_span!(
            "db.query",
            otel.name = name,
            otel.kind = "client",
            otel.status_code = Empty,
            otel.status_description = Empty,
            { semconv::DB_SYSTEM_NAME } = "postgresql",
            { semconv::DB_NAMESPACE } = peer.database.as_str(),
            { semconv::DB_OPERATION_NAME } = self.operation,
            { semconv::DB_COLLECTION_NAME } = self.collection,
            { semconv::DB_QUERY_TEXT } = self.sql,
            { semconv::DB_QUERY_SUMMARY } = self.summary,
            { semconv::SERVER_ADDRESS } = peer.address.as_str(),
            { semconv::SERVER_PORT } = i64::from(peer.port),
            { semconv::DB_RESPONSE_STATUS_CODE } = Empty,
            { semconv::ERROR_TYPE } = Empty,
        )
    }
}

tokio::task_local! {
    static UNTRACED: ();
}

#[cfg(feature = "fault-injection")]
tokio::task_local! {
    static FAILING_STATEMENTS: ();
}

/// Runs `future` with its statements untraced: for polling that finds
/// nothing to do most of the time (a reconciler's scan), whose trace every
/// few seconds would bury the real ones, as health probes would.
pub async fn untraced<F: Future>(future: F) -> F::Output {
    UNTRACED.scope((), future).await
}

/// Runs `future` with every statement it makes failing as if the
/// connection had dropped, without reaching Postgres: what a database
/// failure looks like, on demand (`fault.<service>=db_error`).
///
/// A demonstration hook (the suite's `fault.<service>=db_error`), behind the
/// `fault-injection` feature: no service of yours should need it.
#[cfg(feature = "fault-injection")]
pub async fn with_failing_statements<F: Future>(future: F) -> F::Output {
    FAILING_STATEMENTS.scope((), future).await
}

/// Whether this task asked its statements to fail ([`with_failing_statements`]).
#[cfg(feature = "fault-injection")]
fn failing_on_purpose() -> bool {
    FAILING_STATEMENTS.try_with(|()| ()).is_ok()
}

#[cfg(not(feature = "fault-injection"))]
fn failing_on_purpose() -> bool {
    false
}

/// Runs one statement inside its span, marks the span on failure, and
/// records `db.client.operation.duration` (for untraced statements too:
/// metrics are not sampled).
async fn traced<T>(
    statement: &Statement,
    peer: &Peer,
    query: impl Future<Output = sqlx::Result<T>>,
) -> sqlx::Result<T> {
    let started = std::time::Instant::now();
    let span = statement.span(peer);
    let result = if failing_on_purpose() {
        Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset (injected fault)",
        )))
    } else {
        tokio::time::timeout(STATEMENT_TIMEOUT, query.instrument(span.clone()))
            .await
            .unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the statement got no answer in time",
                )))
            })
    };
    let error_type = result
        .as_ref()
        .err()
        .map(|error| record_error(&span, error));
    crate::metrics::instruments().db_operation_duration.record(
        started.elapsed().as_secs_f64(),
        &crate::metrics::with_error_type(statement.metric_attributes(peer), error_type),
    );
    result
}

/// `error.type` is the SQLSTATE when Postgres gave one (`23505` for a
/// unique violation), else the kind of failure. Returns it.
fn record_error(span: &Span, error: &sqlx::Error) -> String {
    let error_type = match error {
        sqlx::Error::Database(error) => {
            let code = error.code().map(std::borrow::Cow::into_owned);
            span.record(semconv::DB_RESPONSE_STATUS_CODE, code.as_deref());
            code.unwrap_or_else(|| "database".to_owned())
        }
        sqlx::Error::PoolTimedOut => "pool_timed_out".to_owned(),
        sqlx::Error::Io(error) if error.kind() == std::io::ErrorKind::TimedOut => {
            "timeout".to_owned()
        }
        sqlx::Error::Io(_) => "io".to_owned(),
        sqlx::Error::RowNotFound => "row_not_found".to_owned(),
        _ => "sqlx::Error".to_owned(),
    };
    let message = error.to_string();
    crate::add_exception_event(span, "sqlx::Error", &message);
    span.record(semconv::ERROR_TYPE, error_type.as_str());
    span.record("otel.status_code", "error");
    span.record("otel.status_description", message);
    error_type
}

/// Where the statements go, for `server.*` and `db.namespace`.
#[derive(Debug)]
pub struct Peer {
    address: String,
    port: u16,
    database: String,
}

/// Why [`Database::connect`] failed, with the address it tried.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to Postgres at {address}: {reason}")]
pub struct ConnectError {
    /// `host:port/database`.
    pub address: String,
    /// sqlx's error.
    pub reason: sqlx::Error,
}

/// A pool of connections to one database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Database {
    pool: PgPool,
    peer: Arc<Peer>,
}

impl Database {
    /// Opens a pool to the database `url` names; every connection gets the
    /// statement timeout. `sslmode` in the URL asks for TLS (the `tls`
    /// feature): `require`, or `verify-full` against the platform's roots.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let options: PgConnectOptions = url.parse().map_err(|reason| ConnectError {
            address: "the URL given".to_owned(),
            reason,
        })?;
        let options = options.options([(
            "statement_timeout",
            STATEMENT_TIMEOUT.as_millis().to_string(),
        )]);
        let peer = Peer {
            address: options.get_host().to_owned(),
            port: options.get_port(),
            database: options.get_database().unwrap_or_default().to_owned(),
        };
        let pool = match PgPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(ping_if_idle)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => pool,
            Err(error) => {
                // The pool says only that it timed out; one connection of
                // its own says why (refused, a password, TLS).
                let reason =
                    match <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await {
                        Err(reason) => reason,
                        Ok(_) => error,
                    };
                return Err(ConnectError {
                    address: format!("{}:{}/{}", peer.address, peer.port, peer.database),
                    reason,
                });
            }
        };
        Ok(Self {
            pool,
            peer: Arc::new(peer),
        })
    }

    /// The pool itself, for what is no request's work and needs no span:
    /// applying migrations at start, say. Statements go through
    /// [`Statement`].
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts a transaction whose statements are traced like the pool's.
    pub async fn begin(&self) -> sqlx::Result<Transaction> {
        Ok(Transaction {
            inner: self.pool.begin().await?,
            peer: Arc::clone(&self.peer),
        })
    }

    /// Answers whether Postgres answers, for `/readyz`. Not traced: probes
    /// run every few seconds and would drown the real traces.
    pub async fn ping(&self) -> bool {
        tokio::time::timeout(PING_TIMEOUT, self.pool.execute("SELECT 1"))
            .await
            .is_ok_and(|result| result.is_ok())
    }
}

/// Whether a connection taken from the pool may be used: sqlx pings every
/// connection when it goes back to the pool (and closes it if that fails),
/// and by default pings it again when it is taken, a second round trip to
/// Postgres for every statement outside a transaction. A connection given
/// back within the last half second was just found alive; only one that
/// sat idle longer (through a database restart, say) is pinged before use,
/// and replaced if the ping fails. `HikariCP` skips its check the same way.
#[expect(
    clippy::needless_pass_by_value,
    reason = "sqlx's before_acquire hands the metadata over by value"
)]
fn ping_if_idle(
    connection: &mut sqlx::PgConnection,
    metadata: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = sqlx::Result<bool>> + Send + '_>> {
    Box::pin(async move {
        if metadata.idle_for >= PING_WHEN_IDLE_FOR {
            sqlx::Connection::ping(connection).await?;
        }
        Ok(true)
    })
}

/// A transaction whose statements are traced like the pool's.
#[derive(Debug)]
pub struct Transaction {
    inner: sqlx::Transaction<'static, Postgres>,
    peer: Arc<Peer>,
}

impl Transaction {
    /// Commits; not traced, like `BEGIN`.
    pub async fn commit(self) -> sqlx::Result<()> {
        self.inner.commit().await
    }
}

/// What a statement can run on: the pool (`&db`) or a transaction (`&mut tx`).
pub trait Target: Send {
    /// Where the statement goes, and what runs it.
    #[doc(hidden)]
    fn split(&mut self) -> (&Peer, impl Executor<'_, Database = Postgres>);
}

impl Target for &Database {
    fn split(&mut self) -> (&Peer, impl Executor<'_, Database = Postgres>) {
        (&self.peer, &self.pool)
    }
}

impl Target for &mut Transaction {
    fn split(&mut self) -> (&Peer, impl Executor<'_, Database = Postgres>) {
        (&self.peer, &mut *self.inner)
    }
}

/// A statement with its values bound, whose result is ignored or counted.
pub struct Query {
    statement: &'static Statement,
    inner: sqlx::query::Query<'static, Postgres, PgArguments>,
}

impl Query {
    /// Binds the next parameter (`$1`, `$2`, ...).
    #[must_use]
    pub fn bind<T>(self, value: T) -> Self
    where
        T: 'static + sqlx::Encode<'static, Postgres> + sqlx::Type<Postgres> + Send,
    {
        Self {
            inner: self.inner.bind(value),
            ..self
        }
    }

    /// Runs the statement in its span; the rows affected.
    pub async fn execute(self, mut on: impl Target) -> sqlx::Result<PgQueryResult> {
        let (peer, executor) = on.split();
        traced(self.statement, peer, self.inner.execute(executor)).await
    }
}

/// A statement with its values bound, whose rows are read as `O`.
pub struct QueryAs<O> {
    statement: &'static Statement,
    inner: sqlx::query::QueryAs<'static, Postgres, O, PgArguments>,
}

impl<O> QueryAs<O>
where
    O: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    /// Binds the next parameter (`$1`, `$2`, ...).
    #[must_use]
    pub fn bind<T>(self, value: T) -> Self
    where
        T: 'static + sqlx::Encode<'static, Postgres> + sqlx::Type<Postgres> + Send,
    {
        Self {
            inner: self.inner.bind(value),
            ..self
        }
    }

    /// Runs the statement in its span; exactly one row, or an error.
    pub async fn fetch_one(self, mut on: impl Target) -> sqlx::Result<O> {
        let (peer, executor) = on.split();
        traced(self.statement, peer, self.inner.fetch_one(executor)).await
    }

    /// Runs the statement in its span; the first row, if any.
    pub async fn fetch_optional(self, mut on: impl Target) -> sqlx::Result<Option<O>> {
        let (peer, executor) = on.split();
        traced(self.statement, peer, self.inner.fetch_optional(executor)).await
    }

    /// Runs the statement in its span; every row.
    pub async fn fetch_all(self, mut on: impl Target) -> sqlx::Result<Vec<O>> {
        let (peer, executor) = on.split();
        traced(self.statement, peer, self.inner.fetch_all(executor)).await
    }
}
