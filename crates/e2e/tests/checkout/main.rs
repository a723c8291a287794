//! The checkout, end to end: the six binaries as processes, real Postgres,
//! real OTLP export to an in-memory receiver.
//!
//! One suite is started for the whole binary and shared by every test (a
//! custom libtest-mimic harness, so it can be stopped cleanly at the end);
//! tests that must stop or break a service start their own.
//!
//! - `support`: the test's own client, requests and assertions.
//! - `trace`: the trace of a confirmed checkout, hop by hop.
//! - `events`: `orders.confirmed` through the outbox and NATS to users.
//! - `failures`: declined, unknown customer, unknown sku, sold out, bad input.
//! - `bad_input`: generated bad bodies, path ids and headers to every
//!   service's every endpoint; unknown members; slow bodies; huge heads.
//! - `propagation`: incoming `traceparent`, sampled or not, malformed.
//! - `secrets`: no card number or CVC in anything exported or logged.
//! - `configuration`: the `OTEL_*` environment: samplers, exporters,
//!   resource, kill switch, bad values.
//! - `idempotency`: `Idempotency-Key`, under concurrency and misuse.
//! - `outages`: a refusing, failing or hung collector costs nothing.
//! - `resilience`: deadlines, a lost payment answer settled later, a
//!   database cut and restored.
//! - `faults`: `fault.<service>` baggage, each kind, and off by default.
//! - `shutdown`: SIGTERM drains in-flight requests and flushes their spans.
//! - `metrics`: the conventions' instruments and the suite's own, counted
//!   exactly, with bounded attributes.
//! - `storefront`: the shop page in headless Chromium, from the click to
//!   the database, and the route that takes the page's spans.
//! - `registry`: every attribute and event exported is in the semantic
//!   conventions or the suite's registry (`semconv/`).
//! - `dashboards`: once the rest has run, a second gateway joins, and
//!   every dashboard panel, rule and link is run by a real Prometheus on
//!   this run's metrics, written and spaced as the stack stores them.

mod bad_input;
mod configuration;
mod dashboards;
mod events;
mod failures;
mod faults;
mod idempotency;
mod metrics;
mod outages;
mod propagation;
mod registry;
mod resilience;
mod secrets;
mod shutdown;
mod storefront;
mod support;
mod trace;

use std::{future::Future, process::ExitCode, sync::Arc};

use e2e::{Suite, SuiteOptions};
use libtest_mimic::{Arguments, Failed, Trial};

type TestFn = fn(Arc<Suite>) -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Every test of this binary: a name a user would recognise, and the test.
/// Names start with their module (`bad_input::...`), so a filter can pick
/// a module's tests.
fn tests() -> Vec<(&'static str, TestFn)> {
    macro_rules! tests {
        ($($module:ident::$test:ident),* $(,)?) => {
            vec![$((concat!(stringify!($module), "::", stringify!($test)), |suite| Box::pin($module::$test(suite)) as _)),*]
        };
    }
    tests![
        trace::confirmed_checkout_is_one_trace_with_the_contract_shape,
        trace::every_hop_carries_http_semantic_conventions,
        trace::every_database_owner_traces_its_queries,
        trace::business_spans_carry_domain_attributes_and_milestones,
        trace::card_processor_exports_nothing,
        trace::logs_carry_the_trace_of_their_request,
        events::confirmed_order_event_joins_the_checkout_trace,
        events::one_checkout_is_one_trace_and_an_unsampled_one_exports_nothing,
        events::each_event_counts_once_and_a_poison_message_is_set_aside,
        events::nats_outage_never_fails_a_checkout_and_events_follow_when_it_returns,
        events::services_start_and_serve_with_nats_absent,
        failures::declined_card_leaves_order_payment_failed_and_stock_returned,
        idempotency::fifty_concurrent_retries_place_one_order_and_charge_once,
        idempotency::a_declined_checkout_replays_its_402_and_charges_once,
        idempotency::the_same_key_with_another_body_is_409_and_changes_nothing,
        failures::unknown_customer_is_404_and_places_no_order,
        failures::unknown_sku_is_422_and_charges_nothing,
        failures::sold_out_is_409_and_charges_nothing,
        failures::invalid_fields_are_422_listing_every_problem,
        failures::malformed_bodies_are_400_and_oversized_413,
        failures::unknown_order_is_404,
        failures::a_method_a_path_does_not_serve_is_405_with_allow,
        failures::stopped_dependency_is_503,
        bad_input::generated_bad_input_gets_a_4xx_problem_from_every_endpoint,
        bad_input::unknown_members_are_ignored_by_every_service,
        bad_input::card_data_of_the_wrong_type_is_not_logged,
        bad_input::slow_bodies_get_a_408_problem_in_time,
        bad_input::heads_past_the_limit_get_hypers_431,
        bad_input::slow_heads_are_cut_off_in_time,
        propagation::caller_traceparent_parents_the_gateway_span,
        propagation::unsampled_caller_exports_nothing_and_still_succeeds,
        propagation::malformed_traceparent_starts_a_new_trace,
        propagation::synthetic_baggage_marks_every_server_span,
        secrets::no_card_number_or_cvc_reaches_telemetry_or_logs,
        configuration::sdk_disabled_exports_nothing_and_logs_keep_their_trace_ids,
        configuration::always_off_samples_nothing_and_every_request_succeeds,
        configuration::parent_based_ratio_follows_the_callers_decision,
        configuration::ratio_half_keeps_about_half_the_traces_each_complete,
        configuration::traces_exporter_none_still_exports_logs,
        configuration::console_exporter_prints_spans_on_stdout,
        configuration::resource_attributes_and_service_name_reach_every_span,
        configuration::bad_values_stop_a_service_with_one_line_naming_the_variable,
        configuration::grpc_protocol_exports_the_whole_trace,
        outages::refused_collector_costs_checkouts_nothing,
        outages::failing_collector_costs_checkouts_nothing,
        outages::hung_collector_costs_checkouts_nothing_and_its_queue_is_bounded,
        shutdown::in_flight_checkout_finishes_and_its_spans_are_flushed_at_sigterm,
        resilience::slow_dependency_past_the_deadline_is_504_and_nobody_keeps_working,
        resilience::a_charge_whose_answer_was_lost_is_settled_by_the_reconciler,
        resilience::a_lost_decline_gives_the_stock_back_exactly_once,
        resilience::a_failed_processor_call_is_settled_as_not_charged,
        resilience::database_cut_and_restored_is_survived_without_a_restart,
        faults::fault_error_fails_the_named_service_and_its_span,
        faults::fault_latency_slows_one_hop_and_the_checkout_still_succeeds,
        faults::fault_timeout_lets_the_callers_deadline_pass,
        faults::fault_db_error_fails_the_services_first_statement,
        faults::fault_latency_at_the_card_processor_shows_on_the_call_to_it,
        faults::faults_are_ignored_unless_enabled,
        metrics::every_service_exports_the_conventions_instruments,
        metrics::the_suites_own_metrics_arrive,
        metrics::n_checkouts_move_the_checkout_count_by_exactly_n,
        metrics::failures_carry_error_type,
        metrics::metrics_exporter_none_and_sdk_disabled_export_no_metrics,
        storefront::the_page_and_its_files_carry_their_headers_and_only_the_page_is_traced,
        storefront::the_otlp_route_refuses_what_is_not_otlp,
        storefront::spans_claiming_another_service_are_not_forwarded,
        storefront::a_client_sending_too_fast_gets_429_and_others_do_not,
        storefront::a_click_in_the_browser_is_the_root_of_the_checkouts_trace,
        storefront::the_page_works_with_the_gateways_sdk_disabled,
    ]
}

