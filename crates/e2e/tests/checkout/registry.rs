//! Everything the suite exported is in the semantic conventions it uses or
//! in its own registry (`semconv/`): no attribute key, event name or metric
//! name that a schema checker (Weaver's `registry live-check`) would call
//! undefined.

use std::collections::BTreeMap;

use e2e::Suite;
use semconv_registry::Registry;

/// Runs after every other test of the shared suite, over all it exported.
pub fn everything_exported_is_in_the_registry(suite: &Suite) {
    let registry = Registry::load(&semconv_registry::suite_registry())
        .unwrap_or_else(|error| panic!("reading the registry: {error:#}"));
    let (keys, events) = (registry.attribute_keys(), registry.event_names());

    // What is not in the registry, and one place it was seen.
    let mut unknown = BTreeMap::<String, String>::new();
    let receiver = suite.receiver();
    for span in receiver.spans() {
        let place = || format!("{} span `{}`", span.service, span.name);
        let resource = span.resource.keys().map(|key| (key, "resource attribute"));
        let attributes = span.attributes.keys().map(|key| (key, "span attribute"));
        for (key, kind) in resource.chain(attributes) {
            if !keys.contains(key.as_str()) {
                unknown
                    .entry(format!("{kind} `{key}`"))
                    .or_insert_with(place);
            }
        }
        for event in &span.events {
            if !events.contains(event.name.as_str()) {
                unknown
                    .entry(format!("span event `{}`", event.name))
                    .or_insert_with(place);
            }
            for key in event
                .attributes
                .keys()
                .filter(|key| !keys.contains(key.as_str()))
            {
                unknown
                    .entry(format!("attribute `{key}` of span event `{}`", event.name))
                    .or_insert_with(place);
            }
        }
    }
    let metric_names = registry.metric_names();
    for point in receiver.metrics() {
        let place = || format!("{} metric `{}`", point.service, point.name);
        if !metric_names.contains(point.name.as_str()) {
            unknown
                .entry(format!("metric `{}`", point.name))
                .or_insert_with(place);
        }
        for key in point
            .attributes
            .keys()
            .filter(|key| !keys.contains(key.as_str()))
        {
            unknown
                .entry(format!("attribute `{key}` of metric `{}`", point.name))
                .or_insert_with(place);
        }
    }
    for log in receiver.logs() {
        let place = || format!("{} log `{}`", log.service, log.body);
        if !log.event_name.is_empty() && !events.contains(log.event_name.as_str()) {
            unknown
                .entry(format!("log event name `{}`", log.event_name))
                .or_insert_with(place);
        }
        for key in log
            .attributes
            .keys()
            .filter(|key| !keys.contains(key.as_str()))
        {
            unknown
                .entry(format!("log attribute `{key}`"))
                .or_insert_with(place);
        }
    }
    let report: Vec<String> = unknown
        .iter()
        .map(|(what, place)| format!("{what}, e.g. on {place}"))
        .collect();
    assert!(
        report.is_empty(),
        "exported but in neither the conventions the suite uses nor its registry (semconv/):\n{}",
        report.join("\n")
    );
    assert!(
        !receiver.spans().is_empty() && !receiver.logs().is_empty(),
        "nothing was checked: the receiver holds no spans or no logs"
    );
}
