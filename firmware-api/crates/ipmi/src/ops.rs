//! What the bridge does inside an open session: chassis status and control,
//! power on/off/cycle with a bounded wait for the new state, Get Device ID,
//! Get System GUID, and reading the FRU inventory.

use std::time::Duration;

use tokio::time::Instant;

use super::boot::{self, BootChange, BootFlags, SetState};
use super::commands::{self, *};
use super::error::IpmiError;
use super::fru::{self, FruInfo};
use super::sdr;
use super::sel;
use super::session::{cc_error, Session};
use opendcre_proto::PowerAction;

/// How often power on/off re-read chassis status while waiting for the new state.
pub(crate) const POWER_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Largest FRU image we read: the info areas of real FRUs are a few hundred bytes,
/// and the cap bounds the number of requests a hostile BMC can make us send.
const MAX_FRU_BYTES: usize = 2048;
const FRU_CHUNK: usize = 32;
const FRU_MIN_CHUNK: usize = 8;

pub(crate) async fn chassis_status(s: &mut Session) -> Result<ChassisStatus, IpmiError> {
    const STEP: &str = "Get Chassis Status";
    let data = s
        .call(STEP, NETFN_CHASSIS, CMD_GET_CHASSIS_STATUS, &[])
        .await?;
    ChassisStatus::decode(&data).map_err(|detail| protocol_error(s, STEP, detail))
}

pub(crate) async fn chassis_control(
    s: &mut Session,
    control: ChassisControl,
) -> Result<(), IpmiError> {
    let step = format!("Chassis Control ({})", control.name());
    let r = s
        .call_raw(&step, NETFN_CHASSIS, CMD_CHASSIS_CONTROL, &[control.code()])
        .await?;
    match r.completion_code {
        0 => Ok(()),
        0xCC => Err(cc_error(
            s.bmc(),
            &step,
            0xCC,
            Some("the BMC does not support this chassis control action"),
        )),
        c => Err(cc_error(s.bmc(), &step, c, None)),
    }
}

/// Sends power up/down, then polls chassis status until it shows the requested
/// state or `wait` runs out, and returns the last status read.
///
/// Why poll rather than sleep: the original slept a fixed 4 s (spec §7.2), which
/// is both too long for BMCs that switch at once and too short for slow ones; a
/// poll returns as soon as the state is reached and is still bounded.
async fn set_power(s: &mut Session, on: bool, wait: Duration) -> Result<ChassisPower, IpmiError> {
    let control = if on {
        ChassisControl::PowerUp
    } else {
        ChassisControl::PowerDown
    };
    chassis_control(s, control).await?;
    let deadline = Instant::now() + wait;
    loop {
        let status = chassis_status(s).await?;
        if status.power_on == on {
            return Ok(ChassisPower::from_status(status, true));
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::warn!(
                bmc = s.bmc(),
                wanted = if on { "on" } else { "off" },
                waited_ms = wait.as_millis() as u64,
                "chassis did not reach the requested power state in time; reporting its current state"
            );
            return Ok(ChassisPower::from_status(status, false));
        }
        tokio::time::sleep(POWER_POLL_INTERVAL.min(deadline - now)).await;
    }
}

/// The v1.1 power actions (spec §2.3): `status` reads; `on`/`off` switch and wait;
/// `cycle` is off-then-on, each waiting, like the original's two calls.
pub(crate) async fn power(
    s: &mut Session,
    action: PowerAction,
    wait: Duration,
) -> Result<ChassisPower, IpmiError> {
    match action {
        PowerAction::Status => Ok(ChassisPower::from_status(chassis_status(s).await?, true)),
        PowerAction::On => set_power(s, true, wait).await,
        PowerAction::Off => set_power(s, false, wait).await,
        PowerAction::Cycle => {
            let off = set_power(s, false, wait).await?;
            let mut on = set_power(s, true, wait).await?;
            on.settled &= off.settled;
            Ok(on)
        }
    }
}

