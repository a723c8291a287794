//! Real Prometheus engines, for checks that reading a file cannot make:
//! Debian's `prometheus` package (`promtool` and the server, 2.42) and
//! `prometheus-alertmanager` (`amtool` and the server). `.ci/run` installs
//! both; nothing here downloads anything.
//!
//! - [`command`]: one of those binaries, with a message saying where it
//!   comes from when it is missing.
//! - [`OpenMetrics`]: series written as `promtool tsdb create-blocks-from
//!   openmetrics` reads them, then loaded into a data directory.
//! - [`Server`]: a Prometheus server on loopback, on such a directory,
//!   asked over its HTTP API; stopped (by its pid) when dropped.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};

use crate::Json;

/// A command for one of the engines' binaries, found on the `PATH`.
///
/// # Errors
///
/// The binary is not installed: the message says which package has it.
pub fn command(binary: &str) -> anyhow::Result<Command> {
    let package = match binary {
        "amtool" | "prometheus-alertmanager" => "prometheus-alertmanager",
        _ => "prometheus",
    };
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .any(|folder| folder.join(binary).is_file());
    ensure!(
        found,
        "{binary} is not installed: `apt-get install {package}` (Debian's package; .ci/run installs it)"
    );
    Ok(Command::new(binary))
}

/// Runs `binary` with `args` and returns its stdout and stderr, together.
///
/// # Errors
///
/// It cannot start, or it exits with a failure: the error holds its output.
pub fn run(binary: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = command(binary)?
        .args(args)
        .output()
        .with_context(|| format!("running {binary}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        output.status.success(),
        "{binary} {} failed ({}):\n{text}",
        args.join(" "),
        output.status
    );
    Ok(text)
}

/// A folder of its own under the system's temporary folder, removed when
/// dropped (no `tempfile` dependency for this one use).
pub struct TempDir(PathBuf);

impl TempDir {
    /// # Errors
    ///
    /// The folder cannot be created.
    pub fn new(purpose: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "{purpose}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A folder left by a killed run with the same pid is stale.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Labels of one series, `__name__` apart.
pub type Labels = BTreeMap<String, String>;

/// Series to load into a Prometheus: each name, each label set, its samples
/// (milliseconds since the epoch, value).
#[derive(Debug, Default, Clone)]
pub struct OpenMetrics {
    series: BTreeMap<String, BTreeMap<Labels, BTreeMap<i64, f64>>>,
}

impl OpenMetrics {
    /// Adds one sample. A second sample of a series at the same millisecond
    /// replaces the first, as a TSDB would refuse a duplicate.
    pub fn sample(&mut self, name: &str, labels: &Labels, time_ms: i64, value: f64) {
        self.series
            .entry(name.to_owned())
            .or_default()
            .entry(labels.clone())
            .or_default()
            .insert(time_ms, value);
    }

    /// How many series and samples there are.
    pub fn size(&self) -> (usize, usize) {
        let series = self.series.values().flat_map(BTreeMap::values);
        series.fold((0, 0), |(count, samples), one| {
            (count + 1, samples + one.len())
        })
    }

    /// The series' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.series.keys().map(String::as_str)
    }

    /// Every series of `name`, with its samples in time order.
    pub fn series_of(&self, name: &str) -> Vec<(&Labels, Vec<(i64, f64)>)> {
        (self.series.get(name).into_iter().flatten())
            .map(|(labels, samples)| (labels, samples.iter().map(|(t, v)| (*t, *v)).collect()))
            .collect()
    }

    /// The `OpenMetrics` text. Every name is its own family of type
    /// `unknown`: the backfill stores samples the same whatever the type,
    /// and this way a `_total` or `_bucket` name needs no family around it.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for (name, series) in &self.series {
            let _ = writeln!(text, "# TYPE {name} unknown");
            for (labels, samples) in series {
                let labels = render_labels(labels);
                for (time_ms, value) in samples {
                    let seconds = *time_ms / 1000;
                    let millis = time_ms.rem_euclid(1000);
                    let _ = writeln!(text, "{name}{labels} {value} {seconds}.{millis:03}");
                }
            }
        }
        text.push_str("# EOF\n");
        text
    }

    /// Writes the series into `data_dir` as TSDB blocks, with promtool.
    ///
    /// # Errors
    ///
    /// promtool is missing or refuses the data.
    pub fn backfill(&self, data_dir: &Path) -> anyhow::Result<()> {
        let file = data_dir.with_extension("om");
        std::fs::write(&file, self.render()).context("writing the OpenMetrics file")?;
        let result = run(
            "promtool",
            &[
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                &file.to_string_lossy(),
                &data_dir.to_string_lossy(),
            ],
        );
        let _ = std::fs::remove_file(&file);
        result.map(|_| ())
    }
}

fn render_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| {
            let value = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{name}=\"{value}\"")
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// One series of a query's answer.
#[derive(Debug, Clone)]
pub struct Series {
    pub labels: Labels,
    /// (seconds since the epoch, value)
    pub points: Vec<(f64, f64)>,
}

/// A Prometheus server on `127.0.0.1`, on a data directory.
pub struct Server {
    child: Child,
    address: SocketAddr,
}

