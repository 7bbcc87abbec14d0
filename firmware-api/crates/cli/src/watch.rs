//! `watch`: poll the node and print a row whenever a device's answer differs
//! from the last one printed.
//!
//! Two sources. Where the node has a telemetry cache (`/opendcre/2/readings`,
//! this node), one request per poll reads every device from the cache and
//! costs the bus nothing. Elsewhere (the original Python OpenDCRE, or a node
//! with `[telemetry] enabled = false`, both 404) it falls back to v1.1 reads,
//! power status for power devices: one bus transaction per device, so the
//! default interval is a calm 5 s.
//!
//! Rows, not a redrawn screen: the output is a log a script or `tee` can
//! keep, and it works the same in every terminal.

use std::collections::HashMap;
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

/// Where `watch` reads its values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The node's telemetry cache if it has one, else live v1.1 reads.
    Auto,
    /// `/opendcre/2/readings`: one request per poll, values as fresh as the
    /// node's own polling.
    Cache,
    /// v1.1 reads: one request and one bus transaction per device.
    Live,
}

/// The path of the node's telemetry cache.
const READINGS: &str = "/opendcre/2/readings";

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
    source: Source,
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
    let cached = match source {
        Source::Live => false,
        Source::Cache => true,
        Source::Auto => {
            let reply = node.client.get(READINGS).await?;
            match reply.status.as_u16() {
                200 => true,
                404 => false,
                _ => {
                    return Err(crate::node::status_error(
                        READINGS,
                        reply.status,
                        &reply.body,
                    ))
                }
            }
        }
    };

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
        // With the cache, one request answers for every item.
        let mut cache = if cached {
            let doc = tokio::select! {
                r = node.get_json(READINGS) => r,
                _ = interrupt.recv() => break 'outer,
            };
            match doc {
                Err(e) if e.exit == Exit::Auth => return Err(e),
                doc => Some(doc.map(|d| index_readings(&d))),
            }
        } else {
            None
        };
        for it in items.iter_mut() {
            let answer = match &mut cache {
                Some(Ok(by_id)) => from_cache(by_id, it),
                Some(Err(e)) => Err(CliError::new(e.exit, e.to_string())),
                None => tokio::select! {
                    r = node.get_json(&it.path) => r,
                    _ = interrupt.recv() => break 'outer,
                },
            };
            let now = rfc3339(SystemTime::now());
            match answer {
                Ok(reply) => {
                    // A cached reading's time and age change with every poll
                    // of the node; a row is printed when the values do.
                    let fp = match reply.get("values") {
                        Some(values) => values.to_string(),
                        None => reply.to_string(),
                    };
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

/// The cache's devices by (board, device) id, lower-case hex as the node
/// writes them.
fn index_readings(doc: &Value) -> HashMap<(String, String), Value> {
    let mut by_id = HashMap::new();
    for d in doc
        .get("devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase()
        };
        by_id.insert((id("board_id"), id("device_id")), d.clone());
    }
    by_id
}

/// One item's reading from the cache: its values and when the node read
/// them, or the node's last error for it.
fn from_cache(by_id: &HashMap<(String, String), Value>, it: &Item) -> Result<Value, CliError> {
    let key = (it.named.target.board_hex(), it.named.target.device_hex());
    let d = by_id.get(&key).ok_or_else(|| {
        CliError::new(
            Exit::NotFound,
            format!(
                "{}/{}: not in the node's readings (not found by its scan)",
                key.0, key.1
            ),
        )
    })?;
    match d.get("error").and_then(Value::as_str) {
        Some(err) => Err(CliError::new(
            Exit::Node,
            format!("{}/{}: {err}", key.0, key.1),
        )),
        None => Ok(json!({
            "values": d.get("values").cloned().unwrap_or(Value::Null),
            "read_time": d.get("time").cloned().unwrap_or(Value::Null),
        })),
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
    if let Some(values) = v.get("values") {
        return cached_summary(values);
    }
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

/// The same for a cache entry's `values` (base units, Prometheus names:
/// docs/metrics.md).
fn cached_summary(values: &Value) -> String {
    let num = |k: &str| values.get(k).and_then(Value::as_f64);
    if let Some(on) = num("power_on") {
        let ok = num("power_ok").is_none_or(|v| v != 0.0);
        let watts = num("power_input_watts").unwrap_or(0.0);
        let state = if on != 0.0 { "on" } else { "off" };
        return format!("{state}{} {watts:.1} W", if ok { "" } else { " (not ok)" });
    }
    if let Some(rh) = num("relative_humidity_ratio") {
        let t = num("temperature_celsius")
            .map(|t| format!(" {t} C"))
            .unwrap_or_default();
        return format!("{:.1} %RH{t}", rh * 100.0);
    }
    if let Some(t) = num("temperature_celsius") {
        return format!("{t} C");
    }
    if let Some(on) = num("led_on") {
        return (if on != 0.0 { "led on" } else { "led off" }).into();
    }
    if let Some(a) = num("current_amperes") {
        return format!("{a:.2} A");
    }
    if let Some(rpm) = num("fan_speed_rpm") {
        return format!("{rpm} rpm");
    }
    values.to_string()
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
        let cached = |values| summary(&json!({ "values": values }));
        assert_eq!(cached(json!({"temperature_celsius": 28.78})), "28.78 C");
        assert_eq!(
            cached(json!({"power_on": 1.0, "power_ok": 0.0, "power_input_watts": 20.1059})),
            "on (not ok) 20.1 W"
        );
        assert_eq!(
            cached(json!({"relative_humidity_ratio": 0.384, "temperature_celsius": 16.2})),
            "38.4 %RH 16.2 C"
        );
        assert_eq!(cached(json!({"led_on": 0.0})), "led off");
        assert_eq!(cached(json!({"current_amperes": 3.0421})), "3.04 A");
    }
}
