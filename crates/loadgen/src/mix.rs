//! The checkouts a run sends: a seeded, weighted mix of what a shop's real
//! traffic holds, each with its JSON body and `Idempotency-Key`.

use std::collections::VecDeque;

use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Stripe's test cards, which the card processor stand-in honours. No other
/// card number is ever sent: the suite scans its logs for card numbers.
pub const APPROVED_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000002";

/// The seed data's customers and in-stock products (contract).
const CUSTOMERS: [&str; 2] = ["cus_1001", "cus_1002"];
const PRODUCTS: [&str; 2] = ["sku_keyboard", "sku_mouse"];
/// Seeded with no stock at all.
const SOLD_OUT: &str = "sku_sold_out";
/// Not in the seed data.
const UNKNOWN_CUSTOMER: &str = "cus_9999";
const UNKNOWN_SKU: &str = "sku_unknown";

/// How many earlier checkouts a repeat picks from: a retry follows its
/// first attempt closely, and the bound keeps a `--forever` run's memory
/// flat.
const REPEATABLE: usize = 256;

/// What a checkout is meant to provoke, and so the answer the contract
/// promises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A seeded customer, one or two products in stock, the approved card:
    /// 201.
    Approved,
    /// The declined test card: 402, the order kept as `payment_failed`.
    Declined,
    /// A basket with `sku_sold_out` in it: 409.
    SoldOut,
    /// A body the gateway refuses field by field (no items, quantity 0 or
    /// 101, an unknown sku, an expired card): 422.
    Invalid,
    /// A customer who does not exist: 404.
    UnknownCustomer,
    /// An earlier checkout sent again, same key and same body, as a client
    /// retrying after a lost answer: the first answer again, and nothing
    /// charged twice.
    Repeat,
}

impl Kind {
    pub const ALL: [Self; 6] = [
        Self::Approved,
        Self::Declined,
        Self::SoldOut,
        Self::Invalid,
        Self::UnknownCustomer,
        Self::Repeat,
    ];
}

/// The relative weight of each [`Kind`]; they need not add up to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub approved: u32,
    pub declined: u32,
    pub sold_out: u32,
    pub invalid: u32,
    pub unknown_customer: u32,
    pub repeat: u32,
}

impl Default for Weights {
    /// Mostly checkouts that go through, with every failure the seed data
    /// is made for in the proportions a shop might see them, in percent.
    fn default() -> Self {
        Self {
            approved: 80,
            declined: 6,
            sold_out: 4,
            invalid: 4,
            unknown_customer: 3,
            repeat: 3,
        }
    }
}

impl Weights {
    /// Only checkouts that go through: to measure the happy path alone.
    pub const APPROVED_ONLY: Self = Self {
        approved: 1,
        declined: 0,
        sold_out: 0,
        invalid: 0,
        unknown_customer: 0,
        repeat: 0,
    };

    pub fn of(&self, kind: Kind) -> u32 {
        match kind {
            Kind::Approved => self.approved,
            Kind::Declined => self.declined,
            Kind::SoldOut => self.sold_out,
            Kind::Invalid => self.invalid,
            Kind::UnknownCustomer => self.unknown_customer,
            Kind::Repeat => self.repeat,
        }
    }

    fn total(&self) -> u32 {
        Kind::ALL.iter().map(|kind| self.of(*kind)).sum()
    }

    /// The kind whose share of `0..total()` holds `ticket`.
    fn pick(&self, mut ticket: u32) -> Kind {
        for kind in Kind::ALL {
            if ticket < self.of(kind) {
                return kind;
            }
            ticket -= self.of(kind);
        }
        Kind::Approved
    }
}

/// One `POST /checkout` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub kind: Kind,
    /// `loadgen-<run id>-<n>`: unique to this checkout, or to the one it
    /// repeats.
    pub idempotency_key: String,
    /// The JSON body, serialised once: a repeat sends the very same bytes.
    pub body: String,
}

