//! SIG60 register encoding and decoding against the tables of spec §8.6.

use opendcre_hat::registers::{decode, encode, BIT_RATES_HIGH, BIT_RATES_LOW, FREQUENCY_PAIRS_KHZ};
use opendcre_hat::{PlcConfig, RegisterError, Registers};

/// The spec's tables, typed in again from the spec text (MHz), so a slip in
/// the module's kHz tables is caught rather than mirrored.
const SPEC_PAIRS: [(f64, f64); 16] = [
    (1.75, 4.5),
    (1.75, 5.5),
    (1.75, 6.0),
    (1.75, 6.5),
    (4.5, 5.5),
    (4.5, 6.0),
    (4.5, 6.5),
    (4.5, 10.5),
    (10.5, 13.0),
    (5.5, 10.5),
    (5.5, 13.0),
    (6.0, 10.5),
    (6.0, 13.0),
    (6.5, 10.5),
    (6.5, 13.0),
    (5.5, 6.5),
];
const SPEC_LOW: [u32; 4] = [38400, 57600, 9600, 19200];
const SPEC_HIGH: [u32; 4] = [38400, 57600, 115200, 19200];

#[test]
fn tables_match_the_spec() {
    for (i, &(f0, f1)) in SPEC_PAIRS.iter().enumerate() {
        let (k0, k1) = FREQUENCY_PAIRS_KHZ[i];
        assert_eq!(
            (f64::from(k0) / 1000.0, f64::from(k1) / 1000.0),
            (f0, f1),
            "pair {i}"
        );
    }
    assert_eq!(BIT_RATES_LOW, SPEC_LOW);
    assert_eq!(BIT_RATES_HIGH, SPEC_HIGH);
}

#[test]
fn opendcre_default_configuration_encodes_to_known_bytes() {
    // reg0: freq number 1 (0x01) | long WUM (0x08) | NOT auto_wum (0x20) |
    // NOT loopback (0x40); auto_sleep on leaves bit 4 clear.
    // reg1: pair (5.5, 10.5) = index 9, 115200 on the 10.5 MHz carrier = index 2.
    let regs = encode(&PlcConfig::opendcre_default()).unwrap();
    assert_eq!(
        regs,
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
}

#[test]
fn decode_names_every_reg0_bit() {
    let base = Registers {
        reg0: 0x00,
        reg1: 0x00,
    };
    let c = decode(base);
    // All bits clear: the active-low flags read as on.
    assert_eq!(c.frequency_number, 0);
    assert!(!c.remote_loopback && !c.interference_hopping && !c.long_wum);
    assert!(c.auto_sleep && c.auto_wum && c.loopback_enabled);
    assert!(!c.interference_detected);

    let one = |bit: u8| {
        decode(Registers {
            reg0: 1 << bit,
            reg1: 0,
        })
    };
    assert_eq!(one(0).frequency_number, 1);
    assert!(one(1).remote_loopback);
    assert!(one(2).interference_hopping);
    assert!(one(3).long_wum);
    assert!(!one(4).auto_sleep);
    assert!(!one(5).auto_wum);
    assert!(!one(6).loopback_enabled);
    assert!(one(7).interference_detected);
}

#[test]
fn bit_rate_table_depends_on_the_carrier_in_use() {
    // Pair 7 = (4.5, 10.5); rate index 2.
    let f0_in_use = decode(Registers {
        reg0: 0x00,
        reg1: 0x27,
    });
    assert_eq!((f0_in_use.f0, f0_in_use.f1), (4.5, 10.5));
    assert_eq!(f0_in_use.bit_rate, 9600, "4.5 MHz < 10 MHz → low table");
    let f1_in_use = decode(Registers {
        reg0: 0x01,
        reg1: 0x27,
    });
    assert_eq!(f1_in_use.bit_rate, 115200, "10.5 MHz → high table");
}

#[test]
fn every_register_pair_round_trips() {
    for reg0 in 0..=255u8 {
        // reg1 bits 7:6 are undefined and not reproduced.
        for reg1 in 0..=0x3Fu8 {
            let regs = Registers { reg0, reg1 };
            let cfg = decode(regs);
            assert_eq!(encode(&cfg), Ok(regs), "{regs:?} → {cfg:?}");
        }
    }
}

#[test]
fn every_expressible_configuration_round_trips() {
    let mut count = 0;
    for &(f0, f1) in &SPEC_PAIRS {
        for frequency_number in 0..=1u8 {
            let carrier = if frequency_number == 0 { f0 } else { f1 };
            let rates = if carrier < 10.0 { SPEC_LOW } else { SPEC_HIGH };
            for bit_rate in rates {
                let cfg = PlcConfig {
                    frequency_number,
                    f0,
                    f1,
                    bit_rate,
                    ..PlcConfig::opendcre_default()
                };
                let regs = encode(&cfg).unwrap();
                assert_eq!(decode(regs), cfg);
                count += 1;
            }
        }
    }
    assert_eq!(count, 16 * 2 * 4);
}

#[test]
fn decoded_config_serialises_with_the_original_field_names() {
    let json = serde_json::to_value(decode(Registers {
        reg0: 0x69,
        reg1: 0x29,
    }))
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "frequency_number": 1,
            "remote_loopback": false,
            "interference_hopping": false,
            "long_wum": true,
            "auto_sleep": true,
            "auto_wum": false,
            "loopback_enabled": false,
            "interference_detected": false,
            "f0": 5.5,
            "f1": 10.5,
            "bit_rate": 115200
        })
    );
}

