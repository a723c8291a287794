//! The storefront (`web/`) in the stack: the `Dockerfile` installs and
//! builds it and gives the gateway image the result where the image's
//! `STOREFRONT_DIR` says, `.dockerignore` keeps the host's `node_modules`
//! and `dist` out of the build context and the sources in, the page's
//! Grafana link reaches Grafana from the host, and the dashboard's service
//! graph and service lists do not leave the storefront out.
//!
//! The browser's spans reach the Collector through the gateway as ordinary
//! OTLP, and Tempo pairs its fetch (a CLIENT span) with the gateway's
//! SERVER span like any other call: the Collector and `tempo.yaml` need
//! nothing of their own for it, so nothing of theirs is checked here.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use regex::Regex;
use stack_check::{Json, Repo, YamlExt};

/// The storefront's `service.name`, the node the service graph shows.
const STOREFRONT: &str = "storefront";

// ---------------------------------------------------------------------------
// The Dockerfile
// ---------------------------------------------------------------------------

/// One instruction: its keyword in capitals and the rest, continuation
/// lines joined.
struct Instruction {
    keyword: String,
    rest: String,
}

struct Stage {
    name: String,
    base: String,
    instructions: Vec<Instruction>,
}

/// A Dockerfile as `BuildKit` reads it, as far as these checks need: the
/// global `ARG` defaults (before the first `FROM`) and the stages.
struct Dockerfile {
    args: Vec<(String, String)>,
    stages: Vec<Stage>,
}

impl Dockerfile {
    fn parse(text: &str) -> Self {
        let mut instructions = Vec::new();
        let mut pending = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            // Comment lines go, inside a continuation too.
            if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
                continue;
            }
            if let Some(head) = trimmed.strip_suffix('\\') {
                pending.push_str(head);
                pending.push(' ');
                continue;
            }
            pending.push_str(trimmed);
            let (keyword, rest) = pending
                .split_once(char::is_whitespace)
                .unwrap_or((&pending, ""));
            instructions.push(Instruction {
                keyword: keyword.to_ascii_uppercase(),
                rest: rest.trim().to_owned(),
            });
            pending.clear();
        }

        let mut dockerfile = Self {
            args: Vec::new(),
            stages: Vec::new(),
        };
        for instruction in instructions {
            if instruction.keyword == "FROM" {
                let words: Vec<&str> = instruction
                    .rest
                    .split_whitespace()
                    .filter(|word| !word.starts_with("--"))
                    .collect();
                let name = match words.as_slice() {
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => name.to_ascii_lowercase(),
                    _ => dockerfile.stages.len().to_string(),
                };
                dockerfile.stages.push(Stage {
                    name,
                    base: words.first().copied().unwrap_or_default().to_owned(),
                    instructions: Vec::new(),
                });
            } else if let Some(stage) = dockerfile.stages.last_mut() {
                stage.instructions.push(instruction);
            } else if instruction.keyword == "ARG" {
                let (name, default) = instruction
                    .rest
                    .split_once('=')
                    .unwrap_or((&instruction.rest, ""));
                dockerfile
                    .args
                    .push((name.trim().to_owned(), default.trim().to_owned()));
            }
        }
        dockerfile
    }

    fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.name == name)
    }

    /// `name` and the stages it is built on, the base first.
    fn chain(&self, name: &str) -> Vec<&Stage> {
        let mut chain = Vec::new();
        let mut next = self.stage(name);
        while let Some(stage) = next {
            if chain.iter().any(|seen: &&Stage| seen.name == stage.name) {
                break;
            }
            chain.push(stage);
            next = self.stage(&stage.base);
        }
        chain.reverse();
        chain
    }

    /// `text` with the global `ARG` defaults put in for `${NAME}` and `$NAME`.
    fn expand(&self, text: &str) -> String {
        let mut expanded = text.to_owned();
        for (name, value) in &self.args {
            expanded = expanded
                .replace(&format!("${{{name}}}"), value)
                .replace(&format!("${name}"), value);
        }
        expanded
    }
}

