//! Property tests: every IPMI decoder returns a result (never panics) on
//! arbitrary bytes, and encode/decode round-trip.

use opendcre_ipmi::commands::{ChassisStatus, DeviceId};
use opendcre_ipmi::wire::v20::SessionCrypto;
use opendcre_ipmi::wire::{message, rakp, rmcp, v15, v20};
use opendcre_ipmi::{fru, parse_bmc_config_json};
use proptest::prelude::*;

fn keys() -> impl Strategy<Value = SessionCrypto> {
    (any::<Option<[u8; 20]>>(), any::<Option<[u8; 16]>>())
        .prop_map(|(k1, aes_key)| SessionCrypto { k1, aes_key })
}

/// Bytes that start like an IPMI datagram, so decoders get past the first checks.
fn ipmi_like() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(0u8), Just(2), Just(4), Just(6)],
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(auth, flags, rest)| {
            let mut v = vec![0x06, 0x00, 0xFF, 0x07, auth, flags];
            v.extend(rest);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), k in keys()) {
        let _ = rmcp::split(&bytes);
        let _ = rmcp::decode_pong(&bytes);
        if let Ok(p) = v15::decode(&bytes) {
            let _ = p.verify(&[0; 16]);
        }
        let _ = v20::decode(&bytes, &k);
        let _ = v20::decode(&bytes, &SessionCrypto::NONE);
        let _ = message::decode_response(&bytes);
        let _ = rakp::decode_open_session_response(&bytes);
        let _ = rakp::decode_rakp2(&bytes);
        let _ = rakp::decode_rakp4(&bytes);
        let _ = ChassisStatus::decode(&bytes);
        let _ = DeviceId::decode(&bytes);
        let _ = fru::decode(&bytes);
    }

    #[test]
    fn session_decoders_never_panic_on_ipmi_like_bytes(bytes in ipmi_like(), k in keys()) {
        if let Ok(p) = v15::decode(&bytes) {
            let _ = p.verify(&[1; 16]);
            let _ = message::decode_response(p.message);
        }
        if let Ok(p) = v20::decode(&bytes, &k) {
            let _ = message::decode_response(&p.payload);
        }
    }

    #[test]
    fn fru_decoder_never_panics_on_fru_like_images(
        offsets in proptest::array::uniform5(0u8..40),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut img = vec![0x01, offsets[0], offsets[1], offsets[2], offsets[3], offsets[4], 0];
        img.push(img.iter().fold(0u8, |a, b| a.wrapping_add(*b)).wrapping_neg());
        img.extend(body);
        let _ = fru::decode(&img);
        for kind in 0..4 {
            let _ = fru::decode_text(kind, &img, kind % 2 == 0);
        }
    }

    #[test]
    fn config_parser_never_panics(text in ".{0,200}") {
        let _ = parse_bmc_config_json(&text, "prop");
    }

    #[test]
    fn config_parser_handles_arbitrary_entry_values(
        id in any::<i64>(), ip in ".{0,20}", auth in "[A-Za-z0-9]{0,8}", port in any::<i32>(),
    ) {
        let text = serde_json::json!({"bmcs": [{"bmc_device_id": id, "bmc_ip": ip, "username": "u",
            "password": "p", "auth_type": auth, "asset_info": "", "bmc_port": port}]}).to_string();
        let _ = parse_bmc_config_json(&text, "prop");
    }

    #[test]
    fn v15_round_trip(auth in prop_oneof![Just(0u8), Just(1), Just(2), Just(4)], seq in any::<u32>(), id in any::<u32>(),
                      pw in any::<[u8; 16]>(), msg in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = v15::encode(auth, seq, id, &pw, &msg);
        let d = v15::decode(&p).unwrap();
        prop_assert_eq!((d.auth_type, d.seq, d.session_id, d.message), (auth, seq, id, &msg[..]));
        prop_assert!(d.verify(&pw).is_ok());
        if auth != 0 {
            let mut other = pw;
            other[0] ^= 1;
            prop_assert!(d.verify(&other).is_err());
        }
    }

    #[test]
    fn v20_round_trip(k in keys(), id in any::<u32>(), seq in any::<u32>(), ty in prop_oneof![Just(0u8), 0x10u8..=0x15],
                      payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let p = v20::encode(ty, id, seq, &payload, &k);
        let d = v20::decode(&p, &k).unwrap();
        prop_assert_eq!(d.payload_type, ty);
        prop_assert_eq!((d.session_id, d.seq), (id, seq));
        prop_assert_eq!(d.payload, payload);
        prop_assert_eq!((d.authenticated, d.encrypted), (k.k1.is_some(), k.aes_key.is_some()));
    }

    #[test]
    fn message_round_trip(netfn in 0u8..0x3F, cmd in any::<u8>(), seq in 0u8..64, cc in any::<u8>(),
                          data in proptest::collection::vec(any::<u8>(), 0..100)) {
        // Build the response the BMC would send to our request.
        let rsp_netfn = netfn | 1;
        let mut m = vec![message::REMOTE_SWID, rsp_netfn << 2];
        m.push(message::checksum(&m));
        m.extend_from_slice(&[message::BMC_ADDR, seq << 2, cmd, cc]);
        m.extend_from_slice(&data);
        m.push(message::checksum(&m[3..]));
        let r = message::decode_response(&m).unwrap();
        prop_assert!(r.answers(netfn & !1, cmd, seq).is_ok());
        prop_assert_eq!((r.completion_code, r.data), (cc, data));
        // Any single-bit flip is caught by a checksum or a field check.
        let req = message::encode_request(netfn, cmd, seq, &[]);
        prop_assert_eq!(req[2], message::checksum(&req[..2]));
    }
}
