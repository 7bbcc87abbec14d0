//! HAT detection from a (fake) device tree.

use std::fs;
use std::path::Path;

use opendcre_hat::{detect, Detection, HatConfig, HatMode};

fn cfg_for(dt: &Path) -> HatConfig {
    HatConfig {
        device_tree: dt.to_path_buf(),
        ..HatConfig::default()
    }
}

/// Device-tree string properties are NUL-terminated, as the kernel exposes them.
fn write_prop(path: &Path, value: &str) {
    let mut bytes = value.as_bytes().to_vec();
    bytes.push(0);
    fs::write(path, bytes).unwrap();
}

fn fake_pi(with_hat: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_prop(&dir.path().join("model"), "Raspberry Pi 2 Model B Rev 1.1");
    if with_hat {
        let hat = dir.path().join("hat");
        fs::create_dir(&hat).unwrap();
        write_prop(&hat.join("product"), "OpenDCRE PLC HAT");
        write_prop(&hat.join("vendor"), "Vapor IO");
        write_prop(&hat.join("product_id"), "0x0001");
        write_prop(&hat.join("product_ver"), "0x0002");
        write_prop(&hat.join("uuid"), "1b2f0c3a-0000-4000-8000-000000000001");
    }
    dir
}

#[test]
fn no_device_tree_means_no_hat_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = detect(&cfg_for(&dir.path().join("nope")));
    assert!(!d.has_modem());
    match &d {
        Detection::Absent { reason } => assert!(reason.contains("not a Raspberry Pi"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(d.describe().contains("the bus runs without modem setup"));
}

#[test]
fn pi_without_hat_node_is_absent_and_names_the_board() {
    let dt = fake_pi(false);
    match detect(&cfg_for(dt.path())) {
        Detection::Absent { reason } => {
            assert!(reason.contains("no hat/ node"), "{reason}");
            assert!(
                reason.contains("Raspberry Pi 2 Model B Rev 1.1"),
                "{reason}"
            );
            assert!(reason.contains("enabled = \"on\""), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hat_node_is_read_without_the_trailing_nul() {
    let dt = fake_pi(true);
    match detect(&cfg_for(dt.path())) {
        Detection::Present(info) => {
            assert_eq!(info.product.as_deref(), Some("OpenDCRE PLC HAT"));
            assert_eq!(info.vendor.as_deref(), Some("Vapor IO"));
            assert_eq!(info.product_id.as_deref(), Some("0x0001"));
            assert_eq!(info.product_ver.as_deref(), Some("0x0002"));
            assert_eq!(
                info.board.as_deref(),
                Some("Raspberry Pi 2 Model B Rev 1.1")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn configured_product_must_match() {
    let dt = fake_pi(true);
    let mut cfg = cfg_for(dt.path());
    cfg.product = Some("OpenDCRE PLC HAT".into());
    assert!(detect(&cfg).has_modem());
    cfg.product = Some("Something else".into());
    match detect(&cfg) {
        Detection::Absent { reason } => {
            assert!(
                reason.contains("\"OpenDCRE PLC HAT\" by \"Vapor IO\""),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn on_and_off_override_the_device_tree() {
    let dt = fake_pi(false);
    let mut cfg = cfg_for(dt.path());
    cfg.enabled = HatMode::On;
    let d = detect(&cfg);
    assert!(d.has_modem());
    assert_eq!(
        d,
        Detection::Forced {
            board: Some("Raspberry Pi 2 Model B Rev 1.1".into())
        }
    );

    let dt = fake_pi(true);
    let mut cfg = cfg_for(dt.path());
    cfg.enabled = HatMode::Off;
    assert_eq!(detect(&cfg), Detection::Disabled);
    assert!(!Detection::Disabled.has_modem());
}

#[test]
fn detection_serialises_with_a_state_tag() {
    let v = serde_json::to_value(Detection::Absent { reason: "x".into() }).unwrap();
    assert_eq!(v, serde_json::json!({"state": "absent", "reason": "x"}));
    let dt = fake_pi(true);
    let v = serde_json::to_value(detect(&cfg_for(dt.path()))).unwrap();
    assert_eq!(v["state"], "present");
    assert_eq!(v["product"], "OpenDCRE PLC HAT");
}
