//! The service's `UUID` (service root, and the manager's `UUID` and
//! `ServiceEntryPointUUID`): stable across restarts and reboots, different
//! per node, and not the machine id itself, which systemd says must not be
//! exposed (the service root is public). Derived as systemd's
//! `sd_id128_get_machine_app_specific` does in spirit: a keyed hash of the
//! machine id, formatted as an RFC 9562 version-8 (custom) UUID.

use sha2::{Digest, Sha256};

/// What makes this UUID this service's and no other program's.
const APP_KEY: &[u8] = b"opendcre-redfish-service-v1";

/// The UUID for a machine id as `/etc/machine-id` holds it (32 hex digits
/// and a newline); `None` for anything else (no machine id, an empty one
/// of a first boot that has not run yet).
pub fn service_uuid(machine_id: &str) -> Option<String> {
    let id = machine_id.trim();
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || id.bytes().all(|b| b == b'0')
    {
        return None;
    }
    let mut h = Sha256::new();
    h.update(APP_KEY);
    h.update(id.to_ascii_lowercase().as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8
    b[8] = (b[8] & 0x3f) | 0x80; // variant RFC 9562
    Some(opendcre_proto::uuid::text(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_machine_and_not_the_machine_id() {
        let a = service_uuid("0123456789abcdef0123456789abcdef\n").unwrap();
        assert_eq!(a, service_uuid("0123456789ABCDEF0123456789ABCDEF").unwrap());
        assert_ne!(a, service_uuid("1123456789abcdef0123456789abcdef").unwrap());
        assert!(!a.replace('-', "").contains("0123456789abcdef"));
        // 8-4-4-4-12, version 8, RFC 9562 variant (Redfish's UUID pattern).
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn no_uuid_without_a_machine_id() {
        for bad in [
            "",
            "\n",
            "uninitialized\n",
            "00000000000000000000000000000000",
            "0123",
        ] {
            assert_eq!(service_uuid(bad), None, "{bad:?}");
        }
    }
}
