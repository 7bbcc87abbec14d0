//! The set-in-progress lock of Set System Boot Options (IPMI v2.0 §28.12)
//! around a boot-flags write, against a scripted BMC: ipmi_sim does not
//! implement parameter 0 (it answers 0xCC), so the lock's paths are driven
//! here by a small v1.5 BMC (auth type none) that speaks the session
//! handshake and the two boot-option commands and records every Set it
//! gets. The ipmi_sim side (no lock: the write alone) is in redfish_boot.

use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opendcre_ipmi::wire::{message, v15};
use opendcre_ipmi::{AuthType, BmcConfig, BootChange, BootDevice, IpmiBridge, IpmiError};

/// How the scripted BMC answers the Set System Boot Options it gets.
#[derive(Clone, Copy)]
struct Script {
    /// Completion code for "set in progress" (parameter 0 = 1).
    lock_cc: u8,
    /// Completion code for the boot-flags write (parameter 5).
    write_cc: u8,
    /// Answer Get parameter 5 with too few bytes.
    short_get: bool,
}

struct FakeBmc {
    port: u16,
    /// The data of every Set System Boot Options, in order.
    sets: Arc<Mutex<Vec<Vec<u8>>>>,
}

const SESSION: u32 = 0x1122_3344;

fn reply(req: &[u8], cc: u8, data: &[u8]) -> Vec<u8> {
    // Request: rsAddr, netFn/lun, chk1, rqAddr, rqSeq/lun, cmd, data…, chk2.
    let mut m = vec![
        req[3],
        (((req[1] >> 2) | 1) << 2),
        0,
        req[0],
        req[4],
        req[5],
        cc,
    ];
    m[2] = message::checksum(&m[0..2]);
    m.extend_from_slice(data);
    let chk2 = message::checksum(&m[3..]);
    m.push(chk2);
    m
}

fn start(script: Script) -> FakeBmc {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let sets = Arc::new(Mutex::new(Vec::new()));
    let log = sets.clone();
    std::thread::spawn(move || {
        let mut flags = [0x00u8, 0x08, 0, 0, 0];
        let mut out_seq: u32 = 1;
        let mut buf = [0u8; 1024];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                return;
            };
            let Ok(p) = v15::decode(&buf[..n]) else {
                continue;
            };
            let req = p.message.to_vec();
            let (netfn, cmd, data) = (req[1] >> 2, req[5], &req[6..req.len() - 1]);
            let (cc, body): (u8, Vec<u8>) = match (netfn, cmd) {
                // Get Channel Authentication Capabilities: auth type none only.
                (0x06, 0x38) => (0, vec![1, 0x01, 0x10, 0, 0, 0, 0, 0]),
                // Get Session Challenge: temporary id, challenge.
                (0x06, 0x39) => {
                    let mut d = 0x0505_0505u32.to_le_bytes().to_vec();
                    d.extend_from_slice(&[7; 16]);
                    (0, d)
                }
                // Activate Session: auth none, session id, inbound seq, admin.
                (0x06, 0x3A) => {
                    let mut d = vec![0];
                    d.extend_from_slice(&SESSION.to_le_bytes());
                    d.extend_from_slice(&1u32.to_le_bytes());
                    d.push(4);
                    (0, d)
                }
                (0x06, 0x3B) => (0, vec![data[0] & 0x0F]),
                (0x06, 0x3C) => (0, vec![]),
                // Get System Boot Options.
                (0x00, 0x09) if script.short_get => (0, vec![1, 5, flags[0]]),
                (0x00, 0x09) => {
                    let mut d = vec![1, data[0] & 0x7F];
                    d.extend_from_slice(&flags);
                    (0, d)
                }
                // Set System Boot Options.
                (0x00, 0x08) => {
                    log.lock().unwrap().push(data.to_vec());
                    match data {
                        [0, 1] => (script.lock_cc, vec![]),
                        [0, _] => (0, vec![]),
                        [5, f @ ..] if f.len() == 5 => {
                            if script.write_cc == 0 {
                                flags.copy_from_slice(f);
                            }
                            (script.write_cc, vec![])
                        }
                        _ => (0xCC, vec![]),
                    }
                }
                _ => (0xC1, vec![]),
            };
            let msg = reply(&req, cc, &body);
            let (seq, sid) = if p.session_id == SESSION {
                out_seq += 1;
                (out_seq, SESSION)
            } else {
                (0, p.session_id)
            };
            let _ = sock.send_to(&v15::encode(0, seq, sid, &[0; 16], &msg), peer);
        }
    });
    FakeBmc { port, sets }
}

