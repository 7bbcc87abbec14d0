//! `Thermal` and `Power` of a chassis (the rack, or one bus board): the
//! resources OpenRMC's usage guide reads for "power usage of the rack"
//! (`Chassis/Rack/Power`, `PowerControl[0].PowerConsumedWatts`) and a
//! node's temperatures, and that OpenStack Ironic (through sushy) collects
//! as sensor data. DMTF deprecated both in favour of `Sensors` (which the
//! boards have) and the subsystems; they are served because those clients
//! read them.
//!
//! Every member is made from the board's `Sensor` of the same reading
//! ([`crate::sensors::sensor`]: value, state, name), so these, `Sensors`,
//! the metric report and `/opendcre/2/readings` agree. What the bus does
//! not know is left out rather than guessed: where a thermistor or fan is
//! mounted and which equipment a power device feeds (`PhysicalContext`;
//! a PMBus input voltage is the DC bus feeding the device, and a total is
//! the chassis'), power limits (the node caps nothing), power
//! supplies (a bus power device switches and measures a server's feed; it
//! is that server's system, not a PSU).

use opendcre_ipmi::sdr::{Crossed, SensorUnit, SensorValue as SdrValue, Thresholds};
use opendcre_proto::board_id::fmt_board;
use opendcre_telemetry::{FieldStats, Kind, LastReading};
use serde_json::{json, Value};

use crate::resources::{head, link, with};
use crate::route::{ChassisId, SystemId};
use crate::sensors::{self, sensors_of};

/// The window of `PowerMetrics`, minutes.
pub(crate) const METRICS_MINUTES: u64 = 1;

pub(crate) fn thermal_uri(c: ChassisId) -> String {
    format!("{}/Thermal", c.uri())
}

pub(crate) fn power_uri(c: ChassisId) -> String {
    format!("{}/Power", c.uri())
}

/// The readings of every board in the chassis: (board id, its devices).
pub(crate) type Rows = [(u32, Vec<LastReading>)];

fn scope_name(c: ChassisId) -> String {
    match c {
        ChassisId::Rack => "the rack".to_string(),
        ChassisId::Board(b) => format!("bus board {}", fmt_board(b)),
        ChassisId::Server(_) => format!("server {}", c.id()),
    }
}

/// The worst `Status.Health` of `members`: `Critical` over `Warning` over
/// `OK` (none is `OK`).
pub(crate) fn worst_health<'a>(members: impl Iterator<Item = &'a Value>) -> &'static str {
    let rank = |h: &str| match h {
        "OK" => 0,
        "Warning" => 1,
        _ => 2,
    };
    let worst = members
        .filter_map(|m| m["Status"]["Health"].as_str())
        .map(rank)
        .max()
        .unwrap_or(0);
    ["OK", "Warning", "Critical"][worst]
}

/// A resource's `Status` whose health is its members' worst.
fn rollup<'a>(members: impl Iterator<Item = &'a Value>) -> Value {
    let health = worst_health(members);
    json!({ "State": "Enabled", "Health": health, "HealthRollup": health })
}

/// The sensors of `rows` whose reading type is `reading_type`, as
/// (board, sensor JSON).
fn sensors_of_type<'a>(
    rows: &'a Rows,
    reading_type: &'a str,
) -> impl Iterator<Item = (u32, Value)> + 'a {
    rows.iter().flat_map(move |(board, readings)| {
        readings.iter().flat_map(move |r| {
            sensors_of(r.kind)
                .iter()
                .filter(move |d| d.reading_type() == reading_type)
                .map(move |d| (*board, sensors::sensor(*board, r, *d)))
        })
    })
}

/// Every `Sensor` of the boards in `rows`.
pub(crate) fn bus_sensors(rows: &Rows) -> Vec<Value> {
    rows.iter()
        .flat_map(|(board, readings)| {
            readings.iter().flat_map(move |r| {
                sensors_of(r.kind)
                    .iter()
                    .map(move |d| sensors::sensor(*board, r, *d))
            })
        })
        .collect()
}

