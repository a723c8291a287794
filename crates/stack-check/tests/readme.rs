//! `README.md` and `grafana/README.md`: what a reader follows from them is
//! in the repository.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::path::Path;

use regex::Regex;
use stack_check::Repo;

/// Every link of `markdown` (the text of the file at `readme`) that is not
/// a web address or an anchor and leaves the repository or names nothing
/// in it, and every path in backticks that climbs out of the folder.
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
            let inside = folder.join(target.split('#').next().unwrap_or_default());
            inside.components().any(|part| part.as_os_str() == "..")
                || !repo.path(&inside.to_string_lossy()).exists()
        })
        .collect()
}

/// A clone of the repository is all a reader has: a link that leaves it
/// leads nowhere.
#[test]
fn readme_links_stay_inside_the_repository_and_resolve() {
    let repo = Repo::default();
    for readme in ["README.md", "grafana/README.md"] {
        let markdown = repo.text(readme).unwrap();
        assert_eq!(
            broken_links(&repo, readme, &markdown),
            Vec::<String>::new(),
            "{readme}"
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

/// The README's dependency block is `examples/consumer`'s, which the e2e
/// tests build and run: a reader who copies it gets a service that compiles.
#[test]
fn the_readmes_dependency_block_is_the_consumers() {
    let repo = Repo::default();
    let readme = repo.text("README.md").unwrap();
    let section = readme
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
