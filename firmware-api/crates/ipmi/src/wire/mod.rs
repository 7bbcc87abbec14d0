//! IPMI-over-LAN packets as bytes: RMCP/ASF, the IPMI message with its two
//! checksums, IPMI v1.5 session wrappers with their auth codes, RMCP+ (v2.0)
//! session wrappers with integrity and confidentiality, and the RAKP handshake.
//!
//! Nothing here does I/O, so every decoder can be fed arbitrary bytes by unit
//! and property tests. Decoders validate everything they can (lengths,
//! checksums, auth codes, padding) and return a [`WireError`] that says what was
//! wrong, because the original client accepted corrupted and spoofed replies
//! (spec §9 item 33) and because an operator reading a 500 needs to know why.

pub mod crypto;
pub mod message;
pub mod rakp;
pub mod rmcp;
pub mod v15;
pub mod v20;

/// Why a datagram could not be decoded (or failed validation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("{what} truncated: need {need} bytes, got {got}")]
    Truncated {
        what: &'static str,
        need: usize,
        got: usize,
    },
    #[error("{what} checksum wrong: expected 0x{expected:02x}, packet has 0x{got:02x}")]
    Checksum {
        what: &'static str,
        expected: u8,
        got: u8,
    },
    #[error("{0}")]
    Invalid(String),
}

impl WireError {
    pub(crate) fn invalid(text: impl Into<String>) -> Self {
        WireError::Invalid(text.into())
    }
}

/// Checks that `bytes` holds at least `need` bytes.
pub(crate) fn need(what: &'static str, bytes: &[u8], need: usize) -> Result<(), WireError> {
    if bytes.len() < need {
        Err(WireError::Truncated {
            what,
            need,
            got: bytes.len(),
        })
    } else {
        Ok(())
    }
}

pub(crate) fn u32_le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Formats bytes as lowercase hex separated by spaces, for error messages and logs.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A short hex preview of a datagram for error messages (first 24 bytes).
pub(crate) fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 24;
    if bytes.len() <= MAX {
        format!("{} bytes: {}", bytes.len(), hex(bytes))
    } else {
        format!("{} bytes: {} …", bytes.len(), hex(&bytes[..MAX]))
    }
}