/// An endless, seeded stream of checkouts: `mix.next()` never ends.
///
/// The same seed and weights give the same kinds and bodies in the same
/// order. The keys' run id is new for every `Mix`, so that a second run
/// with the same seed makes new orders instead of getting back the answers
/// the gateway stored for the first (it keeps them 24 hours).
pub struct Mix {
    weights: Weights,
    rng: StdRng,
    run_id: String,
    /// Checkouts made so far, not counting repeats: the keys' counter.
    made: u64,
    recent: VecDeque<Checkout>,
}

impl Mix {
    /// # Panics
    ///
    /// If every weight is zero: there would be nothing to send.
    pub fn new(weights: Weights, seed: u64) -> Self {
        assert!(weights.total() > 0, "a mix needs a non-zero weight");
        Self {
            weights,
            // StdRng is reproducible for one version of rand, which
            // Cargo.lock pins: enough for "the same seed, the same run".
            rng: StdRng::seed_from_u64(seed),
            run_id: Alphanumeric.sample_string(&mut rand::rng(), 8),
            made: 0,
            recent: VecDeque::with_capacity(REPEATABLE),
        }
    }

    /// The next checkout; the same as `next()`, which never ends.
    pub fn next_checkout(&mut self) -> Checkout {
        let kind = self
            .weights
            .pick(self.rng.random_range(0..self.weights.total()));
        if kind == Kind::Repeat
            && let Some(repeat) = self.repeat()
        {
            return repeat;
        }
        // A repeat drawn before anything was sent has nothing to repeat: it
        // goes out as a first attempt.
        self.make(if kind == Kind::Repeat {
            Kind::Approved
        } else {
            kind
        })
    }

    /// The part of every key that tells this run's checkouts apart.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// A new checkout of `kind`, remembered so that a repeat may pick it.
    fn make(&mut self, kind: Kind) -> Checkout {
        let body = match kind {
            Kind::Declined => self.order(DECLINED_CARD),
            Kind::SoldOut => self.sold_out(),
            Kind::Invalid => self.invalid(),
            Kind::UnknownCustomer => {
                let mut body = self.order(APPROVED_CARD);
                body["customer_id"] = json!(UNKNOWN_CUSTOMER);
                body
            }
            // `next_checkout` never makes a repeat anew.
            Kind::Approved | Kind::Repeat => self.order(APPROVED_CARD),
        };
        self.made += 1;
        let checkout = Checkout {
            kind,
            idempotency_key: format!("loadgen-{}-{}", self.run_id, self.made),
            body: body.to_string(),
        };
        if self.recent.len() == REPEATABLE {
            self.recent.pop_front();
        }
        self.recent.push_back(checkout.clone());
        checkout
    }

    /// One of the recent checkouts again, or `None` before the first.
    fn repeat(&mut self) -> Option<Checkout> {
        if self.recent.is_empty() {
            return None;
        }
        let earlier = self.rng.random_range(0..self.recent.len());
        Some(Checkout {
            kind: Kind::Repeat,
            ..self.recent[earlier].clone()
        })
    }

    /// A valid order from a seeded customer: one or both products, one or
    /// two of each.
    fn order(&mut self, card_number: &str) -> Value {
        let customer = CUSTOMERS[self.rng.random_range(0..CUSTOMERS.len())];
        let mut skus = PRODUCTS;
        skus.shuffle(&mut self.rng);
        let lines = self.rng.random_range(1..=skus.len());
        let items: Vec<Value> = skus[..lines]
            .iter()
            .map(|sku| json!({"sku": sku, "quantity": self.rng.random_range(1..=2)}))
            .collect();
        json!({
            "customer_id": customer,
            "items": items,
            "card": {"number": card_number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        })
    }

    fn sold_out(&mut self) -> Value {
        let mut body = self.order(APPROVED_CARD);
        if let Some(items) = body["items"].as_array_mut() {
            items.push(json!({"sku": SOLD_OUT, "quantity": 1}));
        }
        body
    }

    /// A valid order with one thing the contract refuses with 422.
    fn invalid(&mut self) -> Value {
        let mut body = self.order(APPROVED_CARD);
        match self.rng.random_range(0..5) {
            0 => body["items"] = json!([]),
            1 => body["items"][0]["quantity"] = json!(0),
            2 => body["items"][0]["quantity"] = json!(101),
            3 => body["items"][0]["sku"] = json!(UNKNOWN_SKU),
            _ => body["card"]["exp_year"] = json!(2020),
        }
        body
    }
}

impl Iterator for Mix {
    type Item = Checkout;

