//! The two transaction shapes of the protocol: one request → one answer with
//! `?` retries (spec §3.9), and a scan that collects answers until silence
//! with whole-scan retries (spec §3.8).

use super::actor::{Request, ScanBoard, ScanDevice, ScanTarget};
use super::config::BusConfig;
use super::error::BusError;
use super::link::{Link, OnError, ReadError};
use super::port::Port;
use opendcre_proto::board_id::{self, SHUFFLE};
use opendcre_proto::{Command, Frame};

fn io_err(path: &str, e: std::io::Error) -> BusError {
    BusError::Io {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

/// Sends one command and returns its answer, retrying corrupt answers with `?`.
pub(super) async fn command<P: Port>(
    link: &mut Link<P>,
    cfg: &BusConfig,
    path: &str,
    req: &Request,
) -> Result<Frame, BusError> {
    let frame_for = |seq: u8, command: &Command| Frame {
        sequence: seq,
        device_type: req.device_type,
        board_id: req.board_id,
        device_id: req.device_id,
        data: command.to_data(),
    };
    let timeout = |cmd: &'static str| BusError::Timeout {
        board: req.board_id,
        device: req.device_id,
        cmd,
        ms: cfg.read_timeout.as_millis() as u64,
    };
    let first = frame_for(0, &req.command);
    if let Err(e) = first.encode() {
        return Err(BusError::PayloadTooLong(e.to_string()));
    }
    let seq = link.next_seq();
    link.send(&Frame {
        sequence: seq,
        ..first
    })
    .await
    .map_err(|e| read_to_bus(e, path))?;
    let mut error = match link
        .read_frame(cfg.read_timeout, cfg.frame_gap, seq, OnError::Hunt)
        .await
    {
        Ok(f) => return Ok(f),
        Err(ReadError::Timeout) => {
            link.abandon(seq);
            return Err(timeout(req.command.name()));
        }
        Err(ReadError::Io(e)) => return Err(io_err(path, e)),
        Err(ReadError::Decode(e)) => e,
    };
    for _ in 0..cfg.retry_limit {
        tracing::debug!(%error, board = req.board_id, device = req.device_id, "corrupt answer, sending retry");
        if link.ended_quiet() {
            link.flush_input().map_err(|e| io_err(path, e))?;
        } else {
            // The read hit its cap inside a stream of noise.
            link.settle(cfg.frame_gap, cfg.read_timeout)
                .await
                .map_err(|e| read_to_bus(e, path))?;
        }
        let s = link.next_seq();
        link.retries += 1;
        link.send(&frame_for(s, &Command::Retry))
            .await
            .map_err(|e| read_to_bus(e, path))?;
        match link
            .read_frame(cfg.read_timeout, cfg.frame_gap, s, OnError::Hunt)
            .await
        {
            Ok(f) => return Ok(f),
            Err(ReadError::Decode(e)) => error = e,
            Err(ReadError::Timeout) => {
                link.abandon(s);
                return Err(timeout("retry"));
            }
            Err(ReadError::Io(e)) => return Err(io_err(path, e)),
        }
    }
    Err(BusError::Corrupt {
        board: req.board_id,
        device: req.device_id,
        cmd: req.command.name(),
        error,
        attempts: cfg.retry_limit + 1,
    })
}

fn read_to_bus(e: ReadError, path: &str) -> BusError {
    match e {
        ReadError::Io(e) => io_err(path, e),
        // send() and settle() only fail with I/O errors.
        other => BusError::Io {
            path: path.to_string(),
            reason: format!("{other:?}"),
        },
    }
}

enum ScanStep {
    Done,
    NoAnswer,
    Corrupt(opendcre_proto::DecodeError),
}

/// Dumps one board or all boards, grouping answers by board in arrival order.
pub(super) async fn scan<P: Port>(
    link: &mut Link<P>,
    cfg: &BusConfig,
    path: &str,
    target: ScanTarget,
) -> Result<Vec<ScanBoard>, BusError> {
    let (mut board, scan_all, first_wait, silence) = match target {
        ScanTarget::All => (
            board_id::scan_all_id(cfg.host_id, cfg.time_slice_ms),
            true,
            cfg.scan_all_silence,
            cfg.scan_all_silence,
        ),
        ScanTarget::Board(b) => (b, false, cfg.read_timeout, cfg.scan_silence),
    };
    let requested = board;
    // Retries reuse the sequence number, as the original did (flaw 5, kept).
    let seq = link.next_seq();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let request = Frame {
            sequence: seq,
            device_type: 0xFF,
            board_id: board,
            device_id: 0xFFFF,
            data: b"D".to_vec(),
        };
        link.send(&request)
            .await
            .map_err(|e| read_to_bus(e, path))?;
        let mut boards: Vec<ScanBoard> = Vec::new();
        let mut wait = first_wait;
        let step = loop {
            match link
                .read_frame(wait, cfg.frame_gap, seq, OnError::Return)
                .await
            {
                Ok(f) => {
                    let Some(&code) = f.data.first() else {
                        return Err(BusError::Corrupt {
                            board: f.board_id,
                            device: f.device_id,
                            cmd: "scan",
                            error: opendcre_proto::DecodeError::LengthTooSmall(9),
                            attempts,
                        });
                    };
                    let dev = ScanDevice {
                        device_id: f.device_id,
                        device_type: code,
                    };
                    match boards.iter_mut().find(|b| b.board_id == f.board_id) {
                        Some(b) => b.devices.push(dev),
                        None => boards.push(ScanBoard {
                            board_id: f.board_id,
                            devices: vec![dev],
                        }),
                    }
                    wait = silence;
                }
                Err(ReadError::Timeout) if boards.is_empty() => break ScanStep::NoAnswer,
                Err(ReadError::Timeout) => break ScanStep::Done,
                Err(ReadError::Decode(e)) => break ScanStep::Corrupt(e),
                Err(ReadError::Io(e)) => return Err(io_err(path, e)),
            }
        };
        match step {
            ScanStep::Done => return Ok(boards),
            ScanStep::NoAnswer => {
                link.abandon(seq);
                return Err(BusError::Timeout {
                    board: requested,
                    device: 0xFFFF,
                    cmd: "scan",
                    ms: first_wait.as_millis() as u64,
                });
            }
            ScanStep::Corrupt(error) => {
                if attempts >= cfg.retry_limit.max(1) {
                    return Err(BusError::Corrupt {
                        board: requested,
                        device: 0xFFFF,
                        cmd: "scan",
                        error,
                        attempts,
                    });
                }
                tracing::debug!(%error, attempts, "corrupt scan answer, restarting the scan");
                link.retries += 1;
                tokio::time::sleep(cfg.scan_retry_pause).await;
                link.settle(cfg.frame_gap, cfg.read_timeout)
                    .await
                    .map_err(|e| read_to_bus(e, path))?;
                if scan_all {
                    board |= SHUFFLE;
                }
            }
        }
    }
}