/// A chassis control without a target state to wait for (hard reset, soft
/// shutdown, the BMC's own power cycle, diagnostic interrupt): send it and report
/// the status right after. On/off go through [`power`] instead.
pub(crate) async fn control(
    s: &mut Session,
    control: ChassisControl,
) -> Result<ChassisPower, IpmiError> {
    chassis_control(s, control).await?;
    Ok(ChassisPower::from_status(chassis_status(s).await?, true))
}

/// How long the identify light stays on when the BMC does not take the
/// "force on" byte: the longest interval one request can ask (spec §28.5).
pub const IDENTIFY_FALLBACK_SECS: u8 = 255;

/// Chassis Identify (spec §28.5): on = "force identify on" (indefinitely);
/// a BMC that refuses the optional second byte (completion code 0xC7
/// request length or 0xCC invalid data) gets the longest interval instead,
/// and the answer says so (`Some(255)`). Off = interval 0. Returns the
/// interval the light has when it is not indefinite.
pub(crate) async fn chassis_identify(s: &mut Session, on: bool) -> Result<Option<u8>, IpmiError> {
    let step = if on {
        "Chassis Identify (force on)"
    } else {
        "Chassis Identify (off)"
    };
    let data: &[u8] = if on { &[0x00, 0x01] } else { &[0x00] };
    let r = s
        .call_raw(step, NETFN_CHASSIS, CMD_CHASSIS_IDENTIFY, data)
        .await?;
    match r.completion_code {
        0 => Ok(None),
        0xC7 | 0xCC if on => {
            const STEP: &str = "Chassis Identify (longest interval)";
            let r = s
                .call_raw(
                    STEP,
                    NETFN_CHASSIS,
                    CMD_CHASSIS_IDENTIFY,
                    &[IDENTIFY_FALLBACK_SECS],
                )
                .await?;
            match r.completion_code {
                0 => Ok(Some(IDENTIFY_FALLBACK_SECS)),
                c => Err(cc_error(s.bmc(), STEP, c, None)),
            }
        }
        0xC1 => Err(cc_error(
            s.bmc(),
            step,
            0xC1,
            Some("the BMC does not support Chassis Identify"),
        )),
        c => Err(cc_error(s.bmc(), step, c, None)),
    }
}

pub(crate) async fn device_id(s: &mut Session) -> Result<DeviceId, IpmiError> {
    const STEP: &str = "Get Device ID";
    let data = s.call(STEP, NETFN_APP, CMD_GET_DEVICE_ID, &[]).await?;
    DeviceId::decode(&data).map_err(|detail| protocol_error(s, STEP, detail))
}

/// Get System GUID: the managed system's UUID, its bytes read in `order`;
/// `None` when the BMC has no GUID (the command unsupported, 0xC1, or none
/// set).
pub(crate) async fn system_guid(
    s: &mut Session,
    order: GuidOrder,
) -> Result<Option<String>, IpmiError> {
    const STEP: &str = "Get System GUID";
    let r = s
        .call_raw(STEP, NETFN_APP, CMD_GET_SYSTEM_GUID, &[])
        .await?;
    match r.completion_code {
        0 => {
            commands::system_guid(&r.data, order).map_err(|detail| protocol_error(s, STEP, detail))
        }
        0xC1 => Ok(None),
        c => Err(cc_error(s.bmc(), STEP, c, None)),
    }
}