/// The words of a `COPY`: its flags (`--from=build`) and its paths, the
/// last of which is the destination.
fn copy_words(rest: &str) -> (Vec<String>, Vec<String>) {
    let words: Vec<String> = if rest.starts_with('[') {
        serde_json::from_str(rest).unwrap_or_default()
    } else {
        rest.split_whitespace().map(str::to_owned).collect()
    };
    words.into_iter().partition(|word| word.starts_with("--"))
}

fn flag<'a>(flags: &'a [String], name: &str) -> Option<&'a str> {
    flags
        .iter()
        .find_map(|flag| flag.strip_prefix(&format!("--{name}=")))
}

/// `ENV` pairs, in either form (`KEY=value ...` or `KEY value`).
fn env_pairs(rest: &str) -> Vec<(String, String)> {
    let unquote = |value: &str| value.trim_matches('"').to_owned();
    match rest.split_once(char::is_whitespace) {
        Some((key, value)) if !key.contains('=') => vec![(key.to_owned(), unquote(value.trim()))],
        _ => rest
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_owned(), unquote(value)))
            .collect(),
    }
}

fn trim_slash(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { path } else { trimmed }
}

fn runs(instruction: &Instruction, command: &Regex) -> bool {
    instruction.keyword == "RUN" && command.is_match(&instruction.rest)
}

fn npm_ci() -> Regex {
    Regex::new(r"\bnpm\s+ci\b").unwrap()
}

fn npm_build() -> Regex {
    Regex::new(r"\bnpm\s+run\s+build\b").unwrap()
}

/// The stage that runs `npm ci` and `npm run build`.
fn storefront_stage(dockerfile: &Dockerfile) -> Option<&Stage> {
    let (ci, build) = (npm_ci(), npm_build());
    dockerfile.stages.iter().find(|stage| {
        stage.instructions.iter().any(|i| runs(i, &ci))
            && stage.instructions.iter().any(|i| runs(i, &build))
    })
}

/// What is wrong with the stage that builds the storefront: it must install
/// (`npm ci`) from `web/`'s manifest and lock file alone, so a source edit
/// does not reinstall, then build (`npm run build`) from the sources of
/// `web/`. Also where the build lands: `<WORKDIR>/dist`.
fn build_stage_problems(stage: &Stage) -> (Vec<String>, Option<String>) {
    let mut problems = Vec::new();
    let at = |wanted: &dyn Fn(&Instruction) -> bool| stage.instructions.iter().position(wanted);
    let ci = at(&|i| runs(i, &npm_ci())).unwrap();
    let build = at(&|i| runs(i, &npm_build())).unwrap();
    let copies_paths = |i: &Instruction, paths: &[&str]| {
        let (flags, mut words) = copy_words(&i.rest);
        words.pop();
        i.keyword == "COPY"
            && flag(&flags, "from").is_none()
            && paths
                .iter()
                .all(|path| words.iter().any(|word| trim_slash(word) == *path))
    };
    let name = &stage.name;
    match at(&|i| copies_paths(i, &["web/package.json", "web/package-lock.json"])) {
        None => problems.push(format!(
            "stage {name}: `npm ci` gets no COPY of web/package.json and web/package-lock.json"
        )),
        Some(manifest) if manifest > ci => problems.push(format!(
            "stage {name}: web/'s manifest and lock file are copied after `npm ci`"
        )),
        Some(_) => {}
    }
    match at(&|i| copies_paths(i, &["web"]) || copies_paths(i, &["web/."])) {
        None => problems.push(format!(
            "stage {name}: `npm run build` gets no COPY of web/"
        )),
        Some(sources) if sources < ci => problems.push(format!(
            "stage {name}: web/ is copied before `npm ci`, so every source edit reinstalls"
        )),
        Some(sources) if sources > build => problems.push(format!(
            "stage {name}: web/ is copied after `npm run build`"
        )),
        Some(_) => {}
    }
    if build < ci {
        problems.push(format!("stage {name}: `npm run build` before `npm ci`"));
    }
    let workdir = stage.instructions[..build]
        .iter()
        .rev()
        .find(|i| i.keyword == "WORKDIR")
        .map(|i| trim_slash(&i.rest).to_owned())
        .filter(|dir| dir.starts_with('/'));
    if workdir.is_none() {
        problems.push(format!(
            "stage {name}: no absolute WORKDIR, so where the build lands is unknown"
        ));
    }
    (problems, workdir.map(|dir| format!("{dir}/dist")))
}