/// How long the server may take to load its blocks and say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Server {
    /// Starts `prometheus` with `config` on `data_dir` and waits until it
    /// is ready. Its log goes to `data_dir/../prometheus.log`.
    ///
    /// # Errors
    ///
    /// It is not installed, exits, or is not ready in time.
    pub fn start(config: &Path, data_dir: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let address = free_loopback_address()?;
        let log = std::fs::File::create(data_dir.with_extension("log"))?;
        let child = command("prometheus")?
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg(format!("--web.listen-address={address}"))
            // Blocks written for the past stay: the default 15 days would
            // delete none of ours, but say so rather than depend on it.
            .arg("--storage.tsdb.retention.time=30d")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting prometheus")?;
        let mut server = Self { child, address };
        server.wait_ready(data_dir)?;
        Ok(server)
    }

    fn wait_ready(&mut self, data_dir: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if get(self.address, "/-/ready").is_ok() {
                return Ok(());
            }
            let log =
                || std::fs::read_to_string(data_dir.with_extension("log")).unwrap_or_default();
            if let Some(status) = self.child.try_wait()? {
                bail!("prometheus exited ({status}):\n{}", log());
            }
            if Instant::now() >= deadline {
                bail!(
                    "prometheus was not ready within {READY_TIMEOUT:?}:\n{}",
                    log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `GET` on the API, the answer's `data`.
    ///
    /// # Errors
    ///
    /// Not a success: the message holds Prometheus's error.
    pub fn api(&self, path: &str, parameters: &[(&str, &str)]) -> anyhow::Result<Json> {
        let query: Vec<String> = parameters
            .iter()
            .map(|(name, value)| format!("{name}={}", percent_encode(value)))
            .collect();
        let body = get(self.address, &format!("{path}?{}", query.join("&")))?;
        let answer: Json = serde_json::from_str(&body).context("the API's answer")?;
        ensure!(answer["status"] == "success", "{path}: {body}");
        Ok(answer["data"].clone())
    }

    /// A range query, as Grafana sends one for a time series panel.
    ///
    /// # Errors
    ///
    /// Prometheus refuses the query (the message holds its reason).
    pub fn query_range(
        &self,
        expr: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> anyhow::Result<Vec<Series>> {
        let data = self.api(
            "/api/v1/query_range",
            &[
                ("query", expr),
                ("start", &start.to_string()),
                ("end", &end.to_string()),
                ("step", &step.to_string()),
            ],
        )?;
        Ok(series(&data))
    }

    /// An instant query at `time`.
    ///
    /// # Errors
    ///
    /// Prometheus refuses the query.
    pub fn query(&self, expr: &str, time: i64) -> anyhow::Result<Vec<Series>> {
        let data = self.api(
            "/api/v1/query",
            &[("query", expr), ("time", &time.to_string())],
        )?;
        Ok(series(&data))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child, by its handle (its pid): nothing else is touched.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The series of a `matrix` or `vector` answer.
fn series(data: &Json) -> Vec<Series> {
    let number = |value: &Json| value.as_str().and_then(|text| text.parse().ok());
    let point = |pair: &Json| Some((pair[0].as_f64()?, number(&pair[1])?));
    let results = data["result"].as_array().into_iter().flatten();
    results
        .map(|result| {
            let labels = (result["metric"].as_object().into_iter().flatten())
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect();
            let points = match result["values"].as_array() {
                Some(values) => values.iter().filter_map(point).collect(),
                None => point(&result["value"]).into_iter().collect(),
            };
            Series { labels, points }
        })
        .collect()
}

/// An address on loopback nobody listens on (there is a window between
/// this and the server's bind; on a test machine nobody takes it).
pub fn free_loopback_address() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// A plain HTTP/1.0 `GET`: the body of a 200 answer. Enough for an API on
/// loopback, and no HTTP client in this crate's dependencies.
///
/// # Errors
///
/// No connection, or another status than 200 (with the body).
pub fn get(address: SocketAddr, path: &str) -> anyhow::Result<String> {
    request(address, "GET", path, "")
}

/// A plain HTTP/1.0 `POST` of a JSON body: the body of a 2xx answer.
///
/// # Errors
///
/// No connection, or another status than 2xx (with the body).
pub fn post_json(address: SocketAddr, path: &str, body: &str) -> anyhow::Result<String> {
    request(address, "POST", path, body)
}

fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    ensure!(status.starts_with('2'), "{method} {path}: {status}\n{body}");
    Ok(body.to_owned())
}

/// `application/x-www-form-urlencoded`'s percent-encoding of a value.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_escapes_label_values_and_ends_with_eof() {
        let mut series = OpenMetrics::default();
        let labels = Labels::from([("route".to_owned(), "a\"b\\c".to_owned())]);
        series.sample("x_total", &labels, 1_500, 2.0);
        assert_eq!(
            series.render(),
            "# TYPE x_total unknown\nx_total{route=\"a\\\"b\\\\c\"} 2 1.500\n# EOF\n"
        );
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            percent_encode("rate(x[1m]) > 0"),
            "rate%28x%5B1m%5D%29%20%3E%200"
        );
    }
}