/// Reads and decodes FRU device `fru_id`: the common header, then only the info
/// areas it points at (their lengths first), in chunks the BMC accepts.
pub(crate) async fn read_fru(s: &mut Session, fru_id: u8) -> Result<FruInfo, IpmiError> {
    const INFO: &str = "Get FRU Inventory Area Info";
    let bmc = s.bmc().to_string();
    let protocol = |step: &str, detail: String| IpmiError::Protocol {
        bmc: bmc.clone(),
        step: step.into(),
        detail,
    };
    let data = s
        .call(
            INFO,
            NETFN_STORAGE,
            CMD_GET_FRU_INVENTORY_AREA_INFO,
            &[fru_id],
        )
        .await?;
    if data.len() < 3 {
        return Err(protocol(
            INFO,
            format!("reply has {} data bytes, expected 3", data.len()),
        ));
    }
    let size = (u16::from_le_bytes([data[0], data[1]]) as usize).min(MAX_FRU_BYTES);
    let mut reader = FruReader {
        fru_id,
        words: data[2] & 0x01 != 0,
        size,
        image: vec![0; size],
        chunk: FRU_CHUNK,
    };
    if size < 8 {
        return Err(protocol(
            INFO,
            format!("FRU device {fru_id} is only {size} bytes"),
        ));
    }
    reader.read(s, 0, 8).await?;
    let header =
        fru::CommonHeader::decode(&reader.image[..8]).map_err(|e| protocol("Read FRU Data", e))?;
    let mut end = 8;
    for (offset, _) in header.info_areas() {
        if offset + 2 > size {
            continue; // decode() reports it as a warning
        }
        reader.read(s, offset, 2).await?;
        if let Ok(len) = fru::area_length(&reader.image[offset..offset + 2]) {
            end = end.max((offset + len).min(size));
        }
    }
    if end > 8 {
        reader.read(s, 8, end - 8).await?;
    }
    fru::decode(&reader.image[..end]).map_err(|e| protocol("Read FRU Data", e))
}

struct FruReader {
    fru_id: u8,
    /// The device is word-addressed: offsets and counts are in 16-bit units.
    words: bool,
    size: usize,
    image: Vec<u8>,
    chunk: usize,
}

impl FruReader {
    async fn read(
        &mut self,
        s: &mut Session,
        mut offset: usize,
        len: usize,
    ) -> Result<(), IpmiError> {
        let end = (offset + len).min(self.size);
        while offset < end {
            let step = format!("Read FRU Data (offset {offset})");
            let mut count = self.chunk.min(end - offset);
            let (off_param, count_param) = if self.words {
                count = count.max(2) & !1;
                (offset / 2, count / 2)
            } else {
                (offset, count)
            };
            let req = [
                self.fru_id,
                (off_param & 0xFF) as u8,
                (off_param >> 8) as u8,
                count_param as u8,
            ];
            let r = s
                .call_raw(&step, NETFN_STORAGE, CMD_READ_FRU_DATA, &req)
                .await?;
            match r.completion_code {
                0 => {}
                // "Too much": shrink the chunk and retry this offset.
                0xC7 | 0xC8 | 0xCA if self.chunk > FRU_MIN_CHUNK => {
                    self.chunk /= 2;
                    continue;
                }
                0x81 => return Err(cc_error(s.bmc(), &step, 0x81, Some("FRU device busy"))),
                c => return Err(cc_error(s.bmc(), &step, c, None)),
            }
            let Some((&returned, bytes)) = r.data.split_first() else {
                return Err(protocol_error(s, &step, "empty reply".into()));
            };
            let returned = if self.words {
                returned as usize * 2
            } else {
                returned as usize
            };
            if returned == 0 || returned > bytes.len() || returned > count {
                return Err(protocol_error(
                    s,
                    &step,
                    format!(
                        "BMC says it returned {returned} bytes, reply carries {} (asked for {count})",
                        bytes.len()
                    ),
                ));
            }
            let take = returned.min(end - offset);
            self.image[offset..offset + take].copy_from_slice(&bytes[..take]);
            offset += take;
        }
        Ok(())
    }
}

/// Get System Boot Options, parameter 5 (IPMI v2.0 §28.13).
pub(crate) async fn boot_flags(s: &mut Session) -> Result<BootFlags, IpmiError> {
    const STEP: &str = "Get System Boot Options (boot flags)";
    let data = s
        .call(
            STEP,
            NETFN_CHASSIS,
            boot::CMD_GET_SYSTEM_BOOT_OPTIONS,
            &boot::get_request(boot::PARAM_BOOT_FLAGS),
        )
        .await?;
    BootFlags::decode(&data).map_err(|detail| protocol_error(s, STEP, detail))
}

