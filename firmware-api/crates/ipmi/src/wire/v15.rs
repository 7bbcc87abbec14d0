//! IPMI v1.5 LAN session wrapper (IPMI v1.5 §12, spec §7.3):
//!
//! ```text
//! RMCP(4) | auth_type(1) | session_seq(4 LE) | session_id(4 LE) | [auth_code(16)] | msg_len(1) | message
//! ```
//!
//! and its auth codes: none, straight password, MD2 and MD5 (v1.5 §22.17.1).

use super::{crypto, need, rmcp, u32_le, WireError};

pub(crate) const AUTH_NONE: u8 = 0;
pub(crate) const AUTH_MD2: u8 = 1;
pub(crate) const AUTH_MD5: u8 = 2;
pub(crate) const AUTH_PASSWORD: u8 = 4;
pub(crate) const AUTH_OEM: u8 = 5;
/// The auth-type byte that marks an RMCP+ (IPMI v2.0) session header instead.
pub(crate) const AUTH_RMCP_PLUS: u8 = 6;

/// Pads a password or user name to the 16 bytes v1.5 puts on the wire.
/// Returns `None` if it is longer than 16 bytes.
pub(crate) fn pad16(text: &[u8]) -> Option<[u8; 16]> {
    if text.len() > 16 {
        return None;
    }
    let mut out = [0u8; 16];
    out[..text.len()].copy_from_slice(text);
    Some(out)
}

/// The 16-byte auth code for a packet, or `None` for auth type none.
///
/// MD2/MD5: `H(password | session_id | message | session_seq | password)` with the
/// password padded to 16 bytes and the numbers little-endian.
pub(crate) fn auth_code(
    auth_type: u8,
    password: &[u8; 16],
    session_id: u32,
    seq: u32,
    message: &[u8],
) -> Option<[u8; 16]> {
    let id = session_id.to_le_bytes();
    let sq = seq.to_le_bytes();
    match auth_type {
        AUTH_PASSWORD => Some(*password),
        AUTH_MD5 => Some(crypto::md5(&[password, &id, message, &sq, password])),
        AUTH_MD2 => Some(crypto::md2(&[password, &id, message, &sq, password])),
        _ => None,
    }
}

/// Encodes a complete datagram (RMCP header included).
pub fn encode(
    auth_type: u8,
    seq: u32,
    session_id: u32,
    password: &[u8; 16],
    message: &[u8],
) -> Vec<u8> {
    let mut p = rmcp::header(rmcp::CLASS_IPMI).to_vec();
    p.push(auth_type);
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&session_id.to_le_bytes());
    if let Some(code) = auth_code(auth_type, password, session_id, seq, message) {
        p.extend_from_slice(&code);
    }
    // Messages are built by us and are far below 255 bytes.
    p.push(message.len() as u8);
    p.extend_from_slice(message);
    p
}

/// A decoded v1.5 session packet; `message` still has to be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub auth_type: u8,
    pub seq: u32,
    pub session_id: u32,
    pub auth_code: Option<[u8; 16]>,
    pub message: &'a [u8],
}

/// Decodes the session wrapper of a datagram (RMCP header included).
pub fn decode(packet: &[u8]) -> Result<Packet<'_>, WireError> {
    let (class, body) = rmcp::split(packet)?;
    if class != rmcp::CLASS_IPMI {
        return Err(WireError::invalid(format!(
            "RMCP class 0x{class:02x} where an IPMI message (0x07) was expected"
        )));
    }
    need("IPMI v1.5 session header", body, 10)?;
    let auth_type = body[0] & 0x0F;
    if auth_type == AUTH_RMCP_PLUS {
        return Err(WireError::invalid(
            "IPMI v2.0 (RMCP+) packet where an IPMI v1.5 packet was expected",
        ));
    }
    if !matches!(
        auth_type,
        AUTH_NONE | AUTH_MD2 | AUTH_MD5 | AUTH_PASSWORD | AUTH_OEM
    ) {
        return Err(WireError::invalid(format!(
            "unknown IPMI v1.5 auth type {auth_type}"
        )));
    }
    let seq = u32_le(&body[1..5]);
    let session_id = u32_le(&body[5..9]);
    let (auth_code, rest) = if auth_type == AUTH_NONE {
        (None, &body[9..])
    } else {
        need("IPMI v1.5 session header with auth code", body, 26)?;
        let mut code = [0u8; 16];
        code.copy_from_slice(&body[9..25]);
        (Some(code), &body[25..])
    };
    let len = rest[0] as usize;
    let carried = rest.len() - 1;
    // One trailing byte is allowed: the "legacy pad" some implementations add so that
    // certain packet lengths avoid a NIC erratum (ipmitool does this too).
    if carried != len && carried != len + 1 {
        return Err(WireError::invalid(format!(
            "IPMI v1.5 message length field says {len} bytes, packet carries {carried}"
        )));
    }
    Ok(Packet {
        auth_type,
        seq,
        session_id,
        auth_code,
        message: &rest[1..1 + len],
    })
}

