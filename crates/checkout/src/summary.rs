//! The closing line of a `--count` run: answers by status, and latency.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::send::{Outcome, latency};

/// `10 checkouts: 8 x 201, 2 x 402; latency min 9.8 ms, p50 12.1 ms, max 40.3 ms`
pub fn summary(outcomes: &[Outcome]) -> String {
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in outcomes {
        let status = match &outcome.result {
            Ok(answer) => answer.status.to_string(),
            Err(_) => "no answer".to_owned(),
        };
        *by_status.entry(status).or_default() += 1;
    }
    let counts: Vec<String> = by_status
        .iter()
        .map(|(status, count)| format!("{count} x {status}"))
        .collect();
    let mut latencies: Vec<Duration> = outcomes.iter().map(|outcome| outcome.latency).collect();
    latencies.sort_unstable();
    let line = format!("{} checkouts: {}", outcomes.len(), counts.join(", "));
    let (Some(min), Some(max)) = (latencies.first(), latencies.last()) else {
        return line;
    };
    // The nearest-rank median: the lower middle of an even count.
    let p50 = latencies[(latencies.len() - 1) / 2];
    format!(
        "{line}; latency min {}, p50 {}, max {}",
        latency(*min),
        latency(p50),
        latency(*max)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::Answer;

    fn outcome(status: Option<u16>, millis: u64) -> Outcome {
        Outcome {
            latency: Duration::from_millis(millis),
            result: status.map_or_else(
                || Err("refused".to_owned()),
                |status| {
                    Ok(Answer {
                        status,
                        order_id: None,
                        problem: None,
                        trace: None,
                    })
                },
            ),
        }
    }

    #[test]
    fn counts_by_status_and_takes_min_median_max() {
        let outcomes = [
            outcome(Some(402), 40),
            outcome(Some(201), 10),
            outcome(None, 1),
            outcome(Some(201), 12),
            outcome(Some(201), 11),
        ];
        assert_eq!(
            summary(&outcomes),
            "5 checkouts: 3 x 201, 1 x 402, 1 x no answer; \
             latency min 1.0 ms, p50 11.0 ms, max 40.0 ms"
        );
    }
}
