//! `watch`: poll v1.1 reads (power status for power devices) and print a
//! row whenever a device's answer differs from the last one printed.
//!
//! Rows, not a redrawn screen: the output is a log a script or `tee` can
//! keep, and it works the same in every terminal. Every answer is one bus
//! transaction on the node, so the default interval is a calm 5 s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opendcre_proto::calendar::{rfc3339_utc, Fraction};

use serde_json::{json, Value};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::MissedTickBehavior;

use crate::commands::{power_path, record, v11_type, write_out};
use crate::error::{CliError, Exit};
use crate::node::Node;
use crate::output::{self, Format};
use crate::target::{scan_devices, Named, Resolver};
use crate::Global;

struct Item {
    named: Named,
    kind: String,
    path: String,
    /// What was printed last: the answer, or the error text.
    last: Option<String>,
}

pub async fn run(
    g: &Global,
    node: &Node,
    resolver: &mut Resolver,
    pairs: &[String],
    interval: f64,
    count: Option<u64>,
) -> Result<(), CliError> {
    let period = Duration::try_from_secs_f64(interval)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CliError::new(Exit::Usage, "--interval must be > 0 seconds"))?;
    if pairs.len() % 2 != 0 {
        return Err(CliError::new(
            Exit::Usage,
            "watch takes pairs of TYPE TARGET (e.g. watch thermistor web-17 power 2/6ff)",
        ));
    }
    // Ctrl-C is the normal end of a watch: caught from the start so that
    // one arriving between two requests is not lost.
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| CliError::new(Exit::Usage, format!("cannot watch SIGINT: {e}")))?;

    let mut items = Vec::new();
    if pairs.is_empty() {
        let scan = node.get_json("/opendcre/1.1/scan").await?;
        for (t, kind) in scan_devices(&scan) {
            if kind == "none" {
                continue;
            }
            let name = resolver
                .alias_of(t)
                .map(str::to_string)
                .unwrap_or_else(|| t.to_string());
            items.push(item(Named { target: t, name }, kind));
        }
    } else {
        for pair in pairs.chunks(2) {
            let kind = v11_type(&pair[0])?;
            let named = resolver.resolve(node, &pair[1]).await?;
            items.push(item(named, kind));
        }
    }
    if items.is_empty() {
        return Err(CliError::new(
            Exit::NotFound,
            "the scan found no device to watch",
        ));
    }

    let name_w = items
        .iter()
        .map(|i| i.named.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let kind_w = items.iter().map(|i| i.kind.len()).max().unwrap_or(4).max(4);
    let widths = [20, name_w, 8, 6, kind_w];
    if g.output == Format::Table {
        let header: Vec<String> = ["TIME", "NAME", "BOARD", "DEVICE", "TYPE", "VALUE"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        write_out(format!("{}\n", output::line(&header, &widths)).as_bytes())?;
    }

    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut polls = 0u64;
    let mut failed: Option<CliError> = None;
    'outer: loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = interrupt.recv() => break,
        }
        failed = None;
        for it in items.iter_mut() {
            let answer = tokio::select! {
                r = node.get_json(&it.path) => r,
                _ = interrupt.recv() => break 'outer,
            };
            let now = rfc3339(SystemTime::now());
            match answer {
                Ok(reply) => {
                    let fp = reply.to_string();
                    if it.last.as_deref() == Some(fp.as_str()) {
                        continue;
                    }
                    it.last = Some(fp);
                    let text = match g.output {
                        Format::Table => {
                            let row = vec![
                                now,
                                it.named.name.clone(),
                                it.named.target.board_hex(),
                                it.named.target.device_hex(),
                                it.kind.clone(),
                                summary(&reply),
                            ];
                            format!("{}\n", output::line(&row, &widths))
                        }
                        Format::Json | Format::Yaml => {
                            let mut v = record(&it.named, Some(&it.kind), reply);
                            v["time"] = json!(now);
                            if g.output == Format::Json {
                                format!("{v}\n")
                            } else {
                                format!("---\n{}", output::yaml(&v))
                            }
                        }
                    };
                    write_out(text.as_bytes())?;
                }
                // Credentials will not get better by asking again.
                Err(e) if e.exit == Exit::Auth => return Err(e),
                Err(e) => {
                    let fp = format!("error: {e}");
                    if it.last.as_deref() != Some(fp.as_str()) {
                        eprintln!("{now} {}: {e}", it.named.name);
                        it.last = Some(fp);
                    }
                    failed.get_or_insert(e);
                }
            }
        }
        polls += 1;
        if count.is_some_and(|n| polls >= n) {
            break;
        }
    }
    // The exit status tells whether the last complete poll read everything.
    match failed {
        Some(e) => Err(CliError::new(
            e.exit,
            format!("the last poll had failures, first: {e}"),
        )),
        None => Ok(()),
    }
}

fn item(named: Named, kind: String) -> Item {
    let path = if kind == "power" {
        power_path("status", named.target)
    } else {
        format!(
            "/opendcre/1.1/read/{kind}/{}/{}",
            named.target.board_hex(),
            named.target.device_hex()
        )
    };
    Item {
        named,
        kind,
        path,
        last: None,
    }
}

/// The one value an operator watches: the converted temperature, the power
/// state with its input power, else the raw reading.
fn summary(v: &Value) -> String {
    if let Some(t) = v.get("temperature_c") {
        return format!("{} C", output::cell(t));
    }
    if let Some(s) = v.get("power_status").and_then(Value::as_str) {
        let ok = v.get("power_ok").and_then(Value::as_bool).unwrap_or(true);
        let watts = v.get("input_power").and_then(Value::as_f64).unwrap_or(0.0);
        return format!("{s}{} {watts:.1} W", if ok { "" } else { " (not ok)" });
    }
    if let Some(r) = v.get("device_raw") {
        return output::cell(r);
    }
    v.to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    rfc3339_utc(secs, Fraction::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        let at = |s| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn summaries() {
        assert_eq!(
            summary(&json!({"device_raw": 656, "temperature_c": 28.78})),
            "28.78 C"
        );
        assert_eq!(
            summary(&json!({"power_status": "off", "power_ok": false, "input_power": 12.34})),
            "off (not ok) 12.3 W"
        );
        assert_eq!(summary(&json!({"device_raw": 7})), "7");
    }
}
