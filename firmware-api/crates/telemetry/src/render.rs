//! `/metrics`: every family of docs/metrics.md rendered from the cache and
//! the counters, a pure function of its inputs (no HTTP, no I/O).

use super::cache::{read, Cache};
use super::expo::{Format, Type, Writer};
use super::http::{HttpSnapshot, DURATION_BUCKETS};
use super::kind::ALL_KINDS;
use super::process::ProcessStats;
use opendcre_bus::{BusStatsSnapshot, QUEUE_WAIT_BUCKETS};
use opendcre_proto::board_id::{fmt_board, fmt_device};

/// Everything a scrape shows besides the cache.
pub struct Inputs<'a> {
    pub rack: &'a str,
    pub now_ms: u64,
    pub bus: Option<BusStatsSnapshot>,
    pub http: HttpSnapshot,
    pub process: Option<ProcessStats>,
    pub version: &'a str,
    pub commit: &'a str,
    /// Bytes to reserve for the text (the previous scrape's size).
    pub capacity: usize,
}

pub fn render(cache: &Cache, inp: &Inputs<'_>, format: Format) -> String {
    let mut w = Writer::new(format, inp.capacity);
    let rack = inp.rack;
    {
        let devices = read(&cache.devices);
        // Ids as v1.1 prints them, made once per device rather than per series.
        let ids: Vec<(String, String)> = devices
            .keys()
            .map(|(b, d)| (fmt_board(*b), fmt_device(*d)))
            .collect();
        let rows: Vec<_> = devices.values().zip(&ids).collect();
        let labels = |kind: &'static str, ids: &'_ (String, String)| {
            [
                ("rack", rack),
                ("board", ids.0.as_str()),
                ("device", ids.1.as_str()),
                ("kind", kind),
            ]
            .map(|(k, v)| (k, v.to_string()))
        };
        // One family per series name; several kinds may share one
        // (temperature_celsius), and each family is written once.
        let mut written: Vec<&'static str> = Vec::new();
        for kind in ALL_KINDS {
            for f in kind.fields() {
                if written.contains(&f.metric) {
                    continue;
                }
                written.push(f.metric);
                w.family(f.metric, Type::Gauge, f.help);
                for (d, id) in &rows {
                    // Every field of every kind that has this series.
                    let Some(i) = d.kind.fields().iter().position(|x| x.metric == f.metric) else {
                        continue;
                    };
                    if let Some((_, v)) = &d.last {
                        let l = labels(d.kind.name(), id);
                        let l: Vec<(&str, &str)> =
                            l.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        w.sample(f.metric, &l, v[i]);
                    }
                }
            }
        }
        type Get = fn(&super::cache::DeviceState, u64) -> Option<f64>;
        let health: [(&str, Type, &str, Get); 4] = [
            (
                "opendcre_device_up",
                Type::Gauge,
                "1 when the last read of the device succeeded.",
                |d, _| Some(if d.up() { 1.0 } else { 0.0 }),
            ),
            (
                "opendcre_device_reading_age_seconds",
                Type::Gauge,
                "Seconds since the last successful read of the device.",
                |d, now| {
                    d.last
                        .as_ref()
                        .map(|(t, _)| now.saturating_sub(*t) as f64 / 1000.0)
                },
            ),
            (
                "opendcre_device_reads_total",
                Type::Counter,
                "Reads of the device by the poller.",
                |d, _| Some(d.reads as f64),
            ),
            (
                "opendcre_device_read_errors_total",
                Type::Counter,
                "Failed reads of the device by the poller.",
                |d, _| Some(d.read_errors as f64),
            ),
        ];
        for (name, ty, help, get) in health {
            w.family(name, ty, help);
            for (d, id) in &rows {
                if let Some(v) = get(d, inp.now_ms) {
                    let l = labels(d.kind.name(), id);
                    let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    w.sample(name, &l, v);
                }
            }
        }
        w.family(
            "opendcre_device_info",
            Type::Info,
            "Device inventory: always 1, the labels are the data.",
        );
        for (d, id) in &rows {
            let l = labels(d.kind.name(), id);
            let mut l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            l.push(("asset", d.asset.as_deref().unwrap_or("")));
            w.sample("opendcre_device_info", &l, 1.0);
        }
    }
    let scan = cache.scan_info();
    w.family(
        "opendcre_scan_age_seconds",
        Type::Gauge,
        "Seconds since the cached scan.",
    );
    if let Some(at) = scan.at_ms {
        w.sample(
            "opendcre_scan_age_seconds",
            &[("rack", rack)],
            inp.now_ms.saturating_sub(at) as f64 / 1000.0,
        );
    }
    w.family(
        "opendcre_scan_boards",
        Type::Gauge,
        "Boards in the cached scan.",
    );
    w.sample(
        "opendcre_scan_boards",
        &[("rack", rack)],
        scan.boards as f64,
    );
    w.family(
        "opendcre_scan_devices",
        Type::Gauge,
        "Devices in the cached scan.",
    );
    w.sample(
        "opendcre_scan_devices",
        &[("rack", rack)],
        scan.devices as f64,
    );

    if let Some(bus) = &inp.bus {
        let prios = [
            ("interactive", &bus.interactive),
            ("background", &bus.background),
        ];
        w.family(
            "opendcre_bus_transactions_total",
            Type::Counter,
            "Transactions run on the device bus.",
        );
        for (p, s) in prios {
            w.sample(
                "opendcre_bus_transactions_total",
                &[("priority", p)],
                s.transactions as f64,
            );
        }
        for (name, help, v) in [
            (
                "opendcre_bus_retries_total",
                "Retries sent (`?`) and scans restarted.",
                bus.retries,
            ),
            (
                "opendcre_bus_checksum_errors_total",
                "Frames with a wrong checksum.",
                bus.checksum_errors,
            ),
            (
                "opendcre_bus_timeouts_total",
                "Transactions that got no answer in time.",
                bus.timeouts,
            ),
            (
                "opendcre_bus_port_reopens_total",
                "Re-opens of the serial port after a failure.",
                bus.port_reopens,
            ),
        ] {
            w.family(name, Type::Counter, help);
            w.sample(name, &[], v as f64);
        }
        w.family(
            "opendcre_bus_queue_depth",
            Type::Gauge,
            "Jobs waiting for the device bus.",
        );
        for (p, s) in prios {
            w.sample(
                "opendcre_bus_queue_depth",
                &[("priority", p)],
                s.queue_depth as f64,
            );
        }
        w.family(
            "opendcre_bus_queue_wait_seconds",
            Type::Histogram,
            "Time jobs waited in the bus queue.",
        );
        for (p, s) in prios {
            w.histogram(
                "opendcre_bus_queue_wait_seconds",
                &[("priority", p)],
                &QUEUE_WAIT_BUCKETS,
                &s.wait_buckets,
                s.wait_sum_seconds,
            );
        }
    }

    {
        let bmcs = read(&cache.bmcs);
        let ids: Vec<String> = bmcs.keys().map(|id| fmt_device(*id)).collect();
        w.family(
            "opendcre_bmc_up",
            Type::Gauge,
            "1 when the BMC's last chassis status answered.",
        );
        for ((_, b), id) in bmcs.iter().zip(&ids) {
            let up = b.last.is_some() && b.error.is_none();
            w.sample(
                "opendcre_bmc_up",
                &[("rack", rack), ("bmc", id), ("host", &b.host)],
                if up { 1.0 } else { 0.0 },
            );
        }
        w.family(
            "opendcre_bmc_power_on",
            Type::Gauge,
            "1 when the BMC reported chassis power on.",
        );
        for ((_, b), id) in bmcs.iter().zip(&ids) {
            if let Some((_, on)) = b.last {
                w.sample(
                    "opendcre_bmc_power_on",
                    &[("rack", rack), ("bmc", id), ("host", &b.host)],
                    if on { 1.0 } else { 0.0 },
                );
            }
        }
    }

    w.family(
        "opendcre_http_requests_total",
        Type::Counter,
        "HTTP requests answered, by route name, method and status.",
    );
    for ((route, method, status), n) in &inp.http.requests {
        let status = status.to_string();
        w.sample(
            "opendcre_http_requests_total",
            &[("route", route), ("method", method), ("status", &status)],
            *n as f64,
        );
    }
    w.family(
        "opendcre_http_request_duration_seconds",
        Type::Histogram,
        "Time from request head to answer, by route name.",
    );
    for (route, h) in &inp.http.durations {
        w.histogram(
            "opendcre_http_request_duration_seconds",
            &[("route", route)],
            &DURATION_BUCKETS,
            &h.counts,
            h.sum_seconds,
        );
    }

    w.family(
        "opendcre_build_info",
        Type::Info,
        "The running build: always 1.",
    );
    w.sample(
        "opendcre_build_info",
        &[("version", inp.version), ("commit", inp.commit)],
        1.0,
    );
    if let Some(p) = &inp.process {
        let mut g = |name: &str, ty: Type, help: &str, v: f64| {
            w.family(name, ty, help);
            w.sample(name, &[], v);
        };
        g(
            "process_cpu_seconds_total",
            Type::Counter,
            "User and system CPU time.",
            p.cpu_seconds,
        );
        g(
            "process_resident_memory_bytes",
            Type::Gauge,
            "Resident memory.",
            p.resident_bytes,
        );
        g(
            "process_virtual_memory_bytes",
            Type::Gauge,
            "Virtual memory.",
            p.virtual_bytes,
        );
        g(
            "process_open_fds",
            Type::Gauge,
            "Open file descriptors.",
            p.open_fds,
        );
        if let Some(m) = p.max_fds {
            g(
                "process_max_fds",
                Type::Gauge,
                "Limit of open file descriptors.",
                m,
            );
        }
        g(
            "process_start_time_seconds",
            Type::Gauge,
            "Start time of the process, Unix seconds.",
            p.start_time_seconds,
        );
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    fn inputs() -> Inputs<'static> {
        Inputs {
            rack: "rack \"a\"",
            now_ms: 10_000,
            bus: None,
            http: HttpSnapshot::default(),
            process: None,
            version: "0.1.0",
            commit: "abc",
            capacity: 0,
        }
    }

    #[test]
    fn devices_get_their_series_health_and_info() {
        let c = Cache::default();
        c.apply_scan(
            1_000,
            1,
            vec![
                ((1, 0x01ff), Kind::Thermistor),
                ((1, 0x0bff), Kind::Humidity),
                ((1, 0x18ff), Kind::Led),
            ],
            4,
        );
        c.record_ok((1, 0x01ff), 8_000, vec![28.78]);
        c.record_ok((1, 0x0bff), 9_000, vec![0.3843, 16.24]);
        c.record_err((1, 0x18ff), 9_000, "bus timeout".into());
        let t = render(&c, &inputs(), Format::Prometheus);
        let l = "rack=\"rack \\\"a\\\"\",board=\"00000001\"";
        for want in [
            format!("opendcre_temperature_celsius{{{l},device=\"01ff\",kind=\"thermistor\"}} 28.78\n"),
            format!("opendcre_temperature_celsius{{{l},device=\"0bff\",kind=\"humidity\"}} 16.24\n"),
            format!("opendcre_relative_humidity_ratio{{{l},device=\"0bff\",kind=\"humidity\"}} 0.3843\n"),
            format!("opendcre_device_up{{{l},device=\"18ff\",kind=\"led\"}} 0\n"),
            format!("opendcre_device_up{{{l},device=\"01ff\",kind=\"thermistor\"}} 1\n"),
            format!("opendcre_device_reading_age_seconds{{{l},device=\"01ff\",kind=\"thermistor\"}} 2\n"),
            format!("opendcre_device_read_errors_total{{{l},device=\"18ff\",kind=\"led\"}} 1\n"),
            format!("opendcre_device_info{{{l},device=\"18ff\",kind=\"led\",asset=\"\"}} 1\n"),
            "opendcre_scan_devices{rack=\"rack \\\"a\\\"\"} 3\n".to_string(),
            "opendcre_build_info{version=\"0.1.0\",commit=\"abc\"} 1\n".to_string(),
        ] {
            assert!(t.contains(&want), "missing {want:?} in\n{t}");
        }
        assert!(
            !t.contains("opendcre_led_on{"),
            "no value for a device never read"
        );
        assert_eq!(
            t.matches("# TYPE opendcre_temperature_celsius gauge")
                .count(),
            1,
            "one family for every kind with a temperature"
        );
        let o = render(&c, &inputs(), Format::OpenMetrics);
        assert!(o.contains("# TYPE opendcre_device_reads counter\n"));
        assert!(o.ends_with("# EOF\n"));
    }
}
