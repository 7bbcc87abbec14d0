//! The REST API: OpenDCRE v1.1 on hyper (spec §2.1, §2.3).
//!
//! request → [`path`] (nginx-style normalisation) → [`router`] → [`v11`]
//! handler → bus actor. [`server`] owns sockets, limits and shutdown;
//! `admission` hands out connection slots, `write_deadline` bounds writes,
//! [`browser`] is the CORS and cross-site write policy. [`openapi`] is the
//! document of every route, served at `/opendcre/openapi.json`.
//! [`dashboard`] serves the browser dashboard's static files, [`events`]
//! its live feed (server-sent events from the telemetry cache).
//! document of every route, served at `/opendcre/openapi.json`. Paths under
//! `/redfish` go to the `opendcre-redfish` crate through [`redfish`].

pub(crate) mod admission;
pub mod browser;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod ipmi_board;
pub(crate) mod multipart;
pub mod openapi;
pub mod path;
pub(crate) mod redfish;
pub(crate) mod router;
pub mod server;
pub mod state;
pub(crate) mod upload;
pub mod v11;
pub(crate) mod v2;
pub(crate) mod write_deadline;

pub use state::AppState;
