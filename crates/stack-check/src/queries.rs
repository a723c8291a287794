//! Every `PromQL` expression the stack runs or shows: dashboard panels,
//! Prometheus's recording and alerting rules, the Grafana-managed alert and
//! the trace-to-metrics links; and each made ready for a Prometheus the way
//! Grafana would send it (`$__rate_interval` and the links' `$__tags`
//! replaced, recorded series inlined).

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::{Json, Repo, Yaml, YamlExt};

pub const DATASOURCES: &str = "grafana/provisioning/datasources/datasources.yaml";
pub const GRAFANA_ALERTS: &str = "grafana/provisioning/alerting/checkout-alerts.yaml";

/// Where an expression is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A dashboard panel's target.
    Panel {
        id: u64,
        title: String,
        ref_id: String,
    },
    /// A Prometheus recording rule.
    Record(String),
    /// A Prometheus alerting rule: healthy, it returns nothing, by design.
    Alert(String),
    /// A Grafana-managed alert rule's query.
    GrafanaAlert(String),
    /// A Tempo data source trace-to-metrics link.
    Link(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Panel { id, title, ref_id } => write!(f, "panel {id} \"{title}\" ({ref_id})"),
            Self::Record(name) => write!(f, "recording rule {name}"),
            Self::Alert(name) => write!(f, "alert {name}"),
            Self::GrafanaAlert(uid) => write!(f, "Grafana alert {uid}"),
            Self::Link(name) => write!(f, "trace-to-metrics link \"{name}\""),
        }
    }
}

/// One expression, as written.
#[derive(Debug, Clone)]
pub struct Query {
    pub origin: Origin,
    pub expr: String,
}

/// Every expression of the stack, in file order: the dashboards, the
/// rules, the Grafana alert, the links.
///
/// # Errors
///
/// A file is missing or not what it should be.
pub fn all(repo: &Repo) -> anyhow::Result<Vec<Query>> {
    let mut queries = panels(repo)?;
    queries.extend(rules(repo)?);
    queries.extend(grafana_alerts(repo)?);
    queries.extend(links(repo)?);
    Ok(queries)
}

/// The Prometheus targets of every dashboard panel (a Loki target has an
/// `expr` too: its data source tells them apart).
///
/// # Errors
///
/// A dashboard cannot be read.
pub fn panels(repo: &Repo) -> anyhow::Result<Vec<Query>> {
    let mut queries = Vec::new();
    for file in repo.files_under("grafana/dashboards")? {
        let dashboard: Json = repo.json(&file)?;
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let source = match &target["datasource"] {
                    Json::Null => &panel["datasource"],
                    own => own,
                };
                let Some(expr) = target["expr"].as_str() else {
                    continue;
                };
                if source["type"] != "prometheus" {
                    continue;
                }
                queries.push(Query {
                    origin: Origin::Panel {
                        id: panel["id"].as_u64().unwrap_or_default(),
                        title: panel["title"].as_str().unwrap_or_default().to_owned(),
                        ref_id: target["refId"].as_str().unwrap_or_default().to_owned(),
                    },
                    expr: expr.to_owned(),
                });
            }
        }
    }
    Ok(queries)
}

/// Every rule of `prometheus-rules/`, recording and alerting. The unit
/// tests beside them (`*.test.yaml`) are not rules.
///
/// # Errors
///
/// A rule file cannot be read.
pub fn rules(repo: &Repo) -> anyhow::Result<Vec<Query>> {
    let mut queries = Vec::new();
    for file in rule_files(repo)? {
        let rules = repo.yaml(&file)?;
        let groups = rules.at("groups").and_then(Yaml::as_sequence);
        for group in groups.into_iter().flatten() {
            let rules = group.at("rules").and_then(Yaml::as_sequence);
            for rule in rules.into_iter().flatten() {
                let expr = rule.str_at("expr").context("a rule without expr")?;
                let origin = match (rule.str_at("record"), rule.str_at("alert")) {
                    (Some(record), _) => Origin::Record(record.to_owned()),
                    (_, Some(alert)) => Origin::Alert(alert.to_owned()),
                    _ => anyhow::bail!("{file}: a rule neither records nor alerts"),
                };
                queries.push(Query {
                    origin,
                    expr: expr.to_owned(),
                });
            }
        }
    }
    Ok(queries)
}

/// The rule files Prometheus loads (`prometheus-rules/*.yaml`), without
/// their unit tests.
///
/// # Errors
///
/// The folder cannot be listed.
pub fn rule_files(repo: &Repo) -> anyhow::Result<Vec<String>> {
    Ok(repo
        .files_under("prometheus-rules")?
        .into_iter()
        // Prometheus loads `rules/*.yaml`; the unit tests live in `tests/`.
        .filter(|file| {
            let path = std::path::Path::new(file);
            path.extension()
                .is_some_and(|extension| extension == "yaml")
                && path
                    .parent()
                    .is_some_and(|folder| folder.ends_with("prometheus-rules"))
        })
        .collect())
}

