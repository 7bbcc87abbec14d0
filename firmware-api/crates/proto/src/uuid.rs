//! A UUID's sixteen bytes as RFC 9562 text: the node's own service UUID and
//! a BMC's System GUID are both written this way.

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case, bytes in the order
/// given (RFC 9562's: most significant first).
pub fn text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_of_8_4_4_4_12() {
        let mut b = [0u8; 16];
        for (i, x) in b.iter_mut().enumerate() {
            *x = u8::try_from(i * 17).unwrap();
        }
        assert_eq!(super::text(&b), "00112233-4455-6677-8899-aabbccddeeff");
    }
}