fn with(f: impl FnOnce(&mut PlcConfig)) -> Result<Registers, RegisterError> {
    let mut cfg = PlcConfig::opendcre_default();
    f(&mut cfg);
    encode(&cfg)
}

#[test]
fn carrier_that_is_not_in_the_tables_is_rejected() {
    let err = with(|c| c.f0 = 5.45).unwrap_err();
    assert!(
        matches!(err, RegisterError::NotACarrier { name: "f0", .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("5.45") && text.contains("1.75, 4.5, 5.5"),
        "{text}"
    );
    assert!(matches!(
        with(|c| c.f1 = f64::NAN),
        Err(RegisterError::NotACarrier { name: "f1", .. })
    ));
    assert!(matches!(
        with(|c| c.f1 = -10.5),
        Err(RegisterError::NotACarrier { .. })
    ));
}

#[test]
fn pair_that_is_not_in_the_table_is_rejected_with_a_hint() {
    let err = with(|c| {
        c.f0 = 10.5;
        c.f1 = 5.5;
    })
    .unwrap_err();
    assert!(matches!(err, RegisterError::NoSuchPair { .. }));
    assert!(err.to_string().contains("the other way round"), "{err}");

    let err = with(|c| {
        c.f0 = 1.75;
        c.f1 = 13.0;
    })
    .unwrap_err();
    assert!(matches!(err, RegisterError::NoSuchPair { ref hint, .. } if hint.is_empty()));
}

#[test]
fn bit_rate_not_offered_on_the_carrier_is_rejected() {
    // 115200 exists only above 10 MHz; f0 = 5.5 is in use with frequency_number 0.
    let err = with(|c| c.frequency_number = 0).unwrap_err();
    assert_eq!(
        err,
        RegisterError::BitRate {
            bit_rate: 115200,
            carrier: 5.5,
            frequency_number: 0,
            allowed: SPEC_LOW,
        }
    );
    assert!(matches!(
        with(|c| c.bit_rate = 9600),
        Err(RegisterError::BitRate { .. })
    ));
    assert!(matches!(
        with(|c| c.bit_rate = 115201),
        Err(RegisterError::BitRate { .. })
    ));
}

#[test]
fn frequency_number_must_be_0_or_1() {
    assert_eq!(
        with(|c| c.frequency_number = 2),
        Err(RegisterError::FrequencyNumber(2))
    );
}

#[test]
fn verification_ignores_only_the_undefined_bits() {
    let written = Registers {
        reg0: 0x69,
        reg1: 0x29,
    };
    assert!(written.matches_written(&Registers {
        reg0: 0xE9,
        reg1: 0xE9
    }));
    for bit in 0..7 {
        let read = Registers {
            reg0: 0x69 ^ (1 << bit),
            reg1: 0x29,
        };
        assert!(!written.matches_written(&read), "reg0 bit {bit}");
    }
    for bit in 0..6 {
        let read = Registers {
            reg0: 0x69,
            reg1: 0x29 ^ (1 << bit),
        };
        assert!(!written.matches_written(&read), "reg1 bit {bit}");
    }
}
