//! Commands and scans through the real actor against a scripted device on
//! an in-memory port, under virtual time: line noise in the exact shapes
//! that used to lose answers (issue 14), each scripted byte for byte.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{spawn, BusConfig, BusError, MemoryLine, Request, ScanTarget};
use opendcre_proto::{Command, DecodeError, Frame, FrameDecoder};

/// What the device does in answer to one request.
enum Step {
    Write(Vec<u8>),
}

/// Serves requests with `script(request, index)` until the service hangs up;
/// returns the requests it saw.
fn device(
    mut end: DuplexStream,
    mut script: impl FnMut(&Frame, usize) -> Vec<Step> + Send + 'static,
) -> JoinHandle<Vec<Frame>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut dec = FrameDecoder::new();
        let mut buf = [0u8; 512];
        loop {
            match end.read(&mut buf).await {
                Ok(0) | Err(_) => return seen,
                Ok(n) => dec.push(&buf[..n]),
            }
            while let Some(Ok(req)) = dec.next_frame() {
                for step in script(&req, seen.len()) {
                    let Step::Write(bytes) = step;
                    end.write_all(&bytes).await.unwrap();
                }
                seen.push(req);
            }
        }
    })
}

/// A read answer as the emulator builds it, echoing the request's sequence.
fn answer(seq: u8, board: u32, text: &[u8]) -> Vec<u8> {
    Frame {
        sequence: seq,
        device_type: 0xFF,
        board_id: board,
        device_id: 0xFFFF,
        data: text.to_vec(),
    }
    .encode()
    .unwrap()
}

fn bad_checksum(mut frame: Vec<u8>) -> Vec<u8> {
    let at = frame.len() - 2;
    frame[at] ^= 0x5A;
    frame
}

fn read_request() -> Request {
    Request {
        device_type: 0x9C,
        board_id: 1,
        device_id: 0x01ff,
        command: Command::Read,
    }
}

/// Runs one command; returns its result, the requests the device saw and
/// the (virtual) time it took.
async fn run(
    script: impl FnMut(&Frame, usize) -> Vec<Step> + Send + 'static,
) -> (Result<Frame, BusError>, Vec<Frame>, Duration) {
    let (ours, theirs) = tokio::io::duplex(4096);
    let dev = device(theirs, script);
    let (bus, actor) = spawn(MemoryLine::new(ours), BusConfig::default());
    let started = Instant::now();
    let r = bus
        .command(read_request(), started + Duration::from_secs(30))
        .await;
    let took = started.elapsed();
    drop(bus);
    actor.await.unwrap();
    (r, dev.await.unwrap(), took)
}

fn is_retry(f: &Frame) -> bool {
    f.data == b"?"
}

