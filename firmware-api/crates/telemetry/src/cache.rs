//! The read cache: the last reading of every device and BMC, with a bounded
//! history per device. Readers (`/metrics`, the readings API) take a read
//! lock for the time of a copy or a render and never wait on the bus: only
//! the poller writes, once per reading.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::clock::rfc3339;
use super::kind::Kind;
use opendcre_bus::ScanBoard;
use opendcre_proto::board_id::{fmt_board, fmt_device};

/// The last `cap` readings of one device, oldest first. Times and values
/// are kept in two flat deques (a sample is 8 bytes of time plus 8 per
/// field): no per-sample allocation, and memory is bounded by `cap`. Both
/// are allocated whole when the device is scanned, so the service's memory
/// is known after the first scan and does not creep up with uptime.
#[derive(Debug, Clone)]
pub struct Ring {
    cap: usize,
    width: usize,
    times: VecDeque<u64>,
    values: VecDeque<f64>,
}

impl Ring {
    pub fn new(cap: usize, width: usize) -> Self {
        Ring {
            cap: cap.max(1),
            width,
            times: VecDeque::with_capacity(cap.max(1)),
            values: VecDeque::with_capacity(cap.max(1) * width),
        }
    }

    pub fn push(&mut self, at_ms: u64, values: &[f64]) {
        debug_assert_eq!(values.len(), self.width);
        if self.times.len() == self.cap {
            self.times.pop_front();
            self.values.drain(..self.width);
        }
        self.times.push_back(at_ms);
        self.values.extend(values.iter().take(self.width));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.times.len()
    }

    /// Samples with `since <= time <= until`, oldest first.
    pub fn range(&self, since: u64, until: u64) -> impl Iterator<Item = (u64, Vec<f64>)> + '_ {
        self.times
            .iter()
            .enumerate()
            .filter(move |(_, t)| **t >= since && **t <= until)
            .map(move |(i, t)| {
                let v = self.values.range(i * self.width..(i + 1) * self.width);
                (*t, v.copied().collect())
            })
    }
}

/// What the cache knows about one bus device.
#[derive(Debug, Clone)]
pub struct DeviceState {
    pub kind: Kind,
    /// Asset tag of a power device, read once per scan.
    pub asset: Option<String>,
    /// Time (Unix ms) and values of the last successful read.
    pub last: Option<(u64, Vec<f64>)>,
    /// Time and text of the last failed read; cleared by a success.
    pub error: Option<(u64, String)>,
    pub reads: u64,
    pub read_errors: u64,
    pub history: Ring,
}

impl DeviceState {
    pub fn up(&self) -> bool {
        self.last.is_some() && self.error.is_none()
    }
}

/// One device's last reading as [`Cache::board_readings`] hands it out
/// (without the history ring).
#[derive(Debug, Clone, PartialEq)]
pub struct LastReading {
    pub device: u16,
    pub kind: Kind,
    /// Time (Unix ms) and values of the last successful read.
    pub last: Option<(u64, Vec<f64>)>,
    /// Time and text of the last failed read; cleared by a success.
    pub error: Option<(u64, String)>,
}

/// Statistics of one value of a device over part of its history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub samples: usize,
}

/// One BMC's chassis status.
#[derive(Debug, Clone, Default)]
pub struct BmcState {
    pub host: String,
    /// Time of the last answer and whether the chassis was powered on.
    pub last: Option<(u64, bool)>,
    pub error: Option<(u64, String)>,
}

/// The cached scan.
#[derive(Debug, Clone, Default)]
pub struct ScanInfo {
    /// Unix ms of the last successful scan.
    pub at_ms: Option<u64>,
    pub boards: usize,
    pub devices: usize,
    /// Why the last scan failed, if it did after the last success.
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Cache {
    pub(crate) devices: RwLock<BTreeMap<(u32, u16), DeviceState>>,
    pub(crate) bmcs: RwLock<BTreeMap<u16, BmcState>>,
    pub(crate) scan: RwLock<ScanInfo>,
    changes: Changes,
    /// The boards and devices of the last successful scan, as the bus
    /// reported them (devices of every type, not only the polled kinds).
    pub(crate) boards: RwLock<Option<Arc<Vec<ScanBoard>>>>,
}

/// A counter bumped after every write to the cache, so a live view (the
/// dashboard's event stream) waits for a change instead of polling. A
/// `watch` keeps only the latest value: a slow subscriber sees that
/// something changed, never a backlog of changes.
struct Changes(tokio::sync::watch::Sender<u64>);

impl Default for Changes {
    fn default() -> Self {
        Changes(tokio::sync::watch::channel(0).0)
    }
}

/// Which readings a client asked for: any of the boards and any of the kinds.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub boards: Vec<u32>,
    pub kinds: Vec<Kind>,
}

