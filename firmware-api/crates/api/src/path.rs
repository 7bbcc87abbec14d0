//! Request-path normalisation as the original's nginx did it before Flask saw
//! the path (spec §2.1): percent-escapes decoded, `.`/`..` resolved, repeated
//! slashes merged. A bad escape is nginx's 400.

/// Why a path is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    BadEscape,
    AboveRoot,
}

/// Normalised path segments; an empty trailing segment is kept so that
/// `/scan/` stays distinct from `/scan` (Flask answers 404 for it).
pub fn segments(raw_path: &str) -> Result<Vec<String>, PathError> {
    let decoded = decode(raw_path)?;
    let text = match String::from_utf8(decoded) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    let trailing_slash = text.len() > 1 && text.ends_with('/');
    let mut out: Vec<String> = Vec::new();
    for seg in text.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
            }
            s => out.push(s.to_string()),
        }
    }
    if trailing_slash {
        out.push(String::new());
    }
    Ok(out)
}

fn decode(raw: &str) -> Result<Vec<u8>, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
            let text = std::str::from_utf8(hex).map_err(|_| PathError::BadEscape)?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| PathError::BadEscape)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str) -> Vec<String> {
        segments(p).unwrap()
    }

    #[test]
    fn merges_decodes_and_resolves() {
        assert_eq!(s("/opendcre/1.1/scan"), ["opendcre", "1.1", "scan"]);
        assert_eq!(s("/opendcre//1.1///scan"), ["opendcre", "1.1", "scan"]);
        assert_eq!(s("/opendcre/1.1/scan/"), ["opendcre", "1.1", "scan", ""]);
        assert_eq!(s("/a/%20b%2Fc"), ["a", " b", "c"]);
        assert_eq!(s("/a/./b/../c"), ["a", "c"]);
        assert_eq!(segments("/a/%zz"), Err(PathError::BadEscape));
        assert_eq!(segments("/a/%4"), Err(PathError::BadEscape));
        assert_eq!(segments("/.."), Err(PathError::AboveRoot));
    }
}
