//! The IPMI message inside a LAN session (IPMI v2.0 §13.8, spec §7.3):
//!
//! ```text
//! request:  rsAddr | netFn<<2|rsLUN | chk1 | rqAddr | rqSeq<<2|rqLUN | cmd | data… | chk2
//! response: rqAddr | netFn<<2|rqLUN | chk1 | rsAddr | rqSeq<<2|rsLUN | cmd | cc | data… | chk2
//! ```
//!
//! Both checksums are verified on receive. The reference vBMC data of the
//! original project carries wrong `chk2` bytes that its client never noticed; we
//! reject such replies (the tests keep those exact bytes as a regression vector).

use super::{need, WireError};

/// IPMB address of the BMC.
pub const BMC_ADDR: u8 = 0x20;
/// Software id of a remote console (what ipmitool and FreeIPMI use).
pub const REMOTE_SWID: u8 = 0x81;

/// Two's-complement checksum: the byte that makes `sum(bytes) + chk == 0 (mod 256)`.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |acc, b| acc.wrapping_add(*b))
        .wrapping_neg()
}

/// Encodes a request from the remote console to the BMC. `rq_seq` is 6 bits.
pub fn encode_request(netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(7 + data.len());
    m.push(BMC_ADDR);
    m.push((netfn & 0x3F) << 2);
    m.push(checksum(&m[0..2]));
    m.push(REMOTE_SWID);
    m.push((rq_seq & 0x3F) << 2);
    m.push(cmd);
    m.extend_from_slice(data);
    let chk2 = checksum(&m[3..]);
    m.push(chk2);
    m
}

/// A decoded response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub rq_addr: u8,
    /// Response NetFn (request NetFn + 1).
    pub netfn: u8,
    pub rs_addr: u8,
    pub rq_seq: u8,
    pub cmd: u8,
    pub completion_code: u8,
    pub data: Vec<u8>,
}

/// Decodes and checksum-verifies a response message.
pub fn decode_response(m: &[u8]) -> Result<Response, WireError> {
    // Seven header bytes, completion code, chk2.
    need("IPMI response message", m, 8)?;
    let chk1 = checksum(&m[0..2]);
    if chk1 != m[2] {
        return Err(WireError::Checksum {
            what: "IPMI message header (chk1)",
            expected: chk1,
            got: m[2],
        });
    }
    let last = m.len() - 1;
    let chk2 = checksum(&m[3..last]);
    if chk2 != m[last] {
        return Err(WireError::Checksum {
            what: "IPMI message body (chk2)",
            expected: chk2,
            got: m[last],
        });
    }
    let netfn = m[1] >> 2;
    if netfn & 1 == 0 {
        return Err(WireError::invalid(format!(
            "IPMI message has request NetFn 0x{netfn:02x} where a response was expected"
        )));
    }
    Ok(Response {
        rq_addr: m[0],
        netfn,
        rs_addr: m[3],
        rq_seq: m[4] >> 2,
        cmd: m[5],
        completion_code: m[6],
        data: m[7..last].to_vec(),
    })
}

impl Response {
    /// Whether this response answers the request (`netfn`, `cmd`, `rq_seq`) we sent.
    /// `Err` explains the mismatch; such a reply is stale or not ours, not fatal.
    pub fn answers(&self, netfn: u8, cmd: u8, rq_seq: u8) -> Result<(), String> {
        if self.netfn != netfn | 1 || self.cmd != cmd {
            return Err(format!(
                "reply is for NetFn 0x{:02x} cmd 0x{:02x}, expected NetFn 0x{:02x} cmd 0x{cmd:02x}",
                self.netfn,
                self.cmd,
                netfn | 1
            ));
        }
        if self.rq_seq != rq_seq & 0x3F {
            return Err(format!(
                "reply carries request sequence {}, expected {} (stale reply)",
                self.rq_seq,
                rq_seq & 0x3F
            ));
        }
        if self.rq_addr != REMOTE_SWID || self.rs_addr != BMC_ADDR {
            return Err(format!(
                "reply addressed rqAddr 0x{:02x} from rsAddr 0x{:02x}, expected 0x{REMOTE_SWID:02x} from 0x{BMC_ADDR:02x}",
                self.rq_addr, self.rs_addr
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_vectors() {
        // chk1 of the vbmc007 replies: rqAddr 0x10 + App response NetFn byte 0x1C.
        assert_eq!(checksum(&[0x10, 0x1C]), 0xD4);
        assert_eq!(checksum(&[]), 0);
        assert_eq!(checksum(&[0x20, 0x18]), 0xC8);
    }

    #[test]
    fn get_device_id_request_bytes() {
        // Get Device ID (App 0x06, cmd 0x01) with rqSeq 1, checksums worked by hand:
        // chk1 = -(0x20 + 0x18) = 0xC8, chk2 = -(0x81 + 0x04 + 0x01) = 0x7A.
        assert_eq!(
            encode_request(0x06, 0x01, 1, &[]),
            [0x20, 0x18, 0xC8, 0x81, 0x04, 0x01, 0x7A]
        );
    }

    #[test]
    fn response_round_trip_and_validation() {
        // Build a response by hand: Get Chassis Status reply with data 45 10 40 00.
        let mut m = vec![0x81, 0x04];
        m.push(checksum(&m));
        m.extend_from_slice(&[0x20, 7 << 2, 0x01, 0x00, 0x45, 0x10, 0x40, 0x00]);
        m.push(checksum(&m[3..]));
        let r = decode_response(&m).unwrap();
        assert_eq!(r.netfn, 0x01);
        assert_eq!(r.rq_seq, 7);
        assert_eq!(r.data, [0x45, 0x10, 0x40, 0x00]);
        assert!(r.answers(0x00, 0x01, 7).is_ok());
        assert!(r.answers(0x00, 0x01, 8).unwrap_err().contains("stale"));
        assert!(r.answers(0x06, 0x01, 7).is_err());

        let mut bad = m.clone();
        bad[2] ^= 1;
        assert!(matches!(
            decode_response(&bad),
            Err(WireError::Checksum { .. })
        ));
        let mut bad = m.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(decode_response(&bad)
            .unwrap_err()
            .to_string()
            .contains("chk2"));
        assert!(decode_response(&m[..7]).is_err());
    }
}