/// What keeps the gateway image built from `text` from serving the
/// storefront: the stage that builds it (above), and the gateway image,
/// which must copy the built folder to the path its `STOREFRONT_DIR` names.
fn storefront_problems(text: &str) -> Vec<String> {
    let dockerfile = Dockerfile::parse(text);
    let Some(stage) = storefront_stage(&dockerfile) else {
        return vec!["no stage runs `npm ci` and `npm run build`".to_owned()];
    };
    let (mut problems, dist) = build_stage_problems(stage);
    let Some(dist) = dist else {
        return problems;
    };
    let gateway = dockerfile.chain("gateway");
    if gateway.is_empty() {
        problems.push("no stage gateway".to_owned());
        return problems;
    }
    let instructions = || gateway.iter().flat_map(|stage| &stage.instructions);
    let storefront_dir = instructions()
        .filter(|i| i.keyword == "ENV")
        .flat_map(|i| env_pairs(&i.rest))
        .filter(|(key, _)| key == "STOREFRONT_DIR")
        .map(|(_, value)| value)
        .next_back();
    let Some(storefront_dir) = storefront_dir else {
        problems.push("the gateway image sets no STOREFRONT_DIR".to_owned());
        return problems;
    };
    let transfers: Vec<(String, String)> = instructions()
        .filter(|i| i.keyword == "COPY")
        .map(|i| copy_words(&i.rest))
        .filter(|(flags, _)| flag(flags, "from") == Some(stage.name.as_str()))
        .filter_map(|(_, mut words)| {
            let destination = words.pop()?;
            Some(
                words
                    .into_iter()
                    .map(move |source| (source, destination.clone())),
            )
        })
        .flatten()
        .collect();
    let served = transfers.iter().any(|(source, destination)| {
        trim_slash(source) == dist && trim_slash(destination) == trim_slash(&storefront_dir)
    });
    if !served {
        problems.push(format!(
            "the gateway image copies {transfers:?} from stage {}, not {dist} to \
             STOREFRONT_DIR={storefront_dir}",
            stage.name
        ));
    }
    problems
}

fn dockerfile_text() -> String {
    Repo::default().text("Dockerfile").unwrap()
}

/// `text` with `from` (which must be in it) replaced by `to`.
fn edited(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the Dockerfile no longer has {from:?}");
    text.replacen(from, to, 1)
}

#[test]
fn the_gateway_image_gets_the_built_storefront_where_storefront_dir_says() {
    assert_eq!(
        storefront_problems(&dockerfile_text()),
        Vec::<String>::new()
    );
}

/// The check above fails on each way the storefront can go missing from
/// the gateway image.
#[test]
fn a_gateway_image_without_the_storefront_is_caught() {
    let dockerfile = dockerfile_text();
    let stage = Dockerfile::parse(&dockerfile);
    let stage = storefront_stage(&stage).unwrap();
    let copy = format!("COPY --from={} ", stage.name);
    let breakages = [
        // Served from somewhere other than where STOREFRONT_DIR points.
        (
            edited(
                &dockerfile,
                "ENV STOREFRONT_DIR=",
                "ENV STOREFRONT_DIR=/srv",
            ),
            "not /",
        ),
        // Not copied at all.
        (edited(&dockerfile, &copy, "# "), "not /"),
        (
            edited(
                &dockerfile,
                "ENV STOREFRONT_DIR=",
                "ENV NOT_STOREFRONT_DIR=",
            ),
            "sets no",
        ),
        (
            edited(&dockerfile, "RUN npm ci", "RUN npm install"),
            "no stage runs",
        ),
        (
            edited(&dockerfile, "npm run build", "node build.mjs"),
            "no stage runs",
        ),
        (
            edited(&dockerfile, "COPY web/ ", "COPY web/src "),
            "gets no COPY of web/",
        ),
        (
            edited(
                &dockerfile,
                "COPY web/package.json ",
                "COPY web/package.json web/ ",
            ),
            "before `npm ci`",
        ),
    ];
    for (broken, wanted) in breakages {
        let problems = storefront_problems(&broken);
        assert!(
            problems.iter().any(|problem| problem.contains(wanted)),
            "wanted a problem with {wanted:?}, got {problems:?}"
        );
    }
}

