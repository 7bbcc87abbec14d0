//! The emulator on a real pty, driven through tokio-serial the way the bus
//! layer drives hardware: write a request frame, read until the line is quiet.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opendcre_emulator::pty::Pty;
use opendcre_emulator::{serve_port, spawn_pty, EmulatorConfig, RunOptions};
use opendcre_proto::decoder::decode_all;
use opendcre_proto::{DecodeError, Frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_serial::{SerialPort, SerialPortBuilderExt, SerialStream};

/// The original server's end-of-answer rule: 250 ms without a byte.
const QUIET: Duration = Duration::from_millis(250);

fn config(name: &str) -> EmulatorConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("emulator-configs")
        .join(name);
    EmulatorConfig::load(&path).unwrap()
}

fn open(path: &Path) -> SerialStream {
    tokio_serial::new(path.to_string_lossy(), 115_200)
        .open_native_async()
        .unwrap()
}

fn request(seq: u8, ty: u8, board: u32, dev: u16, data: &[u8]) -> Vec<u8> {
    Frame {
        sequence: seq,
        device_type: ty,
        board_id: board,
        device_id: dev,
        data: data.to_vec(),
    }
    .encode()
    .unwrap()
}

/// Reads until `quiet` passes without a byte.
async fn read_quiet<R: AsyncRead + Unpin>(r: &mut R, quiet: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match timeout(quiet, r.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("read failed: {e}"),
        }
    }
}

async fn transact(port: &mut SerialStream, req: &[u8]) -> Vec<Result<Frame, DecodeError>> {
    port.write_all(req).await.unwrap();
    decode_all(&read_quiet(port, QUIET).await)
}

async fn texts(port: &mut SerialStream, req: &[u8]) -> Vec<String> {
    transact(port, req)
        .await
        .into_iter()
        .map(|r| r.expect("valid frame").data_text())
        .collect()
}

#[tokio::test]
async fn scan_read_version_power_and_asset_over_a_pty() {
    let (path, task) = spawn_pty(config("simple.json"), RunOptions::default())
        .await
        .unwrap();
    let mut port = open(&path);

    let scan = transact(&mut port, &request(1, 0xFF, 1, 0xFFFF, b"D")).await;
    let devices: Vec<(u16, u8)> = scan
        .iter()
        .map(|r| {
            let f = r.as_ref().unwrap();
            assert_eq!((f.board_id, f.sequence), (1, 1));
            (f.device_id, f.data[0])
        })
        .collect();
    assert_eq!(devices.len(), 13);
    assert_eq!(devices[0], (0x01ff, 0x9C));
    assert_eq!(devices[1], (0x02ff, 0xFF));
    assert_eq!(devices[12], (0x0dff, 0x40));

    for (seq, want) in [(2, "656"), (3, "646"), (4, "636")] {
        let got = transact(&mut port, &request(seq, 0x9C, 1, 0x01ff, b"R")).await;
        let f = got[0].as_ref().unwrap();
        assert_eq!((f.data_text().as_str(), f.sequence), (want, seq));
    }
    assert_eq!(
        texts(&mut port, &request(5, 0xFF, 1, 0xFFFF, b"V")).await,
        ["OpenDCRE Emulator v1.1.0"]
    );
    assert_eq!(
        texts(&mut port, &request(6, 0x40, 1, 0x0dff, b"P?")).await,
        ["0,0,0,0"]
    );
    assert_eq!(
        texts(&mut port, &request(7, 0x40, 1, 0x0dff, b"WIrack 9")).await,
        ["rack 9"]
    );
    assert_eq!(
        texts(&mut port, &request(8, 0x40, 1, 0x0dff, b"RI")).await,
        ["rack 9"]
    );
    // `none` devices with empty response lists and unknown boards are silent.
    assert!(transact(&mut port, &request(9, 0xFF, 1, 0x02ff, b"R"))
        .await
        .is_empty());
    assert!(transact(&mut port, &request(10, 0xFF, 7, 0xFFFF, b"V"))
        .await
        .is_empty());
    task.abort();
}

