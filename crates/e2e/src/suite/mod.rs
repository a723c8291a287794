//! The whole suite as real processes: the same binaries users run, each
//! with a fresh database and its OTLP exporters pointed at this test's
//! [`OtlpReceiver`].
//!
//! Every service binds `127.0.0.1:0` and the suite learns the port from its
//! first log line, so suites never fight over ports and any number can run
//! at once. Children are stopped when the [`Suite`] is dropped, panics
//! included; only a killed test process (SIGKILL) can leave them behind.
//! `std::process::exit` skips destructors too: a `harness = false` main
//! that shares one suite must drop it before `Conclusion::exit()`.
//!
//! - `service`: the six services, their ports, databases and callees.
//! - `options`: what a test changes about a suite.
//! - `databases`: one set of databases per run, and clean-up after dead runs.
//! - `build`: the binaries and examples, built as `cargo test` built them.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::{nats::NatsServer, otlp::OtlpReceiver};

mod build;
mod databases;
mod options;
mod service;

use build::binaries;
pub use build::{binary, consumer, example, executable};
pub use databases::POSTGRES_ADDRESS;
use databases::{POSTGRES, drop_databases, run_id, stale_databases};
pub use options::SuiteOptions;
pub use service::Service;

/// A debug build of a service with migrations takes a few seconds to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// A service drains for up to 10 s on SIGTERM, then flushes telemetry.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// At drop nobody waits for the answer, so less patience.
const DROP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Every line any child wrote, in the order they were read.
type Output = Arc<Mutex<Vec<(Service, Stream, String)>>>;

/// The running suite. Dropping it stops every service (callers first) and
/// drops its databases.
pub struct Suite {
    // Dropped after `Drop::drop` stopped the services, so their last
    // telemetry flush still lands.
    receiver: OtlpReceiver,
    nats: NatsServer,
    processes: Vec<Process>,
    /// Second processes of a service, started by [`Suite::start_replica`]:
    /// stopped first, output kept apart (each has its own).
    replicas: Mutex<Vec<(Process, Output)>>,
    databases: BTreeMap<Service, String>,
    output: Output,
    options: SuiteOptions,
}

struct Process {
    service: Service,
    url: String,
    child: Mutex<Child>,
    readers: Mutex<Vec<JoinHandle<()>>>,
}

impl Suite {
    /// Builds the binaries and the storefront (once per test process),
    /// then starts every service and waits until each listens.
    pub async fn start(options: SuiteOptions) -> anyhow::Result<Self> {
        let receiver = if options.discard_telemetry {
            OtlpReceiver::start_discarding()
        } else {
            OtlpReceiver::start()
        }
        .context("starting the OTLP receiver")?;
        let binaries = tokio::task::spawn_blocking(binaries).await??;
        let storefront = tokio::task::spawn_blocking(build::storefront).await??;

        let run = run_id();
        let databases: BTreeMap<Service, String> = (Service::ALL.into_iter())
            .filter(|service| service.has_database())
            .map(|service| (service, format!("e2e_{run}_{service}")))
            .collect();
        // The names are unique to this process, but a pid can come back
        // after a run that was killed before it could clean up; and runs
        // killed that way (SIGKILL, a CI timeout) leave their databases.
        let stale = stale_databases()?;
        drop_databases(stale.iter().chain(databases.values()))?;

        // Built before the first child, so a failed start cleans up too.
        let mut suite = Self {
            receiver,
            nats: NatsServer::start().context("starting the suite's NATS")?,
            processes: Vec::new(),
            replicas: Mutex::default(),
            databases,
            output: Output::default(),
            options: options.clone(),
        };
        for service in Service::ALL {
            let binary = (binaries.get(service.name()))
                .with_context(|| format!("cargo built no binary named {service}"))?;
            let mut command = suite.command(service, binary, &options);
            if service == Service::Gateway {
                command.env("STOREFRONT_DIR", storefront);
            }
            // Valgrind runs a service some 50 times slower.
            let start_timeout = if options.callgrind.is_some() {
                START_TIMEOUT * 4
            } else {
                START_TIMEOUT
            };
            suite.spawn(service, command, start_timeout).await?;
        }
        Ok(suite)
    }

