//! `loadgen`: synthetic checkout traffic for the suite, and what it measured.
//!
//! ```ignore
//! let client = loadgen::http_client()?;
//! let mut mix = loadgen::Mix::new(loadgen::Weights::default(), seed);
//! let summary = loadgen::run(
//!     &client,
//!     &gateway,                          // url::Url of the gateway
//!     loadgen::Load::open(50.0),         // or Load::Closed { workers: 8 }
//!     loadgen::Limit::Duration(Duration::from_secs(20)),
//!     &mut mix,
//!     |so_far| eprintln!("{}", so_far.line()),
//!     std::future::pending(),            // or a shutdown signal
//! )
//! .await;
//! println!("{summary}");                 // requests, rate, p50/p90/p99/max, by status
//! ```
//!
//! Every request says it is synthetic, twice: `User-Agent: loadgen/<version>`
//! (the gateway's SERVER span records it as `user_agent.original`, so
//! Tempo finds those traces with `{ span.user_agent.original =~ "loadgen/.*" }`)
//! and the W3C baggage entry `synthetic_request=true`, which every service
//! passes on and records on its server span as `app.synthetic_request`
//! (a span-metrics dimension in Tempo, so dashboards can leave it out).
//!
//! # Layout
//!
//! - [`mix`]: [`Mix`], the seeded stream of [`Checkout`]s, weighted by
//!   [`Weights`] over the [`Kind`]s of traffic.
//! - [`run`](mod@run): [`run`](fn@run), closed or open loop ([`Load`]) until a [`Limit`]
//!   or a stop, and the one HTTP client it is meant for.
//! - [`summary`]: [`Summary`], answers by [`Outcome`] and latency from an
//!   HDR histogram; a table as its `Display`.

pub mod mix;
pub mod run;
pub mod summary;

pub use mix::{Checkout, Kind, Mix, Weights};
pub use run::{BAGGAGE, Limit, Load, USER_AGENT, http_client, run};
pub use summary::{Outcome, Summary};
