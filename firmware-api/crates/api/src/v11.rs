//! OpenDCRE v1.1 endpoint handlers (spec §2.3): parse ids, run one bus job,
//! shape the JSON exactly as the original did.

use serde_json::{json, Value};
use tokio::time::Instant;

use super::error::ApiError;
use super::router::Route;
use super::state::AppState;
use opendcre_bus::{Request, ScanBoard, ScanTarget};
use opendcre_eventlog::{Event, Via};
// The IPMI pseudo-board is compared for equality, as v1.1 did (spec flaw 18, kept).
use opendcre_proto::board_id::{fmt_board, fmt_device, IPMI};
use opendcre_proto::convert::{thermistor_c, PowerReading};
use opendcre_proto::{pytext, Command, DeviceType, Frame, PowerAction};

/// The version this API reports as the original's full version.
pub(crate) const OPENDCRE_VERSION: &str = "1.1.1";
pub(crate) const API_VERSION: &str = "1.1";

/// Runs the handler for a GET-style route.
/// `user` is who asked (the principal's name), for the event log.
pub async fn handle(
    state: &AppState,
    route: &Route,
    user: &str,
    deadline: Instant,
) -> Result<Value, ApiError> {
    match route {
        Route::Test => Ok(json!({ "status": "ok" })),
        Route::Version { board } => version(state, board, deadline).await,
        Route::ScanAll => scan(state, None, deadline).await,
        Route::Scan { board } => scan(state, Some(board), deadline).await,
        Route::Read {
            device_type,
            board,
            device,
        } => read(state, device_type, board, device, deadline).await,
        Route::ReadInfo {
            device_type,
            board,
            device,
        } => read_info(state, device_type, board, device, deadline).await,
        Route::Write => Err(ApiError::new(
            hyper::StatusCode::NOT_IMPLEMENTED,
            "write is not implemented in API v1.1",
        )),
        Route::WriteInfo {
            device_type,
            board,
            device,
            text,
        } => write_info(state, device_type, board, device, text, deadline).await,
        Route::Power {
            action,
            board,
            device,
        } => {
            let result = power(state, action, board, device, deadline).await;
            record_power(state, user, action, board, device, &result);
            result
        }
        // The server answers these itself or sends them to `v2` before any
        // v1.1 handler runs.
        Route::Metrics { .. }
        | Route::Readings
        | Route::History { .. }
        | Route::ScanRefresh
        | Route::OpenApi
        | Route::Events
        | Route::WhoAmI
        | Route::Dashboard(_)
        | Route::Redfish(_) => Err(ApiError::failure("not a v1.1 route")),
    }
}

/// `int(text, 16)` limited to 32 bits (the original sent garbage instead).
pub(crate) fn parse_board(text: &str) -> Result<u32, ApiError> {
    let v = pytext::parse_hex(text)
        .map_err(|_| ApiError::failure(format!("invalid board id {text:?}: not hexadecimal")))?;
    u32::try_from(v).map_err(|_| {
        ApiError::failure(format!(
            "invalid board id {text:?}: outside 00000000..ffffffff"
        ))
    })
}

/// `int(text, 16)` limited to 16 bits.
pub(crate) fn parse_device(text: &str) -> Result<u16, ApiError> {
    let v = pytext::parse_hex(text)
        .map_err(|_| ApiError::failure(format!("invalid device id {text:?}: not hexadecimal")))?;
    u16::try_from(v)
        .map_err(|_| ApiError::failure(format!("invalid device id {text:?}: outside 0000..ffff")))
}

fn json_int(v: i128, what: &str) -> Result<Value, ApiError> {
    if let Ok(i) = i64::try_from(v) {
        Ok(Value::from(i))
    } else if let Ok(u) = u64::try_from(v) {
        Ok(Value::from(u))
    } else {
        Err(ApiError::failure(format!(
            "{what} {v} is too large to report"
        )))
    }
}

