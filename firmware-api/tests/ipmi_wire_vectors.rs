//! The canned vBMC conversation of the original test suite (spec §7.3, vbmc007),
//! rebuilt byte by byte from its documented layout, as decoder vectors.
//!
//! The original client accepted these replies although two of them carry wrong
//! `chk2` bytes (Activate Session: 229, correct 117; Set Session Privilege: 17,
//! correct 161). We validate checksums, so the reference bytes are rejected with
//! a clear checksum error and the corrected bytes are accepted. That our
//! reconstruction yields exactly the "correct" values the spec quotes confirms
//! the reconstruction.

use opendcre_ipmi::commands::{ChassisStatus, RestorePolicy};
use opendcre_ipmi::wire::{message, v15, WireError};

const SESSION_ID: [u8; 4] = [0xBB, 0x58, 0xF7, 0x22];

/// A vbmc007 reply datagram: RMCP, auth none, `seq`, session id, message from
/// rqAddr 0x10 with response NetFn byte `netfn_byte`, rqSeq 0.
fn reply(
    seq: u32,
    session: [u8; 4],
    netfn_byte: u8,
    cmd: u8,
    data: &[u8],
    chk2: Option<u8>,
) -> Vec<u8> {
    let mut m = vec![0x10, netfn_byte];
    m.push(message::checksum(&m));
    m.extend_from_slice(&[0x20, 0x00, cmd, 0x00]);
    m.extend_from_slice(data);
    m.push(chk2.unwrap_or_else(|| message::checksum(&m[3..])));
    let mut p = vec![0x06, 0x00, 0xFF, 0x07, 0x00];
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&session);
    p.push(m.len() as u8);
    p.extend_from_slice(&m);
    p
}

fn activate_session_data() -> Vec<u8> {
    let mut d = vec![0x00];
    d.extend_from_slice(&SESSION_ID);
    d.extend_from_slice(&[0x01, 0x00, 0x00, 0x00, 0x04]);
    d
}

#[test]
fn activate_session_reply_checksums() {
    let correct = reply(3, SESSION_ID, 0x1C, 0x3A, &activate_session_data(), None);
    let p = v15::decode(&correct).unwrap();
    assert_eq!(p.seq, 3);
    assert_eq!(p.session_id.to_le_bytes(), SESSION_ID);
    assert_eq!(
        *p.message.last().unwrap(),
        117,
        "spec: the correct chk2 is 117"
    );
    let r = message::decode_response(p.message).unwrap();
    assert_eq!((r.netfn, r.cmd, r.completion_code), (0x07, 0x3A, 0));
    assert_eq!(r.data, activate_session_data());

    let reference = reply(
        3,
        SESSION_ID,
        0x1C,
        0x3A,
        &activate_session_data(),
        Some(229),
    );
    let p = v15::decode(&reference).unwrap();
    let e = message::decode_response(p.message).unwrap_err();
    assert_eq!(
        e,
        WireError::Checksum {
            what: "IPMI message body (chk2)",
            expected: 117,
            got: 229
        }
    );
    assert_eq!(
        e.to_string(),
        "IPMI message body (chk2) checksum wrong: expected 0x75, packet has 0xe5"
    );
}

#[test]
fn set_session_privilege_reply_checksums() {
    let correct = reply(4, SESSION_ID, 0x1C, 0x3B, &[0x04], None);
    let p = v15::decode(&correct).unwrap();
    assert_eq!(
        *p.message.last().unwrap(),
        161,
        "spec: the correct chk2 is 161"
    );
    assert!(message::decode_response(p.message).is_ok());
    let reference = reply(4, SESSION_ID, 0x1C, 0x3B, &[0x04], Some(17));
    let p = v15::decode(&reference).unwrap();
    assert!(matches!(
        message::decode_response(p.message),
        Err(WireError::Checksum {
            expected: 161,
            got: 17,
            ..
        })
    ));
}

#[test]
fn get_chassis_status_reply_decodes() {
    let d = reply(6, SESSION_ID, 0x04, 0x01, &[0x45, 0x10, 0x40, 0x00], None);
    let p = v15::decode(&d).unwrap();
    let r = message::decode_response(p.message).unwrap();
    assert_eq!((r.netfn, r.cmd), (0x01, 0x01));
    let s = ChassisStatus::decode(&r.data).unwrap();
    assert!(s.power_on && !s.power_fault);
    assert_eq!(s.restore_policy, RestorePolicy::AlwaysOn);
    assert!(s.last_event.on_via_ipmi);
    // The original's replies come from rqAddr 0x10; ours go out as 0x81, so such a
    // reply would not be taken as an answer to one of our requests.
    assert!(r
        .answers(0x00, 0x01, 0)
        .unwrap_err()
        .contains("rqAddr 0x10"));
}

#[test]
fn get_session_challenge_reply_layout() {
    let mut data = vec![0xBB, 0x58, 0xF7, 0xB2];
    data.extend_from_slice(&[
        0x90, 0xB0, 0x80, 0x56, 0x48, 0xAC, 0x68, 0x3F, 0x2F, 0x3E, 0x2D, 0x6E, 0x2D, 0x4E, 0xEC,
        0xC2,
    ]);
    let d = reply(0, [0; 4], 0x1C, 0x39, &data, None);
    let r = message::decode_response(v15::decode(&d).unwrap().message).unwrap();
    assert_eq!(r.data.len(), 20);
    assert_eq!(&r.data[..4], &[0xBB, 0x58, 0xF7, 0xB2]);
}

#[test]
fn length_byte_mismatches_of_vbmc014_and_015_are_errors() {
    // vbmc014: Chassis Control reply with length byte 10 (actual 8); vbmc015: length 1.
    let good = reply(5, SESSION_ID, 0x04, 0x02, &[], None);
    let len_at = 13;
    assert_eq!(good[len_at], 8);
    for bad_len in [10u8, 1] {
        let mut d = good.clone();
        d[len_at] = bad_len;
        let e = v15::decode(&d).unwrap_err();
        assert!(e.to_string().contains("length field"), "{e}");
    }
}
