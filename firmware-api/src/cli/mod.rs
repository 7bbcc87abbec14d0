//! The subcommands besides `serve`: `emulate`, `hat`, `auth`, `discover`. Argument
//! parsing (clap) stays here so that the library crates below do not depend
//! on a command-line parser.

pub mod auth;
pub mod discover;
pub mod emulate;
pub mod hat;
