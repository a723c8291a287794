//! The registry as Markdown: `docs/telemetry.md`.

use std::fmt::Write as _;

use crate::{AttributeEntry, AttributeType, Group, GroupKind, Registry};

/// The file's first lines, so nobody edits it by hand.
const HEADER: &str = "<!-- Generated from semconv/ by `cargo run -p semconv-registry`; \
`cargo test` fails when it is out of date. Edit the YAML, not this file. -->\n\n";

/// The whole reference page.
pub fn render(registry: &Registry) -> String {
    let mut page = String::from(HEADER);
    page.push_str(
        "# Telemetry reference\n\n\
         Everything the suite exports: the attributes and events it invents, \
         and every span, metric and log record it makes, with the OpenTelemetry \
         semantic conventions' attributes (v1.44.0) it uses. The source is \
         the suite's registry in [`semconv/`](../semconv), in Weaver's format; \
         `cargo test` fails when the suite exports an attribute or event \
         that is neither there nor in the conventions.\n",
    );
    page.push_str("\n## Attributes the suite defines\n");
    for group in registry.of_kind(GroupKind::AttributeGroup) {
        if group
            .attributes
            .iter()
            .any(|entry| matches!(entry, AttributeEntry::Definition(_)))
        {
            definitions(&mut page, group);
        }
    }
    page.push_str("\n## Events\n");
    for group in registry.of_kind(GroupKind::Event) {
        let name = group.name.as_deref().unwrap_or(&group.id);
        let _ = write!(page, "\n### `{name}`\n\n{}\n", one_line(&group.brief));
        references(&mut page, group);
    }
    page.push_str("\n## Spans\n");
    for group in registry.of_kind(GroupKind::Span) {
        let kind = group
            .span_kind
            .as_deref()
            .unwrap_or("internal")
            .to_uppercase();
        let _ = write!(
            page,
            "\n### `{}` ({kind})\n\n{}\n",
            group.id,
            one_line(&group.brief)
        );
        if let Some(note) = &group.note {
            let _ = write!(page, "\n{}\n", one_line(note));
        }
        references(&mut page, group);
        if !group.events.is_empty() {
            let events: Vec<String> = group
                .events
                .iter()
                .map(|name| format!("`{name}`"))
                .collect();
            let _ = write!(page, "\nEvents: {}.\n", events.join(", "));
        }
    }
    page.push_str(
        "\n## Metrics\n\n| metric | instrument | unit | description | attributes |\n| --- | --- | --- | --- | --- |\n",
    );
    for group in registry.of_kind(GroupKind::Metric) {
        let keys: Vec<String> = group
            .attributes
            .iter()
            .map(|entry| format!("`{}`", entry.key()))
            .collect();
        let _ = writeln!(
            page,
            "| `{}` | {} | `{}` | {} | {} |",
            group.metric_name.as_deref().unwrap_or(&group.id),
            group.instrument.as_deref().unwrap_or_default(),
            group.unit.as_deref().unwrap_or_default(),
            one_line(&group.brief),
            keys.join(", ")
        );
    }
    page.push_str("\n## Log records and resource\n");
    for group in registry.of_kind(GroupKind::AttributeGroup) {
        if group
            .attributes
            .iter()
            .all(|entry| matches!(entry, AttributeEntry::Reference(_)))
        {
            let title = group.display_name.as_deref().unwrap_or(&group.id);
            let _ = write!(page, "\n### {title}\n\n{}\n", one_line(&group.brief));
            references(&mut page, group);
        }
    }
    page
}

/// A table of the attributes a group defines, then their notes.
fn definitions(page: &mut String, group: &Group) {
    let title = group.display_name.as_deref().unwrap_or(&group.id);
    let _ = write!(
        page,
        "\n### {title}\n\n{}\n\n| attribute | type | description | examples | stability |\n| --- | --- | --- | --- | --- |\n",
        one_line(&group.brief)
    );
    let mut notes = String::new();
    for entry in &group.attributes {
        let AttributeEntry::Definition(attribute) = entry else {
            continue;
        };
        let kind = match &attribute.kind {
            AttributeType::Primitive(kind) => kind.clone(),
            AttributeType::Enum { members } => {
                let values: Vec<String> = members
                    .iter()
                    .map(|member| format!("`{}`: {}", member.value, one_line(&member.brief)))
                    .collect();
                format!("enum: {}", values.join("; "))
            }
        };
        let examples = match &attribute.examples {
            Some(serde_yaml_ng::Value::Sequence(examples)) => examples.iter().map(value).collect(),
            Some(example) => vec![value(example)],
            None => Vec::new(),
        }
        .join(", ");
        let _ = writeln!(
            page,
            "| `{}` | {kind} | {} | {examples} | {} |",
            attribute.id,
            one_line(&attribute.brief),
            attribute.stability
        );
        if let Some(note) = &attribute.note {
            let _ = writeln!(notes, "- `{}`: {}", attribute.id, one_line(note));
        }
    }
    if !notes.is_empty() {
        let _ = write!(page, "\n{notes}");
    }
}

/// The attributes a group records, by key, with what it says of each.
fn references(page: &mut String, group: &Group) {
    if group.attributes.is_empty() {
        return;
    }
    page.push_str("\n| attribute | requirement | note |\n| --- | --- | --- |\n");
    for entry in &group.attributes {
        let (requirement, note) = match entry {
            AttributeEntry::Reference(reference) => (
                reference
                    .requirement_level
                    .as_ref()
                    .and_then(|level| serde_yaml_ng::to_string(level).ok())
                    .map(|level| one_line(&level))
                    .unwrap_or_default(),
                reference.note.as_deref().map(one_line).unwrap_or_default(),
            ),
            AttributeEntry::Definition(_) => ("defined here".to_owned(), String::new()),
        };
        let _ = writeln!(page, "| `{}` | {requirement} | {note} |", entry.key());
    }
}

/// An example value, as code.
fn value(value: &serde_yaml_ng::Value) -> String {
    match value {
        serde_yaml_ng::Value::String(text) => format!("`{text}`"),
        other => format!(
            "`{}`",
            one_line(&serde_yaml_ng::to_string(other).unwrap_or_default())
        ),
    }
}

/// YAML's folded text on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