/// Reads the boot flags, applies `change` and writes them back inside the
/// set-in-progress lock of §28.12 (parameter 0: "set in progress", the
/// write, "commit write", "set complete"), so a second console cannot
/// interleave its own write. The lock is optional in the spec: a BMC that
/// rejects parameter 0 as unsupported (0x80, or 0xC1/0xCC as ipmi_sim
/// does) gets the write without it; one that answers 0x81 (another
/// client's set is in progress) is busy and nothing is written.
pub(crate) async fn update_boot_flags(
    s: &mut Session,
    change: BootChange,
) -> Result<BootFlags, IpmiError> {
    const LOCK: &str = "Set System Boot Options (set in progress)";
    let r = s
        .call_raw(
            LOCK,
            NETFN_CHASSIS,
            boot::CMD_SET_SYSTEM_BOOT_OPTIONS,
            &boot::set_in_progress_request(SetState::InProgress),
        )
        .await?;
    let locked = match r.completion_code {
        0 => true,
        0x80 | 0xC1 | 0xCC => false,
        0x81 => {
            return Err(cc_error(
                s.bmc(),
                LOCK,
                0x81,
                Some("another client is setting boot options (set in progress); try again"),
            ))
        }
        c => return Err(cc_error(s.bmc(), LOCK, c, None)),
    };
    let written = write_boot_flags(s, change).await;
    if locked {
        // Commit write is optional (its failure changes nothing); set
        // complete always ends the lock, also after a failed write, so the
        // BMC is not left "in progress" for the next console.
        for (step, v) in [
            ("commit write", SetState::CommitWrite),
            ("set complete", SetState::Complete),
        ] {
            let step = format!("Set System Boot Options ({step})");
            let r = s
                .call_raw(
                    &step,
                    NETFN_CHASSIS,
                    boot::CMD_SET_SYSTEM_BOOT_OPTIONS,
                    &boot::set_in_progress_request(v),
                )
                .await;
            match r {
                Ok(r) if r.completion_code == 0 || v == SetState::CommitWrite => {}
                Ok(r) => tracing::warn!(bmc = s.bmc(), code = r.completion_code, "{step} refused"),
                Err(e) => tracing::warn!(bmc = s.bmc(), error = %e, "{step} failed"),
            }
        }
    }
    written
}

async fn write_boot_flags(s: &mut Session, change: BootChange) -> Result<BootFlags, IpmiError> {
    const STEP: &str = "Set System Boot Options (boot flags)";
    let flags = boot_flags(s).await?.with(change);
    let r = s
        .call_raw(
            STEP,
            NETFN_CHASSIS,
            boot::CMD_SET_SYSTEM_BOOT_OPTIONS,
            &flags.set_request(),
        )
        .await?;
    match r.completion_code {
        0 => Ok(flags),
        0x80 => Err(cc_error(
            s.bmc(),
            STEP,
            0x80,
            Some("the BMC does not support the boot flags parameter"),
        )),
        c => Err(cc_error(s.bmc(), STEP, c, None)),
    }
}

/// A reply the BMC sent that does not say what the spec says it should.
pub(crate) fn protocol_error(s: &Session, step: &str, detail: String) -> IpmiError {
    IpmiError::Protocol {
        bmc: s.bmc().to_string(),
        step: step.into(),
        detail,
    }
}

/// One SEL record by id: `None` when the BMC has no such record
/// (completion code 0xCB, "requested data not present").
pub(crate) async fn get_sel_entry(
    s: &mut Session,
    id: u16,
) -> Result<Option<(u16, sel::SelRecord)>, IpmiError> {
    const ENTRY: &str = "Get SEL Entry";
    let r = s
        .call_raw(
            ENTRY,
            NETFN_STORAGE,
            sel::CMD_GET_SEL_ENTRY,
            &sel::get_entry_request(0, id),
        )
        .await?;
    match r.completion_code {
        0 => sel::decode_entry(&r.data)
            .map(Some)
            .map_err(|e| protocol_error(s, ENTRY, e)),
        0xCB => Ok(None),
        c => Err(cc_error(s.bmc(), ENTRY, c, None)),
    }
}

