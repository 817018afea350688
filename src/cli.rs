//! The command line: `serve` (the default), `migrate`, `openapi`, `token …`, `seed-demo`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::auth::{self, Role};
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
    /// Make, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Load the example records of the contract (idempotent: a second run adds nothing).
    SeedDemo,
    /// Load the deterministic benchmark data set (for bench/run.sh) into a registry that has
    /// no partners yet.
    SeedBench {
        #[arg(long, default_value_t = 2000)]
        partners: usize,
        #[arg(long, default_value_t = 20000)]
        agreements: usize,
        #[arg(long, default_value_t = 100000)]
        events: usize,
    },
    /// Copy a live SQLite database to a new file, consistently, while the service runs.
    /// (For PostgreSQL use pg_dump.)
    Backup {
        /// The new file to write; it must not exist yet.
        path: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; prints it as the only line on standard output (it is not stored, only
    /// its hash is).
    Create {
        /// A unique name: it identifies the token in the audit log.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List tokens: name, role, created and last used (never the token itself).
    List,
    /// Revoke a token at once, on every instance.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

/// A role, as the command line spells it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RoleArg {
    Editor,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Editor => Role::Editor,
            RoleArg::Admin => Role::Admin,
        }
    }
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
        Command::Token(command) => token(&cli.settings, command),
        Command::SeedDemo => seed_demo(&cli.settings),
        Command::Backup { path } => backup(&cli.settings, &path),
        Command::SeedBench {
            partners,
            agreements,
            events,
        } => {
            let sizes = crate::bench_data::BenchSizes {
                partners,
                agreements,
                events,
            };
            seed_bench(&cli.settings, sizes)
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
    let applied = Db::new(settings)?.migrate()?;
    if applied.is_empty() {
        log::info!("the database is up to date");
    } else {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    Ok(())
}

fn token(settings: &Settings, command: TokenCommand) -> CliResult {
    let db = Db::new(settings)?;
    db.migrate()?;
    let mut conn = db.writer().get()?;
    match command {
        TokenCommand::Create { name, role } => {
            let token = auth::create_token(&mut conn, &name, role.into())?;
            println!("{token}");
        }
        TokenCommand::List => {
            println!("{:<24} {:<7} {:<28} last used", "name", "role", "created");
            for t in auth::list_tokens(&mut conn)? {
                let last = t.last_used_at.map_or_else(
                    || "never".to_owned(),
                    |at| format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S")),
                );
                println!(
                    "{:<24} {:<7} {:<28} {last}",
                    t.name,
                    t.role.as_str(),
                    format!("{}Z", t.created_at.format("%Y-%m-%dT%H:%M:%S"))
                );
            }
        }
        TokenCommand::Revoke { name } => {
            if !auth::revoke_token(&mut conn, &name)? {
                return Err(format!("no token named {name:?}").into());
            }
            eprintln!("revoked token {name:?}");
        }
    }
    Ok(())
}

fn seed_demo(settings: &Settings) -> CliResult {
    let db = Db::new(settings)?;
    db.migrate()?;
    let mut conn = db.writer().get()?;
    let report = crate::demo::seed(&mut conn)?;
    println!(
        "seed-demo: marked {} countries as participants, added {} partners, {} agreements, {} events",
        report.countries_marked, report.partners, report.agreements, report.events
    );
    Ok(())
}

fn backup(settings: &Settings, path: &str) -> CliResult {
    Db::new(settings)?.backup(path)?;
    eprintln!(
        "backed up to {path}; restore by stopping the service and putting this file in place of the database file"
    );
    Ok(())
}

fn seed_bench(settings: &Settings, sizes: crate::bench_data::BenchSizes) -> CliResult {
    let db = Db::new(settings)?;
    db.migrate()?;
    let mut conn = db.writer().get()?;
    let made = crate::bench_data::generate(&mut conn, sizes)?;
    println!(
        "seed-bench: {} partners, {} agreements, {} events",
        made.partners, made.agreements, made.events
    );
    Ok(())
}
