//! A trace as an indented tree of text, one span a line:
//!
//! ```text
//! gateway  POST /checkout              SERVER  +0.0 ms  52.4 ms
//!   gateway  GET                       CLIENT  +1.3 ms   6.2 ms
//!     users  GET /users/{customer_id}  SERVER  +2.1 ms   4.7 ms
//! ```
//!
//! Children sit under their parent, siblings in start order, offsets count
//! from the trace's first span. A span whose parent is not in the trace (not
//! ingested yet, or lost) is shown as a root, marked `[parent missing]`.

use std::time::Duration;

use crate::tempo::Span;

/// One printed line, before the columns are aligned.
struct Row {
    label: String,
    kind: String,
    offset: String,
    duration: String,
    marks: String,
}

/// The tree, aligned in columns, or `(no spans)`.
pub fn render(spans: &[Span]) -> String {
    let Some(trace_start) = spans.iter().map(|span| span.start_unix_nano).min() else {
        return "(no spans)\n".to_owned();
    };
    let mut rows = Vec::new();
    for root in sorted(spans.iter().filter(|span| parent(spans, span).is_none())) {
        push_rows(&mut rows, spans, root, 0, trace_start);
    }
    align(&rows)
}

fn push_rows(rows: &mut Vec<Row>, spans: &[Span], span: &Span, depth: usize, trace_start: u64) {
    rows.push(row(span, depth, trace_start));
    let children = spans
        .iter()
        .filter(|child| child.parent_span_id.as_deref() == Some(&span.span_id));
    for child in sorted(children) {
        push_rows(rows, spans, child, depth + 1, trace_start);
    }
}

fn row(span: &Span, depth: usize, trace_start: u64) -> Row {
    let mut marks = Vec::new();
    if span.error {
        marks.push("[error]");
    }
    if depth == 0 && span.parent_span_id.is_some() {
        marks.push("[parent missing]");
    }
    Row {
        label: format!(
            "{:indent$}{}  {}",
            "",
            span.service,
            span.name,
            indent = depth * 2
        ),
        kind: span.kind.clone(),
        offset: format!("+{} ms", millis(span.start_unix_nano - trace_start)),
        duration: format!(
            "{} ms",
            millis(span.end_unix_nano.saturating_sub(span.start_unix_nano))
        ),
        marks: marks.join(" "),
    }
}

fn parent<'a>(spans: &'a [Span], span: &Span) -> Option<&'a Span> {
    let parent_id = span.parent_span_id.as_deref()?;
    spans
        .iter()
        .find(|candidate| candidate.span_id == parent_id)
}

/// Start order; the span id breaks ties, so the output never varies.
fn sorted<'a>(spans: impl Iterator<Item = &'a Span>) -> Vec<&'a Span> {
    let mut spans: Vec<&Span> = spans.collect();
    spans.sort_by(|a, b| (a.start_unix_nano, &a.span_id).cmp(&(b.start_unix_nano, &b.span_id)));
    spans
}

/// Milliseconds with one decimal: `1300000` ns is `1.3`.
fn millis(nanos: u64) -> String {
    format!("{:.1}", Duration::from_nanos(nanos).as_secs_f64() * 1000.0)
}

/// Labels and kinds left-aligned, numbers right-aligned, two spaces apart.
fn align(rows: &[Row]) -> String {
    // In characters, as `format!` pads: span names need not be ASCII.
    let width = |column: fn(&Row) -> &str| {
        rows.iter()
            .map(|row| column(row).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (label, kind) = (width(|row| &row.label), width(|row| &row.kind));
    let (offset, duration) = (width(|row| &row.offset), width(|row| &row.duration));
    let mut out = String::new();
    for row in rows {
        let line = format!(
            "{:label$}  {:kind$}  {:>offset$}  {:>duration$}  {}",
            row.label, row.kind, row.offset, row.duration, row.marks
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, name: &str, start_us: u64, dur_us: u64) -> Span {
        Span {
            service: "svc".to_owned(),
            name: name.to_owned(),
            span_id: id.to_owned(),
            parent_span_id: parent.map(str::to_owned),
            kind: "INTERNAL".to_owned(),
            start_unix_nano: 1_000_000_000 + start_us * 1000,
            end_unix_nano: 1_000_000_000 + (start_us + dur_us) * 1000,
            error: false,
        }
    }

    #[test]
    fn nests_children_and_orders_siblings_by_start() {
        let spans = [
            span("c2", Some("r"), "second", 4000, 3000),
            span("r", None, "root", 0, 10_000),
            span("c1", Some("r"), "first", 1000, 2000),
            span("g", Some("c1"), "grandchild", 1500, 400),
        ];
        assert_eq!(
            render(&spans),
            "\
svc  root            INTERNAL  +0.0 ms  10.0 ms
  svc  first         INTERNAL  +1.0 ms   2.0 ms
    svc  grandchild  INTERNAL  +1.5 ms   0.4 ms
  svc  second        INTERNAL  +4.0 ms   3.0 ms
"
        );
    }

    #[test]
    fn marks_errors_and_spans_whose_parent_is_missing() {
        let mut failed = span("r", None, "root", 0, 10_000);
        failed.error = true;
        let spans = [failed, span("o", Some("gone"), "orphan", 5000, 1000)];
        assert_eq!(
            render(&spans),
            "\
svc  root    INTERNAL  +0.0 ms  10.0 ms  [error]
svc  orphan  INTERNAL  +5.0 ms   1.0 ms  [parent missing]
"
        );
    }

    #[test]
    fn says_when_there_is_nothing() {
        assert_eq!(render(&[]), "(no spans)\n");
    }
}
