//! A chassis' environment in DMTF's current model, which replaces the
//! deprecated `Thermal` and `Power`: `ThermalSubsystem` with its `Fans`
//! and `ThermalMetrics`, and `EnvironmentMetrics` (what the chassis
//! draws). Each is made from the chassis' `Sensor` resources (a bus
//! board's, from the telemetry cache or a live read; a BMC server's, from
//! its SDR), and points at them with `DataSourceUri`, so every view of a
//! reading agrees and a client can follow it to the sensor.

use serde_json::{json, Value};

use crate::resources::{collection, head, link, with};
use crate::route::ChassisId;

pub(crate) fn thermal_subsystem_uri(c: ChassisId) -> String {
    format!("{}/ThermalSubsystem", c.uri())
}

fn fans_uri(c: ChassisId) -> String {
    format!("{}/Fans", thermal_subsystem_uri(c))
}

fn thermal_metrics_uri(c: ChassisId) -> String {
    format!("{}/ThermalMetrics", thermal_subsystem_uri(c))
}

pub(crate) fn environment_metrics_uri(c: ChassisId) -> String {
    format!("{}/EnvironmentMetrics", c.uri())
}

fn of_type<'a>(sensors: &'a [Value], reading_type: &'a str) -> impl Iterator<Item = &'a Value> {
    sensors
        .iter()
        .filter(move |s| s["ReadingType"] == reading_type)
}

/// `…/ThermalSubsystem`: links to its fans and metrics, and their health.
pub(crate) fn thermal_subsystem(c: ChassisId, sensors: &[Value]) -> Value {
    let health = crate::environment::worst_health(
        of_type(sensors, "Temperature").chain(of_type(sensors, "Rotational")),
    );
    with(
        head(&thermal_subsystem_uri(c), "ThermalSubsystem"),
        json!({
            "Id": "ThermalSubsystem",
            "Name": "Thermal subsystem",
            "Status": { "State": "Enabled", "Health": "OK", "HealthRollup": health },
            "Fans": link(&fans_uri(c)),
            "ThermalMetrics": link(&thermal_metrics_uri(c)),
        }),
    )
}

/// `…/ThermalSubsystem/Fans`: one `Fan` per fan speed sensor.
pub(crate) fn fan_collection(c: ChassisId, sensors: &[Value]) -> Value {
    let members = of_type(sensors, "Rotational")
        .filter_map(|s| s["Id"].as_str())
        .map(|id| format!("{}/{id}", fans_uri(c)))
        .collect();
    collection(&fans_uri(c), "FanCollection", "Fans", members)
}

/// `…/Fans/{id}`: the fan its speed sensor (same id) measures; `None` when
/// there is no such fan.
pub(crate) fn fan(c: ChassisId, sensors: &[Value], id: &str) -> Option<Value> {
    let s = of_type(sensors, "Rotational").find(|s| s["Id"] == id)?;
    let mut v = with(
        head(&format!("{}/{id}", fans_uri(c)), "Fan"),
        json!({
            "Id": id,
            "Name": s["Name"],
            // The sensor gives RPM; a share of the fan's rated speed is not
            // known, so `Reading` (percent) is left out, and so is
            // `DataSourceUri`, which must name a percent sensor. The RPM
            // sensor has the fan's id.
            "SpeedPercent": { "SpeedRPM": s["Reading"] },
            "Status": s["Status"],
        }),
    );
    if let Some(pc) = s.get("PhysicalContext") {
        v["PhysicalContext"] = pc.clone();
    }
    Some(v)
}

/// `…/ThermalSubsystem/ThermalMetrics`: every temperature of the chassis.
pub(crate) fn thermal_metrics(c: ChassisId, sensors: &[Value]) -> Value {
    let readings: Vec<Value> = of_type(sensors, "Temperature")
        .map(|s| {
            let mut r = json!({ "DataSourceUri": s["@odata.id"], "Reading": s["Reading"] });
            if let Some(pc) = s.get("PhysicalContext") {
                r["PhysicalContext"] = pc.clone();
            }
            r
        })
        .collect();
    with(
        head(&thermal_metrics_uri(c), "ThermalMetrics"),
        json!({
            "Id": "ThermalMetrics",
            "Name": "Thermal metrics",
            "TemperatureReadingsCelsius@odata.count": readings.len(),
            "TemperatureReadingsCelsius": readings,
        }),
    )
}

