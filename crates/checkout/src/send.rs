//! Sending `POST /checkout` and reading what came back.

use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use crate::cli::CheckoutRequest;
use crate::trace_context::{TraceResponse, parse_traceresponse};

/// What one checkout got.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub latency: Duration,
    pub result: Result<Answer, String>,
}

/// An HTTP answer from the gateway, success or problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub order_id: Option<String>,
    /// The last segment of the problem's `type` (`card-declined`), and its
    /// `detail`, when the checkout failed.
    pub problem: Option<(String, String)>,
    pub trace: Option<TraceResponse>,
}

/// The members of either body this tool shows; a body that is not JSON
/// (a proxy's error page) just shows none.
#[derive(Debug, Default, Deserialize)]
struct Body {
    order_id: Option<String>,
    #[serde(rename = "type")]
    problem_type: Option<String>,
    detail: Option<String>,
    trace_id: Option<String>,
}

/// Sends one checkout. A request that got no answer is an `Err` outcome,
/// not an error: with `--count`, the others still count.
pub async fn send(
    client: &reqwest::Client,
    gateway: &Url,
    body: &CheckoutRequest,
    headers: &[(&'static str, String)],
) -> Outcome {
    let url = format!("{}/checkout", gateway.as_str().trim_end_matches('/'));
    let mut request = client.post(&url).json(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    let result = match request.send().await {
        Ok(response) => Ok(read_answer(response).await),
        Err(error) => Err(format!("{:#}", anyhow::Error::new(error))),
    };
    Outcome {
        latency: started.elapsed(),
        result,
    }
}

async fn read_answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let traceresponse = response
        .headers()
        .get("traceresponse")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_traceresponse);
    let bytes = response.bytes().await.unwrap_or_default();
    let body: Body = serde_json::from_slice(&bytes).unwrap_or_default();
    answer(status, traceresponse, body)
}

fn answer(status: u16, traceresponse: Option<TraceResponse>, body: Body) -> Answer {
    let problem = body.problem_type.map(|uri| {
        let kind = uri.rsplit('/').next().unwrap_or(&uri).to_owned();
        (kind, body.detail.unwrap_or_default())
    });
    // Without the header, a problem's `trace_id` member still names the
    // trace; it was sampled, or the gateway would not have an id to give.
    let trace = traceresponse.or_else(|| {
        body.trace_id.map(|trace_id| TraceResponse {
            trace_id,
            span_id: String::new(),
            sampled: true,
        })
    });
    Answer {
        status,
        order_id: body.order_id,
        problem,
        trace,
    }
}

impl Outcome {
    /// The sampled trace of the answer, if any.
    pub fn trace(&self) -> Option<&TraceResponse> {
        self.result
            .as_ref()
            .ok()
            .and_then(|answer| answer.trace.as_ref())
            .filter(|trace| trace.sampled)
    }

    /// One line: status, latency, order id, problem, trace id, Grafana link.
    pub fn line(&self, grafana: &Url) -> String {
        let answer = match &self.result {
            Ok(answer) => answer,
            Err(error) => return format!("no answer  {}  {error}", latency(self.latency)),
        };
        let mut fields = vec![status_text(answer.status), latency(self.latency)];
        if let Some(order_id) = &answer.order_id {
            fields.push(format!("order {order_id}"));
        }
        if let Some((kind, detail)) = &answer.problem {
            fields.push(format!("{kind}: {detail}"));
        }
        match &answer.trace {
            Some(trace) if trace.sampled => {
                fields.push(format!("trace {}", trace.trace_id));
                fields.push(crate::grafana::trace_url(grafana, &trace.trace_id));
            }
            Some(trace) => fields.push(format!("trace {} (not sampled)", trace.trace_id)),
            None => fields.push("no traceresponse header".to_owned()),
        }
        fields.join("  ")
    }
}

fn status_text(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// `12.3 ms`.
pub fn latency(latency: Duration) -> String {
    format!("{:.1} ms", latency.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAFANA: &str = "http://localhost:3000";

    fn trace(sampled: bool) -> TraceResponse {
        TraceResponse {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
            span_id: "00f067aa0ba902b7".to_owned(),
            sampled,
        }
    }

    fn line(status: u16, trace: Option<TraceResponse>, body: &str) -> String {
        let body: Body = serde_json::from_str(body).unwrap_or_default();
        Outcome {
            latency: Duration::from_micros(12_345),
            result: Ok(answer(status, trace, body)),
        }
        .line(&Url::parse(GRAFANA).unwrap())
    }

    fn link() -> String {
        crate::grafana::trace_url(&Url::parse(GRAFANA).unwrap(), &trace(true).trace_id)
    }

    #[test]
    fn a_confirmed_checkout() {
        let body = r#"{"order_id": "ord_1", "status": "confirmed", "total_cents": 8900}"#;
        assert_eq!(
            line(201, Some(trace(true)), body),
            format!(
                "201 Created  12.3 ms  order ord_1  trace 4bf92f3577b34da6a3ce929d0e0e4736  {}",
                link()
            )
        );
    }

    #[test]
    fn a_declined_card_shows_the_problem_and_the_kept_order() {
        let body = r#"{"type": "https://tracing-suite.example/problems/card-declined",
            "title": "Card declined", "status": 402, "detail": "The card was declined.",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "order_id": "ord_2"}"#;
        assert_eq!(
            line(402, Some(trace(true)), body),
            format!(
                "402 Payment Required  12.3 ms  order ord_2  card-declined: The card was declined.  \
                 trace 4bf92f3577b34da6a3ce929d0e0e4736  {}",
                link()
            )
        );
    }

    #[test]
    fn the_problem_trace_id_stands_in_for_a_missing_header() {
        let body = r#"{"type": "https://tracing-suite.example/problems/customer-not-found",
            "detail": "No customer cus_9999.", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}"#;
        assert!(line(404, None, body).ends_with(&format!(
            "trace 4bf92f3577b34da6a3ce929d0e0e4736  {}",
            link()
        )));
    }

    #[test]
    fn an_unsampled_trace_gets_no_link() {
        assert_eq!(
            line(201, Some(trace(false)), "not json"),
            "201 Created  12.3 ms  trace 4bf92f3577b34da6a3ce929d0e0e4736 (not sampled)"
        );
    }

    #[test]
    fn no_answer() {
        let outcome = Outcome {
            latency: Duration::from_millis(2),
            result: Err("connection refused".to_owned()),
        };
        assert_eq!(
            outcome.line(&Url::parse(GRAFANA).unwrap()),
            "no answer  2.0 ms  connection refused"
        );
    }
}
