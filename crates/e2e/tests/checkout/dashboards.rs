//! What Grafana shows is true, on this run's data: every dashboard panel,
//! recording rule, the Grafana alert and the trace-to-metrics links, run by
//! a real Prometheus (Debian's 2.42, `crates/stack-check`'s engine) on the
//! metrics this run's services exported, with two gateways.
//!
//! The receiver's metrics are written as Prometheus 3.13's OTLP receiver
//! writes them (`storage/remote/otlptranslator` at v3.13.1: names with
//! `UnderscoreEscapingWithSuffixes`, `job` from `service.name`, `instance`
//! from `service.instance.id`, `prometheus.yaml`'s promoted resource
//! attributes), and spaced as the stack pushes them: the suite exports
//! every 250 ms, so its last exports are stretched until they are
//! `OTEL_METRIC_EXPORT_INTERVAL` apart as `docker-compose.yml` sets it
//! (the SDK's 60 s where unset). The span metrics the stack's Collectors
//! count (`traces_span_metrics_*`) are counted here from the run's spans,
//! with the connector's buckets and flush interval from
//! `otel-collector-config.yaml`. Then `promtool tsdb create-blocks-from
//! openmetrics`, a server on those blocks, and every expression queried
//! over the dashboard's range at Grafana's step and `$__rate_interval`.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context as _, ensure};
use e2e::{AttributeValue, MetricKind, MetricPoint, Service, Span, SpanKind, Status, Suite};
use serde_json::Value;
use stack_check::{
    Repo, YamlExt,
    prometheus::{Labels, OpenMetrics, Server, TempDir},
    queries::{self, Intervals, Origin, Preparation},
};

use crate::support::{APPROVED_CARD, DECLINED_CARD, checkout};

/// The suite's own `OTEL_METRIC_EXPORT_INTERVAL` (`e2e::Suite`).
const SUITE_EXPORT_INTERVAL_MS: f64 = 250.0;
/// How long both gateways take checkouts: longer than the dashboard's
/// range once stretched (15 min at 15 s pushes is 15 s here).
const TRAFFIC: Duration = Duration::from_secs(20);
/// A panel shows the truth when its best series has a number at this share
/// of the range's steps (the first rate window aside): "No data" and a
/// panel of isolated dots both fail.
const COVERAGE: f64 = 0.9;
/// What the connector's `collector.instance.id` reads here: one Collector.
const COLLECTOR_INSTANCE: &str = "e2e-collector";

pub async fn every_panel_rule_and_link_reads_this_runs_series(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let second = suite.start_replica(Service::Gateway).await?;
    let gateways = [suite.url(Service::Gateway), second];
    send_checkouts_through(&gateways).await?;
    // The stretched past ends with the traffic (an idle second here would
    // be minutes of no checkouts there); wait for the exports that cover it.
    let traffic_end = now_ms();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let repo = Repo::default();
    let stack = Stack::read(&repo)?;
    let series = stack.series(
        &suite.receiver().metrics(),
        &suite.receiver().spans(),
        traffic_end,
    );
    let shared = series_shared_by_processes(&series);

    let folder = TempDir::new("e2e-dashboards")?;
    let data = folder.path().join("data");
    std::fs::create_dir_all(&data)?;
    series.backfill(&data)?;
    let config = folder.path().join("prometheus.yaml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n")?;
    let server = Server::start(&config, &data, &[])?;

    let report = stack.run_every_query(&repo, &server)?;
    eprintln!("{}", report.text);
    if let Ok(path) = std::env::var("DASHBOARDS_REPORT") {
        std::fs::write(path, &report.text)?;
    }
    ensure!(
        shared.is_empty() && report.failures.is_empty(),
        "two processes write the same series (no instance label tells them apart), so rate() reads resets:\n{}\n\
         panels, rules or links without data on this run's series:\n{}",
        shared.join("\n"),
        report.failures.join("\n")
    );
    Ok(())
}

