//! Failure modes: wrong password, unknown user, a silent BMC, a BMC answering
//! garbage, nothing listening. Each must end in a clear error (naming the BMC and
//! the step) within the configured bounds — never a hang, never a success.
//! The simulator cases need ipmi_sim; the fake-BMC cases run everywhere.

use crate::ipmi_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use ipmi_support::SimBmc;
use opendcre_ipmi::{AuthType, BmcConfig, IpmiBridge, IpmiError};
use opendcre_proto::PowerAction;

const TIMEOUT: Duration = Duration::from_millis(300);
const RETRIES: u32 = 2;

/// The longest a single failing step may take, plus generous scheduling slack
/// for a loaded CI machine. (This checks "bounded, no hang", not speed.)
fn bound() -> Duration {
    TIMEOUT * (RETRIES + 1) + Duration::from_millis(1500)
}

/// Runs a status request and returns its error, asserting it came within `limit`.
async fn status_error(cfg: BmcConfig, limit: Duration) -> IpmiError {
    let br = IpmiBridge::new(vec![cfg]);
    let start = Instant::now();
    let r = tokio::time::timeout(
        limit + Duration::from_secs(2),
        br.power(1, PowerAction::Status),
    )
    .await
    .expect("the bridge hung past its own bounds");
    let took = start.elapsed();
    let e = r.expect_err("expected an error");
    assert!(took <= limit, "error after {took:?}, bound {limit:?}: {e}");
    e
}

fn tuned(mut cfg: BmcConfig) -> BmcConfig {
    cfg.timeout = TIMEOUT;
    cfg.retries = RETRIES;
    cfg
}

#[tokio::test]
async fn wrong_password_lan() {
    let Some(sim) = SimBmc::start() else { return };
    for auth in [AuthType::Md5, AuthType::Password, AuthType::Md2] {
        let mut cfg = tuned(sim.lan(1, auth));
        cfg.password = "not-the-password".into();
        let e = status_error(cfg, bound()).await;
        // ipmi_sim, like most BMCs, drops an Activate Session with a bad auth code.
        assert!(matches!(e, IpmiError::Timeout { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains(&format!("127.0.0.1:{}", sim.port)), "{text}");
        assert!(text.contains("Activate Session"), "{text}");
        assert!(text.contains("check the password"), "{text}");
    }
    assert!(sim.power_file(), "nothing was switched");
}

#[tokio::test]
async fn wrong_password_lanplus() {
    let Some(sim) = SimBmc::start() else { return };
    for suite in 1..=3 {
        let mut cfg = tuned(sim.lanplus(1, suite));
        cfg.password = "not-the-password".into();
        let e = status_error(cfg, Duration::from_millis(1500)).await;
        assert!(matches!(e, IpmiError::Auth { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "IPMI BMC 127.0.0.1:{}: RMCP+ RAKP 1/2: authentication failed: wrong password: \
                 the BMC's RAKP 2 key-exchange auth code does not match the configured password",
                sim.port
            )
        );
    }
    // The failed attempts leave the account usable right away.
    let br = IpmiBridge::new(vec![sim.lanplus(1, 3)]);
    assert!(br.power(1, PowerAction::Status).await.unwrap().power_on);
}

/// Cipher suite 0 has no authentication algorithm: the BMC never checks the
/// password. This documents that (it is why suite 3 is the default).
#[tokio::test]
async fn cipher_suite_0_does_not_check_passwords() {
    let Some(sim) = SimBmc::start() else { return };
    let mut cfg = tuned(sim.lanplus(1, 0));
    cfg.password = "anything".into();
    let br = IpmiBridge::new(vec![cfg]);
    assert!(br.power(1, PowerAction::Status).await.is_ok());
}

#[tokio::test]
async fn unknown_user() {
    let Some(sim) = SimBmc::start() else { return };
    for mut cfg in [tuned(sim.lan(1, AuthType::Md5)), tuned(sim.lanplus(1, 3))] {
        cfg.username = "nobody".into();
        let e = status_error(cfg, Duration::from_millis(1500)).await;
        assert!(matches!(e, IpmiError::Auth { .. }), "{e}");
        assert!(
            e.to_string().contains("unknown user name \"nobody\""),
            "{e}"
        );
    }
}

/// A UDP socket that receives everything and answers nothing.
#[tokio::test]
async fn silent_bmc_times_out_with_the_step_named() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    for mut cfg in [
        BmcConfig::lan(1, "127.0.0.1", "ADMIN", "ADMIN", AuthType::Md5),
        BmcConfig::lanplus(1, "127.0.0.1", "ADMIN", "ADMIN", 3),
    ] {
        cfg.port = port;
        let e = status_error(tuned(cfg), bound()).await;
        assert_eq!(
            e.to_string(),
            format!(
                "IPMI BMC 127.0.0.1:{port}: Get Channel Authentication Capabilities: no reply after 3 attempt(s) of 300 ms each"
            )
        );
    }
    // All attempts reached the "BMC": 3 per request.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let mut n = 0;
    while silent.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    assert_eq!(n, 6);
}

/// Starts a fake BMC thread answering every datagram with `reply(request)`.
fn fake_bmc(reply: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        // The thread ends when the test process does.
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            for r in reply(&buf[..n]) {
                let _ = sock.send_to(&r, from);
            }
        }
    });
    port
}

