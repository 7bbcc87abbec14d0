//! A bus board's sensors (`/redfish/v1/Chassis/{board}/Sensors`): which
//! Redfish sensor each number of a device's reading is, and the payloads.
//! Values come from the telemetry cache when the poller runs (so they equal
//! `/opendcre/2/readings` and `/metrics`), from a live read otherwise; both
//! convert with `opendcre_telemetry::Kind::convert`.

use opendcre_proto::board_id::{fmt_board, fmt_device};
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use opendcre_telemetry::{Kind, LastReading};
use serde_json::{json, Value};

use crate::metadata::odata_type;
use crate::route::{ChassisId, V1};

/// One Redfish sensor made of one number of a device's reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SensorDef {
    /// Index into the reading's values (`Kind::fields` order).
    field: usize,
    /// The part of the sensor id after the device id.
    pub suffix: &'static str,
    reading_type: &'static str,
    units: &'static str,
    /// Base units → Redfish units (humidity: ratio → percent).
    scale: f64,
}

const fn def(
    field: usize,
    suffix: &'static str,
    reading_type: &'static str,
    units: &'static str,
    scale: f64,
) -> SensorDef {
    SensorDef {
        field,
        suffix,
        reading_type,
        units,
        scale,
    }
}

/// The sensors a device of `kind` has. An LED is not a sensor; a power
/// device's on/off and fault bits are its system's `PowerState` and health.
pub(crate) fn sensors_of(kind: Kind) -> &'static [SensorDef] {
    const TEMP: &[SensorDef] = &[def(0, "Temperature", "Temperature", "Cel", 1.0)];
    const HUMIDITY: &[SensorDef] = &[
        def(0, "Humidity", "Humidity", "%", 100.0),
        def(1, "Temperature", "Temperature", "Cel", 1.0),
    ];
    const PRESSURE: &[SensorDef] = &[def(0, "Pressure", "PressurePa", "Pa", 1.0)];
    const CURRENT: &[SensorDef] = &[def(0, "Current", "Current", "A", 1.0)];
    const FAN: &[SensorDef] = &[def(0, "Fan", "Rotational", "RPM", 1.0)];
    const POWER: &[SensorDef] = &[
        def(4, "InputPower", "Power", "W", 1.0),
        def(5, "InputVoltage", "Voltage", "V", 1.0),
        def(6, "OutputCurrent", "Current", "A", 1.0),
    ];
    match kind {
        Kind::Thermistor | Kind::Temperature => TEMP,
        Kind::Humidity => HUMIDITY,
        Kind::Pressure => PRESSURE,
        Kind::Current => CURRENT,
        Kind::FanSpeed => FAN,
        Kind::Power => POWER,
        Kind::Led => &[],
    }
}

impl SensorDef {
    /// Index into the reading's values (history statistics use it).
    pub(crate) fn field(&self) -> usize {
        self.field
    }

    pub(crate) fn reading_type(&self) -> &'static str {
        self.reading_type
    }
}

/// A sensor's id: `01ff-Temperature` (device id, what it measures).
pub(crate) fn sensor_id(device: u16, d: &SensorDef) -> String {
    format!("{}-{}", fmt_device(device), d.suffix)
}

fn sensor_uri(board: u32, id: &str) -> String {
    format!("{}/Sensors/{id}", ChassisId::Board(board).uri())
}

pub(crate) fn collection_uri(board: u32) -> String {
    format!("{}/Sensors", ChassisId::Board(board).uri())
}

/// Every sensor of the devices read, in device order.
pub(crate) fn collection(board: u32, readings: &[LastReading]) -> Value {
    let members: Vec<Value> = readings
        .iter()
        .flat_map(|r| {
            sensors_of(r.kind)
                .iter()
                .map(move |d| json!({ "@odata.id": sensor_uri(board, &sensor_id(r.device, d)) }))
        })
        .collect();
    json!({
        "@odata.id": collection_uri(board),
        "@odata.type": odata_type("SensorCollection"),
        "@odata.context": format!("{V1}/$metadata#SensorCollection.SensorCollection"),
        "Name": format!("Sensors of bus board {}", fmt_board(board)),
        "Members@odata.count": members.len(),
        "Members": members,
    })
}

/// The sensor `id` among `readings`, if one of them has it.
pub(crate) fn find<'a>(
    readings: &'a [LastReading],
    id: &str,
) -> Option<(&'a LastReading, SensorDef)> {
    readings.iter().find_map(|r| {
        sensors_of(r.kind)
            .iter()
            .find(|d| sensor_id(r.device, d) == id)
            .map(|d| (r, *d))
    })
}

