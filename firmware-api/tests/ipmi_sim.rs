//! The IPMI bridge against a real simulated BMC: OpenIPMI's `ipmi_sim`, one per
//! test on its own loopback port, with ipmitool as an independent cross-check of
//! the simulator's state. Skipped loudly if ipmi_sim is not installed (CI sets
//! OPENDCRE_REQUIRE_PEERS=1 so that a skip fails there; see auth_support/peers.rs).

use crate::ipmi_support;

use std::time::{Duration, Instant};

use ipmi_support::SimBmc;
use opendcre_api::ipmi_board::IpmiBoard;
use opendcre_ipmi::{AuthType, BmcConfig, ChassisControl, IpmiBridge, IpmiError, Privilege};
use opendcre_proto::PowerAction;

/// Exercises status/off/on/cycle, Get Device ID and the FRU with one config, and
/// checks each state change three ways: our reply, ipmitool, and the hook's file.
async fn full_exercise(sim: &SimBmc, cfg: BmcConfig) {
    let label = format!(
        "{:?}/{:?}/suite {}",
        cfg.interface, cfg.auth, cfg.cipher_suite
    );
    let br = IpmiBridge::new(vec![cfg]);

    let st = br
        .power(1, PowerAction::Status)
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    assert!(
        st.power_on && st.power_ok && !st.over_current,
        "{label}: {st:?}"
    );
    assert_eq!(st.power_status(), "on");

    let off = br.power(1, PowerAction::Off).await.unwrap();
    assert!(!off.power_on && off.settled, "{label}: {off:?}");
    assert!(
        !sim.ipmitool_power(),
        "{label}: ipmitool still sees power on"
    );
    assert!(!sim.power_file());

    let on = br.power(1, PowerAction::On).await.unwrap();
    assert!(on.power_on && on.settled, "{label}");
    assert!(sim.ipmitool_power(), "{label}: ipmitool sees power off");
    assert!(sim.power_file());

    let before = sim.calls();
    let cycled = br.power(1, PowerAction::Cycle).await.unwrap();
    assert!(cycled.power_on && cycled.settled, "{label}");
    let new_calls = sim.calls()[before.len()..].to_string();
    let sets: Vec<&str> = new_calls.lines().filter(|l| l.contains(" set ")).collect();
    assert_eq!(
        sets,
        ["0x20 set power 0", "0x20 set power 1"],
        "{label}: cycle is off then on"
    );
    assert!(sim.ipmitool_power());

    let dev = br.device_info(1).await.unwrap();
    assert_eq!(
        (dev.manufacturer_id, dev.product_id),
        (4753, 0x0f02),
        "{label}"
    );
    assert_eq!(
        (dev.firmware_revision.as_str(), dev.ipmi_version.as_str()),
        ("9.08", "2.0")
    );

    let asset = br.asset(1).await.unwrap();
    assert!(
        asset.inventory_error.is_none(),
        "{label}: {:?}",
        asset.inventory_error
    );
    let fru = asset.fru.expect("FRU");
    let product = fru.product.expect("product area");
    assert_eq!(product.asset_tag, "TAG-1");
    assert_eq!(product.serial_number, "PSN-0001");
    assert!(fru.warnings.is_empty(), "{:?}", fru.warnings);
}

#[tokio::test]
async fn lan_md5_full_exercise() {
    let Some(sim) = SimBmc::start() else { return };
    full_exercise(&sim, sim.lan(1, AuthType::Md5)).await;
}

#[tokio::test]
async fn lan_straight_password_full_exercise() {
    let Some(sim) = SimBmc::start() else { return };
    full_exercise(&sim, sim.lan(1, AuthType::Password)).await;
}

#[tokio::test]
async fn lan_no_auth_full_exercise() {
    let Some(sim) = SimBmc::start() else { return };
    full_exercise(&sim, sim.lan(1, AuthType::None)).await;
}

/// ipmitool in Debian cannot do MD2; ipmi_sim can (its own MD2 code in
/// libOpenIPMIutils), and it checks our MD2 auth codes and we check its.
#[tokio::test]
async fn lan_md2_full_exercise() {
    let Some(sim) = SimBmc::start() else { return };
    full_exercise(&sim, sim.lan(1, AuthType::Md2)).await;
}

#[tokio::test]
async fn lanplus_cipher_suite_3_full_exercise() {
    let Some(sim) = SimBmc::start() else { return };
    full_exercise(&sim, sim.lanplus(1, 3)).await;
}

#[tokio::test]
async fn lanplus_cipher_suites_0_to_2_full_exercise() {
    let Some(sim) = SimBmc::start() else { return };
    for suite in 0..=2 {
        full_exercise(&sim, sim.lanplus(1, suite)).await;
    }
}

