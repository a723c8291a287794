//! Reading a trace back from Tempo's HTTP API.
//!
//! `GET /api/v2/traces/{traceID}` answers `{"trace": {"resourceSpans":
//! [...]}, "metrics": {...}}`: the OTLP trace, written by gogo/protobuf's
//! `jsonpb`. So the ids are **base64** (`bytes` fields), `kind` and
//! `status.code` are enum **names** (`"SPAN_KIND_SERVER"`,
//! `"STATUS_CODE_ERROR"`), 64-bit times are decimal **strings**, and fields
//! at their zero value are left out (a root has no `parentSpanId`, an unset
//! status is `{}`). The v1 endpoint, `/api/traces/{traceID}`, answers the
//! same trace as `{"batches": [...]}`. Parsing here also takes hex ids,
//! numeric enums and numeric times, which other OTLP JSON writers use.
//!
//! A trace not found is a 404 from v1 but may be a 200 with an empty trace
//! from v2; both mean "not ingested yet".

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use tokio::time::Instant;
use url::Url;

/// One span, flattened out of its resource and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub service: String,
    pub name: String,
    /// Hex, whatever the encoding Tempo used.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub kind: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub error: bool,
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TempoError {
    #[error("Tempo at {url} is unreachable")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Tempo answered {status} for {url}")]
    Status { url: String, status: u16 },
    #[error("Tempo's answer from {url} is not a trace")]
    Body {
        url: String,
        #[source]
        source: anyhow::Error,
    },
}

/// How long to wait for a trace, which Tempo shows only a few seconds after
/// the request: every service exports its spans on its own batch timer.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Give up after this long.
    pub total: Duration,
    /// Take the trace as complete once no span has arrived for this long.
    pub quiet: Duration,
    /// Time between two reads.
    pub poll: Duration,
}

impl Default for Patience {
    fn default() -> Self {
        Self {
            total: Duration::from_secs(10),
            quiet: Duration::from_secs(3),
            poll: Duration::from_millis(500),
        }
    }
}

/// Reads the trace until it stops growing, or `patience.total` has passed.
/// An empty result means Tempo has not shown the trace in that time.
pub async fn wait_for_trace(
    client: &reqwest::Client,
    tempo: &Url,
    trace_id: &str,
    patience: Patience,
) -> Result<Vec<Span>, TempoError> {
    let deadline = Instant::now() + patience.total;
    let mut spans = Vec::new();
    let mut last_growth = Instant::now();
    loop {
        let latest = fetch_trace(client, tempo, trace_id).await?;
        if latest.len() > spans.len() {
            spans = latest;
            last_growth = Instant::now();
        }
        let settled = !spans.is_empty() && last_growth.elapsed() >= patience.quiet;
        if settled || Instant::now() >= deadline {
            return Ok(spans);
        }
        tokio::time::sleep(patience.poll).await;
    }
}

/// One read of `GET /api/v2/traces/{trace_id}`; no spans yet is `Ok(empty)`.
pub async fn fetch_trace(
    client: &reqwest::Client,
    tempo: &Url,
    trace_id: &str,
) -> Result<Vec<Span>, TempoError> {
    let url = format!(
        "{}/api/v2/traces/{trace_id}",
        tempo.as_str().trim_end_matches('/')
    );
    let response = client
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|source| TempoError::Unreachable {
            url: url.clone(),
            source,
        })?;
    match response.status().as_u16() {
        404 => return Ok(Vec::new()),
        200 => {}
        status => return Err(TempoError::Status { url, status }),
    }
    let body = response.text().await.map_err(|source| TempoError::Body {
        url: url.clone(),
        source: source.into(),
    })?;
    parse_trace(&body).map_err(|source| TempoError::Body {
        url,
        source: source.into(),
    })
}

/// The spans of a v2 (`{"trace": {"resourceSpans": ...}}`) or v1
/// (`{"batches": ...}`) answer.
pub fn parse_trace(json: &str) -> Result<Vec<Span>, serde_json::Error> {
    let answer: wire::Answer = serde_json::from_str(json)?;
    let resource_spans = match answer.trace {
        Some(trace) => trace.resource_spans,
        None => answer.resource_spans,
    };
    Ok(resource_spans.into_iter().flat_map(flatten).collect())
}

fn flatten(resource_spans: wire::ResourceSpans) -> Vec<Span> {
    let service = resource_spans
        .resource
        .attributes
        .into_iter()
        .find(|attribute| attribute.key == "service.name")
        .and_then(|attribute| attribute.value.string_value)
        .unwrap_or_else(|| "unknown_service".to_owned());
    resource_spans
        .scope_spans
        .into_iter()
        .flat_map(|scope| scope.spans)
        .map(|span| Span {
            service: service.clone(),
            name: span.name,
            span_id: id_to_hex(&span.span_id),
            parent_span_id: Some(span.parent_span_id)
                .filter(|id| !id.is_empty())
                .map(|id| id_to_hex(&id)),
            kind: span.kind.enum_name("SPAN_KIND_", &SPAN_KINDS),
            start_unix_nano: span.start_time_unix_nano.as_u64(),
            end_unix_nano: span.end_time_unix_nano.as_u64(),
            error: span.status.code.enum_name("STATUS_CODE_", &STATUS_CODES) == "ERROR",
        })
        .collect()
}