/// Node gets an exact release, like every image the compose file pulls: a
/// moving tag would build the page with whatever npm came last.
#[test]
fn the_storefront_is_built_with_an_exact_node_release() {
    let dockerfile = Dockerfile::parse(&dockerfile_text());
    let stage = storefront_stage(&dockerfile).unwrap();
    let image = dockerfile.expand(&stage.base);
    let exact = Regex::new(r"^node:\d+\.\d+\.\d+-[a-z]+-slim$").unwrap();
    assert!(
        exact.is_match(&image),
        "stage {} is built on {image}",
        stage.name
    );
}

// ---------------------------------------------------------------------------
// .dockerignore
// ---------------------------------------------------------------------------

/// One `.dockerignore` line, compiled as Docker's pattern matcher does
/// (`moby/patternmatcher`: `New`, `Pattern.compile`): cleaned, a leading
/// `/` dropped, `*` and `?` within a path element, `**` across elements.
struct Pattern {
    regex: Regex,
    exclusion: bool,
}

fn ignore_patterns(dockerignore: &str) -> Vec<Pattern> {
    dockerignore
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (exclusion, pattern) = match line.strip_prefix('!') {
                Some(pattern) => (true, pattern.trim()),
                None => (false, line),
            };
            let pattern = pattern.trim_start_matches('/').trim_end_matches('/');
            let mut regex = String::from("^");
            let mut chars = pattern.chars().peekable();
            while let Some(char) = chars.next() {
                match char {
                    '*' if chars.peek() == Some(&'*') => {
                        chars.next();
                        if chars.peek() == Some(&'/') {
                            chars.next();
                        }
                        regex.push_str(if chars.peek().is_none() {
                            ".*"
                        } else {
                            "(.*/)?"
                        });
                    }
                    '*' => regex.push_str("[^/]*"),
                    '?' => regex.push_str("[^/]"),
                    '\\' => {
                        if let Some(next) = chars.next() {
                            regex.push_str(&regex::escape(&next.to_string()));
                        }
                    }
                    '[' | ']' => regex.push(char),
                    _ => regex.push_str(&regex::escape(&char.to_string())),
                }
            }
            regex.push('$');
            Pattern {
                regex: Regex::new(&regex).unwrap(),
                exclusion,
            }
        })
        .collect()
}

/// Whether `path` stays out of the build context: the last pattern that
/// matches it or one of its parent folders decides
/// (`PatternMatcher.MatchesOrParentMatches`).
fn ignored(patterns: &[Pattern], path: &str) -> bool {
    let parents: Vec<&str> = path.split('/').collect();
    let mut matched = false;
    for pattern in patterns {
        if pattern.exclusion != matched {
            continue;
        }
        let hit = pattern.regex.is_match(path)
            || (1..parents.len()).any(|depth| pattern.regex.is_match(&parents[..depth].join("/")));
        if hit {
            matched = !pattern.exclusion;
        }
    }
    matched
}

/// Stand-ins for what `npm ci` and `npm run build` leave in `web/` on a
/// developer's machine.
const BUILT: [&str; 7] = [
    "web/node_modules",
    "web/node_modules/.package-lock.json",
    "web/node_modules/esbuild/bin/esbuild",
    "web/node_modules/@opentelemetry/api/package.json",
    "web/dist",
    "web/dist/index.html",
    "web/dist/assets/main-0123ABCD.js",
];

