//! The telemetry service (`/redfish/v1/TelemetryService`): the rack's
//! sensor readings as metric reports, made from the same values as the
//! boards' `Sensors` (the telemetry poller's cache, else live reads), so a
//! report, a `Sensor`, `/opendcre/2/readings` and `/metrics` agree at the
//! same moment. `RackSensors` is made when it is read (`OnRequest`); the
//! periodic definitions operators make are `report_definitions`'.

use opendcre_ipmi::sdr::SensorValue as SdrValue;
use opendcre_proto::board_id::fmt_board;
use opendcre_telemetry::LastReading;
use serde_json::{json, Value};

use crate::environment::{parse_sdr_sensor_id, round3, sdr_sensor_id, sdr_sensor_uri};
use crate::resources::{collection, head, link, with};
use crate::route::{parse_chassis, ChassisId, V1};

/// The one report (and its definition).
pub(crate) const RACK_REPORT: &str = "RackSensors";

pub(crate) fn service_uri() -> String {
    format!("{V1}/TelemetryService")
}

pub(crate) fn definitions_uri() -> String {
    format!("{V1}/TelemetryService/MetricReportDefinitions")
}

fn reports_uri() -> String {
    format!("{V1}/TelemetryService/MetricReports")
}

pub(crate) fn definition_uri(id: &str) -> String {
    format!("{}/{id}", definitions_uri())
}

pub(crate) fn report_uri(id: &str) -> String {
    format!("{}/{id}", reports_uri())
}

/// The readings of every board: (board id, its devices' last readings).
pub(crate) type Rows = [(u32, Vec<LastReading>)];

/// `GET /redfish/v1/TelemetryService`; `poller` says whether readings
/// come from the telemetry poller's cache (else each report reads live).
pub(crate) fn service(poller: bool) -> Value {
    use crate::report_definitions::{MAX_DEFINITIONS, MIN_INTERVAL_SECS};
    let how = if poller {
        "from the telemetry poller's cache"
    } else {
        "read from the bus at each request (the telemetry poller is off)"
    };
    with(
        head(&service_uri(), "TelemetryService"),
        json!({
            "Id": "TelemetryService",
            "Name": "Telemetry Service",
            "Description": format!("The rack's sensor readings as the metric report {RACK_REPORT}, {how}, and as the periodic reports of the definitions operators make (POST to MetricReportDefinitions), kept and sent as events; also /opendcre/2/readings and /metrics."),
            "ServiceEnabled": true,
            "Status": { "State": "Enabled", "Health": "OK" },
            "MaxReports": 1 + MAX_DEFINITIONS,
            "MinCollectionInterval": crate::report_definitions::duration(MIN_INTERVAL_SECS),
            "MetricReportDefinitions": link(&definitions_uri()),
            "MetricReports": link(&reports_uri()),
        }),
    )
}

/// `…/MetricReportDefinitions`: `RackSensors`, then the operators' (`ids`).
pub(crate) fn definition_collection(ids: &[String]) -> Value {
    let mut members = vec![definition_uri(RACK_REPORT)];
    members.extend(ids.iter().map(|id| definition_uri(id)));
    collection(
        &definitions_uri(),
        "MetricReportDefinitionCollection",
        "Metric Report Definitions",
        members,
    )
}

/// `…/MetricReports`: `RackSensors`, then the operators' definitions' last
/// reports (`ids`: those that have one).
pub(crate) fn report_collection(ids: &[String]) -> Value {
    let mut members = vec![report_uri(RACK_REPORT)];
    members.extend(ids.iter().map(|id| report_uri(id)));
    collection(
        &reports_uri(),
        "MetricReportCollection",
        "Metric Reports",
        members,
    )
}

/// Every metric property of the rack now (`MetricProperties` of a
/// definition that names none).
pub(crate) fn rack_properties(rows: &Rows) -> Vec<String> {
    rows.iter()
        .flat_map(|(b, r)| crate::sensors::metric_values(*b, r))
        .map(|m| m.property)
        .collect()
}

/// The definition: every sensor's `Reading` of the rack as it is now.
pub(crate) fn definition(rows: &Rows) -> Value {
    let properties = rack_properties(rows);
    with(
        head(
            &format!("{}/{RACK_REPORT}", definitions_uri()),
            "MetricReportDefinition",
        ),
        json!({
            "Id": RACK_REPORT,
            "Name": "Sensor readings of the rack",
            "Description": "Every sensor of every bus board, with the time of its reading; made when the report is read.",
            "MetricReportDefinitionType": "OnRequest",
            "MetricReportDefinitionEnabled": true,
            "ReportActions": ["LogToMetricReportsCollection"],
            "ReportUpdates": "Overwrite",
            "MetricProperties": properties,
            "MetricReport": link(&format!("{}/{RACK_REPORT}", reports_uri())),
            "Status": { "State": "Enabled", "Health": "OK" },
        }),
    )
}

/// The report: one value per sensor that has a reading (a sensor not read
/// yet or whose last read failed is left out; its `Sensor` says why).
pub(crate) fn report(rows: &Rows, now: &str) -> Value {
    report_of(RACK_REPORT, "Sensor readings of the rack", rows, now, &[])
}