    fn next(&mut self) -> Option<Checkout> {
        Some(self.next_checkout())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    const DRAWS: u32 = 10_000;

    fn draws(seed: u64) -> Vec<Checkout> {
        Mix::new(Weights::default(), seed)
            .take(DRAWS as usize)
            .collect()
    }

    fn parse(checkout: &Checkout) -> Value {
        serde_json::from_str(&checkout.body).expect("every body is JSON")
    }

    /// The key without its run id, which is new for every `Mix`.
    fn key_number(checkout: &Checkout) -> &str {
        checkout.idempotency_key.rsplit('-').next().unwrap()
    }

    /// Why the contract refuses `body` with 422 (the gateway's own rules),
    /// or nothing when it accepts it.
    fn contract_violations(body: &Value) -> Vec<&'static str> {
        let mut violations = Vec::new();
        let items = body["items"].as_array().unwrap();
        if items.is_empty() {
            violations.push("no items");
        }
        for item in items {
            if !(1..=100).contains(&item["quantity"].as_u64().unwrap()) {
                violations.push("quantity out of 1 to 100");
            }
            if !["sku_keyboard", "sku_mouse", "sku_sold_out"]
                .contains(&item["sku"].as_str().unwrap())
            {
                violations.push("unknown sku");
            }
        }
        // Expired whenever the tests run: before they were written.
        if body["card"]["exp_year"].as_u64().unwrap() < 2026 {
            violations.push("expired card");
        }
        violations
    }

    #[test]
    fn the_same_seed_sends_the_same_checkouts() {
        let (first, second) = (draws(7), draws(7));
        let (mix_a, mix_b) = (
            Mix::new(Weights::default(), 7),
            Mix::new(Weights::default(), 7),
        );
        assert_ne!(mix_a.run_id(), mix_b.run_id(), "each run has its own keys");
        for (a, b) in first.iter().zip(&second) {
            assert_eq!((a.kind, &a.body), (b.kind, &b.body));
            assert_eq!(key_number(a), key_number(b));
        }
        let other: Vec<String> = draws(8).into_iter().map(|c| c.body).collect();
        let first: Vec<String> = first.into_iter().map(|c| c.body).collect();
        assert_ne!(first, other, "another seed, another mix");
    }

    #[test]
    fn the_kinds_come_in_the_proportions_of_their_weights() {
        let mut counts: BTreeMap<Kind, u32> = BTreeMap::new();
        for checkout in draws(1) {
            *counts.entry(checkout.kind).or_default() += 1;
        }
        let weights = Weights::default();
        let total = f64::from(weights.total());
        for kind in Kind::ALL {
            let share =
                f64::from(counts.get(&kind).copied().unwrap_or_default()) / f64::from(DRAWS);
            let expected = f64::from(weights.of(kind)) / total;
            // Four standard deviations of a binomial share: a mix that is
            // off by a point or two still fails.
            let tolerance = 4.0 * (expected * (1.0 - expected) / f64::from(DRAWS)).sqrt();
            assert!(
                (share - expected).abs() < tolerance,
                "{kind:?}: {share:.4}, weighted {expected:.4} ± {tolerance:.4}"
            );
        }
    }