impl Filter {
    fn matches(&self, board: u32, kind: Kind) -> bool {
        (self.boards.is_empty() || self.boards.contains(&board))
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// A reading's values as a JSON object keyed by field.
struct ValuesDoc<'a>(Kind, &'a [f64]);

impl Serialize for ValuesDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = self.0.fields();
        let mut m = s.serialize_map(Some(fields.len()))?;
        for (f, v) in fields.iter().zip(self.1) {
            m.serialize_entry(f.key, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct ReadingsDoc<'a> {
    rack: &'a str,
    scan: ScanDoc<'a>,
    devices: DevicesDoc<'a>,
    bmcs: BmcsDoc<'a>,
}

#[derive(Serialize)]
struct ScanDoc<'a> {
    time: Option<String>,
    boards: usize,
    devices: usize,
    error: Option<&'a str>,
}

struct DevicesDoc<'a> {
    devices: &'a BTreeMap<(u32, u16), DeviceState>,
    filter: &'a Filter,
    now_ms: u64,
}

#[derive(Serialize)]
struct DeviceDoc<'a> {
    board_id: String,
    device_id: String,
    kind: &'static str,
    up: bool,
    time: Option<String>,
    age_seconds: Option<f64>,
    values: Option<ValuesDoc<'a>>,
    error: Option<&'a str>,
    error_time: Option<String>,
    asset: Option<&'a str>,
}

impl Serialize for DevicesDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for ((b, dev), d) in self.devices {
            if !self.filter.matches(*b, d.kind) {
                continue;
            }
            seq.serialize_element(&DeviceDoc {
                board_id: fmt_board(*b),
                device_id: fmt_device(*dev),
                kind: d.kind.name(),
                up: d.up(),
                time: d.last.as_ref().map(|(t, _)| rfc3339(*t)),
                age_seconds: d
                    .last
                    .as_ref()
                    .map(|(t, _)| self.now_ms.saturating_sub(*t) as f64 / 1000.0),
                values: d.last.as_ref().map(|(_, v)| ValuesDoc(d.kind, v)),
                error: d.error.as_ref().map(|(_, e)| e.as_str()),
                error_time: d.error.as_ref().map(|(t, _)| rfc3339(*t)),
                asset: d.asset.as_deref(),
            })?;
        }
        seq.end()
    }
}

struct BmcsDoc<'a> {
    bmcs: &'a BTreeMap<u16, BmcState>,
    shown: bool,
}

#[derive(Serialize)]
struct BmcDoc<'a> {
    bmc: String,
    host: &'a str,
    up: bool,
    power_on: Option<bool>,
    time: Option<String>,
    error: Option<&'a str>,
}

impl Serialize for BmcsDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for (id, b) in self.bmcs.iter().filter(|_| self.shown) {
            seq.serialize_element(&BmcDoc {
                bmc: fmt_device(*id),
                host: &b.host,
                up: b.last.is_some() && b.error.is_none(),
                power_on: b.last.map(|(_, on)| on),
                time: b.last.map(|(t, _)| rfc3339(t)),
                error: b.error.as_ref().map(|(_, e)| e.as_str()),
            })?;
        }
        seq.end()
    }
}

fn values_json(kind: Kind, values: &[f64]) -> Value {
    let mut m = Map::new();
    for (f, v) in kind.fields().iter().zip(values) {
        m.insert(f.key.to_string(), json!(v));
    }
    Value::Object(m)
}

