//! Generated values: bad ids, numbers, cards, text.

#![allow(
    clippy::wildcard_imports,
    reason = "the sections of one test module share its imports"
)]

use super::*;

/// A character no id holds: control characters (NUL included), other
/// unicode, ASCII punctuation and space.
pub(super) fn stray_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\0'),
        proptest::char::range('\u{1}', '\u{1f}'),
        Just('\u{7f}'),
        proptest::char::range('\u{80}', '\u{9f}'),
        any::<char>().prop_filter("not ASCII", |c| !c.is_ascii()),
        select(
            " !\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~"
                .chars()
                .collect::<Vec<_>>()
        ),
    ]
}

/// Text as a careless or hostile caller sends it: letters and digits mixed
/// with stray characters.
pub(super) fn text() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        stray_char(),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
    ];
    vec(character, 0..24).prop_map(String::from_iter)
}

/// Not an id with this prefix: empty, the prefix alone, another prefix, too
/// long, or with a character no id holds.
pub(super) fn malformed_id(prefix: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(format!("{prefix}_")),
        "[a-z]{1,3}_[a-z0-9]{1,12}".prop_filter("the right prefix", move |id| {
            !id.starts_with(&format!("{prefix}_"))
        }),
        "[a-z0-9]{61,100}".prop_map(move |tail| format!("{prefix}_{tail}")),
        (text(), stray_char(), text())
            .prop_map(move |(head, stray, tail)| format!("{prefix}_{head}{stray}{tail}")),
    ]
}

/// Not a product code: empty, no prefix, uppercase, too long, stray
/// characters.
pub(super) fn malformed_sku() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,10}",
        "sku_[A-Z]{1,10}",
        "sku_[a-z]{61,80}",
        (text(), stray_char(), text())
            .prop_map(|(head, stray, tail)| format!("sku_{head}{stray}{tail}")),
    ]
}

pub(super) fn bad_quantity() -> impl Strategy<Value = i64> {
    prop_oneof![below(0), above(101)]
}

pub(super) fn bad_month() -> impl Strategy<Value = i64> {
    prop_oneof![below(0), above(13)]
}

pub(super) fn not_a_u16() -> impl Strategy<Value = i64> {
    prop_oneof![below(-1), above(65_536)]
}

/// `limit` and below: the edge, just past it, and far past it.
pub(super) fn below(limit: i64) -> impl Strategy<Value = i64> {
    prop_oneof![Just(limit), limit - 100..=limit, i64::MIN..=limit]
}

/// `limit` and above.
pub(super) fn above(limit: i64) -> impl Strategy<Value = i64> {
    prop_oneof![Just(limit), limit..=limit + 100, limit..=i64::MAX]
}

/// Not 12 to 19 digits; and where the service checks Luhn, 12 to 19
/// digits that fail it.
pub(super) fn bad_card_number(checks_luhn: bool) -> BoxedStrategy<String> {
    let shapes = prop_oneof![
        "[0-9]{0,11}",
        "[0-9]{20,30}",
        ("[0-9]{4}", stray_char(), "[0-9]{4,11}")
            .prop_map(|(head, stray, tail)| format!("{head}{stray}{tail}")),
    ];
    if !checks_luhn {
        return shapes.boxed();
    }
    let failing_luhn = vec(0..10_u8, 12..=19).prop_map(|digits| {
        let mut number: Vec<u8> = digits.iter().map(|digit| b'0' + digit).collect();
        if passes_luhn(&number) {
            // One digit more in the unweighted place: the sum is off by one.
            let last = number.len() - 1;
            number[last] = b'0' + (number[last] - b'0' + 1) % 10;
        }
        String::from_utf8_lossy(&number).into_owned()
    });
    prop_oneof![shapes, failing_luhn].boxed()
}

