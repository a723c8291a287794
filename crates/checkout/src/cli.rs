//! The command line, and the checkout request it stands for.

use clap::Parser;
use serde::Serialize;
use url::Url;

/// Stripe's test cards, which the card processor stand-in honours.
const APPROVED_CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";

/// Sends checkouts to the gateway and shows their traces.
#[derive(Debug, Clone, Parser)]
#[command(name = "checkout", version)]
pub struct Cli {
    /// Base URL of the gateway.
    #[arg(long, default_value = "http://localhost:8080")]
    pub gateway: Url,
    /// Base URL of Grafana, for the trace links.
    #[arg(long, default_value = "http://localhost:3000")]
    pub grafana: Url,
    /// Base URL of Tempo's HTTP API, to print a single checkout's trace.
    #[arg(long, default_value = "http://localhost:3200")]
    pub tempo: Url,
    /// Do not fetch and print the trace.
    #[arg(long)]
    pub no_trace: bool,

    /// How many checkouts to send.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// How many to have in flight at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,

    /// Customer id.
    #[arg(long, default_value = "cus_1001", conflicts_with = "unknown_customer")]
    pub customer: String,
    /// Product, bought as the checkout's one line.
    #[arg(long, default_value = "sku_keyboard", conflicts_with = "sold_out")]
    pub sku: String,
    /// How many of it (the gateway takes 1 to 100).
    #[arg(long, default_value_t = 1)]
    pub quantity: u32,
    /// Card number.
    #[arg(long, default_value = APPROVED_CARD, conflicts_with = "declined")]
    pub card: String,
    /// Sent as the `Idempotency-Key` header (the same one on every checkout).
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Ask one hop to fail, as `<service>=<fault>`: services `gateway`,
    /// `users`, `orders`, `payments`, `notifications`, `card_processor`;
    /// faults `error`, `timeout`, `db_error`, `latency:<n>ms`. Repeatable.
    /// Sent as W3C baggage; the stack honours it because the compose file
    /// sets `FAULTS_ENABLED=true`.
    #[arg(long, value_parser = parse_fault)]
    pub fault: Vec<String>,
    /// How long this client waits, in milliseconds, announced to the
    /// gateway (`request-timeout-ms`) so that every hop gives up with it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: Option<u64>,

    #[command(flatten)]
    pub scenario: Scenario,
}

/// Shortcuts to the failures the seed data is made for.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Scenario {
    /// Pay with the test card that is always declined (402).
    #[arg(long)]
    pub declined: bool,
    /// Buy `sku_sold_out`, which has no stock (409).
    #[arg(long)]
    pub sold_out: bool,
    /// Check out as `cus_9999`, who does not exist (404).
    #[arg(long)]
    pub unknown_customer: bool,
}

/// The body of `POST /checkout`, as the contract spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutRequest {
    pub customer_id: String,
    pub items: Vec<Item>,
    pub card: Card,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    pub number: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub cvc: String,
}

const FAULTY_SERVICES: [&str; 6] = [
    "gateway",
    "users",
    "orders",
    "payments",
    "notifications",
    "card_processor",
];

/// `payments=error` → the baggage entry `fault.payments=error`.
fn parse_fault(value: &str) -> Result<String, String> {
    let (service, fault) = value
        .split_once('=')
        .ok_or("expected <service>=<fault>, as payments=error")?;
    if !FAULTY_SERVICES.contains(&service) {
        return Err(format!(
            "no service {service:?}; one of {}",
            FAULTY_SERVICES.join(", ")
        ));
    }
    let latency_ok = fault
        .strip_prefix("latency:")
        .and_then(|latency| latency.strip_suffix("ms"))
        .is_some_and(|millis| millis.parse::<u64>().is_ok());
    if !(latency_ok || ["error", "timeout", "db_error"].contains(&fault)) {
        return Err(format!(
            "no fault {fault:?}; one of error, timeout, db_error, latency:<n>ms"
        ));
    }
    Ok(format!("fault.{service}={fault}"))
}

