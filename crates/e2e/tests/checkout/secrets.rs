//! No full card number or CVC, in anything exported or logged.

use std::sync::Arc;

use e2e::{AttributeValue, Suite};
use serde_json::json;

use crate::support::{APPROVED_CARD, DECLINED_CARD, post_checkout_with, settled_trace};

/// Credentials a caller might send; they must never be recorded.
pub const AUTHORIZATION: &str = "Bearer e2e-secret-bearer-token";
pub const COOKIE: &str = "session=e2e-secret-session-cookie";

/// The CVC sent. Ids are random hex, so one may contain these digits by
/// chance: look for it as a value or a whole word, never as a substring.
const CVC: &str = "9731";
const FAILS_LUHN: &str = "4242424242424241";

pub async fn no_card_number_or_cvc_reaches_telemetry_or_logs(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let mut trace_ids = Vec::new();
    for number in [APPROVED_CARD, DECLINED_CARD, FAILS_LUHN] {
        let body = json!({
            "customer_id": "cus_1001",
            "items": [{"sku": "sku_mouse", "quantity": 1}],
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": CVC},
        });
        let headers = [("authorization", AUTHORIZATION), ("cookie", COOKIE)];
        trace_ids.push(post_checkout_with(&suite, &body, &headers).await?.trace_id);
    }
    for trace_id in &trace_ids {
        settled_trace(&suite, trace_id).await;
    }

    let receiver = suite.receiver();
    for number in [APPROVED_CARD, DECLINED_CARD, FAILS_LUHN] {
        assert!(
            !receiver.raw_payload_contains(number.as_bytes()),
            "{number} was exported"
        );
        for (service, line) in suite.all_output() {
            assert!(!line.contains(number), "{service} logged {number}: {line}");
        }
    }

    // The CVC is short, so look for it as a value, not as a substring.
    let holds_cvc = |value: &AttributeValue| {
        value
            .as_str()
            .is_some_and(|text| text == CVC || text.contains(&format!("\"{CVC}\"")))
    };
    for span in receiver.spans() {
        let values = span.attributes.values().chain(
            span.events
                .iter()
                .flat_map(|event| event.attributes.values()),
        );
        for value in values {
            assert!(!holds_cvc(value), "{span} holds the CVC");
        }
        assert!(
            span.attributes.keys().all(|key| !key.contains("cvc")),
            "{span}"
        );
    }
    for log in receiver.logs() {
        assert!(!holds_word(&log.body, CVC), "{log:?}");
        assert!(!log.attributes.values().any(holds_cvc), "{log:?}");
    }
    for (service, line) in suite.all_output() {
        assert!(
            !line.contains(&format!("\"{CVC}\"")),
            "{service} logged the CVC: {line}"
        );
    }
    Ok(())
}

/// Run after every other test of the shared suite: nothing any of them
/// caused to be exported or logged holds a card number, an email address,
/// a caller's credentials, or a literal value in a query's text.
pub fn nothing_sensitive_was_exported_or_logged_by_any_test(suite: &Suite) {
    let receiver = suite.receiver();
    let secrets = [
        APPROVED_CARD,
        DECLINED_CARD,
        FAILS_LUHN,
        "ada@example.com",
        "grace@example.com",
        "e2e-secret-bearer-token",
        "e2e-secret-session-cookie",
    ];
    for secret in secrets {
        assert!(
            !receiver.raw_payload_contains(secret.as_bytes()),
            "{secret} was exported"
        );
        for (service, line) in suite.all_output() {
            assert!(!line.contains(secret), "{service} logged {secret}: {line}");
        }
    }
    for span in receiver
        .spans()
        .iter()
        .filter(|span| span.attr("db.query.text").is_some())
    {
        let text = span.str_attr("db.query.text").unwrap_or_default();
        for value in ["cus_", "sku_", "ord_", "pay_", "ntf_", "EUR'"] {
            assert!(!text.contains(value), "{span}: a literal value in {text}");
        }
    }
}

/// Whether `word` occurs in `text` with no letter or digit right beside it.
fn holds_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        [before, after]
            .into_iter()
            .flatten()
            .all(|beside| !beside.is_alphanumeric())
    })
}
