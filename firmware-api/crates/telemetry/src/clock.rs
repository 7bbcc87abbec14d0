//! Wall-clock times as Unix milliseconds and RFC 3339 text (the calendar
//! arithmetic is `opendcre_proto::calendar`).

use std::time::{SystemTime, UNIX_EPOCH};

use opendcre_proto::calendar::{days_from_civil, rfc3339_utc, Fraction};

/// Now, milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-11-30T04:31:05.123Z`.
pub fn rfc3339(ms: u64) -> String {
    rfc3339_utc((ms / 1000) as i64, Fraction::Millis((ms % 1000) as u32))
}

/// Parses RFC 3339 (`Z` or `±hh:mm`, optional fraction) into Unix ms.
pub fn parse_rfc3339(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &t[start..i.min(start + 3)];
        frac_ms = digits.parse::<i64>().ok()? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_s = match &t[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    u64::try_from(secs * 1000 + frac_ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_780_191_065_123), "2026-05-31T01:31:05.123Z");
        assert_eq!(
            parse_rfc3339("2026-05-31T01:31:05.123Z"),
            Some(1_780_191_065_123)
        );
        assert_eq!(
            parse_rfc3339("2026-05-31T03:31:05.123+02:00"),
            Some(1_780_191_065_123)
        );
        assert_eq!(
            parse_rfc3339("2026-05-31T01:31:05Z"),
            Some(1_780_191_065_000)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00.5Z"),
            Some(951_782_400_500)
        );
        assert_eq!(parse_rfc3339("2026-05-31 01:31:05"), None);
        assert_eq!(parse_rfc3339("2026-13-31T01:31:05Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
