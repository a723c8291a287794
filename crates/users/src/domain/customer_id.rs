/// A customer id as the API shows it: `cus_` and up to 60 ASCII letters,
/// digits or underscores, the shape of every id of the suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerId(String);

impl CustomerId {
    pub fn parse(value: &str) -> Option<Self> {
        platform::id::is_well_formed(value, "cus").then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::CustomerId;

    #[test]
    fn accepts_the_seed_ids() {
        assert!(CustomerId::parse("cus_1001").is_some());
    }

    #[test]
    fn refuses_what_is_not_an_id() {
        for value in [
            "",
            "cus_",
            "1001",
            "cus_10 01",
            "cus_1001'--",
            &format!("cus_{}", "9".repeat(61)),
        ] {
            assert_eq!(CustomerId::parse(value), None, "{value:?}");
        }
    }
}
