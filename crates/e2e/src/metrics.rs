//! Metric data points as a test reads them: one [`MetricPoint`] per data
//! point of every export, flattened out of OTLP's resource/scope/metric
//! nesting.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ResourceMetrics, metric::Data, number_data_point,
};

use crate::model::{AttributeValue, attributes, resource_attributes, service_name};

/// What kind of instrument a point came from, as OTLP says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Histogram,
    /// A sum; `monotonic` for a counter.
    Sum {
        monotonic: bool,
    },
    Gauge,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    Cumulative,
    Delta,
    Unspecified,
}

/// One data point of one export.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    pub service: String,
    pub resource: BTreeMap<String, AttributeValue>,
    /// The instrumentation scope (the meter's name).
    pub scope: String,
    pub name: String,
    pub unit: String,
    pub kind: MetricKind,
    pub temporality: Temporality,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// A histogram's count of measurements.
    pub count: u64,
    /// A histogram's sum, a sum's or a gauge's value.
    pub value: f64,
    /// A histogram's bucket boundaries.
    pub bounds: Vec<f64>,
    /// A histogram's count in each bucket (one more than `bounds`: the
    /// last is above the last boundary), not cumulative, as OTLP sends them.
    pub bucket_counts: Vec<u64>,
    pub time_unix_nanos: u64,
}

impl MetricPoint {
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(AttributeValue::as_str)
    }

    pub fn int_attr(&self, key: &str) -> Option<i64> {
        self.attributes.get(key).and_then(AttributeValue::as_i64)
    }
}

pub(crate) fn flatten_metrics(resource_metrics: Vec<ResourceMetrics>) -> Vec<MetricPoint> {
    let mut points = Vec::new();
    for resource_metrics in resource_metrics {
        let resource = resource_attributes(resource_metrics.resource);
        let service = service_name(&resource);
        for scope_metrics in resource_metrics.scope_metrics {
            let scope = scope_metrics
                .scope
                .map(|scope| scope.name)
                .unwrap_or_default();
            for metric in scope_metrics.metrics {
                let point =
                    |kind, temporality, attributes, count, value, (bounds, bucket_counts), time| {
                        MetricPoint {
                            service: service.clone(),
                            resource: resource.clone(),
                            scope: scope.clone(),
                            name: metric.name.clone(),
                            unit: metric.unit.clone(),
                            kind,
                            temporality,
                            attributes,
                            count,
                            value,
                            bounds,
                            bucket_counts,
                            time_unix_nanos: time,
                        }
                    };
                match metric.data.clone() {
                    Some(Data::Histogram(histogram)) => {
                        let temporality = temporality(histogram.aggregation_temporality);
                        points.extend(histogram.data_points.into_iter().map(|data| {
                            point(
                                MetricKind::Histogram,
                                temporality,
                                attributes(data.attributes),
                                data.count,
                                data.sum.unwrap_or_default(),
                                (data.explicit_bounds, data.bucket_counts),
                                data.time_unix_nano,
                            )
                        }));
                    }
                    Some(Data::Sum(sum)) => {
                        let (kind, temporality) = (
                            MetricKind::Sum {
                                monotonic: sum.is_monotonic,
                            },
                            temporality(sum.aggregation_temporality),
                        );
                        points.extend(sum.data_points.into_iter().map(|data| {
                            let time = data.time_unix_nano;
                            point(
                                kind,
                                temporality,
                                attributes(data.attributes),
                                0,
                                number(data.value),
                                (Vec::new(), Vec::new()),
                                time,
                            )
                        }));
                    }
                    Some(Data::Gauge(gauge)) => {
                        points.extend(gauge.data_points.into_iter().map(|data| {
                            let time = data.time_unix_nano;
                            point(
                                MetricKind::Gauge,
                                Temporality::Unspecified,
                                attributes(data.attributes),
                                0,
                                number(data.value),
                                (Vec::new(), Vec::new()),
                                time,
                            )
                        }));
                    }
                    _ => points.push(point(
                        MetricKind::Other,
                        Temporality::Unspecified,
                        BTreeMap::new(),
                        0,
                        0.0,
                        (Vec::new(), Vec::new()),
                        0,
                    )),
                }
            }
        }
    }
    points
}

fn temporality(value: i32) -> Temporality {
    match AggregationTemporality::try_from(value) {
        Ok(AggregationTemporality::Cumulative) => Temporality::Cumulative,
        Ok(AggregationTemporality::Delta) => Temporality::Delta,
        _ => Temporality::Unspecified,
    }
}

#[expect(clippy::cast_precision_loss, reason = "test counts are far below 2^52")]
fn number(value: Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(value)) => value,
        Some(number_data_point::Value::AsInt(value)) => value as f64,
        None => 0.0,
    }
}
