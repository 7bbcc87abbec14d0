//! The firmware inventory beyond the node's own slots: each bus board's
//! firmware as the board reports it (the bus's version command, the job
//! of `GET /opendcre/1.1/version/{board}`, so both APIs show the same
//! text) and each configured BMC's (IPMI Get Device ID). The node updates
//! only its own RAUC slots; these members say `Updateable: false`, and are
//! listed so that one GET shows a rack's firmware levels.

use opendcre_bus::Request;
use opendcre_ipmi::DeviceId;
use opendcre_proto::{Command, DeviceType};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::node::{Node, Rack};
use crate::resources::{head, link, with};
use crate::route::{ChassisId, FirmwareId, SystemId};

/// The device id a command to the board itself carries (v1.1's version
/// request names no device).
const BOARD_ITSELF: u16 = 0xFFFF;

/// The members after the node's slots: every board of the scan, then
/// every configured BMC.
pub(crate) fn members(rack: &Rack) -> Vec<String> {
    rack.boards
        .iter()
        .map(|b| FirmwareId::Board(b.board_id).uri())
        .chain(rack.bmcs.iter().map(|d| FirmwareId::Bmc(*d).uri()))
        .collect()
}

impl Node {
    /// A board's firmware text, asked now.
    async fn board_version(&self, board: u32, deadline: Instant) -> Result<String, String> {
        let req = Request {
            device_type: DeviceType::NONE.0,
            board_id: board,
            device_id: BOARD_ITSELF,
            command: Command::Version,
        };
        self.bus
            .command(req, deadline)
            .await
            .map(|f| f.answer_text())
            .map_err(|e| e.to_string())
    }
}

/// `…/FirmwareInventory/{board}`: read now; a board that does not answer
/// is shown `UnavailableOffline` with the reason, not as an error (the
/// inventory of the rest of the rack stays readable).
pub(crate) async fn board(node: &Node, board: u32, deadline: Instant) -> Value {
    let read = node.board_version(board, deadline).await;
    let chassis = ChassisId::Board(board);
    let id = FirmwareId::Board(board);
    let mut v = base(
        &id,
        format!("Firmware of bus board {}", chassis.id()),
        format!(
            "The text the board answers to the bus's version command (as GET /opendcre/1.1/version/{}); the node does not update a board's firmware",
            chassis.id()
        ),
        vec![link(&chassis.uri())],
    );
    match read {
        Ok(text) => v["Version"] = json!(text),
        Err(e) => offline(&mut v, &e),
    }
    v
}

/// `…/FirmwareInventory/40000000-{device}`: the BMC's Get Device ID, asked
/// now.
pub(crate) async fn bmc(node: &Node, device: u16, deadline: Instant) -> Value {
    let s = SystemId::bmc(device);
    let read = node.bmc(s, deadline, node.ipmi.device_info(device)).await;
    bmc_payload(
        device,
        read.map_err(|e| e.detail.unwrap_or_else(|| "no answer".into())),
    )
}

fn bmc_payload(device: u16, read: Result<DeviceId, String>) -> Value {
    let s = SystemId::bmc(device);
    let id = FirmwareId::Bmc(device);
    let mut v = base(
        &id,
        format!("Firmware of the BMC of server {}", s.id()),
        "The BMC's firmware revision (IPMI Get Device ID); the node does not update a BMC's firmware".to_string(),
        vec![link(&s.uri()), link(&ChassisId::Server(device).uri())],
    );
    match read {
        Ok(d) => {
            v["Version"] = json!(d.firmware_revision);
            let mut said = vec![
                format!("IPMI {}", d.ipmi_version),
                format!("manufacturer IANA {}", d.manufacturer_id),
                format!("product id 0x{:04x}", d.product_id),
            ];
            if let Some(aux) = d.aux_firmware_revision {
                said.push(format!(
                    "auxiliary firmware revision {:02x}{:02x}{:02x}{:02x}",
                    aux[0], aux[1], aux[2], aux[3]
                ));
            }
            v["Description"] = json!(format!(
                "{} ({})",
                v["Description"].as_str().unwrap_or_default(),
                said.join(", ")
            ));
            // IPMI §20.1: "device firmware, SDR repository update or
            // self-initialization in progress".
            if !d.device_available {
                v["Status"] = json!({ "State": "Updating", "Health": "OK" });
            }
        }
        Err(e) => offline(&mut v, &e),
    }
    v
}

fn base(id: &FirmwareId, name: String, description: String, related: Vec<Value>) -> Value {
    with(
        head(&id.uri(), "SoftwareInventory"),
        json!({
            "Id": id.id(),
            "Name": name,
            "Description": description,
            "Updateable": false,
            "Status": { "State": "Enabled", "Health": "OK" },
            "RelatedItem@odata.count": related.len(),
            "RelatedItem": related,
        }),
    )
}

/// No answer: no `Version`, the state says so and the description why.
fn offline(v: &mut Value, why: &str) {
    v["Status"] = json!({ "State": "UnavailableOffline", "Health": "Warning" });
    v["Description"] = json!(format!(
        "{}; not readable now: {why}",
        v["Description"].as_str().unwrap_or_default()
    ));
}

/// A board's or BMC's member; `None` when the rack has no such board or
/// BMC (a slot is the update service's).
pub(crate) async fn member(
    node: &Node,
    rack: &Rack,
    id: &FirmwareId,
    deadline: Instant,
) -> Option<Value> {
    match id {
        FirmwareId::Board(b) if rack.has_board(*b) => Some(board(node, *b, deadline).await),
        FirmwareId::Bmc(d) if rack.bmcs.contains(d) => Some(bmc(node, *d, deadline).await),
        FirmwareId::Slot(_) | FirmwareId::Board(_) | FirmwareId::Bmc(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device_id(available: bool) -> DeviceId {
        DeviceId {
            device_id: 0x20,
            device_revision: 0,
            provides_sdrs: true,
            device_available: available,
            firmware_revision: "9.08".into(),
            ipmi_version: "2.0".into(),
            additional_support: 0,
            manufacturer_id: 4753,
            product_id: 0x0101,
            aux_firmware_revision: Some([0, 0, 0, 1]),
        }
    }

    #[test]
    fn bmc_firmware_shows_the_revision_and_where_it_came_from() {
        let v = bmc_payload(1, Ok(device_id(true)));
        assert_eq!(
            v["@odata.id"],
            "/redfish/v1/UpdateService/FirmwareInventory/40000000-0001"
        );
        assert_eq!(v["Id"], "40000000-0001");
        assert_eq!(v["Version"], "9.08");
        assert_eq!(v["Updateable"], false);
        assert_eq!(v["Status"]["State"], "Enabled");
        let d = v["Description"].as_str().unwrap();
        assert!(
            d.contains("IANA 4753") && d.contains("0x0101") && d.contains("00000001"),
            "{d}"
        );
        assert_eq!(
            v["RelatedItem"][0]["@odata.id"],
            "/redfish/v1/Systems/40000000-0001"
        );
        assert_eq!(v["RelatedItem@odata.count"], 2);
    }

    #[test]
    fn a_bmc_updating_or_silent_says_so() {
        let v = bmc_payload(1, Ok(device_id(false)));
        assert_eq!(v["Status"]["State"], "Updating");
        let v = bmc_payload(1, Err("no answer within 5 s".into()));
        assert!(v.get("Version").is_none());
        assert_eq!(v["Status"]["State"], "UnavailableOffline");
        assert!(v["Description"]
            .as_str()
            .unwrap()
            .ends_with("not readable now: no answer within 5 s"));
    }
}
