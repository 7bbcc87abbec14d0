//! Python-compatible number parsing and printing.
//!
//! The original server parsed URL ids with `int(text, 16)`, sensor answers with
//! `int(text)` and the emulator printed canned values with `str()`. Clients and
//! firmware depend on the quirks (leading zeros, `0x`, signs, surrounding
//! whitespace), so they are reproduced here in one place instead of being
//! approximated by Rust's stricter parsers at each call site.
//!
//! Why by hand: no crate reproduces Python's rules (whitespace and `_`
//! separators, signs, `0x` prefixes with base 16, `inf`/`nan` spellings, the
//! shortest round-trip `repr` of a float), and a near miss would change what
//! a v1.1 client sees.

/// Why a text did not parse as a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("{0:?} is not a number")]
    Invalid(String),
    #[error("{0:?} is too large")]
    Overflow(String),
}

/// Python 2 `str.strip()` whitespace.
fn strip(text: &str) -> &str {
    text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

fn digits_to_i128(
    orig: &str,
    digits: &str,
    radix: u32,
    negative: bool,
) -> Result<i128, NumberError> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumberError::Invalid(orig.to_string()));
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).expect("checked above") as i128;
        value = value
            .checked_mul(radix as i128)
            .and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
            .ok_or_else(|| NumberError::Overflow(orig.to_string()))?;
    }
    Ok(value)
}

/// `int(text)` in base 10: surrounding whitespace, one sign, decimal digits.
pub fn parse_int(text: &str) -> Result<i128, NumberError> {
    let (negative, digits) = split_sign(strip(text));
    digits_to_i128(text, digits, 10, negative)
}

/// `int(text, 16)`: as [`parse_int`] plus an optional `0x`/`0X` after the sign.
pub fn parse_hex(text: &str) -> Result<i128, NumberError> {
    let (negative, rest) = split_sign(strip(text));
    let digits = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .unwrap_or(rest);
    digits_to_i128(text, digits, 16, negative)
}

/// `float(text)`: decimal or exponent notation, `inf`/`nan` spelled out.
pub fn parse_float(text: &str) -> Result<f64, NumberError> {
    let t = strip(text);
    let (_, body) = split_sign(t);
    let lower = body.to_ascii_lowercase();
    let named = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    let numeric = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && body.chars().any(|c| c.is_ascii_digit());
    if !(named || numeric) {
        return Err(NumberError::Invalid(text.to_string()));
    }
    t.parse::<f64>()
        .map_err(|_| NumberError::Invalid(text.to_string()))
}

/// Python `repr(float)`: shortest round-trip digits, at least one decimal,
/// exponent form below 1e-4 and from 1e16 on (`1e+16`, `1e-05`).
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip mantissa, e.g. "1.2345e17".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_like_python() {
        assert_eq!(parse_int("656"), Ok(656));
        assert_eq!(parse_int(" 0656\n"), Ok(656));
        assert_eq!(parse_int("-12345"), Ok(-12345));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(
            parse_int("12345678901234567890"),
            Ok(12_345_678_901_234_567_890)
        );
        assert!(parse_int("").is_err());
        assert!(parse_int("4100.5").is_err());
        assert!(parse_int("1 2").is_err());
        assert!(parse_int("--1").is_err());
        assert!(matches!(
            parse_int(&"9".repeat(60)),
            Err(NumberError::Overflow(_))
        ));
    }

    #[test]
    fn hex_like_python() {
        for t in [
            "3",
            "03",
            "0000000003",
            "0000000000003",
            "0x3",
            "0X03",
            " 3 ",
            "+3",
        ] {
            assert_eq!(parse_hex(t), Ok(3), "{t}");
        }
        assert_eq!(parse_hex("01FF"), Ok(0x1ff));
        assert_eq!(parse_hex("-1"), Ok(-1));
        assert_eq!(parse_hex("-0x10"), Ok(-16));
        assert!(parse_hex("0x").is_err());
        assert!(parse_hex("xyz").is_err());
        assert!(parse_hex("").is_err());
    }

    #[test]
    fn float_like_python() {
        assert_eq!(parse_float("30.03"), Ok(30.03));
        assert_eq!(parse_float("30"), Ok(30.0));
        assert_eq!(parse_float(" -1e3 "), Ok(-1000.0));
        assert!(parse_float("abc").is_err());
        assert!(parse_float("").is_err());
        assert!(parse_float("1,5").is_err());
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(float_repr(28.78), "28.78");
        assert_eq!(float_repr(30.0), "30.0");
        assert_eq!(float_repr(-0.12), "-0.12");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e-5), "1e-05");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(123456789012345.6), "123456789012345.6");
        assert_eq!(float_repr(1.2345678901234568e17), "1.2345678901234568e+17");
        assert_eq!(float_repr(-25.70631970260223), "-25.70631970260223");
        assert_eq!(float_repr(100.0), "100.0");
    }
}
