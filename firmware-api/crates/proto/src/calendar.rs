//! Calendar arithmetic for the timestamps the project prints and parses:
//! IPMI FRU dates, RFC 3339 in the readings API and the client, RFC 5424
//! syslog records. By hand (Howard Hinnant's algorithms, proleptic
//! Gregorian, UTC only): a few lines, where a date crate would be a
//! dependency of the node for nothing else. Kept in one place, because four
//! copies had grown in four crates.

/// Days since 1970-01-01 → (year, month 1–12, day 1–31).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month 1–12, day) → days since 1970-01-01; the inverse of
/// [`civil_from_days`] (no range check: the caller validates the fields).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The fraction of a second an RFC 3339 time carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    None,
    /// Three digits (0–999).
    Millis(u32),
    /// Six digits (0–999 999).
    Micros(u32),
}

/// `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z` for seconds since the Unix epoch.
pub fn rfc3339_utc(unix_secs: i64, fraction: Fraction) -> String {
    let (y, mo, d) = civil_from_days(unix_secs.div_euclid(86_400));
    let s = unix_secs.rem_euclid(86_400);
    let (h, mi, sec) = (s / 3600, s / 60 % 60, s % 60);
    match fraction {
        Fraction::None => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z"),
        Fraction::Millis(f) => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{f:03}Z"),
        Fraction::Micros(f) => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{f:06}Z"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days_and_round_trips() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for z in [-800_000, -1, 0, 59, 60, 11_016, 20_787, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn formats() {
        let t = 1_796_013_065; // 2026-11-30T04:31:05Z
        assert_eq!(rfc3339_utc(t, Fraction::None), "2026-11-30T04:31:05Z");
        assert_eq!(
            rfc3339_utc(t, Fraction::Millis(7)),
            "2026-11-30T04:31:05.007Z"
        );
        assert_eq!(
            rfc3339_utc(t, Fraction::Micros(123_456)),
            "2026-11-30T04:31:05.123456Z"
        );
        assert_eq!(rfc3339_utc(-1, Fraction::None), "1969-12-31T23:59:59Z");
    }
}