#[tokio::test]
async fn our_status_follows_changes_made_by_ipmitool() {
    let Some(sim) = SimBmc::start() else { return };
    let br = IpmiBridge::new(vec![sim.lanplus(1, 3), sim.lan(2, AuthType::Md5)]);
    for (cmd, want) in [("off", false), ("on", true)] {
        let out = sim.ipmitool(&["chassis", "power", cmd]);
        assert!(out.status.success());
        for id in [1, 2] {
            assert_eq!(
                br.power(id, PowerAction::Status).await.unwrap().power_on,
                want
            );
        }
    }
}

#[tokio::test]
async fn power_on_from_off_and_status_json() {
    let Some(sim) = SimBmc::start_with_power(false) else {
        return;
    };
    let br = IpmiBridge::new(vec![sim.lan(7, AuthType::Md5)]);
    // The v1.1 answer is shaped by the API's IPMI board.
    let st = IpmiBoard::new(br.clone())
        .power(7, PowerAction::Status, far())
        .await
        .unwrap();
    assert_eq!(
        st,
        serde_json::json!({"pmbus_raw": 0, "power_status": "off", "power_ok": true, "over_current": false,
            "under_voltage": false, "input_power": 0, "input_voltage": 0, "output_current": 0})
    );
    assert_eq!(
        br.power(7, PowerAction::Status).await.unwrap().status.raw,
        [0x00, 0x00, 0x00],
        "ipmi_sim reports only the power bit"
    );
    assert!(br.power(7, PowerAction::On).await.unwrap().power_on);
    assert!(sim.ipmitool_power());
}

#[tokio::test]
async fn other_chassis_controls() {
    let Some(sim) = SimBmc::start() else { return };
    let br = IpmiBridge::new(vec![sim.lanplus(1, 3)]);

    let r = br.control(1, ChassisControl::HardReset).await.unwrap();
    assert!(r.power_on);
    assert_eq!(sim.counter("resets"), 1);

    let r = br.control(1, ChassisControl::SoftShutdown).await.unwrap();
    assert!(
        !r.power_on,
        "the hook's soft shutdown powers the chassis off"
    );
    assert_eq!(sim.counter("shutdowns"), 1);
    assert!(!sim.ipmitool_power());

    // The BMC's own power cycle: ipmi_sim powers off now and on again after 1 s.
    let r = br.control(1, ChassisControl::PowerCycle).await.unwrap();
    assert!(!r.power_on);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sim.power_file() {
        assert!(Instant::now() < deadline, "ipmi_sim never powered back on");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(br.power(1, PowerAction::Status).await.unwrap().power_on);

    let e = br
        .control(1, ChassisControl::PulseDiagnosticInterrupt)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IpmiError::CompletionCode { code: 0xCC, .. }),
        "{e}"
    );
}

#[tokio::test]
async fn operator_user_may_control_power() {
    let Some(sim) = SimBmc::start() else { return };
    for mut cfg in [sim.lan(1, AuthType::Md5), sim.lanplus(1, 3)] {
        cfg.username = "OPER".into();
        cfg.password = "OPERPW".into();
        cfg.privilege = Privilege::Operator;
        let br = IpmiBridge::new(vec![cfg]);
        assert!(!br.power(1, PowerAction::Off).await.unwrap().power_on);
        assert!(br.power(1, PowerAction::On).await.unwrap().power_on);
    }
}

/// Over v1.5 ipmi_sim enforces a user's privilege limit. (Over RMCP+ it grants
/// the requested level regardless — ipmitool sees the same — so that path cannot
/// be tested against it.)
#[tokio::test]
async fn privilege_limits_give_clear_errors() {
    let Some(sim) = SimBmc::start() else { return };
    let mut cfg = sim.lan(1, AuthType::Md5);
    cfg.username = "VIEWER".into();
    cfg.password = "VIEWPW".into();
    let br = IpmiBridge::new(vec![cfg.clone()]);
    let e = br.power(1, PowerAction::Status).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("Activate Session: authentication failed: requested privilege exceeds"),
        "{e}"
    );

    cfg.privilege = Privilege::User;
    let br = IpmiBridge::new(vec![cfg]);
    assert!(
        br.power(1, PowerAction::Status).await.unwrap().power_on,
        "user may read status"
    );
    let e = br.power(1, PowerAction::Off).await.unwrap_err();
    assert!(
        matches!(e, IpmiError::CompletionCode { code: 0xD4, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("insufficient privilege"), "{e}");
    assert!(sim.power_file(), "nothing was switched");
}

#[tokio::test]
async fn concurrent_operations_on_one_bmc_are_serialised_and_all_succeed() {
    let Some(sim) = SimBmc::start() else { return };
    let br = IpmiBridge::new(vec![sim.lanplus(1, 3)]);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let br = br.clone();
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                br.asset(1).await.map(|a| a.fru.is_some())
            } else {
                br.power(1, PowerAction::Status).await.map(|p| p.power_on)
            }
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap());
    }
}

