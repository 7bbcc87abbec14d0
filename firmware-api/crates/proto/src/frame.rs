//! Packet framing (spec §3.2, §3.3).
//!
//! ```text
//! 0x01 | len | seq | type | board(4, BE) | device(2, BE) | data(n) | chk | 0x04
//! len = 9 + n = total - 3
//! ```

/// First byte of every frame.
pub const HEADER: u8 = 0x01;
/// Last byte of every frame.
pub const TRAILER: u8 = 0x04;
/// Bytes of a frame with an empty data field.
pub(crate) const MIN_FRAME_LEN: usize = 12;
/// The length byte counts 9 fixed bytes plus the data; it is one byte wide.
pub const MAX_DATA_LEN: usize = 255 - 9;
/// Largest possible frame on the wire.
pub const MAX_FRAME_LEN: usize = MAX_DATA_LEN + MIN_FRAME_LEN;

/// One packet of the device bus, request or response alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub sequence: u8,
    pub device_type: u8,
    pub board_id: u32,
    pub device_id: u16,
    pub data: Vec<u8>,
}

/// Why a frame could not be built: the protocol has no multi-packet messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payload of {0} bytes exceeds the {MAX_DATA_LEN}-byte frame limit")]
pub struct PayloadTooLong(pub usize);

impl Frame {
    /// Encodes the frame; fails only when the data cannot fit one frame.
    pub fn encode(&self) -> Result<Vec<u8>, PayloadTooLong> {
        if self.data.len() > MAX_DATA_LEN {
            return Err(PayloadTooLong(self.data.len()));
        }
        let mut out = Vec::with_capacity(MIN_FRAME_LEN + self.data.len());
        out.push(HEADER);
        out.push((9 + self.data.len()) as u8);
        out.push(self.sequence);
        out.push(self.device_type);
        out.extend_from_slice(&self.board_id.to_be_bytes());
        out.extend_from_slice(&self.device_id.to_be_bytes());
        out.extend_from_slice(&self.data);
        out.push(checksum(&out[2..]));
        out.push(TRAILER);
        Ok(out)
    }

    /// Number of bytes this frame occupies on the wire.
    pub fn wire_len(&self) -> usize {
        MIN_FRAME_LEN + self.data.len()
    }

    /// The data field as text, the way the original read it (bytes → Latin-1).
    pub fn data_text(&self) -> String {
        self.data.iter().map(|&b| b as char).collect()
    }

    /// The data field as the answer's text: UTF-8 when it is, else
    /// [`Frame::data_text`]'s Latin-1 (a board's answers are ASCII; a
    /// byte above 0x7F must still come out, not fail the request).
    pub fn answer_text(&self) -> String {
        String::from_utf8(self.data.clone()).unwrap_or_else(|_| self.data_text())
    }
}

/// Two's complement of the 8-bit sum of sequence … last data byte (spec §3.3).
pub fn checksum(body: &[u8]) -> u8 {
    let sum = body.iter().fold(0u8, |acc, &b| acc.wrapping_add(b));
    sum.wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector_1_unit_test_packet() {
        let f = Frame {
            sequence: 3,
            device_type: 0x40,
            board_id: 0x1234_5678,
            device_id: 0xAA05,
            data: vec![1, 2, 3],
        };
        assert_eq!(
            f.encode().unwrap(),
            vec![
                0x01, 0x0C, 0x03, 0x40, 0x12, 0x34, 0x56, 0x78, 0xAA, 0x05, 0x01, 0x02, 0x03, 0xF4,
                0x04
            ]
        );
    }

    #[test]
    fn spec_vector_2_read_request() {
        let f = Frame {
            sequence: 1,
            device_type: 0x9C,
            board_id: 1,
            device_id: 0x01FF,
            data: b"R".to_vec(),
        };
        assert_eq!(
            f.encode().unwrap(),
            vec![0x01, 0x0A, 0x01, 0x9C, 0, 0, 0, 1, 0x01, 0xFF, 0x52, 0x10, 0x04]
        );
    }

    #[test]
    fn spec_vector_3_read_response() {
        let f = Frame {
            sequence: 1,
            device_type: 0xFF,
            board_id: 0,
            device_id: 0xFFFF,
            data: b"656".to_vec(),
        };
        let bytes = f.encode().unwrap();
        assert_eq!(
            bytes,
            vec![0x01, 0x0C, 0x01, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0x36, 0x35, 0x36, 0x61, 0x04]
        );
        let f2 = Frame { sequence: 2, ..f };
        assert_eq!(f2.encode().unwrap()[13], 96);
    }

    #[test]
    fn longest_payload_fits_and_one_more_does_not() {
        let mut f = Frame {
            sequence: 1,
            device_type: 0xFF,
            board_id: 0,
            device_id: 0,
            data: vec![b'x'; MAX_DATA_LEN],
        };
        let bytes = f.encode().unwrap();
        assert_eq!(bytes.len(), MAX_FRAME_LEN);
        assert_eq!(bytes[1], 255);
        f.data.push(b'x');
        assert_eq!(f.encode(), Err(PayloadTooLong(MAX_DATA_LEN + 1)));
    }
}
