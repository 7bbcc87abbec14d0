//! Board-id flag bits and the scan-all id (spec §3.4).

/// Every board answers a `D` addressed with this bit.
pub const SCAN_ALL: u32 = 0x8000_0000;
/// Marks the IPMI bridge pseudo-board; never sent on the serial bus.
pub const IPMI: u32 = 0x4000_0000;
/// Set on a scan-all retry so boards pick new answer slots.
pub const SHUFFLE: u32 = 0x2000_0000;
/// "Scan state is good, persist it"; boards do not answer.
pub const SAVE: u32 = 0x1000_0000;
/// Default width of a board's answer slot in a scan-all, milliseconds.
pub const DEFAULT_TIME_SLICE_MS: u8 = 75;

/// Host id bytes from a 48-bit node number the way the original derived them:
/// the last four *decimal* digits, read pairwise as hex (spec §3.4, flaw 7).
/// Kept quirky on purpose so captures compare with the original server's.
pub fn host_id_from_node(node: u64) -> (u8, u8) {
    let text = node.to_string();
    let tail = &text[text.len().saturating_sub(4)..];
    let pair = |s: &str| u8::from_str_radix(s, 16).unwrap_or(0);
    match tail.len() {
        4 => (pair(&tail[..2]), pair(&tail[2..])),
        3 => (pair(&tail[..2]), pair(&tail[2..])),
        _ => (pair(tail), 0),
    }
}

/// `0x80000000 | id1 << 16 | id2 << 8 | time_slice`.
pub fn scan_all_id(host_id: (u8, u8), time_slice_ms: u8) -> u32 {
    SCAN_ALL | (host_id.0 as u32) << 16 | (host_id.1 as u32) << 8 | time_slice_ms as u32
}

/// `aa:bb:cc:dd:ee:ff` → 48-bit integer.
pub fn parse_mac(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u64, |acc, p| {
        Some(acc << 8 | u8::from_str_radix(p, 16).ok()? as u64)
    })
}

/// Board ids print as 8 lowercase hex digits.
pub fn fmt_board(id: u32) -> String {
    format!("{id:08x}")
}

/// Device ids print as 4 lowercase hex digits.
pub fn fmt_device(id: u16) -> String {
    format!("{id:04x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_mac() {
        let node = parse_mac("b8:27:eb:12:34:56").unwrap();
        assert_eq!(node, 202_481_587_074_134);
        assert_eq!(host_id_from_node(node), (0x41, 0x34));
        assert_eq!(scan_all_id((0x41, 0x34), 75), 0x8041_344B);
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_board(0xa), "0000000a");
        assert_eq!(fmt_device(0x1ff), "01ff");
        assert_eq!(parse_mac("zz:00:00:00:00:00"), None);
    }
}
