//! `README.md`, `grafana/README.md` and every page of `docs/`: what a
//! reader follows from them is in the repository.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::path::{Component, Path, PathBuf};

use regex::Regex;
use stack_check::Repo;

/// `target` followed from the folder `folder`, inside the repository: `..`
/// taken back lexically, `None` once it climbs above the repository's root.
fn inside(folder: &Path, target: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for part in folder.join(target).components() {
        match part {
            Component::ParentDir => {
                if !path.pop() {
                    return None;
                }
            }
            Component::Normal(name) => path.push(name),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(path)
}

/// Every link of `markdown` (the text of the file at `readme`) that is not
/// a web address or an anchor and leaves the repository or names nothing
/// in it, and every path in backticks that climbs out of the repository.
fn broken_links(repo: &Repo, readme: &str, markdown: &str) -> Vec<String> {
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let climbing = Regex::new(r"`(\.\./[^`\s]*)`").unwrap();
    let folder = Path::new(readme).parent().unwrap();
    let links = link
        .captures_iter(markdown)
        .map(|found| found[1].to_owned())
        .filter(|target| !target.contains("://") && !target.starts_with('#'));
    let paths = climbing
        .captures_iter(markdown)
        .map(|found| found[1].to_owned());
    links
        .chain(paths)
        .filter(|target| {
            inside(folder, target.split('#').next().unwrap_or_default())
                .is_none_or(|path| !repo.path(&path.to_string_lossy()).exists())
        })
        .collect()
}

/// The Markdown a reader of the repository follows: the front page,
/// Grafana's notes and every page of `docs/`.
fn pages(repo: &Repo) -> Vec<String> {
    let mut pages = vec!["README.md".to_owned(), "grafana/README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(repo.path("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .map(|path| format!("docs/{}", path.file_name().unwrap().to_string_lossy()))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// A clone of the repository is all a reader has: a link that leaves it
/// leads nowhere.
#[test]
fn readme_links_stay_inside_the_repository_and_resolve() {
    let repo = Repo::default();
    let pages = pages(&repo);
    assert!(pages.len() > 2, "no page in docs/: {pages:?}");
    for page in pages {
        let markdown = repo.text(&page).unwrap();
        assert_eq!(
            broken_links(&repo, &page, &markdown),
            Vec::<String>::new(),
            "{page}"
        );
    }
}

/// The check above catches the README's old pointer to the contract
/// outside the repository, as a link or as a path.
#[test]
fn a_link_out_of_the_repository_is_caught() {
    let markdown = "[the contract](../shared/CONTRACT.md), `../shared/CONTRACT.md`, \
                    [here](docs/contract.md), [web](https://grafana.com/docs/), \
                    [anchor](#layout), `cargo run -p checkout`";
    let broken = broken_links(&Repo::default(), "README.md", markdown);
    assert_eq!(broken, ["../shared/CONTRACT.md", "../shared/CONTRACT.md"]);
}

/// From a page of `docs/`, `..` is the repository's root: a link up one
/// folder resolves, up two leaves the repository, and a page's neighbour
/// is named without a folder.
#[test]
fn a_docs_page_links_relative_to_its_folder() {
    let markdown = "[the consumer](../examples/consumer), `../semconv`, \
                    [scaling](scaling.md#in-sum), [out](../../elsewhere/README.md), \
                    `../../elsewhere`, [missing](../nothing-here.md), [wrong](docs/scaling.md)";
    let broken = broken_links(&Repo::default(), "docs/page.md", markdown);
    assert_eq!(
        broken,
        [
            "../../elsewhere/README.md",
            "../nothing-here.md",
            "docs/scaling.md",
            "../../elsewhere"
        ]
    );
}

/// The page that tells how to use the telemetry crate, linked from the
/// front page.
const TELEMETRY_CRATE_PAGE: &str = "docs/telemetry-crate.md";

/// The dependency block of "Use it in your service" is
/// `examples/consumer`'s, which the e2e tests build and run: a reader who
/// copies it gets a service that compiles.
#[test]
fn the_readmes_dependency_block_is_the_consumers() {
    let repo = Repo::default();
    let readme = repo.text("README.md").unwrap();
    assert!(
        readme.contains(&format!("]({TELEMETRY_CRATE_PAGE})")),
        "the README links {TELEMETRY_CRATE_PAGE}"
    );
    let page = repo.text(TELEMETRY_CRATE_PAGE).unwrap();
    let section = page
        .split("## Use it in your service")
        .nth(1)
        .expect("a section named Use it in your service");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block in it");
    let manifest = repo.text("examples/consumer/Cargo.toml").unwrap();
    let dependencies = manifest
        .split_once("[dependencies]\n")
        .map(|(_, rest)| format!("[dependencies]\n{}", rest.split("\n[").next().unwrap()))
        .expect("a [dependencies] table");
    assert_eq!(block.trim(), dependencies.trim());
}

/// The README's first screen: what the suite is, the trace picture whole,
/// and the two commands, within its first 40 lines.
#[test]
fn the_readmes_first_screen_holds_the_picture_and_the_two_commands() {
    let readme = Repo::default().text("README.md").unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let first_screen = &lines[..lines.len().min(40)];
    for command in ["cargo test --workspace", "docker compose up --build"] {
        assert!(
            first_screen.iter().any(|line| line.starts_with(command)),
            "no line starts with `{command}` in the first 40 lines"
        );
    }
    let root = first_screen
        .iter()
        .position(|line| line.starts_with("storefront     click"))
        .expect("the picture's root, the click, in the first 40 lines");
    assert_eq!(first_screen[root - 1], "```", "the picture is a code block");
    let end = root
        + first_screen[root..]
            .iter()
            .position(|line| *line == "```")
            .expect("the whole picture in the first 40 lines");
    let picture = first_screen[root..end].join("\n");
    for shown in [
        "gateway",
        "users",
        "orders",
        "payments",
        "notifications",
        "NATS",
        "postgresql",
        "CONSUMER",
    ] {
        assert!(picture.contains(shown), "the picture shows no {shown}");
    }
    assert!(
        first_screen[..root]
            .iter()
            .any(|line| line.contains("OpenTelemetry")),
        "a description before the picture"
    );
}

/// `docs/README.md` is the index: each page of `docs/` is a row of its
/// table, once, and the front page links the index.
#[test]
fn every_docs_page_is_in_the_index_once() {
    let repo = Repo::default();
    let index = repo.text("docs/README.md").unwrap();
    let readme = repo.text("README.md").unwrap();
    assert!(
        readme.contains("](docs/README.md)"),
        "the README links the index"
    );
    for page in pages(&repo) {
        let Some(name) = page.strip_prefix("docs/") else {
            continue;
        };
        if name == "README.md" {
            continue;
        }
        let rows = index
            .lines()
            .filter(|line| line.starts_with(&format!("| [{name}]({name}) |")))
            .count();
        assert_eq!(rows, 1, "docs/README.md has {rows} rows for {name}");
    }
}