/// `…/Chassis/{id}/Thermal`: temperatures and fans.
pub(crate) fn thermal(c: ChassisId, rows: &Rows) -> Value {
    let temperatures: Vec<Value> = sensors_of_type(rows, "Temperature")
        .map(|(board, s)| {
            json!({
                "Name": s["Name"],
                "ReadingCelsius": s["Reading"],
                "Status": s["Status"],
                "RelatedItem": [link(&ChassisId::Board(board).uri())],
            })
        })
        .collect();
    let fans: Vec<Value> = sensors_of_type(rows, "Rotational")
        .map(|(board, s)| {
            // The schema's fan `Reading` is an integer.
            let rpm = s["Reading"].as_f64().map(|x| x.round() as i64);
            json!({
                "Name": s["Name"],
                "Reading": rpm,
                "ReadingUnits": "RPM",
                "Status": s["Status"],
                "RelatedItem": [link(&ChassisId::Board(board).uri())],
            })
        })
        .collect();
    thermal_doc(
        c,
        "Temperatures and fan speeds of the bus devices, the same readings as the boards' Sensors.",
        temperatures,
        fans,
    )
}

/// Members get their `@odata.id` and `MemberId` (DSP0266: the index, the
/// last segment of the id; the name says which sensor it is).
fn numbered(mut members: Vec<Value>, uri: &str, array: &str) -> Vec<Value> {
    for (i, m) in members.iter_mut().enumerate() {
        m["@odata.id"] = json!(format!("{uri}#/{array}/{i}"));
        m["MemberId"] = json!(i.to_string());
    }
    members
}

/// The `Thermal` resource of chassis `c` with these members.
fn thermal_doc(
    c: ChassisId,
    description: &str,
    temperatures: Vec<Value>,
    fans: Vec<Value>,
) -> Value {
    let uri = thermal_uri(c);
    let temperatures = numbered(temperatures, &uri, "Temperatures");
    let fans = numbered(fans, &uri, "Fans");
    let status = rollup(temperatures.iter().chain(fans.iter()));
    with(
        head(&uri, "Thermal"),
        json!({
            "Id": "Thermal",
            "Name": format!("Thermal of {}", scope_name(c)),
            "Description": description,
            "Status": status,
            "Temperatures@odata.count": temperatures.len(),
            "Temperatures": temperatures,
            "Fans@odata.count": fans.len(),
            "Fans": fans,
        }),
    )
}