/// What the image's build needs from `web/`: the files at its top, every
/// source under `web/src`, and every `web/` path the Dockerfile copies.
fn web_sources() -> Vec<String> {
    let repo = Repo::default();
    let mut sources: Vec<String> = std::fs::read_dir(repo.path("web"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_file())
        .map(|entry| format!("web/{}", entry.file_name().to_string_lossy()))
        .collect();
    sources.extend(repo.files_under("web/src").unwrap());
    let dockerfile = Dockerfile::parse(&dockerfile_text());
    for instruction in dockerfile
        .stages
        .iter()
        .flat_map(|stage| &stage.instructions)
    {
        let (flags, mut words) = copy_words(&instruction.rest);
        words.pop();
        if instruction.keyword == "COPY" && flag(&flags, "from").is_none() {
            sources.extend(
                words
                    .iter()
                    .map(|word| trim_slash(word))
                    .filter(|word| word.starts_with("web/"))
                    .map(str::to_owned),
            );
        }
    }
    sources.sort();
    sources.dedup();
    assert!(
        sources
            .iter()
            .any(|source| source == "web/package-lock.json")
    );
    sources
}

/// Each path of `built` that `dockerignore` lets into the build context,
/// and each of `sources` it keeps out.
fn context_problems(dockerignore: &str, sources: &[String]) -> Vec<String> {
    let patterns = ignore_patterns(dockerignore);
    let leaks = BUILT
        .iter()
        .filter(|path| !ignored(&patterns, path))
        .map(|path| format!("{path} reaches the build context"));
    let missing = sources
        .iter()
        .filter(|path| ignored(&patterns, path))
        .map(|path| format!("{path} is kept out of the build context"));
    leaks.chain(missing).collect()
}

/// A host's `node_modules` copied over the image's own would bring
/// binaries for the host's platform (esbuild's), and a host's `dist` would
/// be stale; the sources must all be there.
#[test]
fn the_build_context_has_the_storefronts_sources_and_not_its_build_outputs() {
    let dockerignore = Repo::default().text(".dockerignore").unwrap();
    assert_eq!(
        context_problems(&dockerignore, &web_sources()),
        Vec::<String>::new()
    );
}

/// The check above catches each way of getting it wrong.
#[test]
fn a_build_context_with_node_modules_or_without_sources_is_caught() {
    let dockerignore = Repo::default().text(".dockerignore").unwrap();
    let sources = web_sources();
    let without = |line: &str| {
        assert!(dockerignore.lines().any(|l| l == line), "no line {line}");
        let kept: Vec<&str> = dockerignore.lines().filter(|l| *l != line).collect();
        kept.join("\n")
    };
    let problems = context_problems(&without("web/node_modules/"), &sources);
    assert_eq!(problems.len(), 4, "{problems:?}");
    let problems = context_problems(&without("web/dist/"), &sources);
    assert_eq!(problems.len(), 3, "{problems:?}");
    let problems = context_problems(&format!("{dockerignore}\n!web/dist/index.html"), &sources);
    assert_eq!(problems, ["web/dist/index.html reaches the build context"]);
    let problems = context_problems(&format!("{dockerignore}\nweb/"), &sources);
    assert_eq!(problems.len(), sources.len(), "{problems:?}");
}

/// The model of Docker's matcher agrees with it on the patterns this
/// repository uses (cases from `moby/patternmatcher`'s behaviour).
#[test]
fn the_ignore_model_matches_like_docker() {
    let patterns = ignore_patterns("target/\n**/*.log\n*.md\n!crates/**/*.md\n/.run\n");
    let cases = [
        ("target", true),
        ("target/release/gateway", true),
        ("crates/target", false),
        ("run.log", true),
        ("crates/orders/debug.log", true),
        ("README.md", true),
        ("docs/contract.md", false),
        ("crates/telemetry/README.md", false),
        (".run/postgres/pid", true),
        ("crates/orders/src/main.rs", false),
    ];
    for (path, out) in cases {
        assert_eq!(ignored(&patterns, path), out, "{path}");
    }
}

// ---------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------

/// Grafana's own default `[server] http_port`; the compose file keeps it.
const GRAFANA_HTTP_PORT: u16 = 3000;

/// The page links each checkout's trace to `GRAFANA_URL`, which a browser
/// on the host opens: Grafana's name inside the compose network means
/// nothing there, its published loopback port does.
#[test]
fn the_storefronts_grafana_link_opens_grafana_from_the_host() {
    let compose = Repo::default().compose().unwrap();
    let url = compose
        .str_at("services.gateway.environment.GRAFANA_URL")
        .unwrap();
    let authority = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("GRAFANA_URL={url}: Grafana serves plain HTTP"))
        .trim_end_matches('/');
    let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
    assert_eq!(host, "localhost", "GRAFANA_URL={url}");
    let published = format!("127.0.0.1:{port}:{GRAFANA_HTTP_PORT}");
    let ports = compose.strings_at("services.grafana.ports");
    assert!(
        ports.contains(&published),
        "GRAFANA_URL={url}, but Grafana publishes {ports:?}"
    );
    assert_eq!(
        compose.str_at("services.gateway.environment.STOREFRONT_DIR"),
        None,
        "the image says where it put the storefront"
    );
}

