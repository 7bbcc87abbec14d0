//! Streaming frame decoder with header hunting (spec §3.2).
//!
//! Bytes arrive from the UART in arbitrary chunks, possibly with line noise in
//! between. The decoder discards everything up to a header byte, waits until the
//! declared length is complete, and then classifies the result the way the
//! original reader did, because retry behaviour depends on the class: a bad
//! checksum is a *checksum error*, a bad length or trailer a *data error*, and
//! "not enough bytes yet" is not an error at all (the caller's timeout decides).
//!
//! After an error only the header byte is consumed, so a real frame hidden
//! behind a false header is still found. Memory is bounded: at most one maximal
//! frame is ever waited for. The decoder has no clock: when the caller sees the
//! line go quiet in the middle of a frame, [`FrameDecoder::abandon_partial`]
//! turns the partial frame into a data error and rescans the bytes after its
//! header, which may hold the real frame (the header was noise).

use super::frame::{checksum, Frame, HEADER, MAX_FRAME_LEN, MIN_FRAME_LEN, TRAILER};

/// A frame that arrived complete but was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Length byte too small to hold the fixed fields.
    #[error("data error: length byte {0} is below the minimum of 9")]
    LengthTooSmall(u8),
    /// The frame did not end with 0x04.
    #[error("data error: trailer byte 0x{0:02x} instead of 0x04")]
    BadTrailer(u8),
    /// The sender went quiet before the declared length arrived.
    #[error("data error: the frame stopped after {have} of {want} bytes")]
    Truncated { have: usize, want: usize },
    /// The checksum did not match the bytes it covers.
    #[error("checksum error: frame carries 0x{received:02x}, bytes sum to 0x{computed:02x}")]
    Checksum { computed: u8, received: u8 },
}

impl DecodeError {
    /// Data errors and checksum errors are the two classes the retry logic sees.
    pub fn is_checksum(&self) -> bool {
        matches!(self, DecodeError::Checksum { .. })
    }
}

/// Incremental decoder; feed it with [`push`](Self::push), drain with
/// [`next_frame`](Self::next_frame).
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    junk: u64,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Forgets buffered bytes, as a serial flush does.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Bytes held that do not yet form a complete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True when a header has been seen and the rest of its frame is awaited.
    pub fn in_frame(&self) -> bool {
        self.buf.first() == Some(&HEADER)
    }

    /// Gives up on the partial frame being waited for, because the line went
    /// quiet: only its header byte is dropped, so a frame that starts inside
    /// it (behind a noise byte 0x01) is found by the next [`next_frame`](Self::next_frame).
    /// `None` when no frame was pending.
    pub fn abandon_partial(&mut self) -> Option<DecodeError> {
        if !self.in_frame() {
            return None;
        }
        let have = self.buf.len();
        // Without a length byte yet, the shortest frame is what was owed.
        let want = self
            .buf
            .get(1)
            .map_or(MIN_FRAME_LEN, |&len| len as usize + 3);
        self.buf.drain(..1);
        Some(DecodeError::Truncated { have, want })
    }

    /// Bytes skipped while hunting for a header since this decoder was made.
    pub fn junk_skipped(&self) -> u64 {
        self.junk
    }

    /// The next complete frame or error, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, DecodeError>> {
        match self.buf.iter().position(|&b| b == HEADER) {
            Some(0) => {}
            Some(n) => {
                self.junk += n as u64;
                self.buf.drain(..n);
            }
            None => {
                self.junk += self.buf.len() as u64;
                self.buf.clear();
                return None;
            }
        }
        let len = *self.buf.get(1)?;
        if len < 9 {
            self.buf.drain(..1);
            return Some(Err(DecodeError::LengthTooSmall(len)));
        }
        let total = len as usize + 3;
        debug_assert!(total <= MAX_FRAME_LEN);
        if self.buf.len() < total {
            return None;
        }
        let body = &self.buf[2..total - 2];
        let computed = checksum(body);
        let received = self.buf[total - 2];
        if computed != received {
            self.buf.drain(..1);
            return Some(Err(DecodeError::Checksum { computed, received }));
        }
        let trailer = self.buf[total - 1];
        if trailer != TRAILER {
            self.buf.drain(..1);
            return Some(Err(DecodeError::BadTrailer(trailer)));
        }
        let frame = Frame {
            sequence: body[0],
            device_type: body[1],
            board_id: u32::from_be_bytes([body[2], body[3], body[4], body[5]]),
            device_id: u16::from_be_bytes([body[6], body[7]]),
            data: body[8..].to_vec(),
        };
        self.buf.drain(..total);
        Some(Ok(frame))
    }
}