#[tokio::test]
async fn a_dead_bmc_does_not_hold_up_a_live_one() {
    let Some(sim) = SimBmc::start() else { return };
    // Device 2: a UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut dead = sim.lan(2, AuthType::Md5);
    dead.port = silent.local_addr().unwrap().port();
    dead.timeout = Duration::from_millis(1500);
    let br = IpmiBridge::new(vec![sim.lan(1, AuthType::Md5), dead]);

    let slow = tokio::spawn({
        let br = br.clone();
        async move { br.power(2, PowerAction::Status).await }
    });
    let start = Instant::now();
    for _ in 0..3 {
        assert!(br.power(1, PowerAction::Status).await.unwrap().power_on);
    }
    let live = start.elapsed();
    assert!(!slow.is_finished(), "the dead BMC should still be retrying");
    assert!(live < Duration::from_millis(3000), "live BMC took {live:?}");
    assert!(matches!(
        slow.await.unwrap(),
        Err(IpmiError::Timeout { .. })
    ));
}

#[tokio::test]
async fn bmc_config_json_drives_the_bridge() {
    let Some(sim) = SimBmc::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bmc_config.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"bmcs": [{{"bmc_device_id": 17, "bmc_ip": "127.0.0.1", "bmc_port": {}, "username": "ADMIN",
                "password": "ADMIN", "auth_type": "MD5", "asset_info": "example BMC"}}]}}"#,
            sim.port
        ),
    )
    .unwrap();
    let bmcs = opendcre_ipmi::load_bmc_config_json(&path).unwrap();
    let br = IpmiBridge::new(bmcs);
    let board = IpmiBoard::new(br.clone());
    assert_eq!(board.record()["devices"][0]["device_id"], "0011");
    assert!(br.power(17, PowerAction::Status).await.unwrap().power_on);
    let info = board.info(17, far()).await.unwrap();
    assert_eq!(info["asset_info"], "example BMC");
    assert_eq!(info["bmc_ip"], "127.0.0.1");
    assert_eq!(info["device_id"], "0011");
    assert_eq!(info["fru"]["board"]["manufacturer"], "Vapor IO");
}

#[tokio::test]
async fn rmcp_ping_answers() {
    let Some(sim) = SimBmc::start() else { return };
    let br = IpmiBridge::new(vec![sim.lan(1, AuthType::None)]);
    let pong = br.ping(1).await.unwrap();
    assert!(pong.ipmi_supported);
}

/// The FRU as ipmitool decodes it must match ours field by field.
#[tokio::test]
async fn fru_matches_ipmitool() {
    let Some(sim) = SimBmc::start() else { return };
    let out = sim.ipmitool(&["fru", "print", "0"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| -> String {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_once(" : "))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| panic!("ipmitool printed no {name}: {text}"))
    };
    let br = IpmiBridge::new(vec![sim.lan(1, AuthType::Md5)]);
    let fru = br.asset(1).await.unwrap().fru.unwrap();
    let (c, b, p) = (
        fru.chassis.unwrap(),
        fru.board.unwrap(),
        fru.product.unwrap(),
    );
    assert_eq!(c.chassis_type_name, field("Chassis Type"));
    assert_eq!(c.part_number, field("Chassis Part Number"));
    assert_eq!(c.serial_number, field("Chassis Serial"));
    assert_eq!(b.manufacturer, field("Board Mfg  "));
    assert_eq!(b.product_name, field("Board Product"));
    assert_eq!(b.serial_number, field("Board Serial"));
    assert_eq!(b.part_number, field("Board Part Number"));
    assert_eq!(p.product_name, field("Product Name"));
    assert_eq!(p.version, field("Product Version"));
    assert_eq!(p.asset_tag, field("Product Asset Tag"));
}

/// A deadline far enough away that the bridge's own timeouts decide.
fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(120)
}

/// Requests that come together share one SDR walk, and a walk is served
/// again for 2 s: a client's `$expand` of a BMC's sensors costs one walk.
#[tokio::test]
async fn sensor_readings_are_shared_for_a_moment() {
    let Some(sim) = SimBmc::start() else { return };
    let br = IpmiBridge::new(vec![sim.lanplus(1, 3)]);
    let (a, b, c) = tokio::join!(br.sensors(1), br.sensors(1), br.sensors(1));
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert!(!a.is_empty());
    assert!(
        std::sync::Arc::ptr_eq(&a, &b) && std::sync::Arc::ptr_eq(&a, &c),
        "one walk for the three"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = br.sensors(1).await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &later), "read again after 2 s");
    assert_eq!(*a, *later, "ipmi_sim's readings are constant");
}
