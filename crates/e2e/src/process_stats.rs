//! What a running service costs, read from Linux's `/proc`: resident
//! memory now and at its peak, and CPU time used so far.

use std::time::Duration;

use anyhow::Context;

/// `/proc/<pid>/stat` counts CPU time in clock ticks of `USER_HZ`, which
/// Linux fixes at 100 for user space on x86 and ARM.
const TICKS_PER_SECOND: u64 = 100;

/// One reading of a process.
#[derive(Clone, Copy, Debug)]
pub struct ProcessStats {
    /// `VmRSS`: resident memory now, MiB.
    pub rss_mib: f64,
    /// `VmHWM`: the most resident memory the process ever had, MiB.
    pub peak_rss_mib: f64,
    /// User and system CPU time used since the process started.
    pub cpu: Duration,
    /// The system part of [`cpu`](Self::cpu): time in the kernel on the
    /// process's behalf (sockets, pipes, futexes, page faults).
    pub system_cpu: Duration,
}

impl ProcessStats {
    pub fn read(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        Ok(Self {
            rss_mib: kib_field(&status, "VmRSS:")? / 1024.0,
            peak_rss_mib: kib_field(&status, "VmHWM:")? / 1024.0,
            cpu: cpu_time(&stat)?,
            system_cpu: system_cpu_time(&stat)?,
        })
    }
}

/// A `Name:   1234 kB` line of `/proc/<pid>/status`.
fn kib_field(status: &str, name: &str) -> anyhow::Result<f64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {name} in /proc/<pid>/status"))
}

/// The CPU time of every process whose command name is `name`, summed:
/// a Postgres server is a process per connection plus its background
/// writers, all named `postgres`. Processes that exit between two readings
/// take their time with them, so read around a phase that opens and
/// closes no connections.
pub fn cpu_of_processes_named(name: &str) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc").context("reading /proc")? {
        let path = entry?.path();
        let is_pid = path
            .file_name()
            .and_then(|file| file.to_str())
            .is_some_and(|file| file.bytes().all(|byte| byte.is_ascii_digit()));
        // A process may exit between listing and reading: it is skipped.
        if !is_pid
            || std::fs::read_to_string(path.join("comm"))
                .ok()
                .as_deref()
                .map(str::trim)
                != Some(name)
        {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(path.join("stat")) {
            total += cpu_time(&stat)?;
        }
    }
    Ok(total)
}

/// `utime` + `stime`, the 14th and 15th fields of `/proc/<pid>/stat`.
fn cpu_time(stat: &str) -> anyhow::Result<Duration> {
    Ok(ticks(stat, 14)? + ticks(stat, 15)?)
}

/// `stime`, the 15th field of `/proc/<pid>/stat`.
fn system_cpu_time(stat: &str) -> anyhow::Result<Duration> {
    ticks(stat, 15)
}

/// The `field`th field of `/proc/<pid>/stat` (counted from 1), in clock
/// ticks. The second field (the command name) may hold spaces and
/// parentheses, so the count starts after its closing parenthesis, with
/// the 3rd field.
fn ticks(stat: &str, field: usize) -> anyhow::Result<Duration> {
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("no command name in /proc/<pid>/stat")?;
    let ticks: u64 = (after_name.split_whitespace().nth(field - 3))
        .and_then(|value| value.parse().ok())
        .context("a short /proc/<pid>/stat")?;
    Ok(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 \
                    500 0 0 0 250 130 0 0 20 0 4 0 100 1000 200";
        assert_eq!(cpu_time(stat).unwrap(), Duration::from_millis(3800));
        assert_eq!(system_cpu_time(stat).unwrap(), Duration::from_millis(1300));
    }

    #[test]
    fn this_process_can_be_read() {
        let stats = ProcessStats::read(std::process::id()).unwrap();
        assert!(stats.rss_mib > 0.0 && stats.peak_rss_mib >= stats.rss_mib);
    }
}
