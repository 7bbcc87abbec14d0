//! RMCP+ (IPMI v2.0) session wrapper (IPMI v2.0 §13.6, §13.28, §13.29):
//!
//! ```text
//! RMCP(4) | 0x06 | payload_type(1: bit7 encrypted, bit6 authenticated) | session_id(4 LE)
//!         | session_seq(4 LE) | payload_len(2 LE) | payload
//!         | [integrity pad 0xFF… | pad_len | next_header 0x07 | auth_code(12)]
//! ```
//!
//! Integrity is HMAC-SHA1-96 keyed with K1 over everything from the auth-type byte
//! to the next-header byte; confidentiality is AES-CBC-128 keyed with the first 16
//! bytes of K2, payload = IV(16) | E(data | 1, 2, …, n | n).

use super::{crypto, need, rmcp, u32_le, v15, WireError};

pub(crate) const PAYLOAD_IPMI: u8 = 0x00;
pub(crate) const PAYLOAD_OPEN_SESSION_REQUEST: u8 = 0x10;
pub(crate) const PAYLOAD_OPEN_SESSION_RESPONSE: u8 = 0x11;
pub(crate) const PAYLOAD_RAKP1: u8 = 0x12;
pub(crate) const PAYLOAD_RAKP2: u8 = 0x13;
pub(crate) const PAYLOAD_RAKP3: u8 = 0x14;
pub(crate) const PAYLOAD_RAKP4: u8 = 0x15;

const ENCRYPTED: u8 = 0x80;
const AUTHENTICATED: u8 = 0x40;
const NEXT_HEADER: u8 = 0x07;
/// HMAC-SHA1-96: the HMAC truncated to 12 bytes.
pub(crate) const INTEGRITY_LEN: usize = 12;

/// The session keys in force; both `None` before and outside a protected session.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionCrypto {
    /// K1, the HMAC-SHA1-96 integrity key (cipher suites 2 and 3).
    pub k1: Option<[u8; 20]>,
    /// First 16 bytes of K2, the AES-CBC-128 key (cipher suite 3).
    pub aes_key: Option<[u8; 16]>,
}

impl std::fmt::Debug for SessionCrypto {
    // Keys never go to logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCrypto")
            .field("integrity", &self.k1.is_some())
            .field("confidentiality", &self.aes_key.is_some())
            .finish()
    }
}

impl SessionCrypto {
    pub const NONE: SessionCrypto = SessionCrypto {
        k1: None,
        aes_key: None,
    };
}

/// Encodes a datagram; protection follows the keys present in `keys`, with a
/// fresh random IV per packet when encrypting.
pub fn encode(
    payload_type: u8,
    session_id: u32,
    seq: u32,
    payload: &[u8],
    keys: &SessionCrypto,
) -> Vec<u8> {
    encode_with_iv(
        payload_type,
        session_id,
        seq,
        payload,
        keys,
        crypto::random_bytes(),
    )
}

/// [`encode`] with a caller-chosen IV, so tests can produce fixed vectors.
pub(crate) fn encode_with_iv(
    payload_type: u8,
    session_id: u32,
    seq: u32,
    payload: &[u8],
    keys: &SessionCrypto,
    iv: [u8; 16],
) -> Vec<u8> {
    let body = match &keys.aes_key {
        Some(key) => {
            let n = (16 - (payload.len() + 1) % 16) % 16;
            let mut plain = payload.to_vec();
            plain.extend((1..=n as u8).collect::<Vec<u8>>());
            plain.push(n as u8);
            let enc = crypto::aes128_cbc_encrypt(key, &iv, &plain).expect("padded to whole blocks");
            let mut b = iv.to_vec();
            b.extend_from_slice(&enc);
            b
        }
        None => payload.to_vec(),
    };
    let mut flags = payload_type & 0x3F;
    if keys.aes_key.is_some() {
        flags |= ENCRYPTED;
    }
    if keys.k1.is_some() {
        flags |= AUTHENTICATED;
    }
    let mut p = rmcp::header(rmcp::CLASS_IPMI).to_vec();
    p.push(v15::AUTH_RMCP_PLUS);
    p.push(flags);
    p.extend_from_slice(&session_id.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    // Our payloads are IPMI messages and handshake records, well below 64 KiB.
    p.extend_from_slice(&(body.len() as u16).to_le_bytes());
    p.extend_from_slice(&body);
    if let Some(k1) = &keys.k1 {
        // Covered range starts at the auth-type byte (index 4, after RMCP) and must
        // end, after pad + pad_len + next_header, on a 4-byte boundary.
        let covered = p.len() - 4 + 2;
        let pad = (4 - covered % 4) % 4;
        p.extend(std::iter::repeat_n(0xFF, pad));
        p.push(pad as u8);
        p.push(NEXT_HEADER);
        let mac = crypto::hmac_sha1(k1, &[&p[4..]]);
        p.extend_from_slice(&mac[..INTEGRITY_LEN]);
    }
    p
}

/// A decoded (verified and decrypted) RMCP+ packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub payload_type: u8,
    pub encrypted: bool,
    pub authenticated: bool,
    pub session_id: u32,
    pub seq: u32,
    pub payload: Vec<u8>,
}

