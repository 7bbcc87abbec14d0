//! Bus failures, worded for the operator who reads them in a 500 body.

use opendcre_proto::board_id::{fmt_board, fmt_device};
use opendcre_proto::DecodeError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum BusError {
    #[error("bus timeout: no answer from board {} device {} to {cmd} within {ms} ms", fmt_board(*.board), fmt_device(*.device))]
    Timeout {
        board: u32,
        device: u16,
        cmd: &'static str,
        ms: u64,
    },
    #[error("corrupt answer from board {} device {} to {cmd}: {error} (still corrupt after {attempts} attempts)", fmt_board(*.board), fmt_device(*.device))]
    Corrupt {
        board: u32,
        device: u16,
        cmd: &'static str,
        error: DecodeError,
        attempts: u32,
    },
    #[error("serial port {path} is unavailable: {reason}")]
    PortUnavailable { path: String, reason: String },
    #[error("serial I/O error on {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("device bus queue is full ({depth} requests waiting); try again")]
    QueueFull { depth: usize },
    #[error("request gave up after waiting {ms} ms for the device bus")]
    Deadline { ms: u64 },
    #[error("request payload too long: {0}")]
    PayloadTooLong(String),
    #[error("the device bus task has stopped")]
    Stopped,
}