#[tokio::test]
async fn silent_devices_bad_packets_and_retry() {
    let (path, task) = spawn_pty(config("faults.json"), RunOptions::default())
        .await
        .unwrap();
    let mut port = open(&path);
    // 01ff answers twice, then goes silent for good.
    assert_eq!(
        texts(&mut port, &request(1, 0x9C, 1, 0x01ff, b"R")).await,
        ["656"]
    );
    assert_eq!(
        texts(&mut port, &request(2, 0x9C, 1, 0x01ff, b"R")).await,
        ["646"]
    );
    for seq in 3..5 {
        let started = Instant::now();
        assert!(transact(&mut port, &request(seq, 0x9C, 1, 0x01ff, b"R"))
            .await
            .is_empty());
        assert!(started.elapsed() >= QUIET);
    }
    // 02ff: every second read times out.
    assert_eq!(
        texts(&mut port, &request(5, 0x9C, 1, 0x02ff, b"R")).await,
        ["656"]
    );
    assert!(transact(&mut port, &request(6, 0x9C, 1, 0x02ff, b"R"))
        .await
        .is_empty());
    assert_eq!(
        texts(&mut port, &request(7, 0x9C, 1, 0x02ff, b"R")).await,
        ["656"]
    );
    // 03ff: bad checksum, then a `?` retry with a new sequence gets a valid answer.
    let bad = transact(&mut port, &request(8, 0x9C, 1, 0x03ff, b"R")).await;
    assert!(bad[0].as_ref().unwrap_err().is_checksum());
    let good = transact(&mut port, &request(9, 0x9C, 1, 0x03ff, b"?")).await;
    let f = good[0].as_ref().unwrap();
    assert_eq!((f.data_text().as_str(), f.sequence), ("656", 9));
    // 04ff: bad trailer is a data error.
    let bad = transact(&mut port, &request(10, 0x9C, 1, 0x04ff, b"R")).await;
    assert_eq!(bad[0], Err(DecodeError::BadTrailer(3)));
    // Board 2: scan answers the spec's bad-checksum vector verbatim.
    port.write_all(&request(11, 0xFF, 2, 0xFFFF, b"D"))
        .await
        .unwrap();
    assert_eq!(
        read_quiet(&mut port, QUIET).await,
        [1, 11, 1, 156, 1, 1, 255, 31, 32, 33, 34, 35, 190, 4]
    );
    // Board 3 has no devices.
    assert!(transact(&mut port, &request(12, 0xFF, 3, 0xFFFF, b"D"))
        .await
        .is_empty());
    task.abort();
}

#[tokio::test]
async fn junk_and_broken_frames_do_not_stop_the_emulator() {
    let (path, task) = spawn_pty(config("simple.json"), RunOptions::default())
        .await
        .unwrap();
    let mut port = open(&path);
    let mut bad_checksum = request(1, 0x9C, 1, 0x01ff, b"R");
    bad_checksum[11] ^= 0x55;
    port.write_all(&[0xFF, 0x00, 0x04, 0x33]).await.unwrap();
    port.write_all(&bad_checksum).await.unwrap();
    assert!(read_quiet(&mut port, QUIET).await.is_empty());
    assert_eq!(
        texts(&mut port, &request(2, 0x9C, 1, 0x01ff, b"R")).await,
        ["656"]
    );
    // A noise header claiming a 240-byte frame must not swallow the next
    // request: without the stall recovery no answer would ever come.
    let mut noisy = vec![0x01, 0xF0];
    noisy.extend(request(3, 0x9C, 1, 0x01ff, b"R"));
    port.write_all(&noisy).await.unwrap();
    let mut buf = [0u8; 64];
    let n = timeout(Duration::from_secs(2), port.read(&mut buf))
        .await
        .expect("answer despite the noise")
        .unwrap();
    let rest = read_quiet(&mut port, QUIET).await;
    let answer = decode_all(&[&buf[..n], &rest[..]].concat());
    assert_eq!(answer[0].as_ref().unwrap().data_text(), "646");
    task.abort();
}