/// Hex as is (16 or 32 hex digits), else base64 as `jsonpb` writes `bytes`.
/// Base64 of 8 or 16 bytes is 12 or 24 characters, so the two never clash.
fn id_to_hex(id: &str) -> String {
    if matches!(id.len(), 16 | 32) && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return id.to_ascii_lowercase();
    }
    match base64::engine::general_purpose::STANDARD.decode(id) {
        Ok(bytes) => bytes.iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }),
        Err(_) => id.to_owned(),
    }
}

/// OTLP's enums, by number, without their prefixes.
const SPAN_KINDS: [&str; 6] = [
    "UNSPECIFIED",
    "INTERNAL",
    "SERVER",
    "CLIENT",
    "PRODUCER",
    "CONSUMER",
];
const STATUS_CODES: [&str; 3] = ["UNSET", "OK", "ERROR"];

/// The OTLP JSON as Tempo writes it; everything not needed is ignored.
mod wire {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Answer {
        pub trace: Option<Trace>,
        #[serde(default, alias = "batches")]
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Trace {
        #[serde(default)]
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ResourceSpans {
        #[serde(default)]
        pub resource: Resource,
        #[serde(default)]
        pub scope_spans: Vec<ScopeSpans>,
    }

    #[derive(Default, Deserialize)]
    pub struct Resource {
        #[serde(default)]
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Deserialize)]
    pub struct KeyValue {
        pub key: String,
        #[serde(default)]
        pub value: AnyValue,
    }

    #[derive(Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AnyValue {
        pub string_value: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct ScopeSpans {
        #[serde(default)]
        pub spans: Vec<Span>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Span {
        #[serde(default)]
        pub span_id: String,
        #[serde(default)]
        pub parent_span_id: String,
        #[serde(default)]
        pub name: String,
        #[serde(default)]
        pub kind: Scalar,
        #[serde(default)]
        pub start_time_unix_nano: Scalar,
        #[serde(default)]
        pub end_time_unix_nano: Scalar,
        #[serde(default)]
        pub status: Status,
    }

    #[derive(Default, Deserialize)]
    pub struct Status {
        #[serde(default)]
        pub code: Scalar,
    }

    /// A number, or the text `jsonpb` writes for 64-bit numbers and enums.
    #[derive(Deserialize)]
    #[serde(untagged)]
    pub enum Scalar {
        Number(u64),
        Text(String),
    }

    impl Default for Scalar {
        fn default() -> Self {
            Self::Number(0)
        }
    }

    impl Scalar {
        pub fn as_u64(&self) -> u64 {
            match self {
                Self::Number(n) => *n,
                Self::Text(text) => text.parse().unwrap_or_default(),
            }
        }

        /// An enum value's name without `prefix` (`SPAN_KIND_SERVER` and
        /// `2` are both `SERVER`); `names` lists the names by number.
        pub fn enum_name(&self, prefix: &str, names: &[&str]) -> String {
            match self {
                Self::Number(n) => usize::try_from(*n)
                    .ok()
                    .and_then(|n| names.get(n))
                    .unwrap_or(&names[0])
                    .to_string(),
                Self::Text(text) => text.strip_prefix(prefix).unwrap_or(text).to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_base64_and_hex_read_the_same() {
        assert_eq!(id_to_hex("obLD1OX2Bxg="), "a1b2c3d4e5f60718");
        assert_eq!(id_to_hex("A1B2C3D4E5F60718"), "a1b2c3d4e5f60718");
        assert_eq!(
            id_to_hex("S/kvNXezTaajzpKdDg5HNg=="),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn reads_numeric_enums_and_times_too() {
        let json = r#"{"batches": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "users"}}]},
          "scopeSpans": [{"spans": [{"spanId": "1122334455667788",
            "name": "GET /users/{customer_id}", "kind": 2,
            "startTimeUnixNano": 1000, "endTimeUnixNano": 5000,
            "status": {"code": 2}}]}]}]}"#;
        assert_eq!(
            parse_trace(json).unwrap(),
            vec![Span {
                service: "users".to_owned(),
                name: "GET /users/{customer_id}".to_owned(),
                span_id: "1122334455667788".to_owned(),
                parent_span_id: None,
                kind: "SERVER".to_owned(),
                start_unix_nano: 1000,
                end_unix_nano: 5000,
                error: true,
            }]
        );
    }

    #[test]
    fn an_empty_v2_answer_has_no_spans() {
        assert_eq!(
            parse_trace(r#"{"trace": {}, "metrics": {}}"#).unwrap(),
            vec![]
        );
    }
}
