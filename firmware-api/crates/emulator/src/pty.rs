//! A pseudo-terminal pair owned by the emulator (replaces the original's socat).
//!
//! The emulator serves the master side; clients open the slave path like a
//! serial port. We keep our own slave descriptor open for the lifetime of the
//! pair: without it the master reads EIO (and loses buffered data) every time
//! the last client closes the port, which the original server did after every
//! request.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An open pty pair in raw mode, master non-blocking.
#[derive(Debug)]
pub struct PtyPair {
    master: OwnedFd,
    slave: OwnedFd,
    slave_path: PathBuf,
}

impl PtyPair {
    /// Allocates a pty pair (`posix_openpt`, which needs no libutil) and puts
    /// the line in raw mode, so bytes pass unchanged and nothing is echoed
    /// back to the emulator as a phantom request.
    pub fn open() -> io::Result<PtyPair> {
        // SAFETY: plain libc calls on descriptors we own; every return is checked.
        unsafe {
            let m = cvt(libc::posix_openpt(
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            ))?;
            let master = OwnedFd::from_raw_fd(m);
            cvt(libc::grantpt(m))?;
            cvt(libc::unlockpt(m))?;
            let mut name = [0 as libc::c_char; 128];
            let rc = libc::ptsname_r(m, name.as_mut_ptr(), name.len());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let path_c = CStr::from_ptr(name.as_ptr());
            let slave_path = PathBuf::from(path_c.to_string_lossy().into_owned());
            let s = cvt(libc::open(
                path_c.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            ))?;
            let slave = OwnedFd::from_raw_fd(s);
            let mut tio: libc::termios = std::mem::zeroed();
            cvt(libc::tcgetattr(s, &mut tio))?;
            libc::cfmakeraw(&mut tio);
            cvt(libc::tcsetattr(s, libc::TCSANOW, &tio))?;
            let flags = cvt(libc::fcntl(m, libc::F_GETFL))?;
            cvt(libc::fcntl(m, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
            Ok(PtyPair {
                master,
                slave,
                slave_path,
            })
        }
    }

    /// The path clients open, e.g. `/dev/pts/7`.
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Wraps the master for tokio; must be called inside a runtime.
    pub fn into_stream(self) -> io::Result<PtyStream> {
        // SAFETY: the OwnedFd is moved into the AsyncFd and stays open, as
        // the same descriptor, until the AsyncFd drops it.
        let master = unsafe { AsyncFd::register(self.master) }?;
        Ok(PtyStream {
            master,
            slave: self.slave,
            slave_path: self.slave_path,
        })
    }
}

/// The master side of a [`PtyPair`] as an async byte stream.
#[derive(Debug)]
pub struct PtyStream {
    master: AsyncFd<OwnedFd>,
    slave: OwnedFd,
    slave_path: PathBuf,
}

impl PtyStream {
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Drops what was written to the slave but never read. When no client
    /// reads (closed port, crashed server), the pty buffer fills and writes
    /// stall; the original's flush-on-open would have discarded the same bytes.
    pub fn discard_unread(&self) -> io::Result<()> {
        // SAFETY: tcflush on a descriptor we own.
        cvt(unsafe { libc::tcflush(self.slave.as_raw_fd(), libc::TCIFLUSH) }).map(|_| ())
    }
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the buffer is valid for `buf.len()` bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the buffer is valid for `buf.len()` bytes.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl AsyncRead for PtyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.master.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| read_fd(fd.as_raw_fd(), unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.master.poll_write_ready(cx))?;
            match guard.try_io(|fd| write_fd(fd.as_raw_fd(), buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
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

    #[test]
    fn pair_opens_with_a_pts_path_and_link_is_replaced_and_removed() {
        let pair = PtyPair::open().unwrap();
        assert!(
            pair.slave_path().starts_with("/dev/pts"),
            "{:?}",
            pair.slave_path()
        );
        let dir = tempfile::tempdir().unwrap();
        let link_path = dir.path().join("ttyVapor001");
        std::os::unix::fs::symlink("/nonexistent", &link_path).unwrap();
        {
            let link = Link::create(&link_path, pair.slave_path()).unwrap();
            assert_eq!(std::fs::read_link(link.path()).unwrap(), pair.slave_path());
        }
        assert!(
            std::fs::symlink_metadata(&link_path).is_err(),
            "removed on drop"
        );
        let file = dir.path().join("regular");
        std::fs::write(&file, b"x").unwrap();
        assert!(Link::create(&file, pair.slave_path()).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }
}
