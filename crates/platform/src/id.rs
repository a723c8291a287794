//! The shape of the suite's public ids: `cus_1001`, `ord_0195…`,
//! `sku_keyboard`.
//!
//! Every id a caller sends is checked against it before it reaches a query,
//! a URL or another service. What it keeps out cost 500s before: NUL, which
//! Postgres text refuses; kilobytes of text, which no index row holds (2704
//! bytes at most); and `.`, `..` or `/`, which would change the path of a
//! URL an id is put into.

/// A new id with this prefix: `{prefix}_` and a UUID v7 in 32 hex digits,
/// so ids sort by creation time (an index on them stays append-mostly).
pub fn new(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// The longest part after the prefix. No id of ours comes near it.
const MAX_TAIL: usize = 60;

/// Whether `value` can be an id with this prefix: `{prefix}_` and then 1 to
/// 60 ASCII letters, digits or underscores. A service may want more of its
/// own ids (orders' are `ord_` and 32 hex digits); none wants less.
pub fn is_well_formed(value: &str, prefix: &str) -> bool {
    let tail = value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'));
    tail.is_some_and(|tail| {
        (1..=MAX_TAIL).contains(&tail.len())
            && tail
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::{is_well_formed, new};

    #[test]
    fn new_ids_are_well_formed_and_in_creation_order() {
        let (first, second) = (new("ord"), new("ord"));
        assert!(is_well_formed(&first, "ord"), "{first}");
        assert_eq!(first.len(), 36);
        assert!(first < second);
    }

    #[test]
    fn accepts_the_suites_ids() {
        assert!(is_well_formed("cus_1001", "cus"));
        assert!(is_well_formed(
            "ord_0195a1b2c3d4e5f60718293a4b5c6d7e",
            "ord"
        ));
        assert!(is_well_formed(&format!("cus_{}", "9".repeat(60)), "cus"));
    }

    #[test]
    fn refuses_what_no_id_is() {
        for value in [
            "",
            "cus",
            "cus_",
            "1001",
            "ord_1001",
            "cus_10 01",
            "cus_1001\0",
            "cus_10\u{7f}01",
            "cus_ünïcödé",
            "cus_..",
            "cus_a/b",
            &format!("cus_{}", "9".repeat(61)),
        ] {
            assert!(!is_well_formed(value, "cus"), "{value:?}");
        }
    }
}