/// The Prometheus queries of the Grafana-managed alert rules.
///
/// # Errors
///
/// The file cannot be read.
pub fn grafana_alerts(repo: &Repo) -> anyhow::Result<Vec<Query>> {
    let alerts = repo.yaml(GRAFANA_ALERTS)?;
    let mut queries = Vec::new();
    let groups = alerts.at("groups").and_then(Yaml::as_sequence);
    for rule in (groups.into_iter().flatten())
        .filter_map(|group| group.at("rules").and_then(Yaml::as_sequence))
        .flatten()
    {
        let data = rule.at("data").and_then(Yaml::as_sequence);
        for expr in (data.into_iter().flatten()).filter_map(|query| query.str_at("model.expr")) {
            queries.push(Query {
                origin: Origin::GrafanaAlert(rule.str_at("uid").unwrap_or_default().to_owned()),
                expr: expr.to_owned(),
            });
        }
    }
    Ok(queries)
}

/// The Tempo data source's trace-to-metrics queries, with the `$$` of the
/// provisioning file read as Grafana reads it (`$`).
///
/// # Errors
///
/// The file cannot be read.
pub fn links(repo: &Repo) -> anyhow::Result<Vec<Query>> {
    let datasources = repo.yaml(DATASOURCES)?;
    let list = datasources.at("datasources").and_then(Yaml::as_sequence);
    let mut queries = Vec::new();
    for source in list.into_iter().flatten() {
        let links = source.at("jsonData.tracesToMetrics.queries");
        for link in links.and_then(Yaml::as_sequence).into_iter().flatten() {
            queries.push(Query {
                origin: Origin::Link(link.str_at("name").unwrap_or_default().to_owned()),
                expr: link.str_at("query").unwrap_or_default().replace("$$", "$"),
            });
        }
    }
    Ok(queries)
}

/// The span tags the trace-to-metrics links turn into `$__tags`, as
/// `label="value"` for a span of `service`.
///
/// # Errors
///
/// The data source file cannot be read.
pub fn link_tags(repo: &Repo, service: &str) -> anyhow::Result<String> {
    let datasources = repo.yaml(DATASOURCES)?;
    let list = datasources.at("datasources").and_then(Yaml::as_sequence);
    let tags = (list.into_iter().flatten())
        .filter_map(|source| source.at("jsonData.tracesToMetrics.tags"))
        .filter_map(Yaml::as_sequence)
        .flatten();
    let pairs: Vec<String> = tags
        .filter(|tag| tag.str_at("key") == Some("service.name"))
        .filter_map(|tag| tag.str_at("value"))
        .map(|label| format!("{label}=\"{service}\""))
        .collect();
    Ok(pairs.join(", "))
}

/// Grafana's `$__interval` and `$__rate_interval` for a panel on the
/// Prometheus data source, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    /// The data source's `timeInterval`: what Grafana takes as the scrape
    /// interval, and the least `$__interval` it uses.
    pub scrape: u64,
    pub interval: u64,
    pub rate_interval: u64,
}

impl Intervals {
    /// For a panel `range_seconds` wide, about 1,000 pixels (Grafana's
    /// `maxDataPoints` is the panel's width): `$__interval` is the range
    /// over the points, never under `timeInterval`; `$__rate_interval` is
    /// `max($__interval + scrape, 4 * scrape)` (Grafana's documentation,
    /// "Prometheus query editor").
    pub fn new(scrape: u64, range_seconds: u64) -> Self {
        let interval = (range_seconds / 1000).max(scrape).max(1);
        Self {
            scrape,
            interval,
            rate_interval: (interval + scrape).max(4 * scrape),
        }
    }

    /// The data source's `timeInterval` (Grafana's own default, 15 s, when
    /// unset) and the dashboards' default range.
    ///
    /// # Errors
    ///
    /// The files cannot be read, or hold an unreadable duration.
    pub fn of_the_stack(repo: &Repo) -> anyhow::Result<Self> {
        Ok(Self::new(
            datasource_time_interval(repo)?,
            dashboard_range(repo)?,
        ))
    }
}

/// The Prometheus data source's `timeInterval`, in seconds (15 when unset).
///
/// # Errors
///
/// The file cannot be read, or the value is no duration.
pub fn datasource_time_interval(repo: &Repo) -> anyhow::Result<u64> {
    let datasources = repo.yaml(DATASOURCES)?;
    let list = datasources.at("datasources").and_then(Yaml::as_sequence);
    let prometheus = (list.into_iter().flatten())
        .find(|source| source.str_at("type") == Some("prometheus"))
        .context("no Prometheus data source")?;
    match prometheus.str_at("jsonData.timeInterval") {
        Some(text) => seconds(text).with_context(|| format!("timeInterval {text}")),
        None => Ok(15),
    }
}

