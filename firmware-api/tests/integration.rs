//! All integration tests in one binary. Each file here is a module; the
//! shared fixtures (`common`, `auth_support`, `ipmi_support`) are modules of
//! this root, used by the files that need them. One binary instead of one per
//! file, because each binary links the whole dependency tree (TLS, LDAP, JWT,
//! tokio): 27 of them took over 5 GB of disk in a debug build and most of the
//! link time. `tls_reload` stays apart: it signals its own process.
//!
//! Run one file's tests with a filter: `cargo test --test integration api_v11::`.

mod auth_support;
mod cdp;
mod common;
mod ipmi_support;

mod api_browser;
mod api_ipmi;
mod api_limits;
mod api_v11;
mod auth_cli;
mod auth_jwt;
mod auth_ldap;
mod auth_matrix;
mod auth_tokens;
mod browser_chromium;
mod bus_noise;
mod cli;
mod dashboard_chromium;
mod dashboard_events;
mod discover;
mod emulator_bench;
mod emulator_cli;
mod emulator_pty;
mod hat_bringup;
mod hat_cli;
mod hat_config;
mod hat_detect;
mod hat_port;
mod hat_registers;
mod hat_service;
mod hat_wired;
mod ipmi_boot;
mod ipmi_negative;
mod ipmi_proptest;
mod ipmi_sim;
mod ipmi_wire_vectors;
mod redfish;
mod redfish_boot;
mod redfish_events;
mod redfish_group_reset;
mod redfish_logs;
mod redfish_manager;
mod redfish_protocol;
mod redfish_sessions;
mod redfish_telemetry;
mod redfish_update;
mod syslog_tcp;
mod telemetry;
mod telemetry_bench;
mod telemetry_bmc;
mod tls_handshake;