    #[test]
    fn a_repeat_sends_an_earlier_checkout_again_with_its_key() {
        let checkouts = draws(2);
        let mut first_by_key: HashMap<&str, &Checkout> = HashMap::new();
        let mut repeats = 0;
        for checkout in &checkouts {
            if let Some(first) = first_by_key.get(checkout.idempotency_key.as_str()) {
                assert_eq!(checkout.kind, Kind::Repeat);
                assert_eq!(checkout.body, first.body, "a retry sends the same body");
                repeats += 1;
            } else {
                assert_ne!(checkout.kind, Kind::Repeat, "a repeat of nothing");
                first_by_key.insert(&checkout.idempotency_key, checkout);
            }
        }
        assert!(repeats > 0);
    }

    #[test]
    fn keys_are_what_the_contract_accepts() {
        for checkout in draws(3) {
            let key = &checkout.idempotency_key;
            assert!((1..=255).contains(&key.len()), "{key}");
            assert!(key.bytes().all(|byte| byte.is_ascii_graphic()), "{key}");
        }
    }

    #[test]
    fn only_invalid_checkouts_break_the_contract_s_rules() {
        // A repeat's body is its first attempt's, checked as that one.
        for checkout in draws(4).iter().filter(|c| c.kind != Kind::Repeat) {
            let body = parse(checkout);
            let violations = contract_violations(&body);
            if checkout.kind == Kind::Invalid {
                assert!(!violations.is_empty(), "{body}");
            } else {
                assert!(
                    violations.is_empty(),
                    "{:?}: {violations:?} in {body}",
                    checkout.kind
                );
            }
        }
    }

    #[test]
    fn each_kind_s_body_asks_for_its_answer() {
        for checkout in draws(5) {
            let body = parse(&checkout);
            let skus: Vec<&str> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["sku"].as_str().unwrap())
                .collect();
            let (customer, card) = (&body["customer_id"], &body["card"]["number"]);
            match checkout.kind {
                Kind::Declined => assert_eq!(card, DECLINED_CARD),
                Kind::SoldOut => assert!(skus.contains(&SOLD_OUT)),
                Kind::UnknownCustomer => assert_eq!(customer, UNKNOWN_CUSTOMER),
                Kind::Approved => {
                    assert_eq!(card, APPROVED_CARD);
                    assert!(CUSTOMERS.contains(&customer.as_str().unwrap()));
                    assert!(!skus.contains(&SOLD_OUT));
                }
                Kind::Invalid | Kind::Repeat => {}
            }
        }
    }

    #[test]
    fn no_card_number_but_the_two_test_cards_is_ever_sent() {
        for checkout in draws(6) {
            let card = parse(&checkout)["card"]["number"].clone();
            assert!(card == APPROVED_CARD || card == DECLINED_CARD, "{card}");
            // Anywhere in what is sent, any run of 12 or more digits (the
            // shortest card number the gateway takes) is a test card.
            let sent = format!("{} {}", checkout.idempotency_key, checkout.body);
            for run in digit_runs(&sent) {
                assert!(
                    run.len() < 12 || run == APPROVED_CARD || run == DECLINED_CARD,
                    "{run} in {sent}"
                );
            }
        }
    }

    fn digit_runs(text: &str) -> impl Iterator<Item = &str> {
        text.split(|c: char| !c.is_ascii_digit())
            .filter(|run| !run.is_empty())
    }

    #[test]
    fn approved_only_weights_send_only_approved_checkouts() {
        let mix = Mix::new(Weights::APPROVED_ONLY, 9);
        assert!(
            mix.take(1000)
                .all(|checkout| checkout.kind == Kind::Approved)
        );
    }

    #[test]
    #[should_panic(expected = "non-zero weight")]
    fn a_mix_of_nothing_is_refused() {
        let _ = Mix::new(
            Weights {
                approved: 0,
                ..Weights::APPROVED_ONLY
            },
            0,
        );
    }
}