fn main() -> ExitCode {
    let arguments = Arguments::from_args();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => Arc::new(runtime),
        Err(error) => {
            eprintln!("cannot start a Tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let tests = tests();
    // `--list` and filters that match nothing must not start the suite.
    // The scans after them count too: `-- dashboards` runs that one alone.
    let selected = (tests.iter().map(|(name, _)| *name))
        .chain(["dashboards::every_panel_rule_and_link_reads_this_runs_series"])
        .any(|name| {
            arguments
                .filter
                .as_deref()
                .is_none_or(|filter| name.contains(filter))
        });
    let suite = if selected && !arguments.list {
        match runtime.block_on(Suite::start(SuiteOptions::default())) {
            Ok(suite) => Some(Arc::new(suite)),
            Err(error) => {
                eprintln!("cannot start the suite: {error:#}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };

    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            let suite = suite.clone();
            let runtime = Arc::clone(&runtime);
            Trial::test(name, move || {
                let suite = suite.ok_or_else(|| Failed::from("the suite did not start"))?;
                runtime
                    .block_on(test(suite))
                    .map_err(|error| Failed::from(format!("{error:#}")))
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    // Once every other test has run against the shared suite, scan all it
    // exported and logged.
    let scans: Vec<Trial> = suite
        .iter()
        .flat_map(|suite| {
            let (secrets, registry, metrics, dashboards) = (
                Arc::clone(suite),
                Arc::clone(suite),
                Arc::clone(suite),
                Arc::clone(suite),
            );
            let runtime = Arc::clone(&runtime);
            [
                Trial::test(
                    "nothing_sensitive_was_exported_or_logged_by_any_test",
                    move || {
                        secrets::nothing_sensitive_was_exported_or_logged_by_any_test(&secrets);
                        Ok(())
                    },
                ),
                Trial::test(
                    "registry::everything_exported_is_in_the_registry",
                    move || {
                        registry::everything_exported_is_in_the_registry(&registry);
                        Ok(())
                    },
                ),
                Trial::test(
                    "metrics::no_metric_attribute_is_an_id_a_card_number_or_a_raw_path",
                    move || {
                        metrics::no_metric_attribute_is_an_id_a_card_number_or_a_raw_path(&metrics);
                        Ok(())
                    },
                ),
                // Last, as it starts a second gateway: no count of another
                // test can see its checkouts.
                Trial::test(
                    "dashboards::every_panel_rule_and_link_reads_this_runs_series",
                    move || {
                        runtime
                            .block_on(
                                dashboards::every_panel_rule_and_link_reads_this_runs_series(
                                    dashboards,
                                ),
                            )
                            .map_err(|error| Failed::from(format!("{error:#}")))
                    },
                ),
            ]
        })
        .collect();
    let scanned = libtest_mimic::run(&arguments, scans);
    // Stop the services and drop their databases before exiting: `exit`
    // would skip the suite's destructor.
    drop(suite);
    if conclusion.has_failed() {
        conclusion.exit_code()
    } else {
        scanned.exit_code()
    }
}