#[tokio::test(start_paused = true)]
async fn junk_with_a_false_header_before_the_answer_costs_no_retry() {
    // 0x01 0xF0 claims a 243-byte frame that would swallow the real answer:
    // the old reader waited for it until the read timed out (no retry).
    let (r, seen, took) = run(|req, _| {
        if is_retry(req) {
            return vec![];
        }
        let mut bytes = vec![0x01, 0xF0, 0x33];
        bytes.extend(answer(req.sequence, 0, b"656"));
        vec![Step::Write(bytes)]
    })
    .await;
    assert_eq!(r.unwrap().data, b"656");
    assert_eq!(seen.len(), 1, "the answer behind the noise was used");
    assert!(took < BusConfig::default().read_timeout, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn noise_that_decodes_as_an_error_does_not_flush_the_answer_behind_it() {
    // A too-short "frame" and a bad-checksum "frame" of noise, then the
    // answer in the same burst: the old reader returned the first error and
    // the flush before the `?` threw the answer away.
    let (r, seen, _) = run(|req, _| {
        if is_retry(req) {
            return vec![];
        }
        let mut bytes = vec![0x01, 0x03];
        bytes.extend(bad_checksum(answer(7, 0, b"999")));
        bytes.extend(answer(req.sequence, 0, b"656"));
        vec![Step::Write(bytes)]
    })
    .await;
    assert_eq!(r.unwrap().data, b"656");
    assert_eq!(seen.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cut_answer_is_retried_instead_of_timing_out() {
    // The board id's 0x01 bytes are false headers in the cut frame's tail;
    // all of them are given up after one gap, not one gap each.
    let board = 0x0101_0101;
    let (r, seen, took) = run(move |req, i| {
        let full = answer(req.sequence, board, b"656");
        if i == 0 {
            vec![Step::Write(full[..9].to_vec())]
        } else {
            vec![Step::Write(full)]
        }
    })
    .await;
    assert_eq!(r.unwrap().data, b"656");
    assert_eq!(seen.len(), 2);
    assert!(is_retry(&seen[1]));
    let cfg = BusConfig::default();
    // One gap to see the cut; that gap was the quiet before the `?`.
    assert!(took <= cfg.frame_gap, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn bad_checksum_then_good_retransmission() {
    let (r, seen, _) = run(|req, i| {
        let a = answer(req.sequence, 0, b"656");
        vec![Step::Write(if i == 0 { bad_checksum(a) } else { a })]
    })
    .await;
    assert_eq!(r.unwrap().data, b"656");
    assert_eq!(seen.len(), 2);
    assert!(is_retry(&seen[1]) && seen[1].sequence != seen[0].sequence);
}

#[tokio::test(start_paused = true)]
async fn every_answer_cut_ends_corrupt_after_all_attempts_in_bounded_time() {
    let (r, seen, took) =
        run(|req, _| vec![Step::Write(answer(req.sequence, 0, b"656")[..5].to_vec())]).await;
    let cfg = BusConfig::default();
    match r {
        Err(BusError::Corrupt {
            error: DecodeError::Truncated { have: 5, want: 15 },
            attempts,
            ..
        }) => assert_eq!(attempts, cfg.retry_limit + 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.len(), 1 + cfg.retry_limit as usize);
    // Per attempt: one gap to see the cut, which is also the quiet before
    // the next `?`.
    assert!(took <= cfg.frame_gap * (cfg.retry_limit + 1), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn silence_is_still_a_timeout_without_retry() {
    // Spec §3.9: a device that does not answer is not asked again.
    let (r, seen, _) = run(|_, _| vec![]).await;
    assert!(
        matches!(r, Err(BusError::Timeout { cmd: "read", .. })),
        "{r:?}"
    );
    assert_eq!(seen.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cut_frame_in_a_scan_restarts_the_scan_instead_of_ending_it() {
    // The old reader sat out the scan silence on the cut frame and took it
    // for the end of the scan: one device silently missing.
    let dump = |seq: u8, dev: u16| {
        Frame {
            sequence: seq,
            device_type: 0x9C,
            board_id: 5,
            device_id: dev,
            data: vec![0x9C],
        }
        .encode()
        .unwrap()
    };
    let (ours, theirs) = tokio::io::duplex(4096);
    let dev = device(theirs, move |req, i| {
        let second = dump(req.sequence, 0x02ff);
        let second = if i == 0 { second[..8].to_vec() } else { second };
        vec![Step::Write(dump(req.sequence, 0x01ff)), Step::Write(second)]
    });
    let (bus, actor) = spawn(MemoryLine::new(ours), BusConfig::default());
    let boards = bus
        .scan(
            ScanTarget::Board(5),
            Instant::now() + Duration::from_secs(30),
        )
        .await
        .unwrap();
    drop(bus);
    actor.await.unwrap();
    let seen = dev.await.unwrap();
    assert_eq!(seen.len(), 2, "the scan was restarted once");
    assert_eq!(boards.len(), 1);
    let ids: Vec<u16> = boards[0].devices.iter().map(|d| d.device_id).collect();
    assert_eq!(ids, vec![0x01ff, 0x02ff]);
}

/// A read of `device` on board 1.
fn read_of(device: u16) -> Request {
    Request {
        device_id: device,
        ..read_request()
    }
}

/// The poller's backlog must not delay an API client: with background jobs
/// queued behind one on the wire, an interactive job submitted later is the
/// next on the wire, and the backlog runs after it.
#[tokio::test(start_paused = true)]
async fn interactive_jobs_overtake_queued_background_jobs() {
    let (ours, theirs) = tokio::io::duplex(4096);
    // A slow device: every answer takes 50 ms.
    let (order_tx, mut order_rx) = tokio::sync::mpsc::unbounded_channel();
    let dev = tokio::spawn(async move {
        let mut end = theirs;
        let mut dec = FrameDecoder::new();
        let mut buf = [0u8; 512];
        loop {
            match end.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => dec.push(&buf[..n]),
            }
            while let Some(Ok(req)) = dec.next_frame() {
                let _ = order_tx.send(req.device_id);
                tokio::time::sleep(Duration::from_millis(50)).await;
                end.write_all(&answer(req.sequence, 1, b"1")).await.unwrap();
            }
        }
    });
    let (bus, actor) = spawn(MemoryLine::new(ours), BusConfig::default());
    let bg = bus.background();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut background = Vec::new();
    for d in 1..=5u16 {
        let bg = bg.clone();
        background.push(tokio::spawn(async move {
            bg.command(read_of(d), deadline).await
        }));
        tokio::task::yield_now().await;
    }
    // Let the first background job reach the wire.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(bus.stats().background.queue_depth, 4);
    let interactive = bus.command(read_of(0x100), deadline).await;
    assert_eq!(interactive.unwrap().data, b"1");
    for b in background {
        b.await.unwrap().unwrap();
    }
    let mut order = Vec::new();
    while let Ok(d) = order_rx.try_recv() {
        order.push(d);
    }
    assert_eq!(
        order,
        vec![1, 0x100, 2, 3, 4, 5],
        "the running background transaction finishes, then the API read goes first"
    );
    let s = bus.stats();
    assert_eq!(s.interactive.transactions, 1);
    assert_eq!(s.background.transactions, 5);
    assert_eq!(s.background.queue_depth, 0);
    assert_eq!(s.background.wait_count, 5);
    assert_eq!(s.background.wait_buckets.iter().sum::<u64>(), 5);
    drop((bus, bg));
    actor.await.unwrap();
    dev.await.unwrap();
}

/// Checksum failures and the `?` retries they cause are counted.
#[tokio::test(start_paused = true)]
async fn retries_and_checksum_errors_are_counted() {
    let (ours, theirs) = tokio::io::duplex(4096);
    let dev = device(theirs, |req, i| {
        if i == 0 {
            vec![Step::Write(bad_checksum(answer(req.sequence, 0, b"656")))]
        } else {
            vec![Step::Write(answer(req.sequence, 0, b"656"))]
        }
    });
    let (bus, actor) = spawn(MemoryLine::new(ours), BusConfig::default());
    let r = bus
        .command(read_request(), Instant::now() + Duration::from_secs(30))
        .await;
    assert_eq!(r.unwrap().data, b"656");
    let s = bus.stats();
    assert_eq!(s.checksum_errors, 1);
    assert_eq!(s.retries, 1);
    assert_eq!(s.timeouts, 0);
    assert_eq!(s.interactive.transactions, 1);
    drop(bus);
    actor.await.unwrap();
    dev.await.unwrap();
}