/// Decodes a datagram, verifying integrity and decrypting with `keys` where the
/// packet says it is protected.
pub fn decode(packet: &[u8], keys: &SessionCrypto) -> Result<Packet, WireError> {
    let (class, body) = rmcp::split(packet)?;
    if class != rmcp::CLASS_IPMI {
        return Err(WireError::invalid(format!(
            "RMCP class 0x{class:02x} where an IPMI message (0x07) was expected"
        )));
    }
    need("RMCP+ session header", body, 12)?;
    if body[0] & 0x0F != v15::AUTH_RMCP_PLUS {
        return Err(WireError::invalid(format!(
            "IPMI v1.5 packet (auth type {}) where an RMCP+ packet was expected",
            body[0] & 0x0F
        )));
    }
    let flags = body[1];
    let payload_type = flags & 0x3F;
    let encrypted = flags & ENCRYPTED != 0;
    let authenticated = flags & AUTHENTICATED != 0;
    if !matches!(
        payload_type,
        PAYLOAD_IPMI | PAYLOAD_OPEN_SESSION_REQUEST..=PAYLOAD_RAKP4
    ) {
        return Err(WireError::invalid(format!(
            "unsupported RMCP+ payload type 0x{payload_type:02x}"
        )));
    }
    let session_id = u32_le(&body[2..6]);
    let seq = u32_le(&body[6..10]);
    let len = u16::from_le_bytes([body[10], body[11]]) as usize;
    let payload_end = 12 + len;
    need("RMCP+ payload", body, payload_end)?;

    if authenticated {
        let Some(k1) = &keys.k1 else {
            return Err(WireError::invalid(
                "packet claims integrity protection, but this session has no integrity algorithm",
            ));
        };
        need(
            "RMCP+ integrity trailer",
            body,
            payload_end + 2 + INTEGRITY_LEN,
        )?;
        let (covered, mac) = body.split_at(body.len() - INTEGRITY_LEN);
        if covered.len() % 4 != 0 {
            return Err(WireError::invalid(format!(
                "integrity-protected range is {} bytes, not a multiple of 4",
                covered.len()
            )));
        }
        let pad_len = covered[covered.len() - 2] as usize;
        let next = covered[covered.len() - 1];
        if covered.len() - 2 - payload_end != pad_len {
            return Err(WireError::invalid(format!(
                "integrity pad length byte says {pad_len}, packet has {}",
                covered.len() - 2 - payload_end
            )));
        }
        if next != NEXT_HEADER {
            return Err(WireError::invalid(format!(
                "integrity trailer next-header byte 0x{next:02x}, expected 0x07"
            )));
        }
        let want = crypto::hmac_sha1(k1, &[covered]);
        if !crypto::ct_eq(&want[..INTEGRITY_LEN], mac) {
            return Err(WireError::invalid(
                "integrity check (HMAC-SHA1-96) failed: corrupted or forged packet, or wrong session keys",
            ));
        }
    } else if body.len() != payload_end {
        return Err(WireError::invalid(format!(
            "RMCP+ payload length field says {len}, packet carries {} bytes",
            body.len() - 12
        )));
    }

    let raw = &body[12..payload_end];
    let payload = if encrypted {
        let Some(key) = &keys.aes_key else {
            return Err(WireError::invalid(
                "packet claims to be encrypted, but this session has no confidentiality algorithm",
            ));
        };
        if raw.len() < 32 || raw.len() % 16 != 0 {
            return Err(WireError::invalid(format!(
                "AES-CBC-128 payload of {} bytes (needs IV plus whole 16-byte blocks)",
                raw.len()
            )));
        }
        let iv: [u8; 16] = raw[..16].try_into().expect("16 bytes");
        let plain = crypto::aes128_cbc_decrypt(key, &iv, &raw[16..]).expect("block aligned");
        let n = plain[plain.len() - 1] as usize;
        if n > 15 {
            return Err(WireError::invalid(format!(
                "confidentiality pad length {n} after decryption (max 15): wrong key or corrupted"
            )));
        }
        let data_len = plain.len() - 1 - n;
        let pad = &plain[data_len..plain.len() - 1];
        if pad.iter().enumerate().any(|(i, b)| *b as usize != i + 1) {
            return Err(WireError::invalid(
                "confidentiality pad bytes are not 1, 2, 3…: wrong key or corrupted",
            ));
        }
        plain[..data_len].to_vec()
    } else {
        raw.to_vec()
    };
    Ok(Packet {
        payload_type,
        encrypted,
        authenticated,
        session_id,
        seq,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionCrypto {
        SessionCrypto {
            k1: Some([0x11; 20]),
            aes_key: Some([0x22; 16]),
        }
    }

    #[test]
    fn plain_round_trip() {
        let p = encode(PAYLOAD_IPMI, 0x1234, 7, &[1, 2, 3], &SessionCrypto::NONE);
        assert_eq!(&p[..6], &[0x06, 0x00, 0xFF, 0x07, 0x06, 0x00]);
        assert_eq!(&p[6..10], &0x1234u32.to_le_bytes());
        assert_eq!(&p[14..16], &[3, 0]);
        let d = decode(&p, &SessionCrypto::NONE).unwrap();
        assert_eq!(d.payload, [1, 2, 3]);
        assert_eq!(
            (d.session_id, d.seq, d.encrypted, d.authenticated),
            (0x1234, 7, false, false)
        );
        let mut extra = p.clone();
        extra.push(0);
        assert!(decode(&extra, &SessionCrypto::NONE).is_err());
    }

    #[test]
    fn protected_round_trip_for_every_payload_length() {
        for len in 0..40 {
            let payload: Vec<u8> = (0..len as u8).collect();
            let p = encode(PAYLOAD_IPMI, 9, 10, &payload, &keys());
            assert_eq!(p[5], 0xC0, "encrypted and authenticated flags");
            assert_eq!((p.len() - 4 - INTEGRITY_LEN) % 4, 0);
            let d = decode(&p, &keys()).unwrap();
            assert_eq!(d.payload, payload);
            assert!(d.encrypted && d.authenticated);
        }
    }

    #[test]
    fn tampering_is_detected() {
        let p = encode(PAYLOAD_IPMI, 9, 10, b"hello", &keys());
        for i in 4..p.len() {
            let mut t = p.clone();
            t[i] ^= 0x01;
            assert!(
                decode(&t, &keys()).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        let other = SessionCrypto {
            k1: Some([0x12; 20]),
            aes_key: Some([0x22; 16]),
        };
        assert!(decode(&p, &other)
            .unwrap_err()
            .to_string()
            .contains("integrity"));
        assert!(decode(&p, &SessionCrypto::NONE).is_err());
    }

    #[test]
    fn wrong_aes_key_is_reported() {
        let k = SessionCrypto {
            k1: None,
            aes_key: Some([0x22; 16]),
        };
        let p = encode(PAYLOAD_IPMI, 9, 10, b"hello world", &k);
        let wrong = SessionCrypto {
            k1: None,
            aes_key: Some([0x23; 16]),
        };
        // A wrong key yields garbage padding (with overwhelming probability).
        assert!(decode(&p, &wrong).is_err());
        assert_eq!(decode(&p, &k).unwrap().payload, b"hello world");
    }

    #[test]
    fn encrypted_layout_matches_openssl_vector() {
        // Plaintext "IPMI" padded by IPMI rules: 49 50 4d 49 01 02 … 0b 0b, key 0x22*16,
        // IV 0x00..0x0f, encrypted with: openssl enc -aes-128-cbc -nopad -K 22… -iv 0001…0f
        let k = SessionCrypto {
            k1: None,
            aes_key: Some([0x22; 16]),
        };
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        let p = encode_with_iv(PAYLOAD_IPMI, 1, 1, b"IPMI", &k, iv);
        assert_eq!(&p[16..32], &iv);
        assert_eq!(super::super::hex(&p[32..48]), OPENSSL_VECTOR);
    }

    const OPENSSL_VECTOR: &str = "a8 47 3a fd 1f fc c3 c4 51 f8 3b e2 16 8e 59 ce";

    #[test]
    fn v15_packets_are_not_rmcp_plus() {
        let p = super::super::v15::encode(0, 0, 0, &[0; 16], &[0; 8]);
        assert!(decode(&p, &SessionCrypto::NONE)
            .unwrap_err()
            .to_string()
            .contains("v1.5"));
    }
}
