//! The `coop-registry` command: serves the API, or runs one of the maintenance commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    // glibc keeps an arena per thread (8 per core), each holding what it freed: 2 bound peak RSS.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's tuning, called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    coop_registry::cli::run()
}