/// Checkouts through both gateways, alternating, of every outcome the
/// dashboard shows: confirmed, declined, sold out, unknown customer,
/// invalid.
async fn send_checkouts_through(gateways: &[String; 2]) -> anyhow::Result<()> {
    let bodies = [
        checkout("cus_1001", "sku_keyboard", 1, APPROVED_CARD),
        checkout("cus_1002", "sku_mouse", 2, APPROVED_CARD),
        checkout("cus_1001", "sku_mouse", 1, DECLINED_CARD),
        checkout("cus_1002", "sku_sold_out", 1, APPROVED_CARD),
        checkout("cus_9999", "sku_keyboard", 1, APPROVED_CARD),
        checkout("cus_1001", "sku_keyboard", 0, APPROVED_CARD),
    ];
    let client = e2e::http_client();
    let until = Instant::now() + TRAFFIC;
    let mut sent = 0_usize;
    while Instant::now() < until {
        let gateway = &gateways[sent % 2];
        let body = &bodies[sent % bodies.len()];
        let answer = client
            .post(format!("{gateway}/checkout"))
            .json(body)
            .send()
            .await?;
        ensure!(
            answer.status().as_u16() < 500,
            "{gateway}: {}",
            answer.status()
        );
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// What the stack does to the services' metrics on their way to Prometheus.
struct Stack {
    /// How far apart the stack's pushes are, and so the suite's samples once
    /// stretched.
    export_interval_ms: f64,
    /// `prometheus.yaml`'s `otlp.promote_resource_attributes`.
    promoted: Vec<String>,
    /// The span metrics connector's bucket edges (seconds), flush interval
    /// (ms) and dimensions.
    span_buckets: Vec<f64>,
    span_flush_ms: i64,
    span_dimensions: Vec<String>,
    /// Grafana's intervals, and the dashboard's range (s).
    intervals: Intervals,
    range: i64,
}

impl Stack {
    fn read(repo: &Repo) -> anyhow::Result<Self> {
        let compose = repo.compose()?;
        let interval = compose
            .str_at("services.gateway.environment.OTEL_METRIC_EXPORT_INTERVAL")
            .map_or(Ok(60_000.0), str::parse::<f64>)
            .context("OTEL_METRIC_EXPORT_INTERVAL")?;
        let prometheus = repo.yaml("prometheus.yaml")?;
        let collector = repo.yaml("otel-collector-config.yaml")?;
        let duration = |text: &str| -> Option<f64> {
            match text.strip_suffix("ms") {
                Some(millis) => millis.parse::<f64>().ok().map(|value| value / 1000.0),
                None => text.strip_suffix('s')?.parse().ok(),
            }
        };
        let flush = collector
            .str_at("connectors.span_metrics.metrics_flush_interval")
            .and_then(duration)
            .unwrap_or(60.0);
        let dimensions = collector
            .at("connectors.span_metrics.dimensions")
            .and_then(stack_check::Yaml::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|dimension| dimension.str_at("name").map(str::to_owned))
            .collect();
        Ok(Self {
            export_interval_ms: interval,
            promoted: prometheus.strings_at("otlp.promote_resource_attributes"),
            span_buckets: (collector
                .strings_at("connectors.span_metrics.histogram.explicit.buckets")
                .iter())
            .filter_map(|edge| duration(edge))
            .collect(),
            span_flush_ms: seconds_to_ms(flush),
            span_dimensions: dimensions,
            intervals: Intervals::of_the_stack(repo)?,
            range: i64::try_from(queries::dashboard_range(repo)?)?,
        })
    }

    /// How many times slower than the suite the stack pushes.
    fn stretch(&self) -> f64 {
        self.export_interval_ms / SUITE_EXPORT_INTERVAL_MS
    }

    /// The stretched past this test loads: the dashboard's range, once more
    /// before it for the rate windows, in stack time (ms).
    fn horizon_ms(&self) -> i64 {
        self.range * 2 * 1000 + 10 * 60 * 1000
    }

    /// Every series, as Prometheus would hold them, the suite's
    /// `traffic_end` (ms) stretched to now.
    fn series(&self, points: &[MetricPoint], spans: &[Span], traffic_end: i64) -> OpenMetrics {
        // The first exports after the traffic ended hold its last counts.
        let last_ns = u64::try_from(traffic_end + 300).unwrap_or_default() * 1_000_000;
        let points: Vec<&MetricPoint> = (points.iter())
            .filter(|point| point.time_unix_nanos <= last_ns)
            .collect();
        let spans: Vec<&Span> = (spans.iter())
            .filter(|span| span.end_unix_nanos <= last_ns)
            .collect();
        let end_ms = now_ms() - 1_000;
        let stretch = self.stretch();
        // Suite time (ns) to stack time (ms), the last sample at `end_ms`.
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            reason = "milliseconds of a test run"
        )]
        let at = |time_ns: u64| {
            end_ms - ((last_ns.saturating_sub(time_ns)) as f64 / 1e6 * stretch) as i64
        };
        let start_ms = end_ms - self.horizon_ms();
        let mut series = OpenMetrics::default();
        for point in points {
            let time = at(point.time_unix_nanos);
            if time >= start_ms {
                self.add_point(&mut series, point, time);
            }
        }
        self.add_span_metrics(&mut series, &spans, &at, start_ms, end_ms);
        series
    }

    /// The labels Prometheus's OTLP receiver gives every series of a
    /// resource: `job` (`service.namespace/service.name`), `instance`
    /// (`service.instance.id`, none without it), the promoted attributes.
    fn resource_labels(&self, resource: &BTreeMap<String, AttributeValue>) -> Labels {
        let mut labels = Labels::new();
        if let Some(name) = resource.get("service.name") {
            let job = match resource.get("service.namespace") {
                Some(namespace) => format!("{}/{}", text(namespace), text(name)),
                None => text(name),
            };
            labels.insert("job".to_owned(), job);
        }
        if let Some(instance) = resource.get("service.instance.id") {
            labels.insert("instance".to_owned(), text(instance));
        }
        for attribute in &self.promoted {
            if let Some(value) = resource.get(attribute) {
                labels.insert(label_name(attribute), text(value));
            }
        }
        labels
    }

    fn add_point(&self, series: &mut OpenMetrics, point: &MetricPoint, time: i64) {
        let mut labels = self.resource_labels(&point.resource);
        for (key, value) in &point.attributes {
            labels.insert(label_name(key), text(value));
        }
        let name = metric_name(&point.name, &point.unit, point.kind);
        match point.kind {
            MetricKind::Histogram => {
                let mut cumulative = 0;
                for (index, count) in point.bucket_counts.iter().enumerate() {
                    cumulative += count;
                    let le = point
                        .bounds
                        .get(index)
                        .map_or_else(|| "+Inf".to_owned(), |bound| format!("{bound}"));
                    let mut bucket = labels.clone();
                    bucket.insert("le".to_owned(), le);
                    #[expect(clippy::cast_precision_loss, reason = "test counts")]
                    series.sample(&format!("{name}_bucket"), &bucket, time, cumulative as f64);
                }
                #[expect(clippy::cast_precision_loss, reason = "test counts")]
                series.sample(&format!("{name}_count"), &labels, time, point.count as f64);
                series.sample(&format!("{name}_sum"), &labels, time, point.value);
            }
            MetricKind::Sum { .. } | MetricKind::Gauge => {
                series.sample(&name, &labels, time, point.value);
            }
            MetricKind::Other => {}
        }
    }

    /// `traces_span_metrics_*` as the `span_metrics` connector counts them:
    /// per resource and dimensions, cumulative, flushed every
    /// `span_flush_ms` (stack time).
    fn add_span_metrics(
        &self,
        series: &mut OpenMetrics,
        spans: &[&Span],
        at: &dyn Fn(u64) -> i64,
        start_ms: i64,
        end_ms: i64,
    ) {
        // Each series' spans, by when they ended (stack time) and how long
        // they took (seconds).
        let mut ended: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for span in spans {
            let mut labels = self.resource_labels(&span.resource);
            labels.insert("service_name".to_owned(), span.service.clone());
            labels.insert("span_name".to_owned(), span.name.clone());
            labels.insert("span_kind".to_owned(), span_kind(span.kind).to_owned());
            labels.insert(
                "status_code".to_owned(),
                status_code(&span.status).to_owned(),
            );
            labels.insert(
                "collector_instance_id".to_owned(),
                COLLECTOR_INSTANCE.to_owned(),
            );
            for dimension in &self.span_dimensions {
                if let Some(value) = span.attr(dimension) {
                    labels.insert(label_name(dimension), text(value));
                }
            }
            ended
                .entry(labels)
                .or_default()
                .push((at(span.end_unix_nanos), span.duration().as_secs_f64()));
        }
        let flush = self.span_flush_ms.max(1);
        for (labels, mut spans) in ended {
            spans.sort_by_key(|(time, _)| *time);
            let first = spans[0].0;
            let mut tick = start_ms.max(first - first.rem_euclid(flush) + flush);
            while tick <= end_ms {
                let done: Vec<f64> = spans
                    .iter()
                    .filter(|(time, _)| *time <= tick)
                    .map(|(_, took)| *took)
                    .collect();
                #[expect(clippy::cast_precision_loss, reason = "test counts")]
                let count = done.len() as f64;
                series.sample("traces_span_metrics_calls_total", &labels, tick, count);
                for edge in self
                    .span_buckets
                    .iter()
                    .map(|edge| Some(*edge))
                    .chain([None])
                {
                    let mut bucket = labels.clone();
                    bucket.insert(
                        "le".to_owned(),
                        edge.map_or_else(|| "+Inf".to_owned(), |edge| format!("{edge}")),
                    );
                    #[expect(clippy::cast_precision_loss, reason = "test counts")]
                    let within = done
                        .iter()
                        .filter(|took| edge.is_none_or(|edge| **took <= edge))
                        .count() as f64;
                    series.sample(
                        "traces_span_metrics_duration_seconds_bucket",
                        &bucket,
                        tick,
                        within,
                    );
                }
                series.sample(
                    "traces_span_metrics_duration_seconds_count",
                    &labels,
                    tick,
                    count,
                );
                series.sample(
                    "traces_span_metrics_duration_seconds_sum",
                    &labels,
                    tick,
                    done.iter().sum(),
                );
                tick += flush;
            }
        }
    }

    /// Every expression, run as Grafana runs it, with what it found.
    fn run_every_query(&self, repo: &Repo, server: &Server) -> anyhow::Result<Report> {
        let records = queries::records(repo)?;
        let tags = queries::link_tags(repo, "gateway")?;
        let preparation = Preparation {
            intervals: self.intervals,
            records: &records,
            tags: &tags,
            span_name: "POST /checkout",
        };
        let end = now_ms() / 1000 - 1;
        let start = end - self.range;
        let step = self.intervals.interval;
        let mut report = Report::default();
        let _ = writeln!(
            report.text,
            "Series from this run (two gateways), pushes every {} s; range {} s, step {step} s, $__rate_interval {} s; Prometheus {}",
            self.export_interval_ms / 1000.0,
            self.range,
            self.intervals.rate_interval,
            server.api("/api/v1/status/buildinfo", &[])?["version"]
                .as_str()
                .unwrap_or("?"),
        );
        // The processes behind the series: two gateways, one instance each.
        let processes = "count by (job) (count by (job, instance) (http_server_request_duration_seconds_count))";
        for one in server.query(processes, end)? {
            let job = one.labels.get("job").cloned().unwrap_or_default();
            let count = one.points.first().map_or(0.0, |(_, value)| *value);
            let _ = writeln!(
                report.text,
                "  {job}: {count} processes (instance label values)"
            );
        }
        for query in queries::all(repo)? {
            let expr = preparation.apply(&query.expr);
            let found = server.query_range(&expr, start, end, step)?;
            // The first rate window of the range reads before it: skip it.
            let steps_from = start + i64::try_from(self.intervals.rate_interval.max(300))?;
            #[expect(clippy::cast_precision_loss, reason = "steps of a range")]
            let steps = ((end - steps_from) / i64::try_from(step)? + 1) as f64;
            let coverage = |points: &[(f64, f64)]| {
                #[expect(
                    clippy::cast_precision_loss,
                    clippy::cast_possible_truncation,
                    reason = "seconds"
                )]
                let finite = points
                    .iter()
                    .filter(|(time, value)| *time as i64 >= steps_from && value.is_finite())
                    .count() as f64;
                finite / steps
            };
            let best = found
                .iter()
                .map(|series| coverage(&series.points))
                .fold(0.0, f64::max);
            let _ = writeln!(
                report.text,
                "- {}: {} series, best covers {:.0} % of the steps\n  `{}`",
                query.origin,
                found.len(),
                best * 100.0,
                query.expr.split_whitespace().collect::<Vec<_>>().join(" "),
            );
            // Each series found, with its last value (a dozen at most).
            for one in found.iter().take(12) {
                let labels: Vec<String> = (one.labels.iter())
                    .map(|(name, value)| format!("{name}=\"{value}\""))
                    .collect();
                let last = one.points.iter().rev().find(|(_, value)| value.is_finite());
                let _ = writeln!(
                    report.text,
                    "  - {{{}}}: last {}",
                    labels.join(", "),
                    last.map_or_else(|| "none".to_owned(), |(_, value)| format!("{value:.4}")),
                );
            }
            // An alert's expression is empty while all is well, by design.
            if !matches!(query.origin, Origin::Alert(_)) && best < COVERAGE {
                report.failures.push(format!(
                    "{}: {} series, at best {:.0} % of the range has a number: {expr}",
                    query.origin,
                    found.len(),
                    best * 100.0
                ));
            }
        }
        Ok(report)
    }
}

