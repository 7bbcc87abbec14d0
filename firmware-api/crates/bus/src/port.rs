//! Where hardware begins: the byte stream to the modem and how to (re)open it.

use std::future::Future;
use std::io;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream to the bus that can drop unread input, like
/// the original's per-request `flushInput()`.
pub trait Port: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Discards bytes received but not yet read.
    fn discard_input(&mut self) -> io::Result<()>;
}

/// Opens the port at start and again after an I/O error. The HAT's modem
/// bring-up hooks in here, because it must run before every (re)open.
pub trait PortOpener: Send + 'static {
    type Port: Port;
    fn open(&mut self) -> impl Future<Output = io::Result<Self::Port>> + Send;
    /// Runs before every transaction on an open port (the HAT wakes a modem
    /// that dozed off); a failure is logged by the implementation, not fatal.
    fn before_transaction(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Names the port in logs and error messages.
    fn describe(&self) -> String;
}

impl Port for tokio_serial::SerialStream {
    fn discard_input(&mut self) -> io::Result<()> {
        use tokio_serial::SerialPort;
        self.clear(tokio_serial::ClearBuffer::Input)
            .map_err(io::Error::from)
    }
}

/// A UART or pty at a fixed baud rate, 8N1, no flow control.
#[derive(Debug, Clone)]
pub struct SerialOpener {
    pub path: String,
    pub baud: u32,
}

impl PortOpener for SerialOpener {
    type Port = tokio_serial::SerialStream;

    async fn open(&mut self) -> io::Result<Self::Port> {
        open_serial(&self.path, self.baud)
    }

    fn describe(&self) -> String {
        self.path.clone()
    }
}

/// Opens a UART or pty at `baud`, 8N1, no flow control: the bus's line
/// settings, shared with the emulator's `--port` mode.
pub fn open_serial(path: &str, baud: u32) -> io::Result<tokio_serial::SerialStream> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(io::Error::from)
}

/// An in-memory line (`tokio::io::duplex`) is a port: what tests put where
/// the UART would be, so the actor runs its real code paths against a
/// scripted device. Behind the `memory-line` feature, like `hat::sim`.
#[cfg(feature = "memory-line")]
impl Port for tokio::io::DuplexStream {
    /// Drops what has arrived and not been read, as a serial flush does:
    /// reads until the stream would block.
    fn discard_input(&mut self) -> io::Result<()> {
        use std::pin::Pin;
        use std::task::{Context, Poll, Waker};
        use tokio::io::ReadBuf;
        let mut cx = Context::from_waker(Waker::noop());
        let mut scratch = [0u8; 512];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *self).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => continue,
                Poll::Ready(r) => return r,
                Poll::Pending => return Ok(()),
            }
        }
    }
}

/// Opens one in-memory line, once: a reopen after an I/O error fails, as an
/// unplugged adapter would.
#[cfg(feature = "memory-line")]
pub struct MemoryLine(Option<tokio::io::DuplexStream>);

#[cfg(feature = "memory-line")]
impl MemoryLine {
    /// The service's end of a line made with `tokio::io::duplex`.
    pub fn new(end: tokio::io::DuplexStream) -> Self {
        MemoryLine(Some(end))
    }
}

#[cfg(feature = "memory-line")]
impl PortOpener for MemoryLine {
    type Port = tokio::io::DuplexStream;
    async fn open(&mut self) -> io::Result<Self::Port> {
        self.0.take().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "in-memory line: opened once only")
        })
    }
    fn describe(&self) -> String {
        "in-memory line".into()
    }
}
