//! `prometheus-rules/`, run by a real engine: Debian's promtool (2.42)
//! checks every rule file and runs the unit tests beside them
//! (`prometheus-rules/tests/`), and every alert has tests that show it
//! quiet when healthy, firing under a burn and clearing after it. The TSDB
//! keeps as much as the longest rule window reads.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::collections::BTreeMap;

use stack_check::{Repo, Yaml, YamlExt, prometheus, queries};

fn repo_paths(files: &[String]) -> Vec<String> {
    let repo = Repo::default();
    (files.iter())
        .map(|file| repo.path(file).to_string_lossy().into_owned())
        .collect()
}

fn test_files() -> Vec<String> {
    let repo = Repo::default();
    let files = repo.files_under("prometheus-rules/tests").unwrap();
    files
        .into_iter()
        .filter(|file| {
            std::path::Path::new(file)
                .extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .collect()
}

#[test]
fn promtool_accepts_every_rule_file() {
    let files = repo_paths(&queries::rule_files(&Repo::default()).unwrap());
    assert!(!files.is_empty());
    let mut args = vec!["check", "rules"];
    args.extend(files.iter().map(String::as_str));
    prometheus::run("promtool", &args).unwrap();
}

#[test]
fn the_rules_pass_their_unit_tests_in_promtool() {
    let files = repo_paths(&test_files());
    assert!(!files.is_empty(), "no unit tests in prometheus-rules/tests");
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    prometheus::run("promtool", &args).unwrap();
}

/// What the unit tests expect of each alert: (quiet before a firing,
/// firing, quiet after a firing), by eval time.
#[test]
fn every_alert_is_tested_quiet_firing_and_cleared() {
    let repo = Repo::default();
    let mut seen: BTreeMap<String, Vec<(u64, bool)>> = BTreeMap::new();
    for file in test_files() {
        let tests = repo.yaml(&file).unwrap();
        for test in tests.at("tests").and_then(Yaml::as_sequence).unwrap() {
            let cases = test.at("alert_rule_test").and_then(Yaml::as_sequence);
            for case in cases.into_iter().flatten() {
                let time = queries::seconds(case.str_at("eval_time").unwrap()).unwrap();
                let fires = case
                    .at("exp_alerts")
                    .and_then(Yaml::as_sequence)
                    .is_some_and(|alerts| !alerts.is_empty());
                let name = case.str_at("alertname").unwrap().to_owned();
                seen.entry(name).or_default().push((time, fires));
            }
        }
    }
    for query in queries::rules(&repo).unwrap() {
        let queries::Origin::Alert(alert) = query.origin else {
            continue;
        };
        let cases = seen.get(&alert).cloned().unwrap_or_default();
        let firing: Vec<u64> = (cases.iter())
            .filter(|(_, fires)| *fires)
            .map(|(time, _)| *time)
            .collect();
        let quiet_before =
            (cases.iter()).any(|(time, fires)| !fires && firing.iter().any(|at| time < at));
        let quiet_after =
            (cases.iter()).any(|(time, fires)| !fires && firing.iter().any(|at| time > at));
        assert!(
            !firing.is_empty() && quiet_before && quiet_after,
            "{alert}: the unit tests must show it quiet, firing, then cleared: {cases:?}"
        );
    }
}

/// The rules read up to 3 days back (the slow burn's long window); a TSDB
/// that keeps less reads a shorter window under that name, and the alert
/// fires on the wrong ratio.
#[test]
fn prometheus_keeps_what_the_longest_rule_window_reads() {
    let repo = Repo::default();
    let longest = (queries::all(&repo).unwrap().iter())
        .flat_map(|query| queries::windows(&query.expr))
        .filter_map(|window| queries::seconds(&window))
        .max()
        .unwrap();
    let config = repo.yaml("prometheus.yaml").unwrap();
    let retention = config
        .str_at("storage.tsdb.retention.time")
        .and_then(queries::seconds)
        .unwrap();
    assert!(
        retention >= longest,
        "prometheus.yaml keeps {retention} s of data, the rules read {longest} s back"
    );
}
