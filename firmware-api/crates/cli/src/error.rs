//! Exit codes a script can rely on, and the one error type carrying them.

use std::fmt;

/// The process exit status; documented in `--help` and the man page
/// (`EXIT_CODES` below is that text, so the two cannot drift).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The node answered an error (HTTP 4xx/5xx other than 401/403/404).
    Node = 1,
    /// Bad usage, bad config or alias file, bad input.
    Usage = 2,
    /// No connection, TLS failure, or no answer in time.
    Connect = 3,
    /// 401 or 403: the token is missing, wrong, or lacks the role.
    Auth = 4,
    /// Unknown alias or asset tag, or 404 from the node.
    NotFound = 5,
}

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the node answered an error (HTTP 4xx/5xx other than below; 500 is how
     v1.1 reports a bus failure, e.g. a device that does not answer)
  2  usage, configuration or alias-file error
  3  cannot connect, TLS failure, or timeout (connect or request)
  4  authentication or authorization refused (HTTP 401/403)
  5  target not found (unknown alias or asset tag, HTTP 404)";

#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn new(exit: Exit, message: impl Into<String>) -> CliError {
        CliError {
            exit,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