fn bridge(port: u16) -> IpmiBridge {
    let mut cfg = BmcConfig::lan(1, "127.0.0.1", "ADMIN", "ADMIN", AuthType::None);
    cfg.port = port;
    cfg.timeout = Duration::from_millis(300);
    cfg.retries = 1;
    IpmiBridge::new(vec![cfg])
}

const PXE_ONCE: BootChange = BootChange {
    device: Some(BootDevice::Pxe),
    enabled: Some((true, false)),
    efi: None,
};

fn sets(b: &FakeBmc) -> Vec<Vec<u8>> {
    b.sets.lock().unwrap().clone()
}

#[tokio::test]
async fn the_write_is_inside_the_lock_and_the_lock_is_released() {
    let b = start(Script {
        lock_cc: 0,
        write_cc: 0,
        short_get: false,
    });
    let f = bridge(b.port).set_boot_flags(1, PXE_ONCE).await.unwrap();
    assert!(f.valid && !f.persistent);
    assert_eq!(f.device, BootDevice::Pxe);
    assert_eq!(
        sets(&b),
        [
            vec![0, 1],
            vec![5, 0x80, 0x04, 0, 0, 0],
            vec![0, 2],
            vec![0, 0]
        ],
        "set in progress, write, commit write, set complete"
    );
    let read = bridge(b.port).boot_flags(1).await.unwrap();
    assert_eq!(read, f, "the BMC keeps what was written");
}

#[tokio::test]
async fn a_bmc_without_the_lock_gets_the_write_alone() {
    for cc in [0x80, 0xC1, 0xCC] {
        let b = start(Script {
            lock_cc: cc,
            write_cc: 0,
            short_get: false,
        });
        bridge(b.port).set_boot_flags(1, PXE_ONCE).await.unwrap();
        assert_eq!(
            sets(&b),
            [vec![0, 1], vec![5, 0x80, 0x04, 0, 0, 0]],
            "cc {cc:#x}"
        );
    }
}

#[tokio::test]
async fn another_consoles_set_in_progress_means_nothing_is_written() {
    let b = start(Script {
        lock_cc: 0x81,
        write_cc: 0,
        short_get: false,
    });
    let e = bridge(b.port)
        .set_boot_flags(1, PXE_ONCE)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IpmiError::CompletionCode { code: 0x81, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("another client"), "{e}");
    assert_eq!(sets(&b), [vec![0, 1]]);
}

#[tokio::test]
async fn a_failed_write_or_a_malformed_read_still_ends_the_lock() {
    let b = start(Script {
        lock_cc: 0,
        write_cc: 0xD5,
        short_get: false,
    });
    let e = bridge(b.port)
        .set_boot_flags(1, PXE_ONCE)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IpmiError::CompletionCode { code: 0xD5, .. }),
        "{e}"
    );
    assert_eq!(
        sets(&b).last().unwrap(),
        &vec![0, 0],
        "set complete after the failure"
    );

    let b = start(Script {
        lock_cc: 0,
        write_cc: 0,
        short_get: true,
    });
    let e = bridge(b.port)
        .set_boot_flags(1, PXE_ONCE)
        .await
        .unwrap_err();
    assert!(matches!(e, IpmiError::Protocol { .. }), "{e}");
    assert!(e.to_string().contains("expected 5"), "{e}");
    assert_eq!(
        sets(&b),
        [vec![0, 1], vec![0, 2], vec![0, 0]],
        "nothing written from a reply it could not read"
    );
    let e = bridge(b.port).boot_flags(1).await.unwrap_err();
    assert!(matches!(e, IpmiError::Protocol { .. }), "{e}");
}