#[derive(Default)]
struct Report {
    text: String,
    failures: Vec<String>,
}

/// A counter read by `rate()` must only grow within one process: a series
/// that goes down is two processes interleaving (or a restart, and no
/// service restarts in the shared suite).
fn series_shared_by_processes(series: &OpenMetrics) -> Vec<String> {
    let mut shared = Vec::new();
    for name in series.names() {
        let monotonic = ["_total", "_count", "_bucket"]
            .iter()
            .any(|suffix| name.ends_with(suffix));
        if !monotonic {
            continue;
        }
        for (labels, samples) in series.series_of(name) {
            let resets = samples
                .windows(2)
                .filter(|pair| pair[1].1 < pair[0].1)
                .count();
            if resets > 0 {
                shared.push(format!(
                    "{name}{labels:?}: {resets} resets in {} samples",
                    samples.len()
                ));
            }
        }
    }
    shared.truncate(10);
    shared
}

/// The OTLP name as Prometheus 3's `UnderscoreEscapingWithSuffixes` makes
/// it: dots to underscores, the unit's word (annotations in braces add
/// none), `_total` on counters.
fn metric_name(name: &str, unit: &str, kind: MetricKind) -> String {
    let mut out = label_name(name);
    let unit = match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "1" if kind == MetricKind::Gauge => "ratio",
        _ => "",
    };
    if !unit.is_empty() && !out.ends_with(&format!("_{unit}")) {
        out = format!("{out}_{unit}");
    }
    if kind == (MetricKind::Sum { monotonic: true }) && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

/// A label (or metric) name: anything but a letter, digit or `_` becomes `_`.
fn label_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An attribute's value as Prometheus's translation writes it (`AsString`).
fn text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::String(text) | AttributeValue::Other(text) => text.clone(),
        AttributeValue::Int(number) => number.to_string(),
        AttributeValue::Double(number) => number.to_string(),
        AttributeValue::Bool(flag) => flag.to_string(),
        AttributeValue::Array(items) => {
            let items: Vec<Value> = items.iter().map(|item| Value::String(text(item))).collect();
            Value::Array(items).to_string()
        }
    }
}

fn span_kind(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
    }
}

fn status_code(status: &Status) -> &'static str {
    match status {
        Status::Unset => "STATUS_CODE_UNSET",
        Status::Ok => "STATUS_CODE_OK",
        Status::Error(_) => "STATUS_CODE_ERROR",
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

#[expect(clippy::cast_possible_truncation, reason = "a flush interval in ms")]
fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0) as i64
}
