//! The emulator's pseudo-terminal pair (it replaces the original's socat).
//!
//! `tokio_serial::SerialStream::pair()` opens, grants and unlocks the pair
//! and puts the slave in raw mode, so bytes pass unchanged and nothing is
//! echoed back to the emulator as a phantom request. The emulator serves the
//! master; clients open the slave path like a serial port. We keep our own
//! slave open for the lifetime of the pair: without it the master reads EIO
//! (and loses buffered data) every time the last client closes the port,
//! which the original server did after every request.

use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use tokio_serial::{ClearBuffer, SerialPort, SerialStream};

/// An open pty pair: the master to serve, our own slave to keep the line up.
#[derive(Debug)]
pub struct Pty {
    master: SerialStream,
    slave: SerialStream,
    slave_path: PathBuf,
}

impl Pty {
    /// Allocates a pty pair; must be called inside a tokio runtime.
    pub fn open() -> io::Result<Pty> {
        let (master, slave) = SerialStream::pair().map_err(io::Error::from)?;
        // The pair is opened without close-on-exec; a child process (tests
        // start many) would otherwise keep the line alive after we drop it.
        close_on_exec(&master)?;
        close_on_exec(&slave)?;
        let slave_path = slave
            .name()
            .map(PathBuf::from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the pty slave has no path"))?;
        Ok(Pty {
            master,
            slave,
            slave_path,
        })
    }

    /// The path clients open, e.g. `/dev/pts/7`.
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The master side, the emulator's end of the line.
    pub fn master_mut(&mut self) -> &mut SerialStream {
        &mut self.master
    }

    /// The master to write to and the slave whose unread input
    /// [`discard_unread`] drops, borrowed together.
    pub(crate) fn ends(&mut self) -> (&mut SerialStream, &SerialStream) {
        (&mut self.master, &self.slave)
    }
}

/// Drops what was written to the slave but never read. When no client reads
/// (closed port, crashed server), the pty buffer fills and writes stall; the
/// original's flush-on-open would have discarded the same bytes.
pub(crate) fn discard_unread(slave: &SerialStream) -> io::Result<()> {
    slave.clear(ClearBuffer::Input).map_err(io::Error::from)
}

fn close_on_exec(s: &SerialStream) -> io::Result<()> {
    let fd = s.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `s`, which outlives this
    // call; F_SETFD only changes the descriptor's flags, no memory is passed.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A symlink to the slave (like socat's `link=`), removed again on drop.
#[derive(Debug)]
pub struct Link {
    path: PathBuf,
}

impl Link {
    /// Points `path` at `target`, replacing an existing symlink but never a
    /// regular file or directory.
    pub fn create(path: &Path, target: &Path) -> io::Result<Link> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(path)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a symlink", path.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::os::unix::fs::symlink(target, path)?;
        Ok(Link {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pair_opens_with_a_pts_path_and_link_is_replaced_and_removed() {
        let pty = Pty::open().unwrap();
        assert!(
            pty.slave_path().starts_with("/dev/pts"),
            "{:?}",
            pty.slave_path()
        );
        let dir = tempfile::tempdir().unwrap();
        let link_path = dir.path().join("ttyVapor001");
        std::os::unix::fs::symlink("/nonexistent", &link_path).unwrap();
        {
            let link = Link::create(&link_path, pty.slave_path()).unwrap();
            assert_eq!(std::fs::read_link(link.path()).unwrap(), pty.slave_path());
        }
        assert!(
            std::fs::symlink_metadata(&link_path).is_err(),
            "removed on drop"
        );
        let file = dir.path().join("regular");
        std::fs::write(&file, b"x").unwrap();
        assert!(Link::create(&file, pty.slave_path()).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }

    /// Raw mode: bytes written on the master arrive unchanged at a client
    /// of the slave path, nothing is echoed back to the master.
    #[tokio::test]
    async fn raw_line_passes_bytes_unchanged_without_echo() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut pty = Pty::open().unwrap();
        let mut client =
            opendcre_bus::open_serial(&pty.slave_path().to_string_lossy(), 115_200).unwrap();
        let bytes: Vec<u8> = (0u8..=255).collect();
        pty.master_mut().write_all(&bytes).await.unwrap();
        let mut got = vec![0u8; bytes.len()];
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client.read_exact(&mut got),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(got, bytes);
        client.write_all(b"\r\nR\x03").await.unwrap();
        let mut back = [0u8; 4];
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            pty.master_mut().read_exact(&mut back),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(&back, b"\r\nR\x03", "no CR/LF translation");
        let mut more = [0u8; 16];
        let echoed = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            client.read(&mut more),
        )
        .await;
        assert!(echoed.is_err(), "nothing is echoed back to the client");
    }
}
