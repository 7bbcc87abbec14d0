//! The real register-port code (rppal's UART) on a pseudo-terminal: the
//! test holds the pty master and plays the modem's side of the wire.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use opendcre_hat::port::RegisterPort;

struct Pty {
    master: File,
    /// Held open so the slave side stays valid while the port reopens it.
    _slave: OwnedFd,
    path: PathBuf,
}

fn pty() -> Pty {
    let mut master = -1;
    let mut slave = -1;
    // SAFETY: openpty writes two fds into the provided ints; the name,
    // termios and winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just returned by openpty and are owned here.
    let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    use std::os::fd::AsRawFd;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
    Pty {
        master,
        _slave: slave,
        path,
    }
}

#[test]
fn command_goes_out_and_the_answer_comes_back() {
    let mut p = pty();
    let mut port = RegisterPort::open(&p.path, 19200).unwrap();
    port.write_all(&[0x0D]).unwrap();
    let mut got = [0u8; 1];
    p.master.read_exact(&mut got).unwrap();
    assert_eq!(got, [0x0D]);
    p.master.write_all(&[0x69]).unwrap();
    assert_eq!(
        port.read_up_to(1, Duration::from_secs(2)).unwrap(),
        vec![0x69]
    );
}

#[test]
fn write_sends_every_byte_in_order() {
    let mut p = pty();
    let mut port = RegisterPort::open(&p.path, 19200).unwrap();
    port.write_all(&[0x05, 0x69, 0x15, 0x29]).unwrap();
    let mut got = [0u8; 4];
    p.master.read_exact(&mut got).unwrap();
    assert_eq!(got, [0x05, 0x69, 0x15, 0x29]);
}

#[test]
fn silent_modem_ends_in_the_timeout_with_nothing() {
    let p = pty();
    let mut port = RegisterPort::open(&p.path, 19200).unwrap();
    let start = Instant::now();
    let got = port.read_up_to(1, Duration::from_millis(100)).unwrap();
    assert!(got.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[test]
fn partial_answer_is_returned_after_the_timeout() {
    let mut p = pty();
    let mut port = RegisterPort::open(&p.path, 19200).unwrap();
    p.master.write_all(&[0x29]).unwrap();
    let got = port.read_up_to(2, Duration::from_millis(100)).unwrap();
    assert_eq!(got, vec![0x29]);
}

#[test]
fn clear_input_discards_stale_bytes() {
    let mut p = pty();
    let mut port = RegisterPort::open(&p.path, 19200).unwrap();
    p.master.write_all(&[1, 2, 3]).unwrap();
    // Let the bytes cross the pty before discarding them.
    std::thread::sleep(Duration::from_millis(50));
    port.clear_input().unwrap();
    p.master.write_all(&[0x42]).unwrap();
    assert_eq!(
        port.read_up_to(1, Duration::from_secs(2)).unwrap(),
        vec![0x42]
    );
}

#[test]
fn missing_device_is_a_clear_error() {
    let err = match RegisterPort::open(std::path::Path::new("/dev/ttyNOPE0"), 19200) {
        Err(e) => e,
        Ok(_) => panic!("opened a device that does not exist"),
    };
    assert!(err.to_string().contains("/dev/ttyNOPE0"), "{err}");
}