/// The `Power` resource of chassis `c` with these members.
fn power_doc(c: ChassisId, description: &str, control: Vec<Value>, voltages: Vec<Value>) -> Value {
    let uri = power_uri(c);
    let control = numbered(control, &uri, "PowerControl");
    let voltages = numbered(voltages, &uri, "Voltages");
    with(
        head(&uri, "Power"),
        json!({
            "Id": "Power",
            "Name": format!("Power of {}", scope_name(c)),
            "Description": description,
            "PowerControl@odata.count": control.len(),
            "PowerControl": control,
            "Voltages@odata.count": voltages.len(),
            "Voltages": voltages,
        }),
    )
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn metrics(stats: Option<FieldStats>) -> Value {
    let f = |pick: fn(&FieldStats) -> f64| stats.as_ref().map(|s| round3(pick(s)));
    json!({
        "IntervalInMin": METRICS_MINUTES,
        "MinConsumedWatts": f(|s| s.min),
        "MaxConsumedWatts": f(|s| s.max),
        "AverageConsumedWatts": f(|s| s.mean),
    })
}

/// `…/Chassis/{id}/Power`: the input power of every bus power device (a
/// `PowerControl` each, after the chassis' total) and their input
/// voltages. `stats(key, field)` gives a value's statistics over the last
/// [`METRICS_MINUTES`] (the telemetry history; `None` without it).
pub(crate) fn power(
    c: ChassisId,
    rows: &Rows,
    stats: impl Fn((u32, u16), usize) -> Option<FieldStats>,
) -> Value {
    let mut devices = Vec::new();
    let mut voltages = Vec::new();
    for (board, readings) in rows {
        for r in readings.iter().filter(|r| r.kind == Kind::Power) {
            let system = SystemId {
                board: *board,
                device: r.device,
            };
            for d in sensors_of(r.kind) {
                let s = sensors::sensor(*board, r, *d);
                match d.reading_type() {
                    "Power" => {
                        let history = stats((*board, r.device), d.field());
                        let control = json!({
                            "Name": s["Name"],
                            "PowerConsumedWatts": s["Reading"],
                            "PowerMetrics": metrics(history),
                            "Status": s["Status"],
                            "RelatedItem": [link(&system.uri())],
                        });
                        devices.push((control, history));
                    }
                    "Voltage" => voltages.push(json!({
                        "Name": s["Name"],
                        "ReadingVolts": s["Reading"],
                        // A PMBus power device measures the DC rail that
                        // feeds it: the rack's power bus.
                        "PhysicalContext": "DCBus",
                        "Status": s["Status"],
                        "RelatedItem": [link(&system.uri())],
                    })),
                    _ => {}
                }
            }
        }
    }
    let mut control = Vec::new();
    if !devices.is_empty() {
        // The total only when every device has a value: a partial sum
        // would read as less power than the chassis draws. The minimum and
        // maximum of a sum are not the sums of minimums and maximums, so
        // only the average is given.
        let total: Option<f64> = devices
            .iter()
            .map(|(v, _)| v["PowerConsumedWatts"].as_f64())
            .sum();
        let average: Option<f64> = devices.iter().map(|(_, s)| s.map(|s| s.mean)).sum();
        let health = if total.is_some() { "OK" } else { "Warning" };
        control.push(json!({
            "Name": format!("Input power of {}", scope_name(c)),
            "PhysicalContext": "Chassis",
            "PowerConsumedWatts": total.map(round3),
            "PowerMetrics": {
                "IntervalInMin": METRICS_MINUTES,
                "MinConsumedWatts": null,
                "MaxConsumedWatts": null,
                "AverageConsumedWatts": average.map(round3),
            },
            "Status": { "State": "Enabled", "Health": health },
            "RelatedItem": [link(&c.uri())],
        }));
    }
    control.extend(devices.into_iter().map(|(v, _)| v));
    power_doc(
        c,
        "Input power and voltage of the bus power devices (PMBus), the same readings as the boards' Sensors; the first PowerControl is their total.",
        control,
        voltages,
    )
}

/// Redfish's `PhysicalContext` of an IPMI entity (Table 43-13, and the
/// DCMI entities 40h-42h); `None` for entities without a clear match.
fn physical_context(entity: u8) -> Option<&'static str> {
    Some(match entity {
        0x03 | 0x41 => "CPU",
        0x07 | 0x42 => "SystemBoard",
        0x08 | 0x20 => "Memory",
        0x0A => "PowerSupply",
        0x13 | 0x15 => "PowerSubsystem",
        0x14 => "VoltageRegulator",
        0x17 => "Chassis",
        0x1D => "Fan",
        0x1E => "CoolingSubsystem",
        0x37 | 0x40 => "Intake",
        _ => return None,
    })
}

/// A BMC sensor as a member: name, IPMI sensor number, state; the value
/// under `key` (rounded; `None` when the BMC has no reading).
fn bmc_member(v: &SdrValue, key: &str, value: Option<Value>) -> Value {
    let mut m = json!({
        "Name": v.sensor.name,
        "SensorNumber": v.sensor.number,
        key: value.unwrap_or(Value::Null),
    });
    if let Some(pc) = physical_context(v.sensor.entity_id) {
        m["PhysicalContext"] = json!(pc);
    }
    m["Status"] = sdr_status(v);
    m
}

/// One threshold of a sensor's.
type Pick = fn(&Thresholds) -> Option<f64>;

/// IPMI's thresholds with their names in the deprecated `Thermal`/`Power`
/// members and in a `Sensor`'s `Thresholds`: IPMI's non-critical, critical
/// and non-recoverable are Redfish's caution, critical and fatal.
const THRESHOLDS: [(Pick, &str, &str); 6] = [
    (
        |t| t.lower_non_critical,
        "LowerThresholdNonCritical",
        "LowerCaution",
    ),
    (
        |t| t.lower_critical,
        "LowerThresholdCritical",
        "LowerCritical",
    ),
    (
        |t| t.lower_non_recoverable,
        "LowerThresholdFatal",
        "LowerFatal",
    ),
    (
        |t| t.upper_non_critical,
        "UpperThresholdNonCritical",
        "UpperCaution",
    ),
    (
        |t| t.upper_critical,
        "UpperThresholdCritical",
        "UpperCritical",
    ),
    (
        |t| t.upper_non_recoverable,
        "UpperThresholdFatal",
        "UpperFatal",
    ),
];