async fn bus_command(
    state: &AppState,
    device_type: u8,
    board: u32,
    device: u16,
    command: Command,
    deadline: Instant,
) -> Result<Frame, ApiError> {
    let req = Request {
        device_type,
        board_id: board,
        device_id: device,
        command,
    };
    Ok(state.bus.command(req, deadline).await?)
}

async fn version(state: &AppState, board: &str, deadline: Instant) -> Result<Value, ApiError> {
    let board = parse_board(board)?;
    let firmware = if board == IPMI {
        format!("OpenDCRE IPMI Bridge {OPENDCRE_VERSION}")
    } else {
        let f = bus_command(
            state,
            DeviceType::NONE.0,
            board,
            0xFFFF,
            Command::Version,
            deadline,
        )
        .await?;
        f.answer_text()
    };
    Ok(json!({
        "firmware_version": firmware,
        "opendcre_version": OPENDCRE_VERSION,
        "api_version": API_VERSION,
    }))
}

fn board_record(b: &ScanBoard) -> Value {
    let devices: Vec<Value> = b
        .devices
        .iter()
        .map(|d| json!({ "device_id": fmt_device(d.device_id), "device_type": DeviceType(d.device_type).v11_name() }))
        .collect();
    json!({ "board_id": fmt_board(b.board_id), "devices": devices })
}

fn ipmi_record(state: &AppState) -> Value {
    state.ipmi.record()
}

async fn scan(
    state: &AppState,
    board: Option<&String>,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let boards = match board {
        None => {
            let found = state.bus.scan(ScanTarget::All, deadline).await?;
            let mut out: Vec<Value> = found.iter().map(board_record).collect();
            out.push(ipmi_record(state));
            out
        }
        Some(text) => {
            let id = parse_board(text)?;
            if id == IPMI {
                vec![ipmi_record(state)]
            } else {
                state
                    .bus
                    .scan(ScanTarget::Board(id), deadline)
                    .await?
                    .iter()
                    .map(board_record)
                    .collect()
            }
        }
    };
    Ok(json!({ "boards": boards }))
}

async fn read(
    state: &AppState,
    device_type: &str,
    board: &str,
    device: &str,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let board = parse_board(board)?;
    let device = parse_device(device)?;
    let lower = device_type.to_ascii_lowercase();
    let code = DeviceType::from_name(&lower);
    let f = bus_command(state, code.0, board, device, Command::Read, deadline).await?;
    let text = f.answer_text();
    let raw = pytext::parse_int(&text).map_err(|_| {
        ApiError::failure(format!(
            "board {} device {} answered {text:?}, which is not an integer reading",
            fmt_board(board),
            fmt_device(device)
        ))
    })?;
    let device_raw = json_int(raw, "reading")?;
    if lower == "thermistor" {
        let t = thermistor_c(raw).map_err(|e| ApiError::failure(e.to_string()))?;
        Ok(json!({ "device_raw": device_raw, "temperature_c": t }))
    } else {
        Ok(json!({ "device_raw": device_raw }))
    }
}

fn require_power_type(device_type: &str) -> Result<(), ApiError> {
    if device_type == "power" {
        Ok(())
    } else {
        Err(ApiError::failure(format!(
            "asset information exists only for device type \"power\", not {device_type:?}"
        )))
    }
}

/// Ids and type check shared by the asset-info endpoints, in the original's order.
fn asset_target(device_type: &str, board: &str, device: &str) -> Result<(u32, u16), ApiError> {
    let board = parse_board(board)?;
    let device = parse_device(device)?;
    require_power_type(device_type)?;
    Ok((board, device))
}

async fn read_info(
    state: &AppState,
    device_type: &str,
    board: &str,
    device: &str,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let (board, device) = asset_target(device_type, board, device)?;
    if board == IPMI {
        return state.ipmi.info(device, deadline).await;
    }
    let f = bus_command(
        state,
        DeviceType::POWER.0,
        board,
        device,
        Command::ReadAsset,
        deadline,
    )
    .await?;
    Ok(
        json!({ "board_id": fmt_board(board), "device_id": fmt_device(device), "asset_info": f.answer_text() }),
    )
}