/// Clear SEL (§31.9): reserve, initiate the erase, then ask for its status
/// until it says completed (bounded: a few polls).
pub(crate) async fn clear_sel(s: &mut Session) -> Result<(), IpmiError> {
    const RESERVE: &str = "Reserve SEL";
    const CLEAR: &str = "Clear SEL";
    let data = s
        .call(RESERVE, NETFN_STORAGE, sel::CMD_RESERVE_SEL, &[])
        .await?;
    let reservation = sel::decode_reservation(&data).map_err(|e| protocol_error(s, RESERVE, e))?;
    let mut initiate = true;
    for _ in 0..10 {
        let data = s
            .call(
                CLEAR,
                NETFN_STORAGE,
                sel::CMD_CLEAR_SEL,
                &sel::clear_request(reservation, initiate),
            )
            .await?;
        if sel::decode_clear_progress(&data).map_err(|e| protocol_error(s, CLEAR, e))? {
            return Ok(());
        }
        initiate = false;
        tokio::time::sleep(POWER_POLL_INTERVAL).await;
    }
    Err(protocol_error(
        s,
        CLEAR,
        "the erase did not complete in 10 status polls".into(),
    ))
}

/// Get SEL Time: the BMC's SEL clock (what its records are stamped with).
pub(crate) async fn sel_time(s: &mut Session) -> Result<u32, IpmiError> {
    const STEP: &str = "Get SEL Time";
    let data = s
        .call(STEP, NETFN_STORAGE, sel::CMD_GET_SEL_TIME, &[])
        .await?;
    sel::decode_time(&data).map_err(|e| protocol_error(s, STEP, e))
}

/// Most SDR records read: real BMCs have tens to a couple of hundred; the
/// cap bounds what a looping or hostile BMC can make the node ask.
pub(crate) const MAX_SDR_RECORDS: usize = 256;
/// Bytes per Get SDR: 16 is what every BMC takes (some refuse more).
const SDR_CHUNK: u8 = 16;

/// The analog sensors of the BMC's SDR repository with their readings:
/// Reserve SDR Repository, every record (header, then the body in 16-byte
/// pieces; a cancelled reservation is renewed and the record read again, at
/// most 3 times), and Get Sensor Reading of each analog sensor the BMC owns.
/// A sensor whose reading fails is kept with the reason.
pub(crate) async fn read_sensors(s: &mut Session) -> Result<Vec<sdr::SensorValue>, IpmiError> {
    const RESERVE: &str = "Reserve SDR Repository";
    const GET: &str = "Get SDR";
    const READ: &str = "Get Sensor Reading";
    let mut reservation = reserve_sdr(s, RESERVE).await?;
    let mut seen = std::collections::HashSet::new();
    let mut id = sdr::FIRST;
    let mut sensors = Vec::new();
    for _ in 0..MAX_SDR_RECORDS {
        let mut tries = 0;
        let (next, record) = loop {
            match read_record(s, reservation, id).await? {
                Ok(r) => break r,
                Err(()) if tries < 3 => {
                    tries += 1;
                    reservation = reserve_sdr(s, RESERVE).await?;
                }
                Err(()) => {
                    return Err(protocol_error(
                        s,
                        GET,
                        "the reservation kept being cancelled".into(),
                    ))
                }
            }
        };
        if !seen.insert(id) {
            return Err(protocol_error(
                s,
                GET,
                format!("record {id:#06x} returned twice"),
            ));
        }
        if let Some(a) = sdr::analog_sensor(&record) {
            sensors.push(a);
        }
        if next == sdr::LAST || next == id {
            break;
        }
        id = next;
    }
    let mut out = Vec::with_capacity(sensors.len());
    for sensor in sensors {
        let r = s
            .call_raw(
                READ,
                sdr::NETFN_SENSOR,
                sdr::CMD_GET_SENSOR_READING,
                &[sensor.number],
            )
            .await?;
        let (value, error) = match r.completion_code {
            0 => match sdr::decode_reading(&r.data) {
                Ok(Some(raw)) => (Some(sensor.convert(raw)), None),
                Ok(None) => (
                    None,
                    Some("the BMC reports the reading unavailable".to_string()),
                ),
                Err(e) => (None, Some(e)),
            },
            c => (None, Some(cc_error(s.bmc(), READ, c, None).to_string())),
        };
        let threshold_based = sensor.thresholds != sdr::ThresholdAccess::None;
        let crossed = if value.is_some() && threshold_based {
            sdr::decode_crossed(&r.data)
        } else {
            sdr::Crossed::None
        };
        let thresholds = sensor_thresholds(s, &sensor).await?;
        out.push(sdr::SensorValue {
            sensor,
            value: value.filter(|v| v.is_finite()),
            error,
            thresholds,
            crossed,
        });
    }
    Ok(out)
}