fn random_bytes(len: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut v = vec![0u8; len];
    rand::rng().fill_bytes(&mut v);
    v
}

#[tokio::test]
async fn garbage_replies_give_a_protocol_error() {
    // Random bytes of random length, several per request.
    let port = fake_bmc(|_| (0..3).map(|i| random_bytes(1 + (i * 37) % 90)).collect());
    for mut cfg in [
        BmcConfig::lan(1, "127.0.0.1", "ADMIN", "ADMIN", AuthType::Md5),
        BmcConfig::lanplus(1, "127.0.0.1", "ADMIN", "ADMIN", 3),
    ] {
        cfg.port = port;
        let e = status_error(tuned(cfg), bound()).await;
        assert!(matches!(e, IpmiError::Protocol { .. }), "{e}");
        let text = e.to_string();
        assert!(text.starts_with(&format!(
            "IPMI BMC 127.0.0.1:{port}: Get Channel Authentication Capabilities: invalid reply: no acceptable reply in 3 attempt(s)"
        )), "{text}");
        assert!(text.contains("last datagram rejected because"), "{text}");
    }
}

/// Garbage that gets past the first checks: a valid RMCP + v1.5 session header
/// around a message with a corrupted checksum, an echo of the request, and a
/// reply to some other request sequence. None of it may be accepted.
#[tokio::test]
async fn plausible_but_wrong_replies_are_rejected() {
    use opendcre_ipmi::wire::{message, v15};
    let port = fake_bmc(|req| {
        let mut out = vec![req.to_vec()]; // an echo: a request where a response belongs
        if let Ok(p) = v15::decode(req) {
            if p.message.len() >= 7 {
                let rq_seq = p.message[4] >> 2;
                let netfn = (p.message[1] >> 2) | 1;
                let cmd = p.message[5];
                let data = [0x00, 0x01, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
                // A well-formed reply to a different request sequence.
                let mut m = vec![0x81, netfn << 2];
                m.push(message::checksum(&m));
                m.extend_from_slice(&[0x20, ((rq_seq + 1) & 0x3F) << 2, cmd]);
                m.extend_from_slice(&data);
                m.push(message::checksum(&m[3..]));
                out.push(v15::encode(0, 0, 0, &[0; 16], &m));
                // The right reply with a broken chk2.
                let mut bad = m.clone();
                bad[4] = rq_seq << 2;
                let last = bad.len() - 1;
                bad[last] = message::checksum(&bad[3..last]).wrapping_add(1);
                out.push(v15::encode(0, 0, 0, &[0; 16], &bad));
            }
        }
        out
    });
    let mut cfg = BmcConfig::lan(1, "127.0.0.1", "ADMIN", "ADMIN", AuthType::Md5);
    cfg.port = port;
    let e = status_error(tuned(cfg), bound()).await;
    assert!(matches!(e, IpmiError::Protocol { .. }), "{e}");
    assert!(
        e.to_string().contains("chk2"),
        "the last rejection was the bad checksum: {e}"
    );
}

#[tokio::test]
async fn nothing_listening_is_reported_at_once() {
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let mut cfg = BmcConfig::lan(1, "127.0.0.1", "ADMIN", "ADMIN", AuthType::Md5);
    cfg.port = port;
    let e = status_error(tuned(cfg), Duration::from_millis(1500)).await;
    assert!(
        e.to_string().contains("nothing listens on this UDP port"),
        "{e}"
    );
}

/// Asset info keeps working with the BMC down: config fields plus the reason.
#[tokio::test]
async fn asset_info_of_a_dead_bmc_reports_why() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut cfg = tuned(BmcConfig::lan(
        3,
        "127.0.0.1",
        "ADMIN",
        "ADMIN",
        AuthType::Md5,
    ));
    cfg.port = silent.local_addr().unwrap().port();
    cfg.asset_info = Some("rack 9".into());
    let br = IpmiBridge::new(vec![cfg]);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let info = opendcre_api::ipmi_board::IpmiBoard::new(br)
        .info(3, deadline)
        .await
        .unwrap();
    assert_eq!(info["asset_info"], "rack 9");
    assert!(info.get("fru").is_none());
    assert!(
        info["inventory_error"]
            .as_str()
            .unwrap()
            .contains("no reply"),
        "{info}"
    );
}

#[tokio::test]
async fn unknown_device_id() {
    let br = IpmiBridge::new(vec![]);
    let e = br.power(0x22, PowerAction::On).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "no BMC with device id 0022 is configured on IPMI board 40000000"
    );
}
