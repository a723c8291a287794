//! A trace's spans as the tree their parent ids make, to assert on shape
//! ("the payments server span is a child of the orders client span") and
//! to print the whole trace when an assertion fails.

use std::fmt::{self, Write as _};

use crate::model::Span;

/// The spans of one trace, borrowed, navigable by parent id.
///
/// Siblings come in start-time order. A span whose parent is not among the
/// spans counts as a root: a trace that lost a span shows as two trees,
/// which is exactly what a "one root" assertion must catch.
#[derive(Debug, Clone, Copy)]
pub struct TraceTree<'a> {
    spans: &'a [Span],
}

impl<'a> TraceTree<'a> {
    pub fn new(spans: &'a [Span]) -> Self {
        Self { spans }
    }

    pub fn spans(&self) -> &'a [Span] {
        self.spans
    }

    /// Spans without a parent, or whose parent was not received.
    pub fn roots(&self) -> Vec<&'a Span> {
        self.sorted(|span| self.parent(span).is_none())
    }

    pub fn children(&self, span: &Span) -> Vec<&'a Span> {
        self.sorted(|child| child.parent_span_id.as_deref() == Some(&span.span_id))
    }

    pub fn parent(&self, span: &Span) -> Option<&'a Span> {
        let parent_id = span.parent_span_id.as_deref()?;
        self.spans
            .iter()
            .find(|candidate| candidate.span_id == parent_id)
    }

    /// The first span (by start time) of `service` named `name`.
    pub fn find(&self, service: &str, name: &str) -> Option<&'a Span> {
        self.find_all(service, name).into_iter().next()
    }

    pub fn find_all(&self, service: &str, name: &str) -> Vec<&'a Span> {
        self.sorted(|span| span.service == service && span.name == name)
    }

    /// The tree as indented text, one `service name KIND [status]` a line:
    ///
    /// ```text
    /// gateway POST /checkout SERVER [unset]
    ///   gateway GET CLIENT [unset]
    ///     users GET /users/{customer_id} SERVER [unset]
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        for root in self.roots() {
            self.render_into(&mut out, root, 0);
        }
        if out.is_empty() {
            out.push_str("(no spans)\n");
        }
        out
    }

    fn render_into(&self, out: &mut String, span: &Span, depth: usize) {
        let _ = write!(out, "{:indent$}{span}", "", indent = depth * 2);
        if depth == 0
            && let Some(missing) = &span.parent_span_id
        {
            let _ = write!(out, " (parent {missing} not received)");
        }
        out.push('\n');
        for child in self.children(span) {
            self.render_into(out, child, depth + 1);
        }
    }

    fn sorted(&self, keep: impl Fn(&Span) -> bool) -> Vec<&'a Span> {
        let mut spans: Vec<&Span> = self.spans.iter().filter(|span| keep(span)).collect();
        spans.sort_by_key(|span| span.start_unix_nanos);
        spans
    }
}

impl fmt::Display for TraceTree<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}
