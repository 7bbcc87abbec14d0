//! The telemetry service (`/redfish/v1/TelemetryService`): the rack's
//! sensor readings as one metric report, `RackSensors`, made when it is
//! read (`OnRequest`) from the same values as the boards' `Sensors` (the
//! telemetry poller's cache, else live reads), so a report, a `Sensor`,
//! `/opendcre/2/readings` and `/metrics` agree at the same moment.

use opendcre_proto::board_id::fmt_board;
use opendcre_telemetry::LastReading;
use serde_json::{json, Value};

use crate::resources::{collection, head, link, with};
use crate::route::V1;

/// The one report (and its definition).
pub(crate) const RACK_REPORT: &str = "RackSensors";

pub(crate) fn service_uri() -> String {
    format!("{V1}/TelemetryService")
}

fn definitions_uri() -> String {
    format!("{V1}/TelemetryService/MetricReportDefinitions")
}

fn reports_uri() -> String {
    format!("{V1}/TelemetryService/MetricReports")
}

/// The readings of every board: (board id, its devices' last readings).
pub(crate) type Rows = [(u32, Vec<LastReading>)];

/// `GET /redfish/v1/TelemetryService`; `poller` says whether readings
/// come from the telemetry poller's cache (else each report reads live).
pub(crate) fn service(poller: bool) -> Value {
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
            "Description": format!("The rack's sensor readings as the metric report {RACK_REPORT}, {how}; also /opendcre/2/readings and /metrics."),
            "ServiceEnabled": true,
            "Status": { "State": "Enabled", "Health": "OK" },
            "MaxReports": 1,
            "MetricReportDefinitions": link(&definitions_uri()),
            "MetricReports": link(&reports_uri()),
        }),
    )
}

pub(crate) fn definition_collection() -> Value {
    collection(
        &definitions_uri(),
        "MetricReportDefinitionCollection",
        "Metric Report Definitions",
        vec![format!("{}/{RACK_REPORT}", definitions_uri())],
    )
}

pub(crate) fn report_collection() -> Value {
    collection(
        &reports_uri(),
        "MetricReportCollection",
        "Metric Reports",
        vec![format!("{}/{RACK_REPORT}", reports_uri())],
    )
}

/// The definition: every sensor's `Reading` of the rack as it is now.
pub(crate) fn definition(rows: &Rows) -> Value {
    let properties: Vec<String> = rows
        .iter()
        .flat_map(|(b, r)| crate::sensors::metric_values(*b, r))
        .map(|m| m.property)
        .collect();
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
    let values: Vec<Value> = rows
        .iter()
        .flat_map(|(b, r)| {
            crate::sensors::metric_values(*b, r)
                .into_iter()
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
        head(&format!("{}/{RACK_REPORT}", reports_uri()), "MetricReport"),
        json!({
            "Id": RACK_REPORT,
            "Name": "Sensor readings of the rack",
            "Timestamp": now,
            "MetricReportDefinition": link(&format!("{}/{RACK_REPORT}", definitions_uri())),
            "MetricValues": values,
        }),
    )
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
}
