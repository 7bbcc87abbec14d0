//! The async HatService over the simulated modem: start, wake before bus
//! traffic, recovery after a failure, clean shutdown.

use std::sync::Arc;

use opendcre_hat::sim::{Action, Fault, SimHat, SimOptions, VirtualClock};
use opendcre_hat::{HatConfig, HatError, HatService, Level, Line, Registers};

fn service(opts: SimOptions) -> (HatService, SimHat) {
    let clock = Arc::new(VirtualClock::new());
    let hat = SimHat::new(clock.clone(), opts);
    let svc = HatService::with_io(Box::new(hat.clone()), HatConfig::default(), clock);
    (svc, hat)
}

#[tokio::test]
async fn bring_up_wake_recover_shutdown() {
    let (svc, hat) = service(SimOptions::default());
    assert!(svc.last_status().is_none());

    let status = svc.bring_up().await.unwrap();
    assert_eq!(status.bus_baud, 115200);
    assert_eq!(svc.last_status(), Some(status));

    // The modem dozes off on an idle bus (auto_sleep); the bus wakes it.
    hat.fall_asleep();
    hat.clear_trace();
    let report = svc.ensure_awake().await.unwrap();
    assert!(report.woke);
    assert!(hat.is_awake());
    let again = svc.ensure_awake().await.unwrap();
    assert!(!again.woke);

    // The modem loses its configuration and stops answering: recovery fails
    // with a reason, the lines are left in data mode, and a later recovery
    // succeeds once the modem behaves.
    hat.set_fault(Fault::NeverAnswer);
    let err = svc.recover().await.unwrap_err();
    assert!(matches!(err, HatError::NoAnswer { .. }), "{err:?}");
    assert_eq!(hat.level(Line::Cmd), Level::High);
    assert!(!hat.port_open());
    assert_eq!(svc.recoveries(), 1);

    hat.set_fault(Fault::None);
    let status = svc.recover().await.unwrap();
    assert_eq!(
        status.read_back.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
    assert_eq!(svc.recoveries(), 2);

    svc.shutdown().await.unwrap();
    for line in [Line::Cmd, Line::Freq, Line::Sleep, Line::Select] {
        assert!(!hat.is_driven(line), "{line} still driven after shutdown");
    }
    assert!(hat.violations().is_empty(), "{:?}", hat.violations());
}

#[tokio::test]
async fn status_read_through_the_service_only_reads() {
    let (svc, hat) = service(SimOptions {
        initially_awake: true,
        wum_duration: std::time::Duration::ZERO,
        ..SimOptions::default()
    });
    let reading = svc.read_modem(false).await.unwrap();
    let regs = reading.registers.expect("awake modem is read");
    assert_eq!(
        regs.registers(),
        Registers {
            reg0: 0x70,
            reg1: 0x00
        }
    );
    assert!(!hat
        .trace()
        .iter()
        .any(|e| matches!(&e.action, Action::Tx(b) if b[0] == 0x05 || b[0] == 0x15)));
}

#[tokio::test]
async fn concurrent_callers_are_serialised() {
    let (svc, hat) = service(SimOptions::default());
    let a = tokio::spawn({
        let svc = svc.clone();
        async move { svc.bring_up().await }
    });
    let b = tokio::spawn({
        let svc = svc.clone();
        async move { svc.ensure_awake().await }
    });
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    // Interleaved operations would have left CMD low mid-write or sent a
    // pulse during command mode; the simulated modem would complain.
    assert!(hat.violations().is_empty(), "{:?}", hat.violations());
}
