//! The standard `process_*` metrics, read from `/proc/self` at scrape time.

use std::fs;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: f64,
    pub virtual_bytes: f64,
    pub open_fds: f64,
    pub max_fds: Option<f64>,
    pub start_time_seconds: f64,
}

fn sysconf(name: libc::c_int) -> f64 {
    // SAFETY: sysconf takes an integer and touches no memory of ours.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 {
        v as f64
    } else {
        0.0
    }
}

/// `None` when `/proc` is not there (not Linux, or a sandbox without it).
pub fn read() -> Option<ProcessStats> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields that follow start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field n is f[n - 3].
    let field = |n: usize| f.get(n - 3).and_then(|s| s.parse::<f64>().ok());
    let ticks = sysconf(libc::_SC_CLK_TCK).max(1.0);
    let page = sysconf(libc::_SC_PAGESIZE);
    let boot_time = fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    })?;
    let open_fds = fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as f64;
    let max_fds = fs::read_to_string("/proc/self/limits").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<f64>().ok())
    });
    Some(ProcessStats {
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page,
        open_fds,
        max_fds,
        start_time_seconds: boot_time + field(22)? / ticks,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let p = super::read().expect("/proc/self is readable on Linux");
        assert!(p.resident_bytes > 0.0);
        assert!(p.virtual_bytes >= p.resident_bytes);
        assert!(p.open_fds >= 3.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(p.start_time_seconds <= now + 1.0 && p.start_time_seconds > now - 86_400.0 * 365.0);
    }
}
