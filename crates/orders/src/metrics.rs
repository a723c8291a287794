//! orders' own metrics, defined in the suite's registry: idempotent replays
//! (`order.idempotent_replays`) and the events waiting in the outbox
//! (`order.outbox.unsent`), the number to watch when NATS is away.

use std::{
    sync::{
        Arc, LazyLock,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use telemetry::{db::Database, metrics::Counter};

use crate::db;

/// How often the outbox is counted: a gauge needs no fresher number than
/// the export interval, and the count is one cheap statement.
const OUTBOX_COUNT_INTERVAL: Duration = Duration::from_secs(5);

/// Counts a request answered again from its `Idempotency-Key`.
pub fn idempotent_replay() {
    static REPLAYS: LazyLock<Counter<u64>> = LazyLock::new(|| {
        telemetry::metrics::meter("orders")
            .u64_counter("order.idempotent_replays")
            .with_unit("{request}")
            .with_description("Requests answered again from their Idempotency-Key.")
            .build()
    });
    REPLAYS.add(1, &[]);
}

/// Counts the outbox's unsent events every few seconds on its own task,
/// for the `order.outbox.unsent` gauge. The counting is not traced: it is
/// no request of anybody's.
pub fn watch_outbox(db: Database) {
    let unsent = Arc::new(AtomicI64::new(0));
    let observed = Arc::clone(&unsent);
    // The meter provider keeps the callback: the handle `build` returns is
    // only a marker.
    telemetry::metrics::meter("orders")
        .i64_observable_gauge("order.outbox.unsent")
        .with_unit("{event}")
        .with_description("Events in the outbox not yet published to NATS.")
        .with_callback(move |observer| observer.observe(observed.load(Ordering::Relaxed), &[]))
        .build();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(OUTBOX_COUNT_INTERVAL);
        loop {
            ticks.tick().await;
            if let Ok(count) = telemetry::db::untraced(db::outbox::count_unsent(&db)).await {
                unsent.store(count, Ordering::Relaxed);
            }
        }
    });
}