impl Packet<'_> {
    /// Verifies the auth code against `password`. Auth type none has nothing to verify.
    pub fn verify(&self, password: &[u8; 16]) -> Result<(), WireError> {
        let Some(got) = self.auth_code else {
            return Ok(());
        };
        if self.auth_type == AUTH_OEM {
            return Err(WireError::invalid(
                "OEM auth type in reply is not supported",
            ));
        }
        let want = auth_code(
            self.auth_type,
            password,
            self.session_id,
            self.seq,
            self.message,
        )
        .ok_or_else(|| WireError::invalid("auth code present for auth type none"))?;
        if crypto::ct_eq(&want, &got) {
            Ok(())
        } else {
            Err(WireError::invalid(
                "auth code of the reply does not match (wrong password, or a forged/corrupted reply)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::message;

    #[test]
    fn no_auth_packet_layout() {
        // Get Channel Auth Capabilities, outside a session (spec §7.2 step 1).
        let msg = message::encode_request(0x06, 0x38, 0, &[0x0E, 0x04]);
        let p = encode(AUTH_NONE, 0, 0, &[0; 16], &msg);
        assert_eq!(&p[..4], &[0x06, 0x00, 0xFF, 0x07]);
        assert_eq!(&p[4..13], &[0; 9]);
        assert_eq!(p[13] as usize, msg.len());
        assert_eq!(&p[14..], &msg[..]);
        let d = decode(&p).unwrap();
        assert_eq!(d.message, &msg[..]);
        assert_eq!(d.auth_code, None);
        d.verify(&[0; 16]).unwrap();
    }

    #[test]
    fn md5_auth_code_matches_independent_computation() {
        // Reference value computed with Python's hashlib:
        // md5(b"ADMIN"+b"\0"*11 + bytes.fromhex("22f758bb") + msg + bytes.fromhex("01000000") + b"ADMIN"+b"\0"*11)
        let pw = pad16(b"ADMIN").unwrap();
        let msg = [0x20, 0x00, 0xE0, 0x81, 0x04, 0x01, 0x7A];
        let code = auth_code(AUTH_MD5, &pw, 0xBB58_F722, 1, &msg).unwrap();
        assert_eq!(super::super::hex(&code), MD5_VECTOR);
        let p = encode(AUTH_MD5, 1, 0xBB58_F722, &pw, &msg);
        let d = decode(&p).unwrap();
        assert_eq!(d.auth_code, Some(code));
        d.verify(&pw).unwrap();
        assert!(d.verify(&pad16(b"wrong").unwrap()).is_err());
    }

    const MD5_VECTOR: &str = "8b 39 2f a9 1e 1d 12 75 97 98 30 f7 77 ac 40 86";

    #[test]
    fn straight_password_and_md2_codes() {
        let pw = pad16(b"secret").unwrap();
        assert_eq!(auth_code(AUTH_PASSWORD, &pw, 1, 2, b"x"), Some(pw));
        assert_eq!(auth_code(AUTH_NONE, &pw, 1, 2, b"x"), None);
        let md2 = auth_code(AUTH_MD2, &pw, 1, 2, b"x").unwrap();
        assert_eq!(
            md2,
            crypto::md2(&[&pw, &1u32.to_le_bytes(), b"x", &2u32.to_le_bytes(), &pw])
        );
        let p = encode(AUTH_MD2, 2, 1, &pw, b"x");
        decode(&p).unwrap().verify(&pw).unwrap();
    }

    #[test]
    fn length_field_is_checked() {
        let msg = message::encode_request(0x06, 0x01, 1, &[]);
        let mut p = encode(AUTH_NONE, 0, 0, &[0; 16], &msg);
        p.push(0); // legacy pad byte: accepted
        assert!(decode(&p).is_ok());
        p.push(0); // two extra bytes: rejected
        assert!(decode(&p).unwrap_err().to_string().contains("length field"));
        let short = &p[..p.len() - 4];
        assert!(decode(short).is_err());
    }

    #[test]
    fn rmcp_plus_and_unknown_auth_types_are_rejected() {
        let mut p = encode(AUTH_NONE, 0, 0, &[0; 16], &[0; 8]);
        p[4] = AUTH_RMCP_PLUS;
        assert!(decode(&p).unwrap_err().to_string().contains("v2.0"));
        p[4] = 3;
        assert!(decode(&p).unwrap_err().to_string().contains("unknown"));
    }

    #[test]
    fn pad16_limits() {
        assert!(pad16(&[b'a'; 16]).is_some());
        assert!(pad16(&[b'a'; 17]).is_none());
    }
}
