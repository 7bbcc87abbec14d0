//! The serial port behind the HAT's SIG60 modem: bring the modem up before the
//! first open, re-initialise it before every re-open after a failure, and wake
//! it before each transaction (its auto-sleep lets it doze between requests,
//! which is why the original re-woke it on every bus access).

use std::io;

use super::port::{PortOpener, SerialOpener};
use opendcre_hat::HatService;

pub struct HatOpener {
    pub serial: SerialOpener,
    pub hat: HatService,
    brought_up: bool,
}

impl HatOpener {
    pub fn new(serial: SerialOpener, hat: HatService) -> Self {
        HatOpener {
            serial,
            hat,
            brought_up: false,
        }
    }
}

impl PortOpener for HatOpener {
    type Port = tokio_serial::SerialStream;

    async fn open(&mut self) -> io::Result<Self::Port> {
        // The register mode uses the same UART at 19200 baud; the bus port is
        // closed here (never opened, or dropped after an error).
        let result = if self.brought_up {
            self.hat.recover().await
        } else {
            self.hat.bring_up().await
        };
        match result {
            Ok(status) => {
                self.brought_up = true;
                tracing::info!(?status, "PLC modem configured");
            }
            // As in the original, a modem that will not configure is logged and
            // the bus is still tried: it may be configured already.
            Err(e) => {
                tracing::warn!(error = %e, "PLC modem bring-up failed; opening the bus anyway")
            }
        }
        self.serial.open().await
    }

    async fn before_transaction(&mut self) {
        if let Err(e) = self.hat.ensure_awake().await {
            tracing::warn!(error = %e, "PLC modem did not wake");
        }
    }

    fn describe(&self) -> String {
        format!("{} (PLC modem HAT)", self.serial.path)
    }
}