impl Cli {
    /// The headers each checkout carries besides its body.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(key) = &self.idempotency_key {
            headers.push(("Idempotency-Key", key.clone()));
        }
        if !self.fault.is_empty() {
            headers.push(("baggage", self.fault.join(",")));
        }
        if let Some(timeout) = self.timeout_ms {
            headers.push(("request-timeout-ms", timeout.to_string()));
        }
        headers
    }

    /// The request body the flags ask for. The scenario flags win over the
    /// defaults they replace (clap refuses both given explicitly).
    pub fn checkout_request(&self) -> CheckoutRequest {
        let pick = |flag: bool, scenario: &str, given: &str| {
            if flag { scenario } else { given }.to_owned()
        };
        CheckoutRequest {
            customer_id: pick(self.scenario.unknown_customer, "cus_9999", &self.customer),
            items: vec![Item {
                sku: pick(self.scenario.sold_out, "sku_sold_out", &self.sku),
                quantity: self.quantity,
            }],
            card: Card {
                number: pick(self.scenario.declined, DECLINED_CARD, &self.card),
                exp_month: 12,
                exp_year: 2030,
                cvc: "123".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(args: &[&str]) -> serde_json::Value {
        let cli = Cli::try_parse_from([&["checkout"], args].concat()).unwrap();
        serde_json::to_value(cli.checkout_request()).unwrap()
    }

    #[test]
    fn faults_become_baggage_and_the_timeout_a_budget() {
        let cli = Cli::parse_from([
            "checkout",
            "--fault",
            "payments=error",
            "--fault",
            "users=latency:800ms",
            "--timeout-ms",
            "1500",
        ]);
        assert_eq!(
            cli.headers(),
            [
                (
                    "baggage",
                    "fault.payments=error,fault.users=latency:800ms".to_owned()
                ),
                ("request-timeout-ms", "1500".to_owned()),
            ]
        );
        assert!(Cli::parse_from(["checkout"]).headers().is_empty());
        for bad in [
            "payments",
            "bank=error",
            "users=explode",
            "users=latency:5s",
        ] {
            assert!(
                Cli::try_parse_from(["checkout", "--fault", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn defaults_are_an_approved_keyboard_for_ada() {
        assert_eq!(
            body(&[]),
            json!({
                "customer_id": "cus_1001",
                "items": [{"sku": "sku_keyboard", "quantity": 1}],
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
            })
        );
    }

    #[test]
    fn the_scenario_flags_pick_the_seeded_failures() {
        let declined = body(&["--declined"]);
        assert_eq!(declined["card"]["number"], "4000000000000002");
        assert_eq!(body(&["--sold-out"])["items"][0]["sku"], "sku_sold_out");
        assert_eq!(body(&["--unknown-customer"])["customer_id"], "cus_9999");
    }

    #[test]
    fn the_plain_flags_fill_the_body() {
        assert_eq!(
            body(&[
                "--customer",
                "cus_1002",
                "--sku",
                "sku_mouse",
                "--quantity",
                "3",
                "--card",
                "4000056655665556"
            ]),
            json!({
                "customer_id": "cus_1002",
                "items": [{"sku": "sku_mouse", "quantity": 3}],
                "card": {"number": "4000056655665556", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
            })
        );
    }

    #[test]
    fn a_scenario_flag_and_the_value_it_replaces_conflict() {
        for args in [
            ["--declined", "--card", "4242424242424242"],
            ["--sold-out", "--sku", "sku_mouse"],
            ["--unknown-customer", "--customer", "cus_1002"],
        ] {
            assert!(
                Cli::try_parse_from([&["checkout"], &args[..]].concat()).is_err(),
                "{args:?}"
            );
        }
    }

    #[test]
    fn count_and_concurrency_are_at_least_one() {
        assert!(Cli::try_parse_from(["checkout", "--count", "0"]).is_err());
        assert!(Cli::try_parse_from(["checkout", "--concurrency", "0"]).is_err());
    }

    #[test]
    fn the_endpoints_default_to_the_local_stack() {
        let cli = Cli::try_parse_from(["checkout"]).unwrap();
        assert_eq!(cli.gateway.as_str(), "http://localhost:8080/");
        assert_eq!(cli.grafana.as_str(), "http://localhost:3000/");
        assert_eq!(cli.tempo.as_str(), "http://localhost:3200/");
        assert_eq!(
            (cli.count, cli.concurrency, cli.idempotency_key),
            (1, 1, None)
        );
    }
}
