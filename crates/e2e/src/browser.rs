//! Debian's headless Chromium, driven through `chromedriver`, for the
//! tests that load the storefront the way a user does.
//!
//! ```ignore
//! let browser = e2e::Browser::start().await?;
//! browser.goto(&format!("{}/", suite.url(e2e::Service::Gateway))).await?;
//! browser.select("product", "sku-1").await?;
//! browser.fill("email", "ada@example.com").await?;
//! browser.click("buy").await?;
//! let order = browser.wait_for_text("order-id", Duration::from_secs(10)).await?;
//! browser.close().await?;
//! ```
//!
//! Elements are found by their `data-testid` attribute. Each browser has its
//! own `chromedriver` on a free loopback port and a fresh profile in a temp
//! dir; [`Browser::close`] (or dropping it) ends the session, which stops
//! Chromium, kills `chromedriver` by its pid and removes the profile.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's
//! `chromium` and `chromium-driver`); nothing is downloaded at run time.

use std::{
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use fantoccini::{
    Client, ClientBuilder, Locator, elements::Element, wd::WebDriverCompatibleCommand,
};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long `chromedriver` may take to answer, and Chromium to open a session.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Browser::select`], [`Browser::fill`] and [`Browser::click`]
/// wait for their element to appear (pages render after they load).
const ELEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long ending the session may take at drop.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// Numbers each browser's temp dir within this process.
static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// Chromium's flags. The `--disable-*` networking ones matter here: without
/// them Chromium keeps calling Google services, which on a machine with no
/// network means a flood of failing connections.
const ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--window-size=1024,900",
];

/// A headless Chromium with its own `chromedriver` and profile.
pub struct Browser {
    client: Client,
    /// `http://127.0.0.1:PORT/session/ID`, for ending the session at drop.
    session: String,
    /// Set by [`Browser::close`], which ended the session.
    closed: bool,
    /// Every console error read so far: reading the browser log empties it.
    console_errors: Mutex<Vec<String>>,
    // Dropped after `Drop::drop` ended the session.
    _driver: Driver,
}