/// The report `id` (its definition's too) of the sensors whose metric
/// property is in `wanted` (empty: every sensor of the rack). Its
/// `Timestamp` orders a series (`ReportSequence` is deprecated).
pub(crate) fn report_of(id: &str, name: &str, rows: &Rows, now: &str, wanted: &[String]) -> Value {
    let values: Vec<Value> = rows
        .iter()
        .flat_map(|(b, r)| {
            crate::sensors::metric_values(*b, r)
                .into_iter()
                .filter(|m| wanted.is_empty() || wanted.contains(&m.property))
                .filter_map(move |m| {
                    m.value.map(|(x, at)| {
                        json!({
                            "MetricId": format!("{}-{}", fmt_board(*b), m.id),
                            "MetricValue": x.to_string(),
                            "Timestamp": at,
                            "MetricProperty": m.property,
                        })
                    })
                })
        })
        .collect();
    with(
        head(&report_uri(id), "MetricReport"),
        json!({
            "Id": id,
            "Name": name,
            "Timestamp": now,
            "MetricReportDefinition": link(&definition_uri(id)),
            "MetricValues": values,
        }),
    )
}

/// The BMC whose sensor `property` names
/// (`/redfish/v1/Chassis/40000000-0001/Sensors/01-Temperature#/Reading`),
/// if it names one: a report reads that BMC's sensors over IPMI.
pub(crate) fn bmc_of_property(property: &str) -> Option<u16> {
    let rest = property.strip_prefix(V1)?.strip_prefix("/Chassis/")?;
    let (chassis, sensor) = rest.strip_suffix("#/Reading")?.split_once("/Sensors/")?;
    parse_sdr_sensor_id(sensor)?;
    match parse_chassis(chassis)? {
        ChassisId::Server(d) => Some(d),
        _ => None,
    }
}

/// The metric property of each of a BMC's sensors.
pub(crate) fn bmc_properties(device: u16, sensors: &[SdrValue]) -> Vec<String> {
    sensors.iter().map(|v| bmc_property(device, v)).collect()
}

fn bmc_property(device: u16, v: &SdrValue) -> String {
    let c = ChassisId::Server(device);
    format!("{}#/Reading", sdr_sensor_uri(c, &sdr_sensor_id(v)))
}

/// The values of a BMC's sensors `wanted` names, as read at `at` (a
/// sensor the BMC reports no reading for is left out, as a bus sensor is).
pub(crate) fn bmc_values(
    device: u16,
    sensors: &[SdrValue],
    at: &str,
    wanted: &[String],
) -> Vec<Value> {
    sensors
        .iter()
        .filter_map(|v| {
            let property = bmc_property(device, v);
            if !wanted.contains(&property) {
                return None;
            }
            let x = round3(v.value?);
            Some(json!({
                "MetricId": format!("{}-{}", ChassisId::Server(device).id(), sdr_sensor_id(v)),
                "MetricValue": x.to_string(),
                "Timestamp": at,
                "MetricProperty": property,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_telemetry::Kind;

    #[test]
    fn report_and_definition_name_the_same_sensors() {
        let rows = vec![(
            1u32,
            vec![
                LastReading {
                    device: 0x01ff,
                    kind: Kind::Thermistor,
                    last: Some((1_700_000_000_250, vec![28.123_456])),
                    error: None,
                },
                LastReading {
                    device: 0x02ff,
                    kind: Kind::Humidity,
                    last: None,
                    error: Some((1_700_000_000_000, "timeout".into())),
                },
            ],
        )];
        let d = definition(&rows);
        assert_eq!(
            d["MetricProperties"],
            json!([
                "/redfish/v1/Chassis/00000001/Sensors/01ff-Temperature#/Reading",
                "/redfish/v1/Chassis/00000001/Sensors/02ff-Humidity#/Reading",
                "/redfish/v1/Chassis/00000001/Sensors/02ff-Temperature#/Reading",
            ])
        );
        let r = report(&rows, "2026-11-30T00:00:00+00:00");
        let v = r["MetricValues"].as_array().unwrap();
        assert_eq!(v.len(), 1, "the failed device has no value");
        assert_eq!(v[0]["MetricId"], "00000001-01ff-Temperature");
        assert_eq!(v[0]["MetricValue"], "28.123");
        assert_eq!(v[0]["Timestamp"], "2023-11-14T22:13:20.250+00:00");
        assert_eq!(v[0]["MetricProperty"], d["MetricProperties"][0]);
    }

    #[test]
    fn a_bmc_sensor_property_names_its_bmc() {
        let c = "/redfish/v1/Chassis";
        assert_eq!(
            bmc_of_property(&format!(
                "{c}/40000000-0001/Sensors/01-Temperature#/Reading"
            )),
            Some(1)
        );
        assert_eq!(
            bmc_of_property(&format!("{c}/40000000-00ff/Sensors/1a-Power#/Reading")),
            Some(0xff)
        );
        for not in [
            format!("{c}/00000001/Sensors/01ff-Temperature#/Reading"),
            format!("{c}/40000000-0001/Sensors/01-Temperature"),
            format!("{c}/40000000-0001/Sensors/1-Temperature#/Reading"),
            format!("{c}/40000000-0001/Sensors/01-Temperature#/Status"),
            format!("{c}/Rack/Sensors/01-Temperature#/Reading"),
            "/redfish/v1/Chassis/40000000-0001".to_string(),
        ] {
            assert_eq!(bmc_of_property(&not), None, "{not}");
        }
    }
}