    /// The service's base URL, `http://127.0.0.1:PORT`. It stays the same
    /// after [`stop`](Self::stop), which makes a "dependency down" test.
    pub fn url(&self, service: Service) -> String {
        self.process(service).url.clone()
    }

    /// The URL of the service's own database, for tests that check rows.
    ///
    /// In the clear, as in the compose file, whose Postgres has no TLS:
    /// Debian's Postgres has `ssl = on`, and sqlx's default `prefer` would
    /// encrypt every query on loopback, which users do not run (and a
    /// benchmark would count).
    pub fn database_url(&self, service: Service) -> Option<String> {
        (self.databases.get(&service)).map(|name| format!("{POSTGRES}/{name}?sslmode=disable"))
    }

    pub fn receiver(&self) -> &OtlpReceiver {
        &self.receiver
    }

    /// The suite's own NATS server, which `orders` and `users` use.
    pub fn nats(&self) -> &NatsServer {
        &self.nats
    }

    /// Every line the service wrote on stdout so far (its JSON logs).
    pub fn stdout(&self, service: Service) -> Vec<String> {
        self.lines(service, Stream::Stdout)
    }

    pub fn stderr(&self, service: Service) -> Vec<String> {
        self.lines(service, Stream::Stderr)
    }

    /// Every line of every service, stdout and stderr, in the order read:
    /// what to print when a test fails.
    pub fn all_output(&self) -> Vec<(Service, String)> {
        let output = lock(&self.output);
        output
            .iter()
            .map(|(service, _, line)| (*service, line.clone()))
            .collect()
    }

    /// The service's process id, for reading its memory and CPU in `/proc`.
    pub fn pid(&self, service: Service) -> u32 {
        lock(&self.process(service).child).id()
    }