/// `chromedriver` and the temp dir; stopped and removed when dropped.
struct Driver {
    child: Child,
    /// Chromium's profile and `chromedriver.log`.
    dir: PathBuf,
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port and opens a session,
    /// which starts Chromium. Must be called inside a Tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(binary).exists() {
                bail!(
                    "{binary} is missing: install Chromium and its driver with \
                     `apt-get install chromium chromium-driver`, as .ci/run does"
                );
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "e2e-browser-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER}"))?;
        // From here on, dropping `driver` stops what was started.
        let mut driver = Driver { child, dir };
        let webdriver = format!("http://127.0.0.1:{port}");
        match tokio::time::timeout(START_TIMEOUT, open(&mut driver, &webdriver)).await {
            Ok(Ok(client)) => {
                let id = client.session_id().await?.context("no session id")?;
                Ok(Self {
                    client,
                    session: format!("{webdriver}/session/{id}"),
                    closed: false,
                    console_errors: Mutex::default(),
                    _driver: driver,
                })
            }
            Ok(Err(error)) => Err(error.context(driver.log_tail())),
            Err(_) => bail!(
                "chromedriver and Chromium did not start within {START_TIMEOUT:?}; {}",
                driver.log_tail()
            ),
        }
    }

    /// The fantoccini client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` and waits for its `load` event.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("loading {url}"))
    }

    /// Picks the `<option>` with this `value` in the `<select>`
    /// `[data-testid=testid]`, as a click would (`change` fires).
    pub async fn select(&self, testid: &str, value: &str) -> anyhow::Result<()> {
        self.element(testid)
            .await?
            .select_by_value(value)
            .await
            .with_context(|| format!("selecting {value:?} in {}", selector(testid)))
    }

    /// Clears the input `[data-testid=testid]` and types `text` into it.
    pub async fn fill(&self, testid: &str, text: &str) -> anyhow::Result<()> {
        let input = self.element(testid).await?;
        input
            .clear()
            .await
            .with_context(|| format!("clearing {}", selector(testid)))?;
        input
            .send_keys(text)
            .await
            .with_context(|| format!("typing into {}", selector(testid)))
    }

    /// Clicks `[data-testid=testid]`; fails if something covers it.
    pub async fn click(&self, testid: &str) -> anyhow::Result<()> {
        self.element(testid)
            .await?
            .click()
            .await
            .with_context(|| format!("clicking {}", selector(testid)))
    }

    /// The visible text of the first `[data-testid=testid]`, `None` if there
    /// is none.
    pub async fn text(&self, testid: &str) -> anyhow::Result<Option<String>> {
        let found = self
            .client
            .find_all(Locator::Css(&selector(testid)))
            .await?;
        match found.first() {
            Some(element) => Ok(Some(element.text().await?)),
            None => Ok(None),
        }
    }

    /// Waits until `[data-testid=testid]` exists and shows some text, and
    /// returns that text. On timeout the error says what was there instead,
    /// and the page's console errors.
    pub async fn wait_for_text(&self, testid: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text(testid).await?;
            if let Some(text) = &text
                && !text.trim().is_empty()
            {
                return Ok(text.clone());
            }
            if Instant::now() > deadline {
                let found = if text.is_some() {
                    "it stayed empty"
                } else {
                    "there was none"
                };
                let errors = self.console_errors().await.unwrap_or_default();
                bail!(
                    "no text in {} within {timeout:?}: {found}; console errors: {errors:?}",
                    selector(testid)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` as a function body in the page (`arguments[0]` is the
    /// first of `args`); what it `return`s, as JSON.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.client
            .execute(script, args)
            .await
            .context("running a script in the page")
    }

    /// Saves what the window shows as a PNG at `path`.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Every URL the current page requested: its own, then each resource
    /// (scripts, styles, images, `fetch`es) from the Resource Timing API.
    /// Not in it: what the browser asks for on its own, like `/favicon.ico`.
    pub async fn resource_urls(&self) -> anyhow::Result<Vec<String>> {
        let urls = self
            .execute(
                "return [location.href].concat(\
                 performance.getEntriesByType('resource').map(entry => entry.name));",
                Vec::new(),
            )
            .await?;
        serde_json::from_value(urls).context("resource URLs")
    }

    /// Every console error and uncaught exception (level `SEVERE` in the
    /// browser log) since the browser started, across pages, oldest first.
    /// A message starts with where it came from: `URL LINE:COLUMN`. Failed
    /// loads count too, the browser's own included: a page without a
    /// favicon has a 404 for `/favicon.ico` here.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let log = self.client.issue_cmd(BrowserLog).await?;
        let log = log.as_array().context("the browser log is not a list")?;
        let mut errors = self
            .console_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        errors.extend(
            log.iter()
                .filter(|entry| entry["level"] == "SEVERE")
                .filter_map(|entry| entry["message"].as_str().map(str::to_owned)),
        );
        Ok(errors.clone())
    }

    /// Ends the session (Chromium exits), kills `chromedriver` and removes
    /// the profile. Dropping the browser does the same, without the errors.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.closed = true;
        self.client
            .clone()
            .close()
            .await
            .context("ending the WebDriver session")
    }

    async fn element(&self, testid: &str) -> anyhow::Result<Element> {
        self.client
            .wait()
            .at_most(ELEMENT_TIMEOUT)
            .every(POLL)
            .for_element(Locator::Css(&selector(testid)))
            .await
            .with_context(|| format!("no {} within {ELEMENT_TIMEOUT:?}", selector(testid)))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Still open (no `close`, or a panic): end it here, so Chromium
        // quits. The runtime may be shutting down: plain blocking HTTP.
        if !self.closed
            && let Err(error) = delete_session(&self.session)
        {
            eprintln!("e2e: ending the browser session: {error:#}");
        }
    }
}

/// Waits for `chromedriver` to answer, then opens a session (Chromium starts).
async fn open(driver: &mut Driver, webdriver: &str) -> anyhow::Result<Client> {
    let status = format!("{webdriver}/status");
    loop {
        if let Some(exit) = driver.child.try_wait()? {
            bail!("chromedriver exited ({exit}) before it answered");
        }
        if let Ok(response) = crate::http_client().get(&status).send().await
            && response.status().is_success()
        {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let mut args: Vec<String> = ARGS.iter().map(|&arg| arg.to_owned()).collect();
    args.push(format!(
        "--user-data-dir={}",
        driver.dir.join("profile").display()
    ));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": CHROMIUM, "args": args }),
    );
    capabilities.insert("goog:loggingPrefs".to_owned(), json!({ "browser": "ALL" }));
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(webdriver)
        .await
        .context("opening a WebDriver session")?;
    // Dropping the client must not end the session behind our back (in a
    // task of a runtime that may be gone): `close` or `Drop` end it.
    client.persist().await?;
    Ok(client)
}

impl Driver {
    /// The end of `chromedriver.log`, for a start that failed.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("chromedriver.log ends:\n{tail}")
    }

    /// `chromedriver`'s running children (Chromium), from `/proc`. While it
    /// has not reaped them, their pids cannot have been reused.
    fn children(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let parent = self.child.id().to_string();
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // `pid (comm) state ppid ...`; comm may hold spaces.
                let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                let mut fields = after.split_whitespace();
                let (state, ppid) = (fields.next(), fields.next());
                state.is_some_and(|state| state != "Z") && ppid == Some(parent.as_str())
            })
            .collect()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Killing chromedriver leaves Chromium running (it quits when its
        // session ends), so whatever still runs under it goes first; its
        // helper processes follow Chromium.
        for pid in self.children() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `[data-testid="testid"]`, quoted for CSS.
fn selector(testid: &str) -> String {
    let quoted = testid.replace('\\', "\\\\").replace('"', "\\\"");
    format!("[data-testid=\"{quoted}\"]")
}

/// `DELETE /session/ID` over a plain socket; `session` is its full URL.
fn delete_session(session: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(session)?;
    let host = url.host_str().context("no host")?;
    let port = url.port().context("no port")?;
    let mut stream = TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(STOP_TIMEOUT))?;
    write!(
        stream,
        "DELETE {} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        url.path()
    )?;
    // chromedriver answers once Chromium has quit, and may keep the
    // connection open after: the status line is all there is to wait for.
    let mut response = Vec::new();
    let mut chunk = [0; 512];
    while !response.windows(2).any(|end| end == b"\r\n") {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..read]);
    }
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        bail!("chromedriver answered {status:?}");
    }
    Ok(())
}

/// `chromedriver`'s `POST /session/ID/se/log` for the `browser` log, which
/// fantoccini has no method for.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}