/// Recovers the data of a lock whose writer panicked: a reading is plain
/// data, and a half-updated one is no worse than a stale one.
pub(crate) fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    /// Records a successful read.
    pub fn record_ok(&self, key: (u32, u16), at_ms: u64, values: Vec<f64>) {
        if let Some(d) = write(&self.devices).get_mut(&key) {
            d.reads += 1;
            d.history.push(at_ms, &values);
            d.last = Some((at_ms, values));
            d.error = None;
        }
        self.changed();
    }

    pub fn record_err(&self, key: (u32, u16), at_ms: u64, error: String) {
        if let Some(d) = write(&self.devices).get_mut(&key) {
            d.reads += 1;
            d.read_errors += 1;
            d.error = Some((at_ms, error));
        }
        self.changed();
    }

    /// Called after a write, with no lock held: subscribers woken by it
    /// take the read lock at once.
    fn changed(&self) {
        self.changes.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that is told of every later change (coalesced).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.0.subscribe()
    }

    /// Replaces the device list with a new scan: devices still present keep
    /// their readings and history, new ones start empty, gone ones are dropped.
    pub fn apply_scan(
        &self,
        at_ms: u64,
        boards: usize,
        found: Vec<((u32, u16), Kind)>,
        history_len: usize,
    ) {
        let mut devices = write(&self.devices);
        let mut next = BTreeMap::new();
        for (key, kind) in found {
            let state = match devices.remove(&key) {
                Some(d) if d.kind == kind => d,
                _ => DeviceState {
                    kind,
                    asset: None,
                    last: None,
                    error: None,
                    reads: 0,
                    read_errors: 0,
                    history: Ring::new(history_len, kind.fields().len()),
                },
            };
            next.insert(key, state);
        }
        let n = next.len();
        *devices = next;
        drop(devices);
        *write(&self.scan) = ScanInfo {
            at_ms: Some(at_ms),
            boards,
            devices: n,
            error: None,
        };
        self.changed();
    }

    /// Keeps the boards of a successful scan for [`Cache::scanned_boards`].
    pub fn keep_boards(&self, boards: Vec<ScanBoard>) {
        *write(&self.boards) = Some(Arc::new(boards));
    }

    /// The last successful scan's boards; `None` before the first one.
    pub fn scanned_boards(&self) -> Option<Arc<Vec<ScanBoard>>> {
        read(&self.boards).clone()
    }

    pub fn scan_failed(&self, error: String) {
        write(&self.scan).error = Some(error);
        self.changed();
    }

    pub fn set_asset(&self, key: (u32, u16), asset: String) {
        if let Some(d) = write(&self.devices).get_mut(&key) {
            d.asset = Some(asset);
        }
        self.changed();
    }

    pub fn set_bmc(&self, id: u16, host: String, result: Result<bool, String>, at_ms: u64) {
        let mut bmcs = write(&self.bmcs);
        let b = bmcs.entry(id).or_default();
        b.host = host;
        match result {
            Ok(on) => {
                b.last = Some((at_ms, on));
                b.error = None;
            }
            Err(e) => b.error = Some((at_ms, e)),
        }
        drop(bmcs);
        self.changed();
    }

    pub fn scan_info(&self) -> ScanInfo {
        read(&self.scan).clone()
    }

    /// The last reading of every device of `board`, in device order, or
    /// `None` when the cached scan has no such board (the Redfish sensors).
    pub fn board_readings(&self, board: u32) -> Option<Vec<LastReading>> {
        let devices = read(&self.devices);
        let found: Vec<LastReading> = devices
            .range((board, 0)..=(board, u16::MAX))
            .map(|(k, d)| LastReading {
                device: k.1,
                kind: d.kind,
                last: d.last.clone(),
                error: d.error.clone(),
            })
            .collect();
        (!found.is_empty()).then_some(found)
    }

    /// Minimum, maximum and mean of value `field` of device `key` over
    /// the history samples taken at or after `since` (Unix ms); `None`
    /// without such a sample (the Redfish `PowerMetrics`).
    pub fn field_stats(&self, key: (u32, u16), field: usize, since: u64) -> Option<FieldStats> {
        let devices = read(&self.devices);
        let d = devices.get(&key)?;
        let mut stats: Option<FieldStats> = None;
        for (_, v) in d.history.range(since, u64::MAX) {
            let Some(x) = v.get(field).copied() else {
                continue;
            };
            let s = stats.get_or_insert(FieldStats {
                min: x,
                max: x,
                mean: 0.0,
                samples: 0,
            });
            s.min = s.min.min(x);
            s.max = s.max.max(x);
            // Running mean: no sum that could grow without bound.
            s.samples += 1;
            s.mean += (x - s.mean) / s.samples as f64;
        }
        stats
    }

    /// Devices the poller should read.
    pub fn device_keys(&self) -> Vec<((u32, u16), Kind)> {
        read(&self.devices)
            .iter()
            .map(|(k, d)| (*k, d.kind))
            .collect()
    }

    /// `GET /opendcre/2/readings`, serialized straight from the cache under
    /// the read lock (no intermediate JSON tree: a 100-device answer built as
    /// a `Value` cost more memory at its peak than all the history rings).
    pub fn readings_body(&self, rack: &str, filter: &Filter, now_ms: u64) -> Vec<u8> {
        self.readings(rack, filter, now_ms, true)
    }

    /// [`Cache::readings_body`] on one line and without the final newline:
    /// the `data:` of a server-sent event, which may not contain a newline.
    pub fn readings_line(&self, rack: &str, now_ms: u64) -> Vec<u8> {
        self.readings(rack, &Filter::default(), now_ms, false)
    }

    fn readings(&self, rack: &str, filter: &Filter, now_ms: u64, pretty: bool) -> Vec<u8> {
        let devices = read(&self.devices);
        let bmcs = read(&self.bmcs);
        let scan = self.scan_info();
        let doc = ReadingsDoc {
            rack,
            scan: ScanDoc {
                time: scan.at_ms.map(rfc3339),
                boards: scan.boards,
                devices: scan.devices,
                error: scan.error.as_deref(),
            },
            devices: DevicesDoc {
                devices: &devices,
                filter,
                now_ms,
            },
            // BMCs are not bus devices: listed unless the client asked for
            // particular boards or kinds.
            bmcs: BmcsDoc {
                bmcs: &bmcs,
                shown: filter.boards.is_empty() && filter.kinds.is_empty(),
            },
        };
        let mut out = Vec::with_capacity(512 + 400 * devices.len());
        // Serializing plain data into a Vec cannot fail.
        if pretty {
            let _ = serde_json::to_writer_pretty(&mut out, &doc);
            out.push(b'\n');
        } else {
            let _ = serde_json::to_writer(&mut out, &doc);
        }
        out
    }

    /// `GET …/history`; `None` when the device is not in the scan.
    pub fn history_json(&self, key: (u32, u16), since: u64, until: u64) -> Option<Value> {
        let devices = read(&self.devices);
        let d = devices.get(&key)?;
        let samples: Vec<Value> = d
            .history
            .range(since, until)
            .map(|(t, v)| json!({ "time": rfc3339(t), "values": values_json(d.kind, &v) }))
            .collect();
        Some(json!({
            "board_id": fmt_board(key.0),
            "device_id": fmt_device(key.1),
            "kind": d.kind.name(),
            "capacity": d.history.cap,
            "samples": samples,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_cap_samples() {
        let mut r = Ring::new(3, 2);
        for i in 0..5u64 {
            r.push(i * 10, &[i as f64, -(i as f64)]);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.values.len(), 6, "values stay bounded with the times");
        let all: Vec<_> = r.range(0, u64::MAX).collect();
        assert_eq!(
            all,
            vec![
                (20, vec![2.0, -2.0]),
                (30, vec![3.0, -3.0]),
                (40, vec![4.0, -4.0])
            ]
        );
        let mid: Vec<_> = r.range(25, 35).map(|(t, _)| t).collect();
        assert_eq!(mid, vec![30]);
    }

    #[test]
    fn field_stats_over_a_window() {
        let c = Cache::default();
        c.apply_scan(1, 1, vec![((1, 1), Kind::Thermistor)], 10);
        for (t, x) in [(100u64, 5.0), (200, 1.0), (300, 3.0), (400, 8.0)] {
            c.record_ok((1, 1), t, vec![x]);
        }
        let s = c.field_stats((1, 1), 0, 200).unwrap();
        assert_eq!((s.min, s.max, s.samples), (1.0, 8.0, 3));
        assert!((s.mean - 4.0).abs() < 1e-9);
        assert!(c.field_stats((1, 1), 0, 500).is_none());
        assert!(c.field_stats((1, 1), 3, 0).is_none(), "no such field");
        assert!(c.field_stats((1, 2), 0, 0).is_none(), "no such device");
    }

    #[test]
    fn a_rescan_keeps_history_of_devices_still_present() {
        let c = Cache::default();
        c.apply_scan(
            1,
            1,
            vec![((1, 1), Kind::Thermistor), ((1, 2), Kind::Led)],
            10,
        );
        c.record_ok((1, 1), 5, vec![20.0]);
        c.record_err((1, 2), 5, "timeout".into());
        c.apply_scan(6, 1, vec![((1, 1), Kind::Thermistor)], 10);
        let d = read(&c.devices);
        assert_eq!(d.len(), 1);
        assert_eq!(d[&(1, 1)].history.len(), 1);
        assert!(d[&(1, 1)].up());
    }

    #[test]
    fn writes_wake_subscribers_and_the_event_line_has_no_newline() {
        let c = Cache::default();
        let mut rx = c.subscribe();
        assert!(!rx.has_changed().unwrap());
        c.apply_scan(1, 1, vec![((1, 1), Kind::Thermistor)], 10);
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        c.record_ok((1, 1), 5, vec![20.0]);
        c.record_err((1, 1), 6, "timeout\nagain".into());
        assert!(rx.has_changed().unwrap(), "two writes, one wake-up");
        rx.borrow_and_update();
        c.set_bmc(1, "bmc".into(), Ok(true), 7);
        assert!(rx.has_changed().unwrap());
        let line = c.readings_line("r", 10);
        assert!(!line.contains(&b'\n'), "{}", String::from_utf8_lossy(&line));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["devices"][0]["error"], "timeout\nagain");
    }

    #[test]
    fn board_readings_are_one_boards_devices() {
        let c = Cache::default();
        c.apply_scan(
            1,
            3,
            vec![
                ((1, 0xffff), Kind::Led),
                ((2, 0), Kind::Thermistor),
                ((2, 7), Kind::Humidity),
                ((3, 0), Kind::Power),
            ],
            10,
        );
        c.record_ok((2, 7), 9, vec![0.5, 21.0]);
        c.record_err((2, 0), 9, "timeout".into());
        let b = c.board_readings(2).unwrap();
        assert_eq!(b.iter().map(|r| r.device).collect::<Vec<_>>(), [0, 7]);
        assert_eq!(b[1].last, Some((9, vec![0.5, 21.0])));
        assert_eq!(b[0].error, Some((9, "timeout".to_string())));
        assert_eq!(c.board_readings(1).unwrap().len(), 1);
        assert_eq!(c.board_readings(4), None);
        assert!(c.scanned_boards().is_none());
        c.keep_boards(vec![ScanBoard {
            board_id: 9,
            devices: Vec::new(),
        }]);
        assert_eq!(c.scanned_boards().unwrap()[0].board_id, 9);
    }

    #[test]
    fn readings_filter_by_board_and_kind() {
        let c = Cache::default();
        c.apply_scan(
            1,
            2,
            vec![
                ((1, 1), Kind::Thermistor),
                ((1, 2), Kind::Led),
                ((2, 1), Kind::Thermistor),
            ],
            10,
        );
        c.record_ok((1, 1), 1000, vec![28.78]);
        let f = Filter {
            boards: vec![1],
            kinds: vec![Kind::Thermistor],
        };
        let body = |f: &Filter, now| -> Value {
            serde_json::from_slice(&c.readings_body("r", f, now)).unwrap()
        };
        let v = body(&f, 3000);
        let devs = v["devices"].as_array().unwrap();
        assert_eq!(devs.len(), 1);
        assert_eq!(devs[0]["values"]["temperature_celsius"], 28.78);
        assert_eq!(devs[0]["age_seconds"], 2.0);
        assert_eq!(devs[0]["time"], "1970-01-01T00:00:01.000Z");
        assert_eq!(
            body(&Filter::default(), 0)["devices"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}