// ---------------------------------------------------------------------------
// The Checkout dashboard
// ---------------------------------------------------------------------------

/// Every panel, rows' collapsed panels included.
fn panels(dashboard: &Json) -> Vec<&Json> {
    let mut found = Vec::new();
    let mut pending: Vec<&Json> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    while let Some(panel) = pending.pop() {
        pending.extend(panel["panels"].as_array().into_iter().flatten());
        found.push(panel);
    }
    found
}

/// The labels Tempo's service graph gives the storefront's calls to the
/// gateway: `client`, `server`, an empty `connection_type` (a CLIENT and a
/// SERVER span that paired), and `tempo.yaml`'s external labels.
fn storefront_edge() -> Vec<(String, String)> {
    let tempo = Repo::default().yaml("tempo.yaml").unwrap();
    let mut labels = vec![
        ("client".to_owned(), STOREFRONT.to_owned()),
        ("server".to_owned(), "gateway".to_owned()),
        ("connection_type".to_owned(), String::new()),
    ];
    for key in tempo.keys_at("metrics_generator.registry.external_labels") {
        let value = tempo
            .str_at(&format!("metrics_generator.registry.external_labels.{key}"))
            .unwrap_or_default();
        labels.push((key, value.to_owned()));
    }
    labels
}

/// Whether the `PromQL` selector `filter` (`{client="app", server=~"a|b"}`,
/// a service map's `serviceMapQuery`) selects a series with `labels`, or
/// why it cannot be read.
fn selects(filter: &str, labels: &[(String, String)]) -> Result<bool, String> {
    let inside = filter
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim();
    let matcher =
        Regex::new(r#"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?"#)
            .unwrap();
    let mut rest = inside;
    while !rest.is_empty() {
        let found = matcher
            .captures(rest)
            .ok_or_else(|| format!("cannot read {filter:?} at {rest:?}"))?;
        let (name, op, wanted) = (&found[1], &found[2], &found[3]);
        let value = labels
            .iter()
            .find(|(label, _)| label == name)
            .map_or("", |(_, value)| value.as_str());
        let full = |pattern: &str| {
            Regex::new(&format!("^(?:{pattern})$"))
                .map(|regex| regex.is_match(value))
                .map_err(|error| format!("{filter:?}: {error}"))
        };
        let hit = match op {
            "=" => value == wanted,
            "!=" => value != wanted,
            "=~" => full(wanted)?,
            _ => !full(wanted)?,
        };
        if !hit {
            return Ok(false);
        }
        rest = rest[found[0].len()..].trim_start();
    }
    Ok(true)
}

/// Labels that hold a service's name, in `PromQL`, `LogQL` and `TraceQL`.
const SERVICE_LABELS: &str = r"(?:resource\.service\.name|service_name|service|client)";

/// Where `dashboard` leaves the storefront out: a service graph whose
/// query drops the storefront's edge to the gateway, a variable listing
/// services without it, or a query matching a fixed list of services
/// (`service=~"gateway|users"`) without it.
fn dashboard_problems(dashboard: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let edge = storefront_edge();
    let mut graphs = 0;
    for panel in panels(dashboard)
        .into_iter()
        .filter(|panel| panel["type"] == "nodeGraph")
    {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if target["queryType"] != "serviceMap" {
                continue;
            }
            graphs += 1;
            // One filter, or several whose union Grafana shows; none, all.
            let filters: Vec<&str> = match &target["serviceMapQuery"] {
                Json::String(filter) => vec![filter.as_str()],
                Json::Array(filters) => filters.iter().filter_map(Json::as_str).collect(),
                _ => Vec::new(),
            };
            let mut shown = filters.is_empty();
            for filter in filters {
                match selects(filter, &edge) {
                    Ok(hit) => shown |= hit,
                    Err(error) => problems.push(format!("{title}: {error}")),
                }
            }
            if !shown {
                problems.push(format!(
                    "{title}: serviceMapQuery {} drops the edge {STOREFRONT} -> gateway",
                    target["serviceMapQuery"]
                ));
            }
        }
    }
    if graphs == 0 {
        problems.push("no service graph (a nodeGraph panel with a serviceMap query)".to_owned());
    }

    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = variable["name"].as_str().unwrap_or_default();
        let label = variable["label"].as_str().unwrap_or_default();
        let about_services = [name, label]
            .iter()
            .any(|text| text.to_ascii_lowercase().contains("service"));
        if !about_services || variable["type"] != "custom" {
            continue;
        }
        let listed: Vec<&str> = variable["query"]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .map(|option| option.rsplit(" : ").next().unwrap_or_default().trim())
            .collect();
        if !listed.contains(&STOREFRONT) {
            problems.push(format!("variable {name} lists {listed:?}"));
        }
    }

    let list = Regex::new(&format!(r#"\b{SERVICE_LABELS}\s*=~\s*"([^"]*)""#)).unwrap();
    let service_name = Regex::new(r"^[a-z][a-z0-9-]*$").unwrap();
    for panel in panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            for key in ["expr", "query"] {
                let Some(query) = target[key].as_str() else {
                    continue;
                };
                for found in list.captures_iter(query) {
                    let alternatives: Vec<&str> = found[1].split('|').collect();
                    let fixed = alternatives.len() > 1
                        && alternatives.iter().all(|name| service_name.is_match(name));
                    if fixed && !alternatives.contains(&STOREFRONT) {
                        problems.push(format!("{title}: {} leaves out {STOREFRONT}", &found[0]));
                    }
                }
            }
        }
    }
    problems
}

