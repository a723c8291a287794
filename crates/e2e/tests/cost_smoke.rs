//! A short round of the cost benchmark (`cargo bench -p e2e --bench
//! tracing_cost`): every configuration starts, takes load and produces
//! numbers. The numbers themselves are the benchmark's business: debug
//! builds on a shared CI machine say nothing about cost.

use e2e::cost::{self, Phases, Telemetry};

#[tokio::test(flavor = "multi_thread")]
async fn every_configuration_produces_numbers() -> anyhow::Result<()> {
    let results = cost::compare(Phases::SMOKE, 1).await?;
    println!("{}", cost::table(&results, Phases::SMOKE));

    assert_eq!(results.len(), Telemetry::ALL.len());
    for result in &results {
        let label = result.telemetry.label();
        assert!(result.saturation_rate > 0.0, "{label}: no throughput");
        assert!(!result.p99.is_zero(), "{label}: no latency");
        assert_eq!(result.failed, 0, "{label}: checkouts failed");
        assert!(
            result.peak_rss_mib.iter().all(|mib| *mib > 0.0),
            "{label}: {:?}",
            result.peak_rss_mib
        );
        assert!(
            !result
                .cpu_per_checkout
                .iter()
                .sum::<std::time::Duration>()
                .is_zero(),
            "{label}: no CPU time"
        );
        assert!(
            result.kernel_share > 0.0 && result.kernel_share < 1.0,
            "{label}: {} of the CPU time in the kernel",
            result.kernel_share
        );
        assert!(
            result.transactions_per_checkout >= 1.0,
            "{label}: {} transactions per checkout",
            result.transactions_per_checkout
        );
        assert_eq!(
            result.statements_per_checkout > 0.0,
            result.telemetry.exports(),
            "{label}: {} statements per checkout",
            result.statements_per_checkout
        );
        assert_eq!(
            result.spans_received > 0,
            result.telemetry.exports(),
            "{label}: {} spans received",
            result.spans_received
        );
        assert_eq!(
            result.metric_points_received > 0,
            result.telemetry == Telemetry::Exported,
            "{label}: {} metric points received",
            result.metric_points_received
        );
    }
    Ok(())
}
