//! Sequence numbers (spec §3.10): start at 1, +1 per packet built, wrap with
//! `% 0xFF` so 255 never appears. Reproduced exactly because firmware and the
//! original test data were written against it.

/// Process-wide counter; owned by the bus actor, so no locking is needed.
#[derive(Debug, Clone)]
pub(crate) struct SequenceCounter {
    next: u8,
}

impl Default for SequenceCounter {
    fn default() -> Self {
        SequenceCounter { next: 1 }
    }
}

impl SequenceCounter {
    /// The sequence for the next packet.
    pub(crate) fn take(&mut self) -> u8 {
        let n = self.next;
        self.next = ((n as u16 + 1) % 0xFF) as u8;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_without_255() {
        let mut c = SequenceCounter::default();
        let seen: Vec<u8> = (0..300).map(|_| c.take()).collect();
        assert_eq!(seen[0], 1);
        assert_eq!(seen[253], 254);
        assert_eq!(seen[254], 0);
        assert_eq!(seen[255], 1);
        assert!(!seen.contains(&255));
    }
}