/// A sensor's thresholds: asked with Get Sensor Thresholds when readable,
/// the record's own when fixed. A BMC that refuses the question (an error
/// completion code, a short answer) leaves them unknown, not the walk
/// failed: the readings are worth more than the thresholds.
async fn sensor_thresholds(
    s: &mut Session,
    sensor: &sdr::AnalogSensor,
) -> Result<sdr::Thresholds, IpmiError> {
    const STEP: &str = "Get Sensor Thresholds";
    Ok(match sensor.thresholds {
        sdr::ThresholdAccess::None => sdr::Thresholds::default(),
        sdr::ThresholdAccess::Fixed { mask, raw } => sensor.thresholds_of(mask, raw),
        sdr::ThresholdAccess::Readable => {
            let r = s
                .call_raw(
                    STEP,
                    sdr::NETFN_SENSOR,
                    sdr::CMD_GET_SENSOR_THRESHOLDS,
                    &[sensor.number],
                )
                .await?;
            match (r.completion_code, sdr::decode_thresholds(&r.data)) {
                (0, Ok((mask, raw))) => sensor.thresholds_of(mask, raw),
                (code, decoded) => {
                    tracing::debug!(bmc = %s.bmc(), sensor = sensor.number, code, error = ?decoded.err(), "thresholds not read");
                    sdr::Thresholds::default()
                }
            }
        }
    })
}

async fn reserve_sdr(s: &mut Session, step: &str) -> Result<u16, IpmiError> {
    let data = s
        .call(step, NETFN_STORAGE, sdr::CMD_RESERVE_SDR, &[])
        .await?;
    sel::decode_reservation(&data).map_err(|e| protocol_error(s, step, e))
}

/// One whole SDR record and the next record id; `Err(())` when the
/// reservation was cancelled (completion code C5h) and must be renewed.
async fn read_record(
    s: &mut Session,
    reservation: u16,
    id: u16,
) -> Result<Result<(u16, Vec<u8>), ()>, IpmiError> {
    const GET: &str = "Get SDR";
    let mut record = Vec::new();
    let mut next = sdr::LAST;
    let mut want = sdr::HEADER;
    while record.len() < want {
        let offset = record.len();
        let count = (want - offset).min(usize::from(SDR_CHUNK));
        let r = s
            .call_raw(
                GET,
                NETFN_STORAGE,
                sdr::CMD_GET_SDR,
                &sdr::get_sdr_request(reservation, id, offset as u8, count as u8),
            )
            .await?;
        match r.completion_code {
            0 => {}
            0xC5 => return Ok(Err(())),
            c => return Err(cc_error(s.bmc(), GET, c, None)),
        }
        let (n, bytes) = sdr::decode_get_sdr(&r.data).map_err(|e| protocol_error(s, GET, e))?;
        if bytes.is_empty() {
            return Err(protocol_error(
                s,
                GET,
                format!("record {id:#06x}: no bytes at offset {offset}"),
            ));
        }
        next = n;
        record.extend_from_slice(&bytes[..bytes.len().min(count)]);
        if offset == 0 && record.len() >= sdr::HEADER {
            want = sdr::HEADER + usize::from(record[4]);
            // Offsets are one byte: a longer record cannot be read whole
            // (sensor records are at most 64 bytes).
            if want > 255 {
                return Err(protocol_error(
                    s,
                    GET,
                    format!("record {id:#06x} says it is {want} bytes long"),
                ));
            }
        }
    }
    Ok(Ok((next, record)))
}