/// One sensor. No reading yet, or a failed last read, shows as a `null`
/// reading with the state saying why.
pub(crate) fn sensor(board: u32, r: &LastReading, d: SensorDef) -> Value {
    let id = sensor_id(r.device, &d);
    let mut v = json!({
        "@odata.id": sensor_uri(board, &id),
        "@odata.type": odata_type("Sensor"),
        "@odata.context": format!("{V1}/$metadata#Sensor.Sensor"),
        "Id": id,
        "Name": format!("{} of {} {} on bus board {}", d.suffix, r.kind.name(), fmt_device(r.device), fmt_board(board)),
        "ReadingType": d.reading_type,
        "ReadingUnits": d.units,
        "Reading": null,
    });
    let reading = r
        .last
        .as_ref()
        .and_then(|(at, values)| values.get(d.field).map(|x| (*at, x * d.scale)));
    match (&r.error, reading) {
        (None, Some((at, x))) => {
            // Rounded like the readings JSON: no binary-float noise digits.
            v["Reading"] = json!((x * 1000.0).round() / 1000.0);
            v["ReadingTime"] = json!(time(at));
            v["Status"] = json!({ "State": "Enabled", "Health": "OK" });
        }
        (Some((at, why)), _) => {
            v["Status"] = json!({ "State": "UnavailableOffline", "Health": "Warning" });
            v["Description"] = json!(format!("The last read failed at {}: {why}", time(*at)));
        }
        (None, None) => {
            v["Status"] = json!({ "State": "Starting" });
            v["Description"] = json!("Not read yet.");
        }
    }
    v
}

/// One sensor in a metric report.
pub(crate) struct Metric {
    /// The sensor's `Reading` property: `uri#/Reading`.
    pub property: String,
    /// The sensor id (`01ff-Temperature`).
    pub id: String,
    /// The value and its time; `None` when not read yet or the last read
    /// failed.
    pub value: Option<(f64, String)>,
}

/// Every sensor of `readings` with its value now, for a metric report.
pub(crate) fn metric_values(board: u32, readings: &[LastReading]) -> Vec<Metric> {
    readings
        .iter()
        .flat_map(|r| {
            sensors_of(r.kind).iter().map(move |d| {
                let id = sensor_id(r.device, d);
                let value = match (&r.error, &r.last) {
                    (None, Some((at, values))) => values
                        .get(d.field)
                        .map(|x| ((x * d.scale * 1000.0).round() / 1000.0, time(*at))),
                    _ => None,
                };
                Metric {
                    property: format!("{}#/Reading", sensor_uri(board, &id)),
                    id,
                    value,
                }
            })
        })
        .collect()
}

fn time(at_ms: u64) -> String {
    let secs = i64::try_from(at_ms / 1000).unwrap_or(i64::MAX);
    let ms = u32::try_from(at_ms % 1000).unwrap_or(0);
    rfc3339_utc(secs, Fraction::Millis(ms)).replace('Z', "+00:00")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A device's last reading (read at a fixed time, or failed).
    pub(crate) fn r(
        device: u16,
        kind: Kind,
        last: Option<Vec<f64>>,
        error: Option<&str>,
    ) -> LastReading {
        LastReading {
            device,
            kind,
            last: last.map(|v| (1_700_000_000_123, v)),
            error: error.map(|e| (1_700_000_001_000, e.to_string())),
        }
    }

    #[test]
    fn every_kind_but_led_has_sensors_with_distinct_ids() {
        for kind in opendcre_telemetry::ALL_KINDS {
            let defs = sensors_of(kind);
            assert_eq!(defs.is_empty(), kind == Kind::Led, "{kind:?}");
            let mut ids: Vec<_> = defs.iter().map(|d| sensor_id(1, d)).collect();
            ids.dedup();
            assert_eq!(ids.len(), defs.len());
            for d in defs {
                assert!(d.field < kind.fields().len(), "{kind:?} {}", d.suffix);
            }
        }
    }

    #[test]
    fn readings_become_sensors() {
        let readings = vec![
            r(0x01ff, Kind::Thermistor, Some(vec![28.78]), None),
            r(0x0bff, Kind::Humidity, Some(vec![0.4512, 21.5]), None),
            r(
                0x16ff,
                Kind::Power,
                Some(vec![1.0, 1.0, 0.0, 0.0, 228.4, 12.1, 18.9]),
                None,
            ),
            r(0x18ff, Kind::Led, Some(vec![1.0]), None),
        ];
        let c = collection(1, &readings);
        assert_eq!(c["Members@odata.count"], 6);
        assert_eq!(
            c["Members"][0]["@odata.id"],
            "/redfish/v1/Chassis/00000001/Sensors/01ff-Temperature"
        );
        let (dev, d) = find(&readings, "0bff-Humidity").unwrap();
        let h = sensor(1, dev, d);
        assert_eq!(h["Reading"], 45.12);
        assert_eq!(h["ReadingUnits"], "%");
        assert_eq!(h["ReadingTime"], "2023-11-14T22:13:20.123+00:00");
        let (dev, d) = find(&readings, "16ff-InputVoltage").unwrap();
        assert_eq!(sensor(1, dev, d)["Reading"], 12.1);
        assert_eq!(sensor(1, dev, d)["ReadingType"], "Voltage");
        assert!(find(&readings, "18ff-Led").is_none());
        assert!(find(&readings, "01ff-Humidity").is_none());
    }

    #[test]
    fn unread_and_failed_sensors_say_so() {
        let fresh = r(1, Kind::Thermistor, None, None);
        let s = sensor(1, &fresh, sensors_of(Kind::Thermistor)[0]);
        assert_eq!(s["Reading"], Value::Null);
        assert_eq!(s["Status"]["State"], "Starting");
        let failed = r(1, Kind::Thermistor, Some(vec![20.0]), Some("no answer"));
        let s = sensor(1, &failed, sensors_of(Kind::Thermistor)[0]);
        assert_eq!(s["Reading"], Value::Null);
        assert_eq!(s["Status"]["State"], "UnavailableOffline");
        assert!(s["Description"].as_str().unwrap().contains("no answer"));
    }
}
