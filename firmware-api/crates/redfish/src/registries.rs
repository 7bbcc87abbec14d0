//! `/redfish/v1/Registries`: the message registries this service's
//! messages come from, so a client can look up a `MessageId` it receives.
//! Only the DMTF Base registry: every error body names one of its
//! messages (`answer::BaseMessage`). The file itself is DMTF's published
//! copy (`PublicationUri`); the service keeps no local copy to serve.

use serde_json::{json, Value};

use crate::answer::{BASE_REGISTRY, BASE_REGISTRY_FILE};
use crate::resources::{collection, head, with};
use crate::route::V1;

/// The `Id` of the Base registry's entry: the registry's prefix.
pub(crate) const BASE_ID: &str = "Base";

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
        vec![file_uri(BASE_ID)],
    )
}

/// The entry of registry `id`, `None` if the service uses no such registry.
pub(crate) fn registry_file(id: &str) -> Option<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_registry_is_listed_and_points_at_its_publication() {
        let c = registry_collection();
        assert_eq!(c["Members@odata.count"], 1);
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
    }
}
