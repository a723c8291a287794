//! `Idempotency-Key`, as the gateway and orders take it.

use axum::{
    extract::OptionalFromRequestParts,
    http::{StatusCode, request::Parts},
};

use crate::Problem;

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
///
/// As an extractor, `Option<IdempotencyKey>` is `None` without the header
/// and a 400 problem when it is malformed. A malformed key is never
/// ignored: the caller sent it to make the request once, and running the
/// request without it could run it twice.
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

impl<S: Send + Sync> OptionalFromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Problem> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(None);
        };
        Self::parse(value.as_bytes()).map(Some).ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
        })
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
