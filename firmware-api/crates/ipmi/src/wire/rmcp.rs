//! RMCP (DMTF DSP0114 / ASF 2.0): the 4-byte header in front of every IPMI-over-LAN
//! datagram, and the ASF presence ping/pong used to check that something speaking
//! RMCP listens at an address before any session work.

use super::{need, WireError};

pub(crate) const RMCP_VERSION: u8 = 0x06;
/// Sequence number 0xFF: "do not send an RMCP ACK" — IPMI never uses RMCP ACKs.
pub(crate) const RMCP_SEQ_NO_ACK: u8 = 0xFF;
pub(crate) const CLASS_ASF: u8 = 0x06;
pub(crate) const CLASS_IPMI: u8 = 0x07;

/// The ASF IANA enterprise number (4542), big-endian as on the wire.
const ASF_IANA: [u8; 4] = [0x00, 0x00, 0x11, 0xBE];
const ASF_PING: u8 = 0x80;
const ASF_PONG: u8 = 0x40;

/// The RMCP header for a message of `class`.
pub fn header(class: u8) -> [u8; 4] {
    [RMCP_VERSION, 0x00, RMCP_SEQ_NO_ACK, class]
}

/// Splits a datagram into its RMCP message class and the bytes after the header.
///
/// RMCP ACKs (class bit 7) are rejected: we never ask for them, so one arriving is
/// either a confused peer or not RMCP at all.
pub fn split(packet: &[u8]) -> Result<(u8, &[u8]), WireError> {
    need("RMCP header", packet, 4)?;
    if packet[0] != RMCP_VERSION {
        return Err(WireError::invalid(format!(
            "not an RMCP packet (version byte 0x{:02x}, expected 0x06)",
            packet[0]
        )));
    }
    let class = packet[3];
    if class & 0x80 != 0 {
        return Err(WireError::invalid("unexpected RMCP ACK"));
    }
    Ok((class & 0x0F, &packet[4..]))
}

/// An ASF Presence Ping with message `tag`.
pub(crate) fn encode_ping(tag: u8) -> Vec<u8> {
    let mut p = header(CLASS_ASF).to_vec();
    p.extend_from_slice(&ASF_IANA);
    p.extend_from_slice(&[ASF_PING, tag, 0x00, 0x00]);
    p
}

/// What an ASF Presence Pong says about the responder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pong {
    pub tag: u8,
    /// IANA enterprise number of the responder's OEM (0x11BE = ASF itself).
    pub oem_iana: u32,
    pub oem_defined: u32,
    /// Supported entities byte, bit 7 = IPMI supported.
    pub ipmi_supported: bool,
    /// Supported interactions byte (bit 5 = DASH, bit 0 = RSP security extensions).
    pub interactions: u8,
}

/// Decodes an ASF Presence Pong.
pub fn decode_pong(packet: &[u8]) -> Result<Pong, WireError> {
    let (class, body) = split(packet)?;
    if class != CLASS_ASF {
        return Err(WireError::invalid(format!(
            "expected an ASF message (class 0x06), got RMCP class 0x{class:02x}"
        )));
    }
    need("ASF message header", body, 8)?;
    if body[0..4] != ASF_IANA {
        return Err(WireError::invalid(
            "ASF message without the ASF IANA number",
        ));
    }
    if body[4] != ASF_PONG {
        return Err(WireError::invalid(format!(
            "expected ASF Presence Pong (0x40), got ASF message type 0x{:02x}",
            body[4]
        )));
    }
    let data_len = body[7] as usize;
    if data_len < 16 {
        return Err(WireError::invalid(format!(
            "ASF Presence Pong data length {data_len}, expected 16"
        )));
    }
    need("ASF Presence Pong", body, 8 + 16)?;
    let d = &body[8..];
    Ok(Pong {
        tag: body[5],
        oem_iana: u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
        oem_defined: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        ipmi_supported: d[8] & 0x80 != 0,
        interactions: d[9],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_bytes() {
        assert_eq!(
            encode_ping(0x2a),
            [0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x2a, 0x00, 0x00]
        );
    }

    #[test]
    fn pong_decodes_and_rejects_wrong_types() {
        let mut pong = vec![
            0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x40, 0x2a, 0x00, 0x10,
        ];
        pong.extend_from_slice(&[
            0x00, 0x00, 0x11, 0xBE, 0, 0, 0, 0, 0x81, 0x00, 0, 0, 0, 0, 0, 0,
        ]);
        let p = decode_pong(&pong).unwrap();
        assert_eq!(p.tag, 0x2a);
        assert!(p.ipmi_supported);
        assert_eq!(p.oem_iana, 4542);

        let mut ping = pong.clone();
        ping[8] = 0x80;
        assert!(decode_pong(&ping).unwrap_err().to_string().contains("0x80"));
        assert!(decode_pong(&pong[..20]).is_err());
        let mut ipmi = pong.clone();
        ipmi[3] = CLASS_IPMI;
        assert!(decode_pong(&ipmi).is_err());
    }

    #[test]
    fn split_rejects_non_rmcp() {
        assert!(split(&[0x45, 0, 0xff, 7])
            .unwrap_err()
            .to_string()
            .contains("not an RMCP"));
        assert!(split(&[6, 0, 0xff]).is_err());
        assert!(split(&[6, 0, 0xff, 0x87]).is_err());
        assert_eq!(split(&[6, 0, 0xff, 7, 1]).unwrap(), (7, &[1u8][..]));
    }
}