/// `…/EnvironmentMetrics`: the chassis' power draw. One power sensor is
/// the chassis' draw, and its `DataSourceUri`; several (a rack's or a
/// board's power devices) are summed when every one has a reading — a
/// partial sum would understate the draw — as `Power`'s first
/// `PowerControl` is. A BMC with several power sensors is not summed (two
/// may measure the same feed), so it shows none.
pub(crate) fn environment_metrics(c: ChassisId, sensors: &[Value], sum_all: bool) -> Value {
    let power: Vec<&Value> = of_type(sensors, "Power").collect();
    let mut v = with(
        head(&environment_metrics_uri(c), "EnvironmentMetrics"),
        json!({
            "Id": "EnvironmentMetrics",
            "Name": "Environment metrics",
        }),
    );
    match power.as_slice() {
        [] => {}
        [one] => {
            v["PowerWatts"] =
                json!({ "DataSourceUri": one["@odata.id"], "Reading": one["Reading"] })
        }
        many if sum_all => {
            let total: Option<f64> = many.iter().map(|s| s["Reading"].as_f64()).sum();
            v["PowerWatts"] = json!({ "Reading": total.map(|t| (t * 1000.0).round() / 1000.0) });
        }
        _ => {}
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensor(id: &str, reading_type: &str, reading: f64, health: &str) -> Value {
        json!({
            "@odata.id": format!("/redfish/v1/Chassis/00000001/Sensors/{id}"),
            "Id": id,
            "Name": format!("sensor {id}"),
            "ReadingType": reading_type,
            "Reading": reading,
            "Status": { "State": "Enabled", "Health": health },
        })
    }

    fn board() -> Vec<Value> {
        vec![
            sensor("01ff-Temperature", "Temperature", 28.5, "OK"),
            sensor("02ff-Fan", "Rotational", 4100.0, "Warning"),
            sensor("16ff-InputPower", "Power", 220.0, "OK"),
            sensor("17ff-InputPower", "Power", 180.5, "OK"),
        ]
    }

    #[test]
    fn fans_and_temperatures_point_at_their_sensors() {
        let c = ChassisId::Board(1);
        let t = thermal_subsystem(c, &board());
        assert_eq!(t["Status"]["HealthRollup"], "Warning");
        assert_eq!(
            t["Fans"]["@odata.id"],
            "/redfish/v1/Chassis/00000001/ThermalSubsystem/Fans"
        );
        let fans = fan_collection(c, &board());
        assert_eq!(
            fans["Members"][0]["@odata.id"],
            "/redfish/v1/Chassis/00000001/ThermalSubsystem/Fans/02ff-Fan"
        );
        let f = fan(c, &board(), "02ff-Fan").unwrap();
        assert_eq!(f["SpeedPercent"]["SpeedRPM"], 4100.0);
        assert_eq!(f["Status"]["Health"], "Warning");
        assert!(fan(c, &board(), "01ff-Temperature").is_none(), "not a fan");
        let m = thermal_metrics(c, &board());
        assert_eq!(m["TemperatureReadingsCelsius"][0]["Reading"], 28.5);
        assert_eq!(m["TemperatureReadingsCelsius@odata.count"], 1);
    }

    #[test]
    fn power_draw_sums_only_whole_sets() {
        let c = ChassisId::Rack;
        assert_eq!(
            environment_metrics(c, &board(), true)["PowerWatts"]["Reading"],
            400.5
        );
        let mut missing = board();
        missing[3]["Reading"] = Value::Null;
        assert_eq!(
            environment_metrics(c, &missing, true)["PowerWatts"]["Reading"],
            Value::Null
        );
        // A BMC's several power sensors are not summed; its one is shown
        // with its source.
        assert!(environment_metrics(c, &board(), false)
            .get("PowerWatts")
            .is_none());
        let one = &board()[2..3];
        let v = environment_metrics(ChassisId::Server(1), one, false);
        assert_eq!(v["PowerWatts"]["Reading"], 220.0);
        assert_eq!(
            v["PowerWatts"]["DataSourceUri"],
            "/redfish/v1/Chassis/00000001/Sensors/16ff-InputPower"
        );
    }
}
