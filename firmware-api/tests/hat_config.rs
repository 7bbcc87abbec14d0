//! The [hat] configuration table: defaults, parsing, validation.

use opendcre_hat::{HatConfig, HatError, HatMode, RegisterError};

#[test]
fn documented_example_is_exactly_the_defaults() {
    let text = include_str!("../config/hat-example.toml");
    assert_eq!(
        HatConfig::from_service_toml(text).unwrap(),
        HatConfig::default()
    );
}

#[test]
fn defaults_are_the_original_values_in_bcm_numbering() {
    let c = HatConfig::default();
    assert_eq!(c.enabled, HatMode::Auto);
    assert_eq!(c.uart.to_str(), Some("/dev/ttyAMA0"));
    // Physical pins 13, 19, 8, 10, 15, 11, 21 of the 40-pin header.
    let p = c.pins;
    assert_eq!(
        (p.cmd, p.freq, p.hdi, p.hdo, p.inh, p.sleep, p.select),
        (27, 10, 14, 15, 22, 17, 9)
    );
    let t = &c.timing;
    assert_eq!(
        (t.wake_pulse_ms, t.inh_poll_ms, t.inh_timeout_ms),
        (1, 1, 1000)
    );
    assert_eq!(
        (t.post_wake_ms, t.command_settle_ms, t.register_baud),
        (150, 1, 19200)
    );
    assert_eq!(t.config_writes, 2);
    let m = &c.modem;
    assert_eq!(
        (m.frequency_number, m.f0, m.f1, m.bit_rate),
        (1, 5.5, 10.5, 115200)
    );
    assert!(m.long_wum && m.auto_sleep && !m.auto_wum && !m.loopback_enabled);
}

#[test]
fn file_without_hat_table_uses_defaults_and_other_tables_are_ignored() {
    let text = "[server]\nlisten = [\"0.0.0.0:5000\"]\n[bus]\nbaud = 115200\n";
    assert_eq!(
        HatConfig::from_service_toml(text).unwrap(),
        HatConfig::default()
    );
}

#[test]
fn partial_table_overrides_only_what_it_names() {
    let text = r#"
[hat]
enabled = "on"
uart = "/dev/serial0"
[hat.modem]
frequency_number = 0
f0 = 4.5
f1 = 6.0
bit_rate = 9600
[hat.timing]
post_wake_ms = 200
"#;
    let c = HatConfig::from_service_toml(text).unwrap();
    assert_eq!(c.enabled, HatMode::On);
    assert_eq!(c.uart.to_str(), Some("/dev/serial0"));
    assert_eq!(c.modem.bit_rate, 9600);
    assert_eq!(c.timing.post_wake_ms, 200);
    assert_eq!(c.timing.inh_timeout_ms, 1000);
    assert_eq!(c.pins, HatConfig::default().pins);
}

fn config_error(text: &str) -> String {
    match HatConfig::from_service_toml(text) {
        Err(HatError::Config(msg)) => msg,
        other => panic!("expected a config error for {text:?}, got {other:?}"),
    }
}

#[test]
fn typos_and_bad_values_are_rejected_clearly() {
    assert!(config_error("[hat]\nenabeld = \"on\"\n").contains("unknown field `enabeld`"));
    assert!(config_error("[hat]\nenabled = \"yes\"\n").contains("unknown variant `yes`"));
    assert!(config_error("[hat.pins]\ncmd = 40\n").contains("BCM GPIO 0..=27"));
    assert!(config_error("[hat.pins]\ncmd = 300\n").contains("cmd"));
    assert!(config_error("[hat.pins]\nsleep = 27\n").contains("cmd and sleep are both GPIO 27"));
    assert!(config_error("[hat.pins]\nselect = 14\n").contains("hdi and select are both GPIO 14"));
    assert!(config_error("[hat.timing]\ninh_timeout_ms = 600000\n").contains("above the limit"));
    assert!(config_error("[hat.timing]\ninh_poll_ms = 0\n").contains("at least 1 ms"));
    assert!(config_error("[hat.timing]\nwake_attempts = 0\n").contains("wake_attempts"));
    assert!(config_error("[hat.timing]\nconfig_writes = 0\n").contains("config_writes"));
    assert!(config_error("[hat.timing]\nregister_baud = 12345\n").contains("register_baud"));
    assert!(config_error("[hat\n").contains("not valid TOML"));
}

#[test]
fn inexpressible_modem_settings_are_rejected_at_load() {
    match HatConfig::from_service_toml("[hat.modem]\nf0 = 6.0\nf1 = 6.5\n") {
        Err(HatError::Register(RegisterError::NoSuchPair { .. })) => {}
        other => panic!("{other:?}"),
    }
    match HatConfig::from_service_toml("[hat.modem]\nfrequency_number = 0\n") {
        Err(e @ HatError::Register(RegisterError::BitRate { .. })) => {
            assert!(
                e.to_string().starts_with("[hat.modem] bit_rate 115200"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opendcre.toml");
    std::fs::write(&path, "[hat.pins]\ncmd = 99\n").unwrap();
    match HatConfig::load(&path) {
        Err(HatError::Config(msg)) => {
            assert!(msg.starts_with(&path.display().to_string()), "{msg}");
            assert!(
                !msg.contains("invalid HAT configuration"),
                "doubled prefix: {msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        HatConfig::load(&dir.path().join("missing.toml")),
        Err(HatError::Config(_))
    ));
}
