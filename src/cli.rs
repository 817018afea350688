//! The command line: `serve` (the default), `migrate`, `openapi`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db::Db;
use crate::{Application, openapi, telemetry};

/// Cooperation Registry: partners, countries, agreements and events of an international
/// cooperation hub, as a REST JSON API.
#[derive(Debug, Parser)]
#[command(name = "coop-registry", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document (what openapi/openapi.json holds).
    Openapi,
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.settings),
        Command::Migrate => migrate(&cli.settings),
        Command::Openapi => {
            print!("{}", openapi::to_json());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coop-registry: {error}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn serve(settings: &Settings) -> CliResult {
    telemetry::init_logging();
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings)?;
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn migrate(settings: &Settings) -> CliResult {
    telemetry::init_logging();
    let applied = Db::new(settings).migrate()?;
    if applied.is_empty() {
        log::info!("the database is up to date");
    } else {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    Ok(())
}
