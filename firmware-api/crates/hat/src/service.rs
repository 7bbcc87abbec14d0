//! The HAT as the async service uses it. rppal is blocking and a wake can
//! take over a second, so every operation runs on tokio's blocking pool,
//! serialised by one mutex: the lines and the UART have a single owner.
//!
//! The register UART is the bus UART at another speed, so the bus task must
//! have its port closed while [`HatService::bring_up`] or
//! [`HatService::recover`] runs, and reopen it at [`HatStatus::bus_baud`].

use std::sync::{Arc, Mutex};

use super::bringup::{self, HatStatus, ModemReading, WakeReport};
use super::config::HatConfig;
use super::detect::detect;
use super::error::HatError;
use super::io::{HatIo, Sleeper, SystemSleeper};
use super::rppal_io::open_rppal;

struct Controller {
    io: Box<dyn HatIo>,
    cfg: HatConfig,
    sleeper: Arc<dyn Sleeper>,
    last: Option<HatStatus>,
    recoveries: u64,
}

/// A long-lived handle on the HAT; cheap to clone.
#[derive(Clone)]
pub struct HatService {
    inner: Arc<Mutex<Controller>>,
}

async fn blocking<T, F>(f: F) -> Result<T, HatError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, HatError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HatError::Worker(e.to_string()))?
}

impl HatService {
    /// Detect the HAT and claim its lines; nothing is driven yet. Fails with
    /// [`HatError::NotPresent`] when there is no HAT to set up.
    pub async fn open(cfg: HatConfig) -> Result<HatService, HatError> {
        let detection = detect(&cfg);
        if !detection.has_modem() {
            return Err(HatError::NotPresent(detection.describe()));
        }
        tracing::info!("{}", detection.describe());
        let cfg2 = cfg.clone();
        let hat = blocking(move || open_rppal(&cfg2)).await?;
        Ok(HatService::with_io(
            Box::new(hat),
            cfg,
            Arc::new(SystemSleeper::new()),
        ))
    }

    /// A service over any [`HatIo`], e.g. the simulated modem.
    pub fn with_io(io: Box<dyn HatIo>, cfg: HatConfig, sleeper: Arc<dyn Sleeper>) -> HatService {
        HatService {
            inner: Arc::new(Mutex::new(Controller {
                io,
                cfg,
                sleeper,
                last: None,
                recoveries: 0,
            })),
        }
    }

    async fn with_controller<T, F>(&self, f: F) -> Result<T, HatError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Controller) -> Result<T, HatError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let mut c = inner
                .lock()
                .map_err(|_| HatError::Worker("an earlier HAT operation panicked".into()))?;
            f(&mut c)
        })
        .await
    }

    /// The full bring-up sequence (wake, configure, verify, data mode).
    pub async fn bring_up(&self) -> Result<HatStatus, HatError> {
        self.with_controller(|c| {
            let status = bringup::bring_up(c.io.as_mut(), &c.cfg, c.sleeper.as_ref())?;
            c.last = Some(status.clone());
            Ok(status)
        })
        .await
    }

    /// Re-initialise the modem after the bus gave up on it (timeouts, only
    /// garbage): with `auto_sleep` it may have slept through a wake, or lost
    /// its configuration on a power glitch. Same sequence as at start.
    pub async fn recover(&self) -> Result<HatStatus, HatError> {
        self.with_controller(|c| {
            c.recoveries += 1;
            tracing::warn!(attempt = c.recoveries, "re-initialising the PLC modem");
            let result = bringup::bring_up(c.io.as_mut(), &c.cfg, c.sleeper.as_ref());
            match &result {
                Ok(status) => {
                    tracing::info!(elapsed_ms = status.elapsed_ms, "PLC modem re-initialised");
                    c.last = Some(status.clone());
                }
                Err(e) => tracing::error!(error = %e, "PLC modem re-initialisation failed"),
            }
            result
        })
        .await
    }

    /// Wake the modem if it sleeps; one pin read when it is awake. The
    /// original did this before every bus transaction.
    pub async fn ensure_awake(&self) -> Result<WakeReport, HatError> {
        self.with_controller(|c| bringup::wake(c.io.as_mut(), &c.cfg, c.sleeper.as_ref()))
            .await
    }

    /// Read the registers (needs the bus UART closed, like `recover`).
    pub async fn read_modem(&self, wake_if_asleep: bool) -> Result<ModemReading, HatError> {
        self.with_controller(move |c| {
            bringup::read_modem(c.io.as_mut(), &c.cfg, c.sleeper.as_ref(), wake_if_asleep)
        })
        .await
    }

    /// The last successful bring-up, for a `/plc_config`-style endpoint.
    pub fn last_status(&self) -> Option<HatStatus> {
        self.inner.lock().ok().and_then(|c| c.last.clone())
    }

    /// How often [`recover`](Self::recover) ran.
    pub fn recoveries(&self) -> u64 {
        self.inner.lock().map(|c| c.recoveries).unwrap_or(0)
    }

    /// Leave the HAT clean: UART closed, every line an input.
    pub async fn shutdown(&self) -> Result<(), HatError> {
        self.with_controller(|c| {
            bringup::shutdown(c.io.as_mut());
            Ok(())
        })
        .await
    }
}
