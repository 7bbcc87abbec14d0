//! The REST API: OpenDCRE v1.1 on hyper (spec §2.1, §2.3).
//!
//! request → [`path`] (nginx-style normalisation) → [`router`] → [`v11`]
//! handler → bus actor. [`server`] owns sockets, limits and shutdown.

pub mod error;
pub mod ipmi_board;
pub mod path;
pub(crate) mod router;
pub mod server;
pub mod state;
pub mod v11;

pub use state::AppState;