pub(super) fn bad_cvc() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,2}",
        "[0-9]{5,8}",
        ("[0-9]{1,2}", stray_char(), "[0-9]{0,2}")
            .prop_map(|(head, stray, tail)| format!("{head}{stray}{tail}")),
    ]
}

/// Number literals no member's type holds.
pub(super) fn huge_number() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[1-9][0-9]{19,40}",
        "-?[1-9]e[4-9][0-9]{2}",
        "[1-9][0-9]{310,330}",
    ]
}

/// Bytes that make JSON unreadable wherever they go: control characters
/// other than JSON's whitespace, and bytes that are not UTF-8 on their own.
pub(super) fn stray_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        0x00..=0x08_u8,
        Just(0x0b),
        Just(0x0c),
        0x0e..=0x1f_u8,
        0x80..=0xff_u8
    ]
}

pub(super) fn not_json_content_type() -> impl Strategy<Value = Option<&'static str>> {
    select(vec![
        None,
        Some(""),
        Some("json"),
        Some("text/plain"),
        Some("text/json"),
        Some("application/xml"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ])
}

/// Not 1 to 255 visible ASCII characters: empty, too long, or with a space,
/// a tab or a byte past ASCII inside.
pub(super) fn bad_idempotency_key() -> impl Strategy<Value = Vec<u8>> {
    let stray = prop_oneof![Just(b' '), Just(b'\t'), 0x80..=0xff_u8];
    prop_oneof![
        Just(Vec::new()),
        "[!-~]{256,4096}".prop_map(String::into_bytes),
        ("[!-~]{1,16}", stray, "[!-~]{1,16}").prop_map(|(head, stray, tail)| [
            head.as_bytes(),
            &[stray],
            tail.as_bytes()
        ]
        .concat()),
    ]
}

/// Any JSON value, nested up to three deep.
pub(super) fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000_i64..1000).prop_map(Value::from),
        (-1e6_f64..1e6).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((text(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

pub(super) fn not_an_object() -> impl Strategy<Value = Value> {
    any_json().prop_filter("an object", |value| !value.is_object())
}

/// Up to three members no request type has (none of ours starts `x_`).
pub(super) fn unknown_members(
    objects: &'static [&'static str],
) -> impl Strategy<Value = Vec<UnknownMember>> {
    vec((select(objects), text(), any_json()), 0..3).prop_map(|members| {
        members
            .into_iter()
            .map(|(within, name, value)| UnknownMember {
                within,
                name: format!("x_{name}"),
                value,
            })
            .collect()
    })
}

/// The members the unknown-members test adds: what a newer client might
/// send, at the top, in an item and in the card.
pub(super) fn add_unknown_members(body: &mut Value) {
    let additions = [
        (
            "",
            "shipping_address",
            json!({"city": "London", "lines": ["12 St James's Square"]}),
        ),
        ("", "coupon", json!(null)),
        ("/items/0", "gift_wrap", json!(true)),
        ("/card", "holder_name", json!("Ada Lovelace")),
    ];
    for (within, name, value) in additions {
        if let Some(Value::Object(object)) = body.pointer_mut(within) {
            object.insert(name.to_owned(), value);
        }
    }
}

/// Whether `bytes` hold a run of 12 to 19 digits that passes Luhn, other
/// than the contract's approved test card.
pub(super) fn holds_card_number(bytes: &[u8]) -> bool {
    bytes.split(|byte| !byte.is_ascii_digit()).any(|run| {
        (12..=19).contains(&run.len()) && run != APPROVED_CARD.as_bytes() && passes_luhn(run)
    })
}

pub(super) fn passes_luhn(digits: &[u8]) -> bool {
    let sum: u32 = (digits.iter().rev().enumerate())
        .map(|(place, digit)| {
            let digit = u32::from(digit - b'0');
            match (place % 2, digit * 2) {
                (0, _) => digit,
                (_, doubled) if doubled > 9 => doubled - 9,
                (_, doubled) => doubled,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}