    /// Sends SIGTERM and waits up to 15 s for the service to exit (it drains
    /// requests and flushes its telemetry). Past that it is killed and this
    /// fails. Stopping a stopped service returns its exit status again.
    pub async fn stop(&self, service: Service) -> anyhow::Result<ExitStatus> {
        let process = self.process(service);
        let deadline = Instant::now() + STOP_TIMEOUT;
        process.terminate()?;
        loop {
            if let Some(status) = process.try_wait()? {
                process.join_readers();
                return Ok(status);
            }
            if Instant::now() >= deadline {
                process.kill()?;
                bail!("{service} did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed it");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Starts one more process of `service`, configured as the suite's own
    /// (same callees, database, collector), as a second replica behind a
    /// Kubernetes Service is; returns its base URL. Its telemetry goes to
    /// the same receiver, told apart only by its resource (its
    /// `service.instance.id`). Stopped with the suite, before the others.
    pub async fn start_replica(&self, service: Service) -> anyhow::Result<String> {
        let binary = binary(service)?;
        let mut command = self.command(service, &binary, &self.options);
        if service == Service::Gateway {
            command.env("STOREFRONT_DIR", build::storefront()?);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting a second {service}"))?;
        let output = Output::default();
        let mut readers = Vec::new();
        for (stream, pipe) in [
            (
                Stream::Stdout,
                child
                    .stdout
                    .take()
                    .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
            ),
            (
                Stream::Stderr,
                child
                    .stderr
                    .take()
                    .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
            ),
        ] {
            if let Some(pipe) = pipe {
                readers.push(capture(service, stream, pipe, Arc::clone(&output)));
            }
        }
        let mut process = Process {
            service,
            url: String::new(),
            child: Mutex::new(child),
            readers: Mutex::new(readers),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let address = loop {
            let found = (lock(&output).iter())
                .filter(|(_, stream, _)| *stream == Stream::Stdout)
                .find_map(|(_, _, line)| listening(service, line));
            if let Some(address) = found {
                break address;
            }
            if process.try_wait()?.is_some() || Instant::now() >= deadline {
                let _ = process.kill();
                let lines: Vec<String> = lock(&output)
                    .iter()
                    .map(|(_, _, line)| line.clone())
                    .collect();
                bail!("the second {service} did not listen:\n{}", lines.join("\n"));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        process.url = format!("http://127.0.0.1:{}", address.port());
        let url = process.url.clone();
        lock(&self.replicas).push((process, output));
        Ok(url)
    }

    /// Stops every service and waits for each to exit (10 s at most;
    /// blocking): SIGTERM to callers first, so no service logs errors about
    /// a callee that went away before it did; then all shut down at once
    /// (with a hung collector each takes its whole flush deadline).
    pub fn stop_all(&self) {
        let replicas = lock(&self.replicas);
        for (process, _) in replicas.iter() {
            if let Err(error) = process.terminate() {
                eprintln!("e2e: stopping a second {}: {error:#}", process.service);
            }
        }
        for (process, _) in replicas.iter() {
            if let Err(error) = process.wait_until(Instant::now() + DROP_TIMEOUT) {
                eprintln!("e2e: stopping a second {}: {error:#}", process.service);
            }
        }
        drop(replicas);
        for process in self.processes.iter().rev() {
            if let Err(error) = process.terminate() {
                eprintln!("e2e: stopping {}: {error:#}", process.service);
            }
        }
        let deadline = Instant::now() + DROP_TIMEOUT;
        for process in self.processes.iter().rev() {
            if let Err(error) = process.wait_until(deadline) {
                eprintln!("e2e: stopping {}: {error:#}", process.service);
            }
        }
    }

    /// The transactions Postgres counted in the suite's databases. Call it
    /// after [`stop_all`](Self::stop_all): a connected backend reports its
    /// counts late.
    pub fn database_transactions(&self) -> anyhow::Result<u64> {
        let deadline = Instant::now() + DROP_TIMEOUT;
        while databases::connected(self.databases.values())? && Instant::now() < deadline {
            std::thread::sleep(POLL_INTERVAL);
        }
        databases::transactions(self.databases.values())
    }

    fn command(&self, service: Service, binary: &Path, options: &SuiteOptions) -> Command {
        let mut command = match &options.callgrind {
            Some(folder) if service != Service::CardProcessor => {
                let mut valgrind = Command::new("valgrind");
                valgrind
                    .arg("--tool=callgrind")
                    .arg(format!(
                        "--callgrind-out-file={}/{service}.%p",
                        folder.display()
                    ))
                    .arg(binary);
                valgrind
            }
            _ => Command::new(binary),
        };
        // A developer's shell must not point a test at their collector or
        // their database.
        for (key, _) in std::env::vars_os() {
            if is_configuration(&key) {
                command.env_remove(key);
            }
        }
        command
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", self.receiver.endpoint())
            // Export within ~100 ms, so tests wait for spans briefly.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "250")
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json")
            // As the images set it (Dockerfile), so benchmarks measure what
            // users run.
            .env("MALLOC_ARENA_MAX", "2")
            // As in the compose file: a test asks for a fault through
            // baggage; without such baggage nothing changes.
            .env("FAULTS_ENABLED", "true")
            // Orders whose payment outcome was lost are settled within a
            // test's patience.
            .env("RECONCILE_INTERVAL_MS", "300");
        if let Some(url) = self.database_url(service) {
            let url = match options.database_through.get(&service) {
                Some(address) => url.replacen(POSTGRES_ADDRESS, &address.to_string(), 1),
                None => url,
            };
            command.env("DATABASE_URL", url);
        }
        if service.uses_nats() {
            command.env("NATS_URL", self.nats.url());
        }
        for &callee in service.callees() {
            command.env(callee.url_variable(), self.url(callee));
        }

        let own = options.service_env.get(&service).into_iter().flatten();
        command.envs(
            options
                .env
                .iter()
                .chain(own)
                .map(|(key, value)| (key, value)),
        );
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Starts the service and waits for its `"<service> listening"` line.
    async fn spawn(
        &mut self,
        service: Service,
        mut command: Command,
        start_timeout: Duration,
    ) -> anyhow::Result<()> {
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {service}"))?;
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(capture(
                service,
                Stream::Stdout,
                stdout,
                Arc::clone(&self.output),
            ));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(capture(
                service,
                Stream::Stderr,
                stderr,
                Arc::clone(&self.output),
            ));
        }
        self.processes.push(Process {
            service,
            url: String::new(),
            child: Mutex::new(child),
            readers: Mutex::new(readers),
        });

        let deadline = Instant::now() + start_timeout;
        let address = loop {
            if let Some(address) = self
                .stdout(service)
                .iter()
                .find_map(|line| listening(service, line))
            {
                break address;
            }
            let process = self.process(service);
            if let Some(status) = process.try_wait()? {
                process.join_readers();
                bail!(
                    "{service} exited before listening ({status}):\n{}",
                    self.tail(service)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{service} did not listen within {start_timeout:?}:\n{}",
                    self.tail(service)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        let host = if address.ip().is_unspecified() {
            "127.0.0.1".into()
        } else {
            address.ip().to_string()
        };
        let url = format!("http://{host}:{}", address.port());
        if let Some(process) = self.processes.last_mut() {
            process.url = url;
        }
        Ok(())
    }

    #[expect(
        clippy::expect_used,
        reason = "a Suite is handed out only once every service runs"
    )]
    fn process(&self, service: Service) -> &Process {
        let process = self
            .processes
            .iter()
            .find(|process| process.service == service);
        process.expect("every service of a Suite has been started")
    }

    fn lines(&self, service: Service, stream: Stream) -> Vec<String> {
        let output = lock(&self.output);
        let lines = output
            .iter()
            .filter(|(s, st, _)| *s == service && *st == stream);
        lines.map(|(_, _, line)| line.clone()).collect()
    }

    /// The service's last lines, stdout and stderr, for an error message.
    fn tail(&self, service: Service) -> String {
        let output = lock(&self.output);
        let lines: Vec<&str> = (output.iter().filter(|(s, _, _)| *s == service))
            .map(|(_, _, line)| line.as_str())
            .collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        self.stop_all();
        if let Err(error) = drop_databases(self.databases.values()) {
            eprintln!("e2e: dropping the test databases: {error:#}");
        }
    }
}

impl Process {
    fn try_wait(&self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(lock(&self.child).try_wait()?)
    }

    /// SIGTERM, the signal the services shut down gracefully on. Only a
    /// child that has not been reaped is signalled: its pid cannot have been
    /// reused yet.
    fn terminate(&self) -> anyhow::Result<()> {
        let mut child = lock(&self.child);
        if child.try_wait()?.is_none() {
            kill(Pid::from_raw(i32::try_from(child.id())?), Signal::SIGTERM)?;
        }
        Ok(())
    }

    fn kill(&self) -> anyhow::Result<ExitStatus> {
        let mut child = lock(&self.child);
        child.kill()?;
        Ok(child.wait()?)
    }

    /// What `Drop` does: SIGTERM, a grace period, then SIGKILL.
    /// Waits for a terminated process to exit, and kills it at `deadline`.
    fn wait_until(&self, deadline: Instant) -> anyhow::Result<()> {
        while self.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                self.kill()?;
                bail!("did not exit within {DROP_TIMEOUT:?} of SIGTERM; killed it");
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Ok(())
    }

    /// Waits (briefly) for the reader threads to reach the end of the
    /// pipes, so the output of an exited service is complete.
    fn join_readers(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut readers = lock(&self.readers);
        while readers.iter().any(|reader| !reader.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        readers.retain(|reader| !reader.is_finished());
    }
}

/// Reads a child's pipe line by line into `output`, on its own thread so a
/// chatty service never blocks on a full pipe.
fn capture(
    service: Service,
    stream: Stream,
    pipe: impl Read + Send + 'static,
    output: Output,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_owned();
            lock(&output).push((service, stream, line));
        }
    })
}

/// The address in `{"message":"<service> listening","server.address":"..",
/// "server.port":..}`, the first line `platform::run` logs.
fn listening(service: Service, line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = value.get("message")?.as_str()?;
    if message != format!("{service} listening") {
        return None;
    }
    let ip: std::net::IpAddr = value.get("server.address")?.as_str()?.parse().ok()?;
    let port = u16::try_from(value.get("server.port")?.as_u64()?).ok()?;
    Some(SocketAddr::new(ip, port))
}

/// Variables the suite sets itself, or that would point a service elsewhere.
fn is_configuration(key: &OsStr) -> bool {
    let key = key.to_string_lossy();
    key.starts_with("OTEL_")
        || key.ends_with("_URL")
        || ["LISTEN_ADDR", "RUST_LOG", "LOG_FORMAT"].contains(&key.as_ref())
}

/// Output and children stay usable after a test thread panicked holding
/// the lock: the data is lines and a process handle, never half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
