//! The bring-up state machine against the simulated SIG60 (virtual time, so
//! the trace timestamps are exact and a 2-second wake timeout costs nothing).

use std::sync::Arc;
use std::time::Duration;

use opendcre_hat::sim::{Action, Fault, SimHat, SimOptions, VirtualClock};
use opendcre_hat::{
    bring_up, read_modem, shutdown, wake, HatConfig, HatError, Level, Line, RegisterError,
    Registers, Sleeper, Step,
};

fn sim(opts: SimOptions) -> (SimHat, Arc<VirtualClock>) {
    let clock = Arc::new(VirtualClock::new());
    (SimHat::new(clock.clone(), opts), clock)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn trace(hat: &SimHat) -> Vec<(Duration, Action)> {
    hat.trace().into_iter().map(|e| (e.at, e.action)).collect()
}

/// After any bring-up, successful or not, the modem must be in data mode with
/// nobody holding nSLEEP low and the UART free for the bus.
fn assert_left_clean(hat: &SimHat) {
    assert!(!hat.port_open(), "register UART left open");
    assert!(!hat.is_driven(Line::Cmd), "CMD still driven");
    assert_eq!(
        hat.level(Line::Cmd),
        Level::High,
        "modem left in command mode"
    );
    assert!(!hat.is_driven(Line::Sleep), "nSLEEP still driven");
    assert!(!hat.is_driven(Line::Select), "SELECT driven");
    assert!(hat.bus_bytes().is_empty(), "bytes leaked onto the bus");
}

#[test]
fn happy_path_follows_the_pin_protocol_with_exact_timing() {
    let (mut hat, clock) = sim(SimOptions::default());
    let cfg = HatConfig::default();
    let status = bring_up(&mut hat, &cfg, clock.as_ref()).expect("bring-up");

    use Action::*;
    use Level::{High, Low};
    let config = vec![0x05, 0x69, 0x15, 0x29];
    let expected: Vec<(Duration, Action)> = vec![
        // Idle state: CMD, nSLEEP, SELECT inputs; FREQ selects f1.
        (ms(0), Release(Line::Cmd)),
        (ms(0), Release(Line::Sleep)),
        (ms(0), Release(Line::Select)),
        (ms(0), Drive(Line::Freq, High)),
        // Wake: INH low → 1 ms pulse on nSLEEP, 1 ms settle, poll every 1 ms.
        (ms(0), Read(Line::Inh, Low)),
        (ms(0), Drive(Line::Sleep, Low)),
        (ms(1), Drive(Line::Sleep, High)),
        (ms(2), Read(Line::Inh, Low)),
        (ms(3), Read(Line::Inh, Low)),
        (ms(4), Read(Line::Inh, Low)),
        (ms(5), Read(Line::Inh, Low)),
        // The simulated modem raises INH 5 ms after the pulse ended.
        (ms(6), Read(Line::Inh, High)),
        // 150 ms for the wake-up message, then nSLEEP let go.
        (ms(156), Release(Line::Sleep)),
        (ms(156), OpenPort(19200)),
        // Two write windows: CMD low, 1 ms, write, 1 ms, CMD high, 1 ms.
        (ms(156), Drive(Line::Cmd, Low)),
        (ms(157), ClearInput(0)),
        (ms(157), Tx(config.clone())),
        (ms(158), Drive(Line::Cmd, High)),
        (ms(158), Release(Line::Cmd)),
        (ms(159), Drive(Line::Cmd, Low)),
        (ms(160), ClearInput(0)),
        (ms(160), Tx(config.clone())),
        (ms(161), Drive(Line::Cmd, High)),
        (ms(161), Release(Line::Cmd)),
        // Read-back window.
        (ms(162), Drive(Line::Cmd, Low)),
        (ms(163), ClearInput(0)),
        (ms(163), Tx(vec![0x0D])),
        (ms(163), Rx(vec![0x69])),
        (ms(163), Tx(vec![0x1D])),
        (ms(163), Rx(vec![0x29])),
        (ms(164), Drive(Line::Cmd, High)),
        (ms(164), Release(Line::Cmd)),
        (ms(165), ClosePort),
    ];
    assert_eq!(trace(&hat), expected);
    assert_eq!(hat.violations(), Vec::<String>::new());
    assert_eq!(
        hat.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
    assert!(hat.is_awake());
    assert_left_clean(&hat);
    assert!(
        hat.is_driven(Line::Freq),
        "FREQ keeps selecting the carrier"
    );

    assert!(status.wake.woke);
    assert_eq!(status.wake.pulses, 1);
    assert_eq!(status.wake.elapsed_ms, 156.0);
    assert_eq!(status.elapsed_ms, 165.0);
    assert_eq!(status.bus_baud, 115200);
    assert_eq!(
        status.written.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
    assert_eq!(
        status.read_back.plc_config,
        opendcre_hat::PlcConfig::opendcre_default()
    );
}

#[test]
fn awake_modem_gets_no_wake_pulse() {
    let (mut hat, clock) = sim(SimOptions {
        initially_awake: true,
        wum_duration: ms(0),
        ..SimOptions::default()
    });
    let status = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap();
    let t = trace(&hat);
    assert!(
        !t.iter()
            .any(|(_, a)| matches!(a, Action::Drive(Line::Sleep, _))),
        "nSLEEP touched although INH was high: {t:?}"
    );
    assert_eq!(t[4], (ms(0), Action::Read(Line::Inh, Level::High)));
    assert_eq!(t[5], (ms(0), Action::OpenPort(19200)));
    assert!(!status.wake.woke);
    assert_eq!(status.wake.pulses, 0);
    assert_eq!(status.elapsed_ms, 9.0, "three command windows of 3 ms");
    assert!(hat.violations().is_empty(), "{:?}", hat.violations());
    assert_left_clean(&hat);
}

#[test]
fn modem_that_never_wakes_fails_in_the_wake_step() {
    let (mut hat, clock) = sim(SimOptions {
        fault: Fault::NeverWake,
        ..SimOptions::default()
    });
    let err = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap_err();
    assert!(
        matches!(
            err,
            HatError::WakeTimeout {
                attempts: 2,
                timeout_ms: 1000
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.step(), Some(Step::Wake));
    let t = trace(&hat);
    let pulses = t
        .iter()
        .filter(|(_, a)| *a == Action::Drive(Line::Sleep, Level::Low))
        .count();
    assert_eq!(pulses, 2);
    assert!(!t
        .iter()
        .any(|(_, a)| matches!(a, Action::OpenPort(_) | Action::Tx(_))));
    // Two attempts: 1 ms pulse + 1 ms settle + 1000 ms of polling each.
    assert_eq!(clock.now(), ms(2 * 1002));
    assert_left_clean(&hat);
}

#[test]
fn slow_modem_wakes_on_the_second_pulse() {
    let (mut hat, clock) = sim(SimOptions {
        wake_latency: ms(1200),
        ..SimOptions::default()
    });
    let status = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap();
    assert_eq!(status.wake.pulses, 2);
    assert!(hat.violations().is_empty(), "{:?}", hat.violations());
}

#[test]
fn modem_that_never_answers_fails_in_the_read_step_within_the_timeout() {
    let (mut hat, clock) = sim(SimOptions {
        fault: Fault::NeverAnswer,
        ..SimOptions::default()
    });
    let err = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap_err();
    assert!(
        matches!(
            err,
            HatError::NoAnswer {
                step: Step::ReadRegisters,
                command: 0x0D,
                timeout_ms: 250
            }
        ),
        "{err:?}"
    );
    // 163 ms to the first read, 250 ms timeout, 1 + 1 ms to leave command mode.
    assert_eq!(clock.now(), ms(163 + 250 + 2));
    assert_left_clean(&hat);
}

#[test]
fn wrong_read_back_is_reported_with_both_values() {
    let (mut hat, clock) = sim(SimOptions {
        fault: Fault::CorruptReadBack(0x01),
        ..SimOptions::default()
    });
    let err = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap_err();
    match err {
        HatError::Verify { written, read } => {
            assert_eq!(
                written,
                Registers {
                    reg0: 0x69,
                    reg1: 0x29
                }
            );
            assert_eq!(
                read,
                Registers {
                    reg0: 0x69,
                    reg1: 0x28
                }
            );
        }
        other => panic!("expected Verify, got {other:?}"),
    }
    assert_left_clean(&hat);
}

#[test]
fn modem_that_ignores_writes_is_caught_by_the_read_back() {
    let (mut hat, clock) = sim(SimOptions {
        fault: Fault::IgnoreWrites,
        ..SimOptions::default()
    });
    let err = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap_err();
    assert!(
        matches!(
            err,
            HatError::Verify {
                read: Registers {
                    reg0: 0x70,
                    reg1: 0x00
                },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn writing_twice_survives_a_lost_first_write() {
    let opts = SimOptions {
        fault: Fault::DropFirstWrite,
        ..SimOptions::default()
    };
    let (mut hat, clock) = sim(opts.clone());
    bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).expect("two writes");
    assert_eq!(
        hat.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );

    let mut once = HatConfig::default();
    once.timing.config_writes = 1;
    let (mut hat, clock) = sim(opts);
    let err = bring_up(&mut hat, &once, clock.as_ref()).unwrap_err();
    assert!(matches!(err, HatError::Verify { .. }), "{err:?}");
}

#[test]
fn interference_flag_does_not_fail_verification() {
    let (mut hat, clock) = sim(SimOptions {
        interference_detected: true,
        ..SimOptions::default()
    });
    let status = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap();
    assert_eq!(status.read_back.reg0, 0xE9);
    assert!(status.read_back.plc_config.interference_detected);
}

#[test]
fn bus_chatter_before_command_mode_is_discarded() {
    let (mut hat, clock) = sim(SimOptions {
        chatter_on_open: vec![0x01, 0x0C, 0x00],
        ..SimOptions::default()
    });
    let status = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap();
    assert_eq!(
        status.read_back.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
    assert!(trace(&hat).contains(&(ms(157), Action::ClearInput(3))));
}

#[test]
fn invalid_frequency_configuration_touches_no_pin() {
    let (mut hat, clock) = sim(SimOptions::default());
    let mut cfg = HatConfig::default();
    cfg.modem.f0 = 10.5;
    cfg.modem.f1 = 5.5;
    let err = bring_up(&mut hat, &cfg, clock.as_ref()).unwrap_err();
    assert!(
        matches!(err, HatError::Register(RegisterError::NoSuchPair { .. })),
        "{err:?}"
    );
    assert!(hat.trace().is_empty());

    let mut cfg = HatConfig::default();
    cfg.modem.bit_rate = 9600; // not offered on the 10.5 MHz carrier
    let err = bring_up(&mut hat, &cfg, clock.as_ref()).unwrap_err();
    assert!(
        matches!(err, HatError::Register(RegisterError::BitRate { .. })),
        "{err:?}"
    );
    assert!(hat.trace().is_empty());
}

#[test]
fn other_carrier_and_rate_reach_the_modem_and_the_freq_line() {
    let (mut hat, clock) = sim(SimOptions::default());
    let mut cfg = HatConfig::default();
    cfg.modem.frequency_number = 0;
    cfg.modem.f0 = 4.5;
    cfg.modem.f1 = 6.0;
    cfg.modem.bit_rate = 9600;
    let status = bring_up(&mut hat, &cfg, clock.as_ref()).unwrap();
    assert_eq!(hat.level(Line::Freq), Level::Low);
    // reg0 0x68: default flags with frequency number 0; reg1: pair 5, rate 2.
    assert_eq!(
        hat.registers(),
        Registers {
            reg0: 0x68,
            reg1: 0x25
        }
    );
    assert_eq!(status.bus_baud, 9600);
}

#[test]
fn gpio_failure_names_the_step_and_still_leaves_data_mode() {
    let (mut hat, clock) = sim(SimOptions::default());
    hat.fail_drive(Line::Cmd, Level::Low);
    let err = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap_err();
    assert!(
        matches!(
            err,
            HatError::Io {
                step: Step::CommandMode,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("entering command mode"), "{err}");
    assert_left_clean(&hat);
}

// The simulated modem is only worth trusting if it rejects a sloppy host.
// These run the bring-up with timings the real modem would not accept.

#[test]
fn sim_rejects_register_access_during_the_wake_up_message() {
    let (mut hat, clock) = sim(SimOptions::default());
    let mut cfg = HatConfig::default();
    cfg.timing.post_wake_ms = 0;
    let err = bring_up(&mut hat, &cfg, clock.as_ref()).unwrap_err();
    assert!(matches!(err, HatError::NoAnswer { .. }), "{err:?}");
    let v = hat.violations();
    assert!(v.iter().any(|m| m.contains("wake-up message")), "{v:?}");
}

#[test]
fn sim_rejects_bytes_before_cmd_has_settled() {
    let (mut hat, clock) = sim(SimOptions::default());
    let mut cfg = HatConfig::default();
    cfg.timing.command_settle_ms = 0;
    assert!(bring_up(&mut hat, &cfg, clock.as_ref()).is_err());
    let v = hat.violations();
    assert!(v.iter().any(|m| m.contains("of CMD going low")), "{v:?}");
}

#[test]
fn sim_rejects_a_too_short_wake_pulse() {
    let (mut hat, clock) = sim(SimOptions {
        min_pulse: ms(2),
        ..SimOptions::default()
    });
    let err = bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap_err();
    assert!(matches!(err, HatError::WakeTimeout { .. }), "{err:?}");
    assert!(hat.violations().iter().any(|m| m.contains("shorter than")));
}

#[test]
fn sim_rejects_the_wrong_register_baud_rate() {
    let (mut hat, clock) = sim(SimOptions::default());
    let mut cfg = HatConfig::default();
    cfg.timing.register_baud = 38400;
    assert!(matches!(
        bring_up(&mut hat, &cfg, clock.as_ref()),
        Err(HatError::NoAnswer { .. })
    ));
    assert!(hat.violations().iter().any(|m| m.contains("38400 Bd")));
}

#[test]
fn wake_is_one_pin_read_when_awake() {
    let (mut hat, clock) = sim(SimOptions {
        initially_awake: true,
        ..SimOptions::default()
    });
    let report = wake(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap();
    assert!(!report.woke);
    assert_eq!(
        trace(&hat),
        vec![(ms(0), Action::Read(Line::Inh, Level::High))]
    );

    hat.fall_asleep();
    let report = wake(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap();
    assert!(report.woke);
    assert_eq!(report.pulses, 1);
    assert!(hat.is_awake());
}

#[test]
fn status_read_does_not_wake_a_sleeping_modem_unless_asked() {
    let (mut hat, clock) = sim(SimOptions::default());
    let cfg = HatConfig::default();
    let reading = read_modem(&mut hat, &cfg, clock.as_ref(), false).unwrap();
    assert!(!reading.awake);
    assert!(reading.registers.is_none());
    assert!(!trace(&hat)
        .iter()
        .any(|(_, a)| matches!(a, Action::Drive(Line::Sleep, _) | Action::Tx(_))));

    let reading = read_modem(&mut hat, &cfg, clock.as_ref(), true).unwrap();
    assert!(reading.awake);
    let regs = reading.registers.unwrap();
    assert_eq!(
        regs.registers(),
        Registers {
            reg0: 0x70,
            reg1: 0x00
        }
    );
    // Only reads went to the modem.
    let sent: Vec<Vec<u8>> = trace(&hat)
        .into_iter()
        .filter_map(|(_, a)| match a {
            Action::Tx(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![vec![0x0D], vec![0x1D]]);
    assert_eq!(
        hat.registers(),
        Registers {
            reg0: 0x70,
            reg1: 0x00
        }
    );
    assert!(hat.violations().is_empty(), "{:?}", hat.violations());
    assert_left_clean(&hat);
}

#[test]
fn shutdown_releases_every_line_and_the_uart() {
    let (mut hat, clock) = sim(SimOptions::default());
    bring_up(&mut hat, &HatConfig::default(), clock.as_ref()).unwrap();
    shutdown(&mut hat);
    for line in [Line::Cmd, Line::Freq, Line::Sleep, Line::Select] {
        assert!(!hat.is_driven(line), "{line} still driven");
    }
    assert!(!hat.port_open());
    assert!(hat.violations().is_empty());
}

#[test]
fn passive_status_reads_only_inh() {
    let (mut hat, _clock) = sim(SimOptions::default());
    let reading = opendcre_hat::read_awake(&mut hat).unwrap();
    assert!(!reading.awake && reading.registers.is_none());
    assert_eq!(
        trace(&hat),
        vec![(ms(0), Action::Read(Line::Inh, Level::Low))]
    );
}
