//! A streaming `multipart/form-data` reader (RFC 7578, RFC 2046 §5.1) for
//! the Redfish `MultipartHttpPushUri`: the parts arrive in chunks of any
//! size, a bundle of hundreds of MiB among them, so nothing is kept but
//! the bytes that might still be a boundary and one part's headers.
//! No I/O: [`Reader::feed`] takes a chunk and says what it held.

/// Longest header block of one part.
const MAX_HEADERS: usize = 8 * 1024;

/// What a chunk held, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A part begins: its form field name and file name, if any.
    Start {
        name: String,
        filename: Option<String>,
    },
    /// Bytes of the current part's body.
    Data(Vec<u8>),
    /// The current part ended.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first boundary.
    Preamble,
    /// Just after a boundary: `\r\n` (a part follows) or `--` (the end).
    AfterBoundary,
    Headers,
    Body,
    Done,
}

pub(crate) struct Reader {
    /// `\r\n--boundary`: what ends a part's body.
    delimiter: Vec<u8>,
    state: State,
    buf: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type (RFC 2046: 1 to
/// 70 characters, possibly quoted).
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 70 && v.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
            .then(|| v.to_string())
    })
}

/// Where `needle` (which starts with `\r`) first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = hay[from..].iter().position(|&b| b == needle[0]) {
        let at = from + i;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A part's field name and file name from its headers.
fn disposition(headers: &str) -> Result<(String, Option<String>), String> {
    for line in headers.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        let mut params = value.split(';');
        if !params
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("form-data"))
        {
            return Err("a part's Content-Disposition is not form-data".into());
        }
        let (mut field, mut file) = (None, None);
        for p in params {
            if let Some((k, v)) = p.split_once('=') {
                let v = v.trim().trim_matches('"').to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => field = Some(v),
                    "filename" => file = Some(v),
                    _ => {}
                }
            }
        }
        return field
            .map(|f| (f, file))
            .ok_or_else(|| "a part's Content-Disposition has no name".into());
    }
    Err("a part has no Content-Disposition".into())
}

impl Reader {
    pub(crate) fn new(boundary: &str) -> Reader {
        Reader {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            state: State::Preamble,
            // The first boundary may open the body: as if a line ended
            // before it.
            buf: b"\r\n".to_vec(),
        }
    }

