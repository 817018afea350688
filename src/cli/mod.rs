//! The command line: `serve` (the default), `migrate`, `openapi`, `token …`, `backup`, and the
//! seeding commands `seed-demo` and `seed-bench`, whose data sets live here beside them.

pub mod bench_data;
pub mod demo;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::{self, Application};
use crate::auth::{self, Role};
use crate::config::{DEFAULT_DATABASE_URL, Settings};
use crate::db::Db;
use crate::{openapi, telemetry};

/// Cooperation Registry: partners, countries, agreements and events of an international
/// cooperation hub, as a REST JSON API.
#[derive(Debug, Parser)]
#[command(name = "coop-registry", version, about)]
pub struct Cli {
    /// Database: a `postgres://` (or `postgresql://`) URL selects PostgreSQL; otherwise the
    /// path of an SQLite file (a `sqlite://` prefix or a `file:` URI); other schemes are refused.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// The server's flags, for serving without a subcommand; scripts also give them before
    /// `serve` (`coop-registry --bind HOST:PORT serve`).
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the API (the default).
    Serve(Settings),
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document (what openapi/openapi.json holds).
    Openapi,
    /// Make, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Load the demo data (docs/demo-data.md); idempotent: a second run adds nothing.
    SeedDemo,
    /// Load the deterministic benchmark data set (for bench/run.sh) into a registry that has
    /// no partners yet.
    SeedBench {
        /// Partners to make.
        #[arg(long, default_value_t = 2000)]
        partners: usize,
        /// Agreements to make, between those partners.
        #[arg(long, default_value_t = 20000)]
        agreements: usize,
        /// Events to make, some of them under those agreements.
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
        /// What the token may do: `editor` writes partners, agreements and events; `admin`
        /// also writes countries and reads the audit log.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List tokens: name, role, created and last used (never the token itself).
    List,
    /// Revoke a token at once, on every instance.
    Revoke {
        /// The name the token was made with.
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
    let (settings, command) =
        resolve(&Cli::command().get_matches()).unwrap_or_else(|error| error.exit());
    let settings = &settings;
    let result = match command {
        None | Some(Command::Serve(_)) => serve(settings),
        Some(Command::Migrate) => migrate(settings),
        Some(Command::Openapi) => {
            print!("{}", openapi::to_json());
            Ok(())
        }
        Some(Command::Token(command)) => token(settings, command),
        Some(Command::SeedDemo) => seed_demo(settings),
        Some(Command::Backup { path }) => backup(settings, &path),
        Some(Command::SeedBench {
            partners,
            agreements,
            events,
        }) => {
            let sizes = bench_data::BenchSizes {
                partners,
                agreements,
                events,
            };
            seed_bench(settings, sizes)
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

/// The settings and the command that parsed arguments ask for. The server's flags may come
/// before `serve` or after it, but not both: either way, every flag given is used.
fn resolve(matches: &ArgMatches) -> Result<(Settings, Option<Command>), clap::Error> {
    let cli = Cli::from_arg_matches(matches)?;
    let mut settings = match (&cli.command, matches.subcommand()) {
        (Some(Command::Serve(after)), Some((_, serve_matches)))
            if server_flag_given(serve_matches) =>
        {
            if server_flag_given(matches) {
                return Err(Cli::command().error(
                    ErrorKind::ArgumentConflict,
                    "give the server's flags either before `serve` or after it, not both",
                ));
            }
            after.clone()
        }
        // Flags before the subcommand, the environment and the defaults: the same values as
        // `serve` has without flags of its own.
        _ => cli.settings,
    };
    settings.database_url = cli.database_url;
    Ok((settings, cli.command))
}

/// Whether a flag of `Settings` was given on the command line at this level (not read from the
/// environment, nor a default).
fn server_flag_given(matches: &ArgMatches) -> bool {
    Settings::augment_args(clap::Command::new("serve"))
        .get_arguments()
        .any(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
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
    let applied = app::prepare_database(&Db::new(settings)?)?;
    if applied.is_empty() {
        log::info!("the database is up to date");
    } else {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    Ok(())
}

fn token(settings: &Settings, command: TokenCommand) -> CliResult {
    let db = Db::new(settings)?;
    app::prepare_database(&db)?;
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
    app::prepare_database(&db)?;
    let mut conn = db.writer().get()?;
    let report = demo::seed(&mut conn)?;
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

fn seed_bench(settings: &Settings, sizes: bench_data::BenchSizes) -> CliResult {
    let db = Db::new(settings)?;
    app::prepare_database(&db)?;
    let mut conn = db.writer().get()?;
    let made = bench_data::generate(&mut conn, sizes)?;
    println!(
        "seed-bench: {} partners, {} agreements, {} events",
        made.partners, made.agreements, made.events
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Settings, Option<Command>), clap::Error> {
        let matches = Cli::command()
            .try_get_matches_from(std::iter::once("coop-registry").chain(args.iter().copied()))?;
        resolve(&matches)
    }

    /// Every option and positional argument of every command, however deeply nested, explains
    /// itself in `--help`: options added later are held to the same.
    #[test]
    fn every_argument_of_every_command_has_a_help_text() {
        fn undescribed(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                let described = arg
                    .get_help()
                    .is_some_and(|help| !help.to_string().trim().is_empty());
                if !described && id != "help" && id != "version" {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                undescribed(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        undescribed(&command, "coop-registry", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn the_server_flags_may_come_before_serve_after_it_or_without_it() {
        for args in [
            &["--bind", "10.0.0.1:1", "serve"][..],
            &["serve", "--bind", "10.0.0.1:1"],
            &["--bind", "10.0.0.1:1"],
        ] {
            let (settings, command) = parse(args).expect("parses");
            assert_eq!(settings.bind, "10.0.0.1:1", "{args:?}");
            assert!(
                matches!(command, None | Some(Command::Serve(_))),
                "{args:?}"
            );
        }
        let conflict = parse(&["--bind", "10.0.0.1:1", "serve", "--workers", "2"])
            .expect_err("flags on both sides of serve are refused");
        assert_eq!(conflict.kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn the_database_url_may_come_before_or_after_any_subcommand() {
        for args in [
            &["--database-url", "x.db", "token", "list"][..],
            &["token", "list", "--database-url", "x.db"],
            &["serve", "--database-url", "x.db"],
        ] {
            let (settings, _) = parse(args).expect("parses");
            assert_eq!(settings.database_url, "x.db", "{args:?}");
        }
    }

    #[test]
    fn the_server_flags_are_not_options_of_the_other_commands() {
        assert!(parse(&["token", "list", "--bind", "10.0.0.1:1"]).is_err());
        assert!(parse(&["migrate", "--workers", "2"]).is_err());
    }
}