/// Asset text sent to a board is cut to 127 characters, as the original did.
pub(crate) const ASSET_INFO_MAX_CHARS: usize = 127;

async fn write_info(
    state: &AppState,
    device_type: &str,
    board: &str,
    device: &str,
    text: &str,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let (board, device) = asset_target(device_type, board, device)?;
    if board == IPMI {
        return Err(ApiError::failure(
            "asset information of IPMI devices cannot be written",
        ));
    }
    let truncated: String = text.chars().take(ASSET_INFO_MAX_CHARS).collect();
    let f = bus_command(
        state,
        DeviceType::POWER.0,
        board,
        device,
        Command::WriteAsset(truncated.into_bytes()),
        deadline,
    )
    .await?;
    Ok(
        json!({ "board_id": fmt_board(board), "device_id": fmt_device(device), "asset_info": f.answer_text() }),
    )
}

/// A power action (not a status read) goes into the node's event log,
/// with its outcome: the power state the device reported, or the error.
fn record_power(
    state: &AppState,
    user: &str,
    action: &str,
    board: &str,
    device: &str,
    result: &Result<Value, ApiError>,
) {
    let word = match PowerAction::parse(action) {
        None | Some(PowerAction::Status) => return,
        Some(PowerAction::On) => "on",
        Some(PowerAction::Off) => "off",
        Some(PowerAction::Cycle) => "cycle",
    };
    let (Ok(b), Ok(d)) = (parse_board(board), parse_device(device)) else {
        return;
    };
    let system = format!("{}-{}", fmt_board(b), fmt_device(d));
    let outcome = match result {
        Ok(v) => Ok(format!(
            "power {}",
            v["power_status"].as_str().unwrap_or("unknown")
        )),
        Err(e) => Err(e.message.clone()),
    };
    state.redfish.events.record(Event::power(
        user,
        Via::V11,
        &system,
        word,
        outcome.as_ref().map(String::as_str).map_err(String::as_str),
    ));
}

async fn power(
    state: &AppState,
    action: &str,
    board: &str,
    device: &str,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let board = parse_board(board)?;
    let device = parse_device(device)?;
    let action = PowerAction::parse(action).ok_or_else(|| {
        ApiError::failure(format!(
            "invalid power action {action:?}: use on, off, cycle or status"
        ))
    })?;
    if board == IPMI {
        return state.ipmi.power(device, action, deadline).await;
    }
    let f = bus_command(
        state,
        DeviceType::POWER.0,
        board,
        device,
        Command::Power(action),
        deadline,
    )
    .await?;
    let text = f.answer_text();
    let p = PowerReading::parse(&text, state.r_sense).map_err(|e| {
        ApiError::failure(format!(
            "board {} device {}: {e}",
            fmt_board(board),
            fmt_device(device)
        ))
    })?;
    Ok(json!({
        "pmbus_raw": p.raw,
        "power_status": if p.power_on { "on" } else { "off" },
        "power_ok": p.power_ok,
        "over_current": p.over_current,
        "under_voltage": p.under_voltage,
        "input_power": p.input_power,
        "input_voltage": p.input_voltage,
        "output_current": p.output_current,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parsing_accepts_python_forms_and_rejects_out_of_range() {
        for t in ["3", "03", "0000000003", "0000000000003", "0x3", " 3"] {
            assert_eq!(parse_board(t).unwrap(), 3);
        }
        assert_eq!(parse_board("ffffffff").unwrap(), u32::MAX);
        assert!(parse_board("100000000").is_err());
        assert!(parse_board("-1").is_err());
        assert!(parse_board("zz").is_err());
        assert_eq!(parse_device("01FF").unwrap(), 0x1ff);
        assert!(parse_device("10000").is_err());
    }
}
