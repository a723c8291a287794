//! The trace Tempo returns for a declined checkout, parsed and rendered.
//!
//! `fixtures/tempo-trace.json` is an answer of `GET /api/v2/traces/{id}` as
//! Tempo 3 writes it (gogo/protobuf `jsonpb`: base64 ids, enum names, times
//! as strings, zero values left out), pretty-printed. Its spans come grouped
//! by service and out of order, as Tempo gives them.

use checkout::tempo::{Span, parse_trace};

const FIXTURE: &str = include_str!("fixtures/tempo-trace.json");

#[test]
fn renders_the_fixture_as_a_tree() {
    let spans = parse_trace(FIXTURE).unwrap();
    assert_eq!(
        checkout::tree::render(&spans),
        "\
gateway  POST /checkout                     SERVER     +0.0 ms  52.4 ms
  gateway  GET                              CLIENT     +1.3 ms   6.2 ms
    users  GET /users/{customer_id}         SERVER     +2.1 ms   4.7 ms
      users  SELECT users                   CLIENT     +2.9 ms   2.8 ms
  gateway  POST                             CLIENT     +8.0 ms  43.6 ms  [error]
    orders  POST /orders                    SERVER     +8.9 ms  41.9 ms
      orders  orders.create_order           INTERNAL   +9.4 ms  40.8 ms
        orders  POST                        CLIENT    +14.2 ms  30.5 ms  [error]
          payments  POST /payments          SERVER    +15.0 ms  28.9 ms
            payments  payments.charge_card  INTERNAL  +15.6 ms  27.7 ms  [error]
"
    );
}

#[test]
fn reads_ids_kinds_times_and_status_from_tempo_json() {
    let spans = parse_trace(FIXTURE).unwrap();
    assert_eq!(spans.len(), 10);
    let find = |name: &str| spans.iter().find(|span| span.name == name).unwrap();
    assert_eq!(
        find("POST /checkout"),
        &Span {
            service: "gateway".to_owned(),
            name: "POST /checkout".to_owned(),
            span_id: "a1b2c3d4e5f60718".to_owned(),
            parent_span_id: None,
            kind: "SERVER".to_owned(),
            start_unix_nano: 1_767_268_800_000_000_000,
            end_unix_nano: 1_767_268_800_052_400_000,
            error: false,
        }
    );
    let charge = find("payments.charge_card");
    assert_eq!(charge.parent_span_id.as_deref(), Some("6e7f8091a2b3c4d5"));
    assert_eq!(charge.kind, "INTERNAL");
    assert!(charge.error);
}
