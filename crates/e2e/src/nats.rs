//! A NATS server with JetStream of the suite's own: a random port and a
//! fresh store, so no two suites (or test runs) share a stream or a durable
//! consumer, and a test can stop it and start it again.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Mutex<Option<Child>>,
}

impl NatsServer {
    /// Starts `nats-server -js` on a random loopback port.
    pub fn start() -> anyhow::Result<Self> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let run = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let store = std::env::temp_dir().join(format!("e2e-nats-{}-{run}", std::process::id()));
        let (child, port) = spawn(None, &store)?;
        Ok(Self {
            port,
            store,
            child: Mutex::new(Some(child)),
        })
    }

    /// `nats://127.0.0.1:PORT`, the same across a stop and a start.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM), as an outage would.
    pub fn stop(&self) -> anyhow::Result<()> {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mut running) = child.take() {
            let _ = kill(Pid::from_raw(i32::try_from(running.id())?), Signal::SIGTERM);
            running.wait()?;
        }
        Ok(())
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.stop()?;
        let (child, _) = spawn(Some(self.port), &self.store)?;
        *self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(child);
        Ok(())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Starts the server and reads its port from the line it logs when it
/// listens (`-p -1` picks a free one).
fn spawn(port: Option<u16>, store: &std::path::Path) -> anyhow::Result<(Child, u16)> {
    let binary = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .find(|path| std::path::Path::new(path).exists())
    .unwrap_or("nats-server");
    let port_arg = port.map_or_else(|| "-1".to_owned(), |port| port.to_string());
    let mut child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port_arg, "-js", "-sd"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let (found, listening) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(address) = line.split("Listening for client connections on ").nth(1) {
                let port = address
                    .rsplit(':')
                    .next()
                    .and_then(|port| port.trim().parse::<u16>().ok());
                let _ = found.send(port);
            }
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(port)) = listening.recv_timeout(Duration::from_millis(100)) {
            return Ok((child, port));
        }
        if child.try_wait()?.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            bail!("nats-server did not start listening");
        }
    }
}
