//! CPU time as the kernel counts it: a process's user plus system time
//! from /proc/PID/stat, and the sum over a set of processes between two
//! snapshots (processes that appear in between count from zero).

use std::collections::BTreeMap;
use std::time::Duration;

/// Clock ticks per second of /proc's times when `getconf` cannot say
/// (what every common Linux build uses).
const DEFAULT_TICKS: u64 = 100;

/// The kernel's clock ticks per second (`getconf CLK_TCK`).
pub fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(DEFAULT_TICKS)
}

/// utime + stime (fields 14 and 15) of a /proc/PID/stat line, in ticks.
/// The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from its closing parenthesis.
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3), ppid (4), … utime is field 14, the 12th here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A process's CPU ticks so far; `None` once it is gone.
pub fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_ticks(&stat)
}

/// The CPU ticks of some processes at one moment, by pid.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(BTreeMap<u32, u64>);

impl Snapshot {
    /// The ticks of `pids` now (those already gone are left out).
    pub fn of(pids: impl IntoIterator<Item = u32>) -> Snapshot {
        Snapshot(
            pids.into_iter()
                .filter_map(|pid| process_ticks(pid).map(|t| (pid, t)))
                .collect(),
        )
    }

    /// Ticks spent from `before` to `self` by the processes alive now; one
    /// that started in between counts from zero. (One that ended in
    /// between is lost: the pools keep their connections, so few do.)
    pub fn since(&self, before: &Snapshot) -> u64 {
        self.0
            .iter()
            .map(|(pid, now)| now.saturating_sub(before.0.get(pid).copied().unwrap_or(0)))
            .sum()
    }
}

/// Ticks as milliseconds.
pub fn ticks_ms(ticks: u64, per_second: u64) -> f64 {
    Duration::from_secs_f64(ticks as f64 / per_second.max(1) as f64).as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_time_are_read_past_an_odd_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime …
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 56 0 0 20 0";
        assert_eq!(stat_ticks(stat), Some(1290));
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn a_snapshot_difference_counts_new_processes_from_zero() {
        let before = Snapshot([(1, 100), (2, 50)].into_iter().collect());
        let after = Snapshot([(1, 130), (3, 7)].into_iter().collect());
        assert_eq!(after.since(&before), 37);
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        let me = std::process::id();
        let spin: u64 = (0..2_000_000u64).map(|i| i ^ (i >> 3)).sum();
        assert!(spin > 0);
        assert!(process_ticks(me).is_some());
        assert_eq!(ticks_ms(250, 100), 2500.0);
    }
}
