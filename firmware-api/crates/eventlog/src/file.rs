//! The log file: JSON lines, appended by one writer thread, read once at
//! start. A line that does not parse (the torn last line after a power
//! loss, or anything else) is skipped and counted, never fatal. The file is
//! rewritten with the kept entries when it has grown to twice the bound, so
//! it stays bounded without a rewrite per entry.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use crate::entry::Entry;

/// The most of an old file read at start: far more than the largest bound
/// of entries needs; a file grown beyond it by something else is read from
/// its end.
const MAX_LOAD_BYTES: u64 = 64 << 20;

/// What the writer thread is asked to do.
pub(crate) enum Job {
    Append(Entry),
    /// Rewrite the file with these entries (a clear; the entry recording
    /// it follows as an append).
    Replace(VecDeque<Entry>),
    /// Answer once every job before this one is done (tests, shutdown).
    Flush(SyncSender<()>),
}

/// What [`load`] found in an existing file.
pub(crate) struct Loaded {
    /// The newest `max` entries, oldest first.
    pub entries: VecDeque<Entry>,
    /// Lines in the file (each parsed or not): when to compact.
    pub lines: usize,
    pub skipped: u64,
    /// The file does not end with a newline (a torn last line): the next
    /// append starts a new line first.
    pub torn: bool,
}

/// Reads the entries of `path`; a missing file is an empty log.
pub(crate) fn load(path: &Path, max: usize) -> std::io::Result<Loaded> {
    let mut out = Loaded {
        entries: VecDeque::new(),
        lines: 0,
        skipped: 0,
        torn: false,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len > MAX_LOAD_BYTES {
        file.seek(SeekFrom::Start(len - MAX_LOAD_BYTES))?;
        // The first line is a partial one.
        out.skipped += 1;
    }
    let mut text = Vec::new();
    file.take(MAX_LOAD_BYTES).read_to_end(&mut text)?;
    out.torn = !text.is_empty() && text.last() != Some(&b'\n');
    for line in BufReader::new(text.as_slice()).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.lines += 1;
        match serde_json::from_slice::<Entry>(&line) {
            Ok(e) => {
                out.entries.push_back(e);
                if out.entries.len() > max {
                    out.entries.pop_front();
                }
            }
            Err(_) => out.skipped += 1,
        }
    }
    Ok(out)
}

/// Counters the writer keeps and the log shows.
#[derive(Default)]
pub(crate) struct WriteStats {
    pub errors: AtomicU64,
    pub written: AtomicU64,
}

/// The writer thread's state: the open file, a copy of the kept entries
/// (what a compaction writes), and how many lines the file has.
pub(crate) struct Writer {
    pub path: PathBuf,
    pub max: usize,
    pub kept: VecDeque<Entry>,
    pub lines: usize,
    pub torn: bool,
    pub stats: Arc<WriteStats>,
}

impl Writer {
    /// Runs until every sender is gone.
    pub(crate) fn run(mut self, jobs: Receiver<Job>) {
        let mut file = None;
        for job in jobs {
            let done = match job {
                Job::Append(e) => self.append(&mut file, e),
                Job::Replace(kept) => {
                    self.kept = kept;
                    self.rewrite(&mut file)
                }
                Job::Flush(ack) => {
                    let _ = ack.send(());
                    continue;
                }
            };
            match done {
                Ok(()) => {
                    self.stats.written.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    // The next append starts on a fresh line: a partial
                    // write must not swallow the entry after it.
                    self.torn = true;
                    file = None;
                    let n = self.stats.errors.fetch_add(1, Relaxed) + 1;
                    // First error, then every 100th: a dead disk must not
                    // flood the journal either.
                    if n == 1 || n % 100 == 0 {
                        tracing::error!(path = %self.path.display(), errors = n, "event log write failed: {e}");
                    }
                }
            }
        }
    }

    fn append(&mut self, file: &mut Option<File>, e: Entry) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(256);
        if self.torn {
            line.push(b'\n');
        }
        serde_json::to_writer(&mut line, &e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.kept.push_back(e);
        if self.kept.len() > self.max {
            self.kept.pop_front();
        }
        if self.lines + 1 >= self.max.saturating_mul(2) {
            return self.rewrite(file);
        }
        let f = match file {
            Some(f) => f,
            None => file.insert(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            ),
        };
        f.write_all(&line)?;
        f.sync_data()?;
        self.torn = false;
        self.lines += 1;
        Ok(())
    }

    /// Writes the kept entries to a new file beside the old one and renames
    /// it into place: a power loss leaves the old file or the new one.
    fn rewrite(&mut self, file: &mut Option<File>) -> std::io::Result<()> {
        *file = None;
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".new");
        let tmp = PathBuf::from(tmp_name);
        let mut text = Vec::new();
        for e in &self.kept {
            serde_json::to_writer(&mut text, e).map_err(std::io::Error::other)?;
            text.push(b'\n');
        }
        let mut f = File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            // The rename itself is durable once the directory is synced.
            if let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) {
                let _ = d.sync_all();
            }
        }
        self.torn = false;
        self.lines = self.kept.len();
        Ok(())
    }
}
