//! IPMI-over-LAN bridge (spec §7).
//!
//! * [`wire`] — packet codecs: RMCP/ASF, IPMI messages, v1.5 and RMCP+ sessions, RAKP.

pub mod wire;
