//! The documents that describe the service: the `/redfish` version object,
//! `$metadata` (CSDL referencing the DMTF schemas by their public URIs, as
//! every Redfish service does) and the OData service document. Built from
//! one table, [`SCHEMAS`], so the types the payloads name and the schemas
//! `$metadata` references cannot drift apart.

use serde_json::{json, Value};

/// Every schema a payload of this service names: (namespace, version of
/// the type used, or `None` for a collection or a namespace without
/// versions). DSP8010 2025.4.
pub(crate) const SCHEMAS: &[(&str, Option<&str>)] = &[
    ("ServiceRoot", Some("v1_20_0")),
    ("ChassisCollection", None),
    ("Chassis", Some("v1_28_0")),
    ("ComputerSystemCollection", None),
    ("ComputerSystem", Some("v1_27_0")),
    ("SensorCollection", None),
    ("Sensor", Some("v1_12_0")),
    ("ManagerCollection", None),
    ("Manager", Some("v1_24_0")),
    ("SessionService", Some("v1_2_0")),
    ("SessionCollection", None),
    ("Session", Some("v1_8_0")),
    ("AccountService", Some("v1_18_1")),
    ("ManagerAccountCollection", None),
    ("ManagerAccount", Some("v1_14_1")),
    ("RoleCollection", None),
    ("Role", Some("v1_3_3")),
    ("ManagerNetworkProtocol", Some("v1_12_0")),
    ("EthernetInterfaceCollection", None),
    ("EthernetInterface", Some("v1_12_4")),
    ("IPAddresses", Some("v1_1_5")),
    ("Thermal", Some("v1_7_3")),
    ("Power", Some("v1_7_3")),
    ("ThermalSubsystem", Some("v1_5_0")),
    ("ThermalMetrics", Some("v1_3_2")),
    ("FanCollection", None),
    ("Fan", Some("v1_6_0")),
    ("EnvironmentMetrics", Some("v1_5_0")),
    ("CertificateCollection", None),
    ("Certificate", Some("v1_11_0")),
    ("CertificateService", Some("v1_2_1")),
    ("CertificateLocations", Some("v1_0_4")),
    ("LogServiceCollection", None),
    ("LogService", Some("v1_9_0")),
    ("LogEntryCollection", None),
    ("LogEntry", Some("v1_21_0")),
    ("MessageRegistryFileCollection", None),
    ("MessageRegistryFile", Some("v1_1_5")),
    ("MessageRegistry", Some("v1_7_0")),
    ("UpdateService", Some("v1_17_0")),
    ("SoftwareInventoryCollection", None),
    ("SoftwareInventory", Some("v1_13_0")),
    ("TaskService", Some("v1_3_0")),
    ("AggregationService", Some("v1_0_3")),
    ("AggregateCollection", None),
    ("Aggregate", Some("v1_0_3")),
    ("TaskCollection", None),
    ("Task", Some("v1_7_4")),
    ("EventService", Some("v1_12_0")),
    ("EventDestinationCollection", None),
    ("EventDestination", Some("v1_16_0")),
    ("Event", Some("v1_13_0")),
    ("TelemetryService", Some("v1_4_1")),
    ("MetricReportDefinitionCollection", None),
    ("MetricReportDefinition", Some("v1_4_7")),
    ("MetricReportCollection", None),
    ("MetricReport", Some("v1_5_2")),
    ("Resource", Some("v1_23_0")),
    ("Message", Some("v1_3_0")),
    ("RedfishExtensions", Some("v1_0_0")),
];

/// `#Chassis.v1_28_0.Chassis`: the `@odata.type` of a resource of
/// `namespace`, at the version [`SCHEMAS`] gives it.
pub(crate) fn odata_type(namespace: &str) -> String {
    match SCHEMAS.iter().find(|(n, _)| *n == namespace) {
        Some((n, Some(v))) => format!("#{n}.{v}.{n}"),
        Some((n, None)) => format!("#{n}.{n}"),
        None => unreachable!("{namespace} is not in SCHEMAS"),
    }
}

/// `GET /redfish`.
pub(crate) fn version_object() -> Value {
    json!({ "v1": "/redfish/v1/" })
}

/// `GET /redfish/v1/$metadata`.
pub(crate) fn metadata_xml() -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<edmx:Edmx xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\" Version=\"4.0\">\n",
    );
    for (ns, version) in SCHEMAS {
        let file = match *ns {
            "RedfishExtensions" => "RedfishExtensions_v1.xml".to_string(),
            n => format!("{n}_v1.xml"),
        };
        x.push_str(&format!(
            "  <edmx:Reference Uri=\"http://redfish.dmtf.org/schemas/v1/{file}\">\n"
        ));
        match version {
            Some(v) if *ns == "RedfishExtensions" => x.push_str(&format!(
                "    <edmx:Include Namespace=\"{ns}.{v}\" Alias=\"Redfish\"/>\n"
            )),
            Some(v) => x.push_str(&format!(
                "    <edmx:Include Namespace=\"{ns}\"/>\n    <edmx:Include Namespace=\"{ns}.{v}\"/>\n"
            )),
            None => x.push_str(&format!("    <edmx:Include Namespace=\"{ns}\"/>\n")),
        }
        x.push_str("  </edmx:Reference>\n");
    }
    let root = SCHEMAS[0].1.unwrap_or("v1_0_0");
    x.push_str(&format!(
        "  <edmx:DataServices>\n    <Schema xmlns=\"http://docs.oasis-open.org/odata/ns/edm\" Namespace=\"Service\">\n      <EntityContainer Name=\"Service\" Extends=\"ServiceRoot.{root}.ServiceContainer\"/>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n"
    ));
    x
}

/// `GET /redfish/v1/odata`: the top-level resources of the service root.
pub(crate) fn service_document() -> Value {
    let entries: Vec<Value> = [
        ("Service", "/redfish/v1/"),
        ("Chassis", "/redfish/v1/Chassis"),
        ("Systems", "/redfish/v1/Systems"),
        ("Managers", "/redfish/v1/Managers"),
        ("SessionService", "/redfish/v1/SessionService"),
        ("Sessions", "/redfish/v1/SessionService/Sessions"),
        ("AccountService", "/redfish/v1/AccountService"),
        ("Registries", "/redfish/v1/Registries"),
    ]
    .iter()
    .map(|(name, url)| json!({ "name": name, "kind": "Singleton", "url": url }))
    .collect();
    json!({
        "@odata.context": "/redfish/v1/$metadata",
        "value": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_references_every_schema_once() {
        let x = metadata_xml();
        for (ns, v) in SCHEMAS {
            assert_eq!(
                x.matches(&format!("Namespace=\"{ns}\"")).count(),
                usize::from(*ns != "RedfishExtensions"),
                "{ns}"
            );
            if let Some(v) = v {
                assert!(x.contains(&format!("Namespace=\"{ns}.{v}\"")), "{ns}.{v}");
            }
        }
        assert!(x.contains("Extends=\"ServiceRoot.v1_20_0.ServiceContainer\""));
        assert_eq!(odata_type("Chassis"), "#Chassis.v1_28_0.Chassis");
        assert_eq!(
            odata_type("ChassisCollection"),
            "#ChassisCollection.ChassisCollection"
        );
    }
}