/// Decodes one complete buffer into frames and errors (test and tool helper).
pub fn decode_all(bytes: &[u8]) -> Vec<Result<Frame, DecodeError>> {
    let mut d = FrameDecoder::new();
    d.push(bytes);
    std::iter::from_fn(|| d.next_frame()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD_EXTRA: [u8; 14] = [
        0x01, 0x0B, 0x01, 0x9C, 0x01, 0x01, 0xFF, 0x1F, 0x20, 0x21, 0x22, 0x23, 0xBD, 0x04,
    ];

    #[test]
    fn spec_vector_4_good_packet_with_extra_data() {
        let out = decode_all(&GOOD_EXTRA);
        let f = out[0].clone().unwrap();
        assert_eq!(f.board_id, 0x0101_FF1F);
        assert_eq!(f.device_id, 0x2021);
        assert_eq!(f.data, vec![0x22, 0x23]);
        assert_eq!(f.device_type, 0x9C);
    }

    #[test]
    fn bad_trailer_is_a_data_error_and_bad_checksum_wins_over_it() {
        let mut bad_trailer = GOOD_EXTRA;
        bad_trailer[13] = 0x03;
        assert_eq!(
            decode_all(&bad_trailer)[0],
            Err(DecodeError::BadTrailer(0x03))
        );
        let mut bad_chk = GOOD_EXTRA;
        bad_chk[12] = 0xBE;
        assert!(decode_all(&bad_chk)[0].as_ref().unwrap_err().is_checksum());
        bad_chk[13] = 0x03;
        assert!(decode_all(&bad_chk)[0].as_ref().unwrap_err().is_checksum());
    }

    #[test]
    fn junk_before_a_frame_is_skipped() {
        let mut bytes = vec![0xFF, 0x00, 0x55, 0x04];
        bytes.extend_from_slice(&GOOD_EXTRA);
        let mut d = FrameDecoder::new();
        d.push(&bytes);
        assert!(d.next_frame().unwrap().is_ok());
        assert_eq!(d.junk_skipped(), 4);
        assert!(d.next_frame().is_none());
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let mut d = FrameDecoder::new();
        for (i, b) in GOOD_EXTRA.iter().enumerate() {
            let r = d.next_frame();
            assert!(r.is_none(), "frame complete too early at byte {i}");
            d.push(&[*b]);
        }
        assert!(d.next_frame().unwrap().is_ok());
    }

    #[test]
    fn false_header_then_real_frame_is_recovered_after_one_error() {
        // 0x01 with a small length claims a short frame; the error consumes only the header.
        let mut bytes = vec![0x01, 0x03];
        bytes.extend_from_slice(&GOOD_EXTRA);
        let out = decode_all(&bytes);
        assert_eq!(out[0], Err(DecodeError::LengthTooSmall(3)));
        assert!(out.last().unwrap().is_ok());
    }

    #[test]
    fn oversize_length_waits_instead_of_reading_past_a_frame() {
        let mut d = FrameDecoder::new();
        d.push(&[0x01, 0xFF, 0x00]);
        assert!(d.next_frame().is_none());
        assert!(d.in_frame());
    }

    #[test]
    fn abandoned_partial_frame_is_a_data_error_and_a_frame_behind_it_is_found() {
        // Noise 0x01 0xF0 claims a 243-byte frame that swallows the real one.
        let mut d = FrameDecoder::new();
        d.push(&[0x55, 0x01, 0xF0]);
        d.push(&GOOD_EXTRA);
        assert!(d.next_frame().is_none());
        let e = d.abandon_partial().unwrap();
        assert_eq!(
            e,
            DecodeError::Truncated {
                have: 16,
                want: 243
            }
        );
        assert!(!e.is_checksum());
        // 0xF0 is skipped as junk, then the real frame decodes.
        assert_eq!(d.next_frame().unwrap().unwrap().device_id, 0x2021);
        assert!(d.abandon_partial().is_none());
    }

    #[test]
    fn truncated_frame_is_abandoned_header_by_header() {
        let mut d = FrameDecoder::new();
        d.push(&[0x01]);
        assert_eq!(
            d.abandon_partial(),
            Some(DecodeError::Truncated { have: 1, want: 12 })
        );
        assert_eq!(d.buffered(), 0);
        // A cut frame whose body holds more 0x01 bytes (board 0x0101FF1F):
        // each false header is given up in turn, and nothing is decoded.
        d.push(&GOOD_EXTRA[..10]);
        let mut events = Vec::new();
        loop {
            while let Some(r) = d.next_frame() {
                events.push(r.map(|_| ()));
            }
            match d.abandon_partial() {
                Some(e) => events.push(Err(e)),
                None => break,
            }
        }
        assert_eq!(
            events,
            vec![
                Err(DecodeError::Truncated { have: 10, want: 14 }),
                Err(DecodeError::Truncated { have: 8, want: 159 }),
                Err(DecodeError::LengthTooSmall(1)),
                Err(DecodeError::Truncated { have: 5, want: 258 }),
            ]
        );
        assert_eq!(d.buffered(), 0);
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        (
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..=246),
        )
            .prop_map(|(sequence, device_type, board_id, device_id, data)| Frame {
                sequence,
                device_type,
                board_id,
                device_id,
                data,
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(f in arb_frame()) {
            let bytes = f.encode().unwrap();
            let out = decode_all(&bytes);
            prop_assert_eq!(out.len(), 1);
            prop_assert_eq!(out[0].clone().unwrap(), f);
        }

        #[test]
        fn round_trip_survives_leading_junk_without_headers(
            f in arb_frame(),
            junk in proptest::collection::vec(any::<u8>().prop_filter("no header", |b| *b != HEADER), 0..64),
        ) {
            let mut bytes = junk;
            bytes.extend(f.encode().unwrap());
            let out = decode_all(&bytes);
            prop_assert_eq!(out.len(), 1);
            prop_assert_eq!(out[0].clone().unwrap(), f);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_always_progress(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)
        ) {
            let mut d = FrameDecoder::new();
            let mut total = 0usize;
            for c in &chunks {
                total += c.len();
                d.push(c);
                // Each call either consumes at least one byte or asks for more.
                let mut steps = 0;
                while let Some(_r) = d.next_frame() {
                    steps += 1;
                    prop_assert!(steps <= total + 1, "decoder did not make progress");
                }
                prop_assert!(d.buffered() <= super::MAX_FRAME_LEN);
            }
        }
    }
}