/// The deprecated `Thermal`/`Power` members' threshold properties of a BMC
/// sensor, those the BMC gives (a value rounded as the reading is).
fn legacy_thresholds(v: &SdrValue, m: &mut Value, round: fn(f64) -> Value) {
    for (pick, legacy, _) in THRESHOLDS {
        if let Some(x) = pick(&v.thresholds) {
            m[legacy] = round(x);
        }
    }
}

/// A `Sensor`'s `Thresholds` of a BMC sensor, those the BMC gives.
fn sensor_thresholds(v: &SdrValue) -> Option<Value> {
    let out: serde_json::Map<String, Value> = THRESHOLDS
        .iter()
        .filter_map(|(pick, _, name)| {
            pick(&v.thresholds).map(|x| (name.to_string(), json!({ "Reading": round3(x) })))
        })
        .collect();
    (!out.is_empty()).then_some(Value::Object(out))
}

/// A BMC sensor's `Status`: unavailable when the BMC gave no reading;
/// else its health as the BMC judges the reading against its thresholds
/// (beyond a non-critical one `Warning`, a critical or non-recoverable
/// one `Critical`).
fn sdr_status(v: &SdrValue) -> Value {
    if v.value.is_none() {
        return json!({ "State": "UnavailableOffline", "Health": "Warning" });
    }
    let health = match v.crossed {
        Crossed::None => "OK",
        Crossed::NonCritical => "Warning",
        Crossed::Critical | Crossed::NonRecoverable => "Critical",
    };
    json!({ "State": "Enabled", "Health": health })
}

/// `ReadingType`, `ReadingUnits` and id suffix of a BMC sensor's unit.
fn sdr_kind(unit: SensorUnit) -> (&'static str, &'static str, &'static str) {
    match unit {
        SensorUnit::Celsius => ("Temperature", "Cel", "Temperature"),
        SensorUnit::Rpm => ("Rotational", "RPM", "Fan"),
        SensorUnit::Volts => ("Voltage", "V", "Voltage"),
        SensorUnit::Amps => ("Current", "A", "Current"),
        SensorUnit::Watts => ("Power", "W", "Power"),
    }
}

/// A BMC sensor's id: its IPMI sensor number and what it measures
/// (`01-Temperature`).
pub(crate) fn sdr_sensor_id(v: &SdrValue) -> String {
    format!("{:02x}-{}", v.sensor.number, sdr_kind(v.sensor.unit).2)
}

/// The sensor number an SDR sensor id starts with, if it is one.
pub(crate) fn parse_sdr_sensor_id(id: &str) -> Option<u8> {
    let (n, what) = id.split_once('-')?;
    if n.len() != 2 || n.to_ascii_lowercase() != n || what.is_empty() {
        return None;
    }
    u8::from_str_radix(n, 16).ok()
}

pub(crate) fn sdr_sensor_uri(c: ChassisId, id: &str) -> String {
    format!("{}/Sensors/{id}", c.uri())
}

/// `…/Chassis/40000000-{device}/Sensors`: every analog sensor of the BMC.
pub(crate) fn server_sensor_collection(c: ChassisId, sensors: &[SdrValue]) -> Value {
    let members: Vec<String> = sensors
        .iter()
        .map(|v| sdr_sensor_uri(c, &sdr_sensor_id(v)))
        .collect();
    crate::resources::collection(
        &format!("{}/Sensors", c.uri()),
        "SensorCollection",
        &format!("Sensors of {}", scope_name(c)),
        members,
    )
}

