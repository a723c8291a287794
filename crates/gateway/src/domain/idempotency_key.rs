/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &[u8]) -> Option<Self> {
        let visible = |byte: &u8| (0x21..=0x7e).contains(byte);
        let valid = (1..=255).contains(&value.len()) && value.iter().all(visible);
        valid.then(|| Self(String::from_utf8_lossy(value).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::IdempotencyKey;

    #[test]
    fn accepts_visible_ascii_up_to_255() {
        assert!(IdempotencyKey::parse(b"order-2026-11-24#1").is_some());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_some());
    }

    #[test]
    fn refuses_empty_long_or_invisible_keys() {
        assert!(IdempotencyKey::parse(b"").is_none());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_none());
        assert!(IdempotencyKey::parse(b"with space").is_none());
        assert!(IdempotencyKey::parse("café".as_bytes()).is_none());
    }
}
