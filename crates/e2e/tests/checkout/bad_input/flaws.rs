//! Flaws, and the bad requests they make.

#![allow(
    clippy::wildcard_imports,
    reason = "the sections of one test module share its imports"
)]

use super::*;

/// What makes a generated request bad, and the status the contract gives
/// it: 400 for a body that is not JSON or not declared as JSON, 413 past
/// 64 KiB, 422 for JSON of the wrong shape or with refused values.
#[derive(Clone, Debug)]
pub(super) enum Flaw {
    /// The whole body a JSON value that is not an object (422).
    NotAnObject(Value),
    Missing(&'static str),
    WrongKind(&'static str, Value),
    Refused(&'static str, Value),
    /// A number literal past 64 bits, which serde reads as a float (422),
    /// or past what a double holds, which `serde_json` cannot read at all and
    /// calls a syntax error (400).
    HugeNumber(&'static str, String),
    /// The body cut short (400).
    Truncated(Index),
    /// A control character or a byte that is not UTF-8 put into the body (400).
    StrayByte(Index, u8),
    /// A JSON body under another content type, or none (400).
    ContentType(Option<&'static str>),
    /// A JSON body past the limit (413).
    Oversized(usize),
    /// A malformed `Idempotency-Key` header (400).
    IdempotencyKey(Vec<u8>),
}

/// A member the service does not know, added to an object of the body.
#[derive(Clone, Debug)]
pub(super) struct UnknownMember {
    pub(super) within: &'static str,
    pub(super) name: String,
    pub(super) value: Value,
}

impl JsonEndpoint {
    pub(super) fn requests(self) -> BoxedStrategy<BadRequest> {
        let flaws = self.flaws();
        let unknown = unknown_members(self.objects);
        let (path, base) = (self.path, self.base);
        (flaws, unknown)
            .prop_map(move |(flaw, unknown)| bad_body(path, &base, &flaw, &unknown))
            .boxed()
    }

    pub(super) fn flaws(&self) -> BoxedStrategy<Flaw> {
        let pointers: Vec<_> = self.members.iter().map(|member| member.pointer).collect();
        let kinds: Vec<_> = (self.members.iter())
            .map(|member| (member.pointer, member.kind))
            .collect();
        let integers: Vec<_> = (self.members.iter())
            .filter(|member| matches!(member.kind, Kind::Integer))
            .map(|member| member.pointer)
            .collect();
        let refusals = self.members.iter().filter_map(|member| {
            let pointer = member.pointer;
            let refused = member.refused.clone()?;
            Some(
                refused
                    .prop_map(move |value| Flaw::Refused(pointer, value))
                    .boxed(),
            )
        });
        let mut flaws = vec![
            (1, not_an_object().prop_map(Flaw::NotAnObject).boxed()),
            (2, select(pointers).prop_map(Flaw::Missing).boxed()),
            (
                3,
                select(kinds)
                    .prop_flat_map(|(pointer, kind)| {
                        kind.other_than()
                            .prop_map(move |value| Flaw::WrongKind(pointer, value))
                    })
                    .boxed(),
            ),
            (5, Union::new(refusals).boxed()),
            (1, any::<Index>().prop_map(Flaw::Truncated).boxed()),
            (
                1,
                (any::<Index>(), stray_byte())
                    .prop_map(|(at, byte)| Flaw::StrayByte(at, byte))
                    .boxed(),
            ),
            (
                1,
                not_json_content_type().prop_map(Flaw::ContentType).boxed(),
            ),
            (
                1,
                (BODY_LIMIT + 1..BODY_LIMIT + 32 * 1024)
                    .prop_map(Flaw::Oversized)
                    .boxed(),
            ),
        ];
        if !integers.is_empty() {
            flaws.push((
                1,
                (select(integers), huge_number())
                    .prop_map(|(pointer, literal)| Flaw::HugeNumber(pointer, literal))
                    .boxed(),
            ));
        }
        if self.takes_idempotency_key {
            flaws.push((
                1,
                bad_idempotency_key().prop_map(Flaw::IdempotencyKey).boxed(),
            ));
        }
        Union::new_weighted(flaws).boxed()
    }
}

/// The request `flaw` makes of `base`, with the unknown members added.
pub(super) fn bad_body(
    path: &str,
    base: &Value,
    flaw: &Flaw,
    unknown: &[UnknownMember],
) -> BadRequest {
    let mut body = base.clone();
    // An unknown member is skipped unread, and a byte that is not UTF-8
    // inside one is skipped with it: a stray byte goes where it is read.
    let unknown = if matches!(flaw, Flaw::StrayByte(..)) {
        &[]
    } else {
        unknown
    };
    for member in unknown {
        if let Some(Value::Object(object)) = body.pointer_mut(member.within) {
            object.insert(member.name.clone(), member.value.clone());
        }
    }
    let mut request = BadRequest {
        method: Method::POST,
        path: path.to_owned(),
        content_type: Some("application/json"),
        idempotency_key: None,
        body: Vec::new(),
        expected: 422,
        flaw: match flaw {
            // The key is shown as the request's header.
            Flaw::IdempotencyKey(_) => "IdempotencyKey".to_owned(),
            _ => format!("{flaw:?}"),
        },
    };
    match flaw {
        Flaw::NotAnObject(value) => body = value.clone(),
        Flaw::Missing(pointer) => {
            let (parent, name) = pointer.rsplit_once('/').unwrap_or_default();
            if let Some(Value::Object(object)) = body.pointer_mut(parent) {
                object.remove(name);
            }
        }
        Flaw::WrongKind(pointer, value) | Flaw::Refused(pointer, value) => {
            set(&mut body, pointer, value.clone());
        }
        Flaw::HugeNumber(pointer, literal) => {
            set(&mut body, pointer, HUGE_NUMBER_PLACEHOLDER.into());
            let placeholder = Value::from(HUGE_NUMBER_PLACEHOLDER).to_string();
            request.body = body.to_string().replace(&placeholder, literal).into();
            let fits_a_double = literal.parse::<f64>().is_ok_and(f64::is_finite);
            request.expected = if fits_a_double { 422 } else { 400 };
            return request;
        }
        Flaw::Truncated(at) => {
            let json = body.to_string();
            request.body = json.as_bytes()[..at.index(json.len())].to_vec();
            request.expected = 400;
            return request;
        }
        Flaw::StrayByte(at, byte) => {
            let mut json = body.to_string().into_bytes();
            json.insert(at.index(json.len() + 1), *byte);
            request.body = json;
            request.expected = 400;
            return request;
        }
        Flaw::ContentType(content_type) => {
            request.content_type = *content_type;
            request.expected = 400;
        }
        Flaw::Oversized(length) => {
            set(&mut body, "/padding", "x".repeat(*length).into());
            request.expected = 413;
        }
        Flaw::IdempotencyKey(key) => {
            request.idempotency_key = Some(key.clone());
            request.expected = 400;
        }
    }
    request.body = body.to_string().into_bytes();
    request
}

/// Sets the member at `pointer`, which must exist or be a member of an
/// existing object.
pub(super) fn set(body: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = body.pointer_mut(pointer) {
        *slot = value;
        return;
    }
    let (parent, name) = pointer.rsplit_once('/').unwrap_or_default();
    if let Some(Value::Object(object)) = body.pointer_mut(parent) {
        object.insert(name.to_owned(), value);
    }
}

/// A path id that is not the id of anything: arbitrary bytes, unicode and
/// control characters percent-encoded, with or without the id's prefix.
/// Every one is 404.
pub(super) fn path_requests(
    route: &'static str,
    prefix: &'static str,
) -> BoxedStrategy<BadRequest> {
    let segment = prop_oneof![
        vec(any::<u8>(), 0..64),
        text().prop_map(String::into_bytes),
        "[A-Za-z0-9_]{1,80}".prop_map(String::into_bytes),
        "[0-9a-f]{32}".prop_map(String::into_bytes),
    ];
    (prop_oneof![Just(""), Just(prefix)], segment)
        .prop_map(move |(prefix, bytes)| {
            let segment = format!("{prefix}{}", percent_encoded(&bytes));
            BadRequest {
                method: Method::GET,
                path: format!("{route}{segment}"),
                content_type: None,
                idempotency_key: None,
                body: Vec::new(),
                expected: 404,
                flaw: format!("path id {segment}"),
            }
        })
        .boxed()
}

/// Every byte but ASCII letters, digits, `_` and `-` as `%XX`.
pub(super) fn percent_encoded(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| {
            if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