/// One BMC sensor as a `Sensor`, read now.
pub(crate) fn server_sensor(c: ChassisId, v: &SdrValue) -> Value {
    let id = sdr_sensor_id(v);
    let (reading_type, units, _) = sdr_kind(v.sensor.unit);
    let mut s = with(
        head(&sdr_sensor_uri(c, &id), "Sensor"),
        json!({
            "Id": id,
            "Name": v.sensor.name,
            "ReadingType": reading_type,
            "ReadingUnits": units,
            "Reading": v.value.map(round3),
            "Status": sdr_status(v),
        }),
    );
    if let Some(pc) = physical_context(v.sensor.entity_id) {
        s["PhysicalContext"] = json!(pc);
    }
    if let Some(t) = sensor_thresholds(v) {
        s["Thresholds"] = t;
    }
    if let Some(e) = &v.error {
        s["Description"] = json!(e);
    }
    s
}

/// The sensors measuring in `unit`.
fn of_unit(sensors: &[SdrValue], unit: SensorUnit) -> impl Iterator<Item = &SdrValue> {
    sensors.iter().filter(move |v| v.sensor.unit == unit)
}

/// A BMC server's `Thermal`: its SDR's temperature (°C) and fan (RPM)
/// sensors as read now over IPMI.
pub(crate) fn server_thermal(c: ChassisId, sensors: &[SdrValue]) -> Value {
    let temperatures = of_unit(sensors, SensorUnit::Celsius)
        .map(|v| {
            let mut m = bmc_member(v, "ReadingCelsius", v.value.map(|x| json!(round3(x))));
            legacy_thresholds(v, &mut m, |x| json!(round3(x)));
            m
        })
        .collect();
    let fans = of_unit(sensors, SensorUnit::Rpm)
        .map(|v| {
            let mut m = bmc_member(v, "Reading", v.value.map(|x| json!(x.round() as i64)));
            m["ReadingUnits"] = json!("RPM");
            // A fan's thresholds are whole RPM, as its reading.
            legacy_thresholds(v, &mut m, |x| json!(x.round() as i64));
            m
        })
        .collect();
    thermal_doc(
        c,
        "The BMC's temperature and fan sensors (IPMI SDR), read at this request.",
        temperatures,
        fans,
    )
}