    /// The pieces `chunk` completes; an error for a body that is not
    /// `multipart/form-data` as the boundary says.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Piece>, String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Done => {
                    // The epilogue is ignored.
                    self.buf.clear();
                    return Ok(out);
                }
                State::Preamble => match find(&self.buf, &self.delimiter) {
                    Some(i) => {
                        self.buf.drain(..i + self.delimiter.len());
                        self.state = State::AfterBoundary;
                    }
                    None => {
                        let keep = self.delimiter.len() - 1;
                        let cut = self.buf.len().saturating_sub(keep);
                        self.buf.drain(..cut);
                        return Ok(out);
                    }
                },
                State::AfterBoundary => {
                    if self.buf.len() < 2 {
                        return Ok(out);
                    }
                    match &self.buf[..2] {
                        b"--" => self.state = State::Done,
                        b"\r\n" => {
                            self.buf.drain(..2);
                            self.state = State::Headers;
                        }
                        _ => {
                            return Err("a boundary is followed by neither a line end nor --".into())
                        }
                    }
                }
                State::Headers => {
                    // An empty header block: the line after the boundary's
                    // is empty at once.
                    if self.buf.starts_with(b"\r\n") {
                        return Err("a part has no Content-Disposition".into());
                    }
                    let Some(i) = find(&self.buf, b"\r\n\r\n") else {
                        if self.buf.len() > MAX_HEADERS {
                            return Err(format!("a part's headers exceed {MAX_HEADERS} bytes"));
                        }
                        return Ok(out);
                    };
                    let headers = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                    self.buf.drain(..i + 4);
                    let (name, filename) = disposition(&headers)?;
                    out.push(Piece::Start { name, filename });
                    self.state = State::Body;
                }
                State::Body => match find(&self.buf, &self.delimiter) {
                    Some(i) => {
                        if i > 0 {
                            out.push(Piece::Data(self.buf[..i].to_vec()));
                        }
                        out.push(Piece::End);
                        self.buf.drain(..i + self.delimiter.len());
                        self.state = State::AfterBoundary;
                    }
                    None => {
                        // Everything but what may begin a delimiter.
                        let keep = self.delimiter.len() - 1;
                        let cut = self.buf.len().saturating_sub(keep);
                        if cut > 0 {
                            out.push(Piece::Data(self.buf[..cut].to_vec()));
                            self.buf.drain(..cut);
                        }
                        return Ok(out);
                    }
                },
            }
        }
    }

    /// Whether the closing boundary came.
    pub(crate) fn done(&self) -> bool {
        self.state == State::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What curl -F sends (one JSON field, one file), and its boundary.
    fn body(file: &[u8]) -> (Vec<u8>, &'static str) {
        let b = "------------------------d74496d66958873e";
        let mut v = Vec::new();
        v.extend_from_slice(format!("--{b}\r\nContent-Disposition: form-data; name=\"UpdateParameters\"\r\nContent-Type: application/json\r\n\r\n{{\"Targets\": []}}\r\n--{b}\r\nContent-Disposition: form-data; name=\"UpdateFile\"; filename=\"update.raucb\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        v.extend_from_slice(file);
        v.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        (v, b)
    }

    /// Field name → its whole content, from feeding `chunks`.
    fn parts(boundary: &str, chunks: &[&[u8]]) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut r = Reader::new(boundary);
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for c in chunks {
            for p in r.feed(c)? {
                match p {
                    Piece::Start { name, .. } => out.push((name, Vec::new())),
                    Piece::Data(d) => out.last_mut().unwrap().1.extend_from_slice(&d),
                    Piece::End => {}
                }
            }
        }
        if !r.done() {
            return Err("no closing boundary".into());
        }
        Ok(out)
    }

    #[test]
    fn every_split_of_the_body_reads_the_same() {
        // A file with line ends and boundary-like bytes in it.
        let file = b"\r\n--\r\n-------\r\nbinary\x00\xff\r\n--------------------------d74496d66958873\r\nend";
        let (whole, b) = body(file);
        let want = vec![
            (
                "UpdateParameters".to_string(),
                b"{\"Targets\": []}".to_vec(),
            ),
            ("UpdateFile".to_string(), file.to_vec()),
        ];
        assert_eq!(parts(b, &[&whole]).unwrap(), want);
        for cut in 0..whole.len() {
            let (a, z) = whole.split_at(cut);
            assert_eq!(parts(b, &[a, z]).unwrap(), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(parts(b, &bytes).unwrap(), want, "a byte at a time");
        let mut r = Reader::new(b);
        let pieces = r.feed(&whole).unwrap();
        assert_eq!(
            pieces[3],
            Piece::Start {
                name: "UpdateFile".into(),
                filename: Some("update.raucb".into())
            }
        );
    }

    #[test]
    fn bad_bodies() {
        let (whole, b) = body(b"x");
        // Cut short: no closing boundary.
        assert!(parts(b, &[&whole[..whole.len() - 10]]).is_err());
        // Another boundary: nothing found, not done.
        assert!(parts("other", &[&whole]).is_err());
        let no_disposition = format!("--{b}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{b}--\r\n");
        assert!(parts(b, &[no_disposition.as_bytes()]).is_err());
        let not_form =
            format!("--{b}\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--{b}--\r\n");
        assert!(parts(b, &[not_form.as_bytes()]).is_err());
        let garbage_after = format!("--{b}XX");
        assert!(parts(b, &[garbage_after.as_bytes()]).is_err());
        let endless = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"a\"\r\n{}",
            "X-A: b\r\n".repeat(2000)
        );
        assert!(Reader::new(b).feed(endless.as_bytes()).is_err());
    }

    #[test]
    fn boundaries_of_content_types() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=x; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("multipart/mixed; boundary=abc"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
    }
}