/// The widest default time range of the dashboards (`now-15m` → 900).
///
/// # Errors
///
/// A dashboard cannot be read, or its range is not `now-<duration>`.
pub fn dashboard_range(repo: &Repo) -> anyhow::Result<u64> {
    let mut widest = 0;
    for file in repo.files_under("grafana/dashboards")? {
        let dashboard: Json = repo.json(&file)?;
        let from = dashboard["time"]["from"].as_str().unwrap_or("now-6h");
        let range = from
            .strip_prefix("now-")
            .and_then(seconds)
            .with_context(|| format!("{file}: time.from {from}"))?;
        widest = widest.max(range);
    }
    Ok(widest)
}

/// A Prometheus duration (`15s`, `5m`, `1h30m`, `3d`) in seconds.
pub fn seconds(text: &str) -> Option<u64> {
    let mut total = 0;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            return None; // milliseconds: none of ours
        } else {
            match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                'y' => 31_536_000,
                _ => return None,
            }
        };
        total += number.parse::<u64>().ok()? * unit;
        number.clear();
    }
    (number.is_empty() && total > 0).then_some(total)
}

/// Every range selector's window in `expr` (`[5m]`, `[$__rate_interval]`
/// as written).
pub fn windows(expr: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        // A subquery's `[1h:5m]` range is its first part.
        let inside = &rest[open + 1..open + close];
        found.push(inside.split(':').next().unwrap_or(inside).to_owned());
        rest = &rest[open + close + 1..];
    }
    found
}

/// What a query needs to run on a Prometheus as Grafana would run it.
pub struct Preparation<'a> {
    pub intervals: Intervals,
    /// The recording rules' names and expressions, to inline: a backfilled
    /// Prometheus has no recorded series.
    pub records: &'a BTreeMap<String, String>,
    /// `$__tags` of the links, for one service.
    pub tags: &'a str,
    /// `${__span.name}` of the links.
    pub span_name: &'a str,
}

impl Preparation<'_> {
    /// `expr` with Grafana's variables replaced and recorded series
    /// inlined (in parentheses: the expression evaluates to exactly what
    /// the rule records at that instant).
    pub fn apply(&self, expr: &str) -> String {
        let mut expr = expr
            .replace(
                "$__rate_interval",
                &format!("{}s", self.intervals.rate_interval),
            )
            .replace("$__interval", &format!("{}s", self.intervals.interval))
            .replace("$__tags", self.tags)
            .replace("${__span.name}", self.span_name);
        // Longest names first, so no name is replaced inside a longer one.
        let mut names: Vec<&String> = self.records.keys().collect();
        names.sort_by_key(|name| std::cmp::Reverse(name.len()));
        for name in names {
            expr = replace_name(&expr, name, &format!("({})", self.records[name].trim()));
        }
        expr
    }
}

/// The recording rules as name → expression.
///
/// # Errors
///
/// The rules cannot be read.
pub fn records(repo: &Repo) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(rules(repo)?
        .into_iter()
        .filter_map(|query| match query.origin {
            Origin::Record(name) => Some((name, query.expr)),
            _ => None,
        })
        .collect())
}

/// Replaces `name` where it stands as a whole metric name.
fn replace_name(expr: &str, name: &str, with: &str) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = String::new();
    let mut rest = expr;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_name) || after.is_some_and(is_name) {
            out.push_str(name);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + name.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_prometheus_writes_them() {
        assert_eq!(seconds("15s"), Some(15));
        assert_eq!(seconds("1h30m"), Some(5400));
        assert_eq!(seconds("3d"), Some(259_200));
        assert_eq!(seconds("$__rate_interval"), None);
    }

    #[test]
    fn grafana_rate_interval_is_four_scrapes_at_least() {
        let intervals = Intervals::new(15, 900);
        assert_eq!((intervals.interval, intervals.rate_interval), (15, 60));
        assert_eq!(Intervals::new(15, 86_400).rate_interval, 101);
    }

    #[test]
    fn recorded_names_are_inlined_whole() {
        let records = BTreeMap::from([("a:b".to_owned(), "sum(x)".to_owned())]);
        let preparation = Preparation {
            intervals: Intervals::new(15, 900),
            records: &records,
            tags: "",
            span_name: "",
        };
        assert_eq!(
            preparation.apply("a:b > 1 and a:bc > rate(y[$__rate_interval])"),
            "(sum(x)) > 1 and a:bc > rate(y[60s])"
        );
        assert_eq!(
            windows("rate(x[5m]) + max_over_time(y[1h:5m])"),
            ["5m", "1h"]
        );
    }
}