fn checkout_dashboard() -> Json {
    Repo::default()
        .json("grafana/dashboards/checkout.json")
        .unwrap()
}

#[test]
fn the_dashboard_shows_the_storefront_on_the_service_graph_and_in_every_service_list() {
    assert_eq!(
        dashboard_problems(&checkout_dashboard()),
        Vec::<String>::new()
    );
}

/// The check above catches a service graph filtered to other services, a
/// service variable and a query listing services without the storefront,
/// and lets a filter through that keeps the storefront's edge.
#[test]
fn a_dashboard_that_leaves_the_storefront_out_is_caught() {
    let with_filter = |filter: Json| {
        let mut dashboard = checkout_dashboard();
        let panels = dashboard["panels"].as_array_mut().unwrap();
        let graph = panels
            .iter_mut()
            .find(|panel| panel["type"] == "nodeGraph")
            .unwrap();
        graph["targets"][0]["serviceMapQuery"] = filter;
        dashboard_problems(&dashboard)
    };
    assert_eq!(with_filter(Json::from(r#"{client="gateway"}"#)).len(), 1);
    assert_eq!(
        with_filter(Json::from(
            r#"{client=~"gateway|orders", server!="postgres"}"#
        ))
        .len(),
        1
    );
    assert_eq!(
        with_filter(serde_json::json!([
            r#"{client="gateway"}"#,
            r#"{client="orders"}"#
        ]))
        .len(),
        1
    );
    assert_eq!(
        with_filter(Json::from(r#"{server="gateway"}"#)),
        Vec::<String>::new()
    );
    assert_eq!(
        with_filter(serde_json::json!([
            r#"{client="gateway"}"#,
            r#"{client="storefront"}"#
        ])),
        Vec::<String>::new()
    );

    let mut dashboard = checkout_dashboard();
    dashboard["templating"]["list"] = serde_json::json!([{
        "name": "service",
        "type": "custom",
        "query": "gateway,users,orders,payments,notifications",
    }]);
    assert_eq!(dashboard_problems(&dashboard).len(), 1);

    let mut dashboard = checkout_dashboard();
    let panel = dashboard["panels"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|panel| panel["targets"][0]["expr"].is_string())
        .unwrap();
    panel["targets"][0]["expr"] = Json::from(
        r#"sum by (service_name) (rate(traces_span_metrics_calls_total{service_name=~"gateway|users|orders"}[5m]))"#,
    );
    assert_eq!(dashboard_problems(&dashboard).len(), 1);
}
