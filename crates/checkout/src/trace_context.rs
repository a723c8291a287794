//! The `traceresponse` header (W3C Trace Context Level 2): how a caller
//! learns which trace its request started.

/// The gateway's server span, as `traceresponse` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceResponse {
    /// 32 lowercase hex digits, the form Tempo and Grafana take.
    pub trace_id: String,
    pub span_id: String,
    /// Whether the span was recorded; an unsampled trace is in no backend.
    pub sampled: bool,
}

/// Parses `00-<trace-id>-<span-id>-<flags>`, or `None` when the header is
/// not of that form (or names the all-zero, invalid ids).
pub fn parse_traceresponse(header: &str) -> Option<TraceResponse> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, span_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    // Version 00 has exactly four fields; a later version may append more.
    if !is_hex(version, 2) || version.eq_ignore_ascii_case("ff") {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if !is_hex(trace_id, 32) || !is_hex(span_id, 16) || !is_hex(flags, 2) {
        return None;
    }
    if is_zero(trace_id) || is_zero(span_id) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(TraceResponse {
        trace_id: trace_id.to_ascii_lowercase(),
        span_id: span_id.to_ascii_lowercase(),
        sampled: flags & 1 == 1,
    })
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sampled_traceresponse() {
        let parsed =
            parse_traceresponse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            parsed,
            TraceResponse {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
                span_id: "00f067aa0ba902b7".to_owned(),
                sampled: true,
            }
        );
    }

    #[test]
    fn reads_the_sampled_flag() {
        let parsed =
            parse_traceresponse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!parsed.sampled);
    }

    #[test]
    fn lowercases_the_ids() {
        let parsed =
            parse_traceresponse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01").unwrap();
        assert_eq!(parsed.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn refuses_malformed_headers() {
        for header in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceresponse(header), None, "{header:?}");
        }
    }

    #[test]
    fn accepts_a_later_version_with_more_fields() {
        let parsed =
            parse_traceresponse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what")
                .unwrap();
        assert_eq!(parsed.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
