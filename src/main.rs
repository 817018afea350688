//! The `coop-registry` command: serves the API, or runs one of the maintenance commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    coop_registry::cli::run()
}
