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