#[tokio::test]
async fn clients_can_close_and_reopen_and_state_survives() {
    let (path, task) = spawn_pty(config("simple.json"), RunOptions::default())
        .await
        .unwrap();
    for (seq, want) in [(1u8, "656"), (2, "646"), (3, "636")] {
        let mut port = open(&path);
        port.clear(tokio_serial::ClearBuffer::All).unwrap();
        assert_eq!(
            texts(&mut port, &request(seq, 0x9C, 1, 0x01ff, b"R")).await,
            [want]
        );
        drop(port);
    }
    assert!(!task.is_finished());
    task.abort();
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_wedge_the_emulator() {
    let (path, task) = spawn_pty(config("rack.json"), RunOptions::default())
        .await
        .unwrap();
    // 250 scan-alls of 40 devices: 130 kB of answers, far more than a pty
    // buffers, and the client goes away without reading any of it.
    let backlog = 250 * 40 * 13;
    {
        let mut port = open(&path);
        for seq in 0..250u8 {
            port.write_all(&request(seq, 0xFF, 0x8000_004B, 0xFFFF, b"D"))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // With nobody reading, the emulator must discard the backlog itself
    // (one stall timeout per buffer-full) and get back to answering. 8 s:
    // 4 s sufficed on a quiet machine but not on a loaded CI one, where the
    // emulator had discarded only half of it by then.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut port = open(&path);
    let mut received = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        port.write_all(&request(200, 0xFF, 2, 0xFFFF, b"V"))
            .await
            .unwrap();
        let bytes = read_quiet(&mut port, QUIET).await;
        received += bytes.len();
        let ok = decode_all(&bytes)
            .iter()
            .any(|r| matches!(r, Ok(f) if f.sequence == 200 && f.data_text().contains("rack-a/2")));
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "emulator stayed wedged");
    }
    assert!(
        received < backlog / 2,
        "the unread backlog was delivered instead of discarded ({received} of {backlog} bytes)"
    );
    task.abort();
}

#[tokio::test]
async fn pacing_spreads_a_scan_over_its_wire_time() {
    let opts = RunOptions {
        pace: true,
        ..RunOptions::default()
    };
    let (path, task) = spawn_pty(config("rack.json"), opts).await.unwrap();
    let mut port = open(&path);
    let req = request(1, 0xFF, 1, 0xFFFF, b"D");
    port.write_all(&req).await.unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.len() < 25 * 13 {
        let n = timeout(Duration::from_secs(5), port.read(&mut buf))
            .await
            .expect("scan answer")
            .unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    let elapsed = started.elapsed();
    let frames = decode_all(&got);
    assert_eq!(frames.len(), 25);
    assert!(frames.iter().all(Result::is_ok));
    // 325 bytes at 11,520 B/s take at least 28.2 ms on a real line.
    let wire = Duration::from_secs_f64(325.0 / 11_520.0);
    assert!(elapsed >= wire, "paced scan took only {elapsed:?}");
    task.abort();
}

#[tokio::test]
async fn symlink_points_at_the_pty_and_goes_away_with_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyVapor002");
    let opts = RunOptions {
        link: Some(link.clone()),
        ..RunOptions::default()
    };
    let (path, task) = spawn_pty(config("simple.json"), opts).await.unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), path);
    let mut port = open(&link);
    assert_eq!(
        texts(&mut port, &request(1, 0xFF, 1, 0xFFFF, b"V")).await,
        ["OpenDCRE Emulator v1.1.0"]
    );
    task.abort();
    let _ = task.await;
    assert!(std::fs::symlink_metadata(&link).is_err());
}

#[tokio::test]
async fn serves_an_existing_serial_device() {
    // Our own pty plays the wire: the emulator opens the slave as a serial
    // port, the test talks on the master.
    let mut pty = Pty::open().unwrap();
    let slave: PathBuf = pty.slave_path().to_path_buf();
    let wire = pty.master_mut();
    let task = tokio::spawn(serve_port(
        config("simple.json"),
        slave,
        RunOptions::default(),
    ));
    let req = request(4, 0x9C, 1, 0x01ff, b"R");
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        wire.write_all(&req).await.unwrap();
        let got = read_quiet(wire, QUIET).await;
        if !got.is_empty() {
            break got;
        }
        assert!(Instant::now() < deadline, "emulator never opened the port");
    };
    let f = decode_all(&answer).remove(0).unwrap();
    assert_eq!((f.data_text().as_str(), f.sequence), ("656", 4));
    task.abort();
}
