//! CPU time of processes, read from `/proc/<pid>/stat`: the one parser the
//! benchmarks of the server and the proxy share.

use std::time::Duration;

use anyhow::Context;

/// `/proc/<pid>/stat` counts CPU time in these (`USER_HZ`, 100 on Linux).
pub const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// The command name and the user plus system CPU ticks of one
/// `/proc/<pid>/stat` line.
pub fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    // The command name (field 2) is in parentheses and may hold spaces;
    // the fields after it do not.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // utime and stime are fields 14 and 15, the 12th and 13th after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((&stat[open + 1..close], ticks))
}

/// User plus system CPU time of process `pid`, all its threads.
pub fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    let (_, ticks) = parse_stat(&stat).context("unreadable /proc/<pid>/stat")?;
    Ok(Duration::from_secs_f64(
        ticks as f64 / CLOCK_TICKS_PER_SECOND,
    ))
}
