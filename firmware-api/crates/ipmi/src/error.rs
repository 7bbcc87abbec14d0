//! Errors of the IPMI bridge. Every message names the BMC (`host:port`) and the
//! step that failed, because the operator sees it in a 500 body and has to tell
//! a wrong password from a dead BMC from a misbehaving network.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum IpmiError {
    #[error("no BMC with device id {0:04x} is configured on IPMI board 40000000")]
    UnknownDevice(u16),

    #[error("IPMI BMC {bmc}: cannot resolve the host name: {detail}")]
    Resolve { bmc: String, detail: String },

    #[error("IPMI BMC {bmc}: {step}: network error: {source}")]
    Io {
        bmc: String,
        step: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "IPMI BMC {bmc}: {step}: no reply after {attempts} attempt(s) of {} ms each{hint}",
        per_attempt.as_millis()
    )]
    Timeout {
        bmc: String,
        step: String,
        attempts: u32,
        per_attempt: Duration,
        /// Extra explanation (starts with "; "), empty if none.
        hint: String,
    },

    #[error("IPMI BMC {bmc}: {step}: invalid reply: {detail}")]
    Protocol {
        bmc: String,
        step: String,
        detail: String,
    },

    #[error("IPMI BMC {bmc}: {step}: authentication failed: {detail}")]
    Auth {
        bmc: String,
        step: String,
        detail: String,
    },

    #[error("IPMI BMC {bmc}: {step}: BMC answered completion code 0x{code:02x} ({meaning})")]
    CompletionCode {
        bmc: String,
        step: String,
        code: u8,
        meaning: String,
    },

    #[error("IPMI BMC {bmc}: {detail}")]
    Unsupported { bmc: String, detail: String },

    #[error("IPMI BMC {bmc}: operation did not finish within its {} ms budget", budget.as_millis())]
    Deadline { bmc: String, budget: Duration },

    #[error("IPMI bridge internal error: {0}")]
    Internal(String),
}

/// The generic completion codes of IPMI v2.0 Table 5-2.
pub(crate) fn completion_code_meaning(code: u8) -> &'static str {
    match code {
        0x00 => "command completed normally",
        0xC0 => "node busy",
        0xC1 => "invalid or unsupported command",
        0xC2 => "command invalid for given LUN",
        0xC3 => "timeout while processing command",
        0xC4 => "out of space",
        0xC5 => "reservation canceled or invalid reservation id",
        0xC6 => "request data truncated",
        0xC7 => "request data length invalid",
        0xC8 => "request data field length limit exceeded",
        0xC9 => "parameter out of range",
        0xCA => "cannot return number of requested data bytes",
        0xCB => "requested sensor, data, or record not present",
        0xCC => "invalid data field in request",
        0xCD => "command illegal for specified sensor or record type",
        0xCE => "command response could not be provided",
        0xCF => "cannot execute duplicated request",
        0xD0 => "SDR repository in update mode",
        0xD1 => "device in firmware update mode",
        0xD2 => "BMC initialization in progress",
        0xD3 => "destination unavailable",
        0xD4 => "insufficient privilege level (configure privilege = \"operator\" or \"admin\")",
        0xD5 => "command not supported in present state",
        0xD6 => "command sub-function disabled or unavailable",
        0xFF => "unspecified error",
        0x01..=0x7E => "OEM completion code",
        0x80..=0xBE => "command-specific completion code",
        _ => "reserved completion code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_bmc_and_step() {
        let e = IpmiError::Timeout {
            bmc: "10.0.0.5:623".into(),
            step: "Get Chassis Status".into(),
            attempts: 3,
            per_attempt: Duration::from_millis(1000),
            hint: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "IPMI BMC 10.0.0.5:623: Get Chassis Status: no reply after 3 attempt(s) of 1000 ms each"
        );
        let e = IpmiError::CompletionCode {
            bmc: "h:1".into(),
            step: "Chassis Control".into(),
            code: 0xD4,
            meaning: completion_code_meaning(0xD4).into(),
        };
        assert!(e.to_string().contains("0xd4 (insufficient privilege"));
        assert_eq!(
            IpmiError::UnknownDevice(0x1f).to_string(),
            "no BMC with device id 001f is configured on IPMI board 40000000"
        );
    }
}