/// A BMC server's `Power`: one `PowerControl` per power (W) sensor of its
/// SDR (the BMC names what each measures; they are not summed, as two may
/// measure the same feed) and its voltage sensors.
pub(crate) fn server_power(c: ChassisId, sensors: &[SdrValue]) -> Value {
    let control = of_unit(sensors, SensorUnit::Watts)
        .map(|v| {
            let mut m = bmc_member(v, "PowerConsumedWatts", v.value.map(|x| json!(round3(x))));
            // SensorNumber is not a PowerControl property.
            m.as_object_mut().map(|o| o.remove("SensorNumber"));
            m["PowerMetrics"] = metrics(None);
            m
        })
        .collect();
    let voltages = of_unit(sensors, SensorUnit::Volts)
        .map(|v| {
            let mut m = bmc_member(v, "ReadingVolts", v.value.map(|x| json!(round3(x))));
            legacy_thresholds(v, &mut m, |x| json!(round3(x)));
            m
        })
        .collect();
    power_doc(
        c,
        "The BMC's power and voltage sensors (IPMI SDR), read at this request.",
        control,
        voltages,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sensors::tests::r;

    fn power_reading(device: u16, watts: f64) -> LastReading {
        r(
            device,
            Kind::Power,
            Some(vec![1.0, 1.0, 0.0, 0.0, watts, 12.1, 18.9]),
            None,
        )
    }

    #[test]
    fn thermal_of_a_board_and_the_rack() {
        let rows = vec![
            (
                1,
                vec![
                    r(0x01ff, Kind::Thermistor, Some(vec![28.78]), None),
                    r(0x0bff, Kind::Humidity, Some(vec![0.45, 21.5]), None),
                    r(0x02ff, Kind::FanSpeed, Some(vec![4100.4]), None),
                    r(0x03ff, Kind::Led, Some(vec![1.0]), None),
                ],
            ),
            (2, vec![r(0x01ff, Kind::Temperature, None, Some("timeout"))]),
        ];
        let v = thermal(ChassisId::Board(1), &rows[..1]);
        assert_eq!(v["@odata.id"], "/redfish/v1/Chassis/00000001/Thermal");
        assert_eq!(
            v["Temperatures@odata.count"], 2,
            "thermistor and humidity's temperature"
        );
        assert_eq!(v["Temperatures"][0]["ReadingCelsius"], 28.78);
        assert_eq!(v["Temperatures"][1]["MemberId"], "1");
        assert!(v["Temperatures"][1]["Name"]
            .as_str()
            .unwrap()
            .contains("0bff"));
        assert_eq!(
            v["Temperatures"][1]["@odata.id"],
            "/redfish/v1/Chassis/00000001/Thermal#/Temperatures/1"
        );
        assert_eq!(v["Fans"][0]["Reading"], 4100);
        assert_eq!(v["Status"]["Health"], "OK");
        let rack = thermal(ChassisId::Rack, &rows);
        assert_eq!(rack["Temperatures@odata.count"], 3);
        assert_eq!(rack["Temperatures"][2]["ReadingCelsius"], Value::Null);
        assert_eq!(
            rack["Temperatures"][2]["Status"]["State"],
            "UnavailableOffline"
        );
        assert_eq!(rack["Status"]["Health"], "Warning");
    }

    #[test]
    fn power_totals_only_whole_sums() {
        let rows = vec![
            (
                1,
                vec![power_reading(0x16ff, 228.4), power_reading(0x17ff, 100.0)],
            ),
            (2, vec![power_reading(0x16ff, 50.25)]),
        ];
        let stats = |key: (u32, u16), field: usize| {
            assert_eq!(field, 4, "input power");
            Some(FieldStats {
                min: 1.0,
                max: 3.0,
                mean: f64::from(key.1 & 0xff) + 2.0,
                samples: 3,
            })
        };
        let v = power(ChassisId::Rack, &rows, stats);
        let c = &v["PowerControl"];
        assert_eq!(v["PowerControl@odata.count"], 4);
        assert_eq!(c[0]["MemberId"], "0");
        assert_eq!(c[0]["Name"], "Input power of the rack");
        assert_eq!(c[0]["PowerConsumedWatts"], 378.65);
        assert_eq!(c[0]["PowerMetrics"]["AverageConsumedWatts"], 3.0 * 257.0);
        assert_eq!(c[0]["PowerMetrics"]["MinConsumedWatts"], Value::Null);
        assert_eq!(c[1]["PowerConsumedWatts"], 228.4);
        assert_eq!(c[1]["PowerMetrics"]["MaxConsumedWatts"], 3.0);
        assert_eq!(
            c[1]["RelatedItem"][0]["@odata.id"],
            "/redfish/v1/Systems/00000001-16ff"
        );
        assert_eq!(
            c[3]["@odata.id"],
            "/redfish/v1/Chassis/Rack/Power#/PowerControl/3"
        );
        assert_eq!(v["Voltages"][2]["ReadingVolts"], 12.1);

        // One device not read: no total, a warning; no history: no metrics.
        let rows = vec![(
            1,
            vec![
                power_reading(0x16ff, 10.0),
                r(0x17ff, Kind::Power, None, Some("x")),
            ],
        )];
        let v = power(ChassisId::Board(1), &rows, |_, _| None);
        assert_eq!(v["PowerControl"][0]["PowerConsumedWatts"], Value::Null);
        assert_eq!(v["PowerControl"][0]["Status"]["Health"], "Warning");
        assert_eq!(
            v["PowerControl"][1]["PowerMetrics"]["AverageConsumedWatts"],
            Value::Null
        );
        // No power devices: no controls at all.
        let v = power(ChassisId::Board(3), &[(3, vec![])], |_, _| None);
        assert_eq!(v["PowerControl"], json!([]));
    }

    #[test]
    fn sdr_sensor_ids() {
        assert_eq!(parse_sdr_sensor_id("01-Temperature"), Some(1));
        assert_eq!(parse_sdr_sensor_id("ff-Power"), Some(0xff));
        for bad in [
            "1-Temperature",
            "FF-Power",
            "01-",
            "0x1-Fan",
            "zz-Fan",
            "01",
        ] {
            assert_eq!(parse_sdr_sensor_id(bad), None, "{bad}");
        }
    }
}
