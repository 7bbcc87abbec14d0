//! A bus board's identify LED as its chassis' `LocationIndicatorActive`:
//! the board's first `led` device (type 0x10), read with `R` (the job of
//! `GET /opendcre/1.1/read/led/…`, `0` off, `1` on) and switched with `W1`/
//! `W0` (the v1.2 LED write; the device answers `W1`). Read live on every
//! GET: the telemetry cache would be stale right after a write.

use opendcre_bus::Request;
use opendcre_proto::board_id::{fmt_board, fmt_device};
use opendcre_proto::{Command, DeviceType};
use tokio::time::Instant;

use crate::answer::RedfishError;
use crate::node::{Node, Rack};

/// The identify LED of `board`: its first LED device in the scan.
pub(crate) fn board_led(rack: &Rack, board: u32) -> Option<u16> {
    rack.boards
        .iter()
        .find(|b| b.board_id == board)?
        .devices
        .iter()
        .find(|d| d.device_type == DeviceType::LED.0)
        .map(|d| d.device_id)
}

fn where_(board: u32, device: u16) -> String {
    format!(
        "board {} LED device {}",
        fmt_board(board),
        fmt_device(device)
    )
}

/// `0`/`1` as the device sends it (v1.1 reads it as an integer).
pub(crate) fn parse_state(text: &str) -> Option<bool> {
    match text.trim() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

impl Node {
    pub(crate) async fn led_on(
        &self,
        board: u32,
        device: u16,
        deadline: Instant,
    ) -> Result<bool, RedfishError> {
        let req = Request {
            device_type: DeviceType::LED.0,
            board_id: board,
            device_id: device,
            command: Command::Read,
        };
        let f = self
            .bus
            .command(req, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_(board, device))))?;
        parse_state(&f.data_text()).ok_or_else(|| {
            RedfishError::failure(format!(
                "{}: answered {:?}, not 0 or 1",
                where_(board, device),
                f.data_text()
            ))
        })
    }

    pub(crate) async fn set_led(
        &self,
        board: u32,
        device: u16,
        on: bool,
        deadline: Instant,
    ) -> Result<(), RedfishError> {
        let req = Request {
            device_type: DeviceType::LED.0,
            board_id: board,
            device_id: device,
            command: Command::Write(if on { b"1".to_vec() } else { b"0".to_vec() }),
        };
        let f = self
            .bus
            .command(req, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_(board, device))))?;
        if f.data != b"W1" {
            return Err(RedfishError::failure(format!(
                "{}: the write was refused ({:?})",
                where_(board, device),
                f.data_text()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_bus::{ScanBoard, ScanDevice};

    #[test]
    fn the_first_led_of_the_board_and_its_states() {
        let rack = Rack {
            boards: std::sync::Arc::new(vec![ScanBoard {
                board_id: 1,
                devices: vec![
                    ScanDevice {
                        device_id: 0x01ff,
                        device_type: DeviceType::THERMISTOR.0,
                    },
                    ScanDevice {
                        device_id: 0x18ff,
                        device_type: DeviceType::LED.0,
                    },
                ],
            }]),
            bmcs: vec![],
        };
        assert_eq!(board_led(&rack, 1), Some(0x18ff));
        assert_eq!(board_led(&rack, 2), None);
        assert_eq!(parse_state("1"), Some(true));
        assert_eq!(parse_state("0"), Some(false));
        assert_eq!(parse_state("2"), None);
    }
}
