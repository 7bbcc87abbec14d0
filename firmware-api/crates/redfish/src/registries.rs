//! `/redfish/v1/Registries`: the message registries this service's
//! messages come from, so a client can look up a `MessageId` it receives.
//! The DMTF Base registry, which every error body names a message of
//! (`answer::BaseMessage`; the file is DMTF's published copy,
//! `PublicationUri`), and the node's own `OpenDCRE` registry of its event
//! log entries, events and task messages, served here
//! (`…/Registries/OpenDCRE/OpenDCRE.1.2.0`) from the same table the entries
//! are written with (`opendcre_eventlog::MESSAGES`).

use opendcre_eventlog::{MessageDef, MESSAGES, REGISTRY, REGISTRY_VERSION};
use serde_json::{json, Map, Value};

use crate::answer::{BASE_REGISTRY, BASE_REGISTRY_FILE};
use crate::resources::{collection, head, with};
use crate::route::V1;

/// The `Id` of the Base registry's entry: the registry's prefix.
pub(crate) const BASE_ID: &str = "Base";

/// `Registry` of the node's registry file: prefix and major.minor, as
/// `MessageId`s name it (`OpenDCRE.1.2.PowerAction`).
fn own_registry() -> String {
    let minor = REGISTRY_VERSION
        .rsplit_once('.')
        .map_or(REGISTRY_VERSION, |(m, _)| m);
    format!("{REGISTRY}.{minor}")
}

/// The node's registry document's `Id`: `OpenDCRE.1.2.0`.
pub(crate) fn own_registry_id() -> String {
    format!("{REGISTRY}.{REGISTRY_VERSION}")
}

/// Where the node's registry document is served.
pub(crate) fn own_registry_uri() -> String {
    format!("{}/{}", file_uri(REGISTRY), own_registry_id())
}

pub(crate) fn collection_uri() -> String {
    format!("{V1}/Registries")
}

fn file_uri(id: &str) -> String {
    format!("{}/{id}", collection_uri())
}

pub(crate) fn registry_collection() -> Value {
    collection(
        &collection_uri(),
        "MessageRegistryFileCollection",
        "Message registry files",
        vec![file_uri(BASE_ID), file_uri(REGISTRY)],
    )
}

/// The entry of registry `id`, `None` if the service uses no such registry.
pub(crate) fn registry_file(id: &str) -> Option<Value> {
    if id == REGISTRY {
        return Some(with(
            head(&file_uri(REGISTRY), "MessageRegistryFile"),
            json!({
                "Id": REGISTRY,
                "Name": "OpenDCRE message registry file",
                "Description": "The messages of the node's event log, events and update tasks.",
                "Languages": ["en"],
                "Registry": own_registry(),
                "Location": [{ "Language": "en", "Uri": own_registry_uri() }],
            }),
        ));
    }
    (id == BASE_ID).then(|| {
        with(
            head(&file_uri(BASE_ID), "MessageRegistryFile"),
            json!({
                "Id": BASE_ID,
                "Name": "Base message registry file",
                "Description": "The DMTF Base registry (DSP8011) of every message in this service's error answers.",
                "Languages": ["en"],
                "Registry": BASE_REGISTRY,
                "Location": [{
                    "Language": "en",
                    "PublicationUri": format!("https://redfish.dmtf.org/registries/{BASE_REGISTRY_FILE}.json"),
                }],
            }),
        )
    })
}

fn message_json(m: &MessageDef) -> Value {
    let mut v = json!({
        "Description": m.description,
        "Message": m.template,
        "MessageSeverity": m.severity.as_str(),
        "NumberOfArgs": m.args.len(),
        "Resolution": m.resolution,
    });
    if !m.args.is_empty() {
        v["ParamTypes"] = json!(m.args.iter().map(|a| a.0).collect::<Vec<_>>());
        v["ArgDescriptions"] = json!(m.args.iter().map(|a| a.1).collect::<Vec<_>>());
    }
    v
}

/// The node's message registry document (DSP0266 "Message registries").
pub(crate) fn own_registry_document() -> Value {
    let messages: Map<String, Value> = MESSAGES
        .iter()
        .map(|m| (m.key.to_string(), message_json(m)))
        .collect();
    json!({
        "@odata.type": crate::metadata::odata_type("MessageRegistry"),
        "Id": own_registry_id(),
        "Name": "OpenDCRE Message Registry",
        "Language": "en",
        "Description": "Messages of an OpenDCRE rack manager: power actions, authentication failures, bus faults, updates, event subscriptions, restarts, certificate changes.",
        "RegistryPrefix": REGISTRY,
        "RegistryVersion": REGISTRY_VERSION,
        "OwningEntity": "OpenMistOS",
        "Messages": messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_registry_is_listed_and_points_at_its_publication() {
        let c = registry_collection();
        assert_eq!(c["Members@odata.count"], 2);
        assert_eq!(c["Members"][0]["@odata.id"], "/redfish/v1/Registries/Base");
        let f = registry_file("Base").unwrap();
        assert_eq!(f["Registry"], "Base.1.22");
        assert_eq!(
            f["Location"][0]["PublicationUri"],
            "https://redfish.dmtf.org/registries/Base.1.22.1.json"
        );
        assert_eq!(
            f["@odata.type"],
            "#MessageRegistryFile.v1_1_5.MessageRegistryFile"
        );
        assert!(registry_file("ResourceEvent").is_none());
        let own = registry_file("OpenDCRE").unwrap();
        assert_eq!(own["Registry"], "OpenDCRE.1.2");
        // Entries and events name the version the registry document has.
        assert_eq!(own_registry(), crate::logs::REGISTRY_PREFIX);
        assert_eq!(
            own["Location"][0]["Uri"],
            "/redfish/v1/Registries/OpenDCRE/OpenDCRE.1.2.0"
        );
        let doc = own_registry_document();
        let m = &doc["Messages"]["PowerAction"];
        assert_eq!(m["NumberOfArgs"], 5);
        assert_eq!(m["ParamTypes"][0], "string");
        assert_eq!(doc["Messages"]["BusFaults"]["ParamTypes"][3], "number");
        assert_eq!(doc["Messages"].as_object().unwrap().len(), MESSAGES.len());
    }
}
