//! The `concierge` command line: serve (default), migrate, bootstrap and schema.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::auth::Plan;
use crate::config::Settings;
use crate::db::Db;
use crate::startup::Application;
use crate::{graphql, service, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "concierge",
    version,
    about = "The Concierge customer-service assistant platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an organization with its owner, a default assistant and an owner API key (printed once).
    Bootstrap {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// basic, standard or premium.
        #[arg(long, default_value = "basic")]
        plan: Plan,
        /// The owner's email address.
        #[arg(long)]
        email: String,
    },
    /// Organization tools.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Audit-log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the federation SDL (what `_service { sdl }` serves).
    Schema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Change an organization's plan (recorded in its audit log as the operator).
    SetPlan {
        /// The organization's id (org_…).
        #[arg(long)]
        org: String,
        /// basic, standard or premium.
        #[arg(long)]
        plan: Plan,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every organization's hash chain and compare its end with the organization's head and every
    /// signed checkpoint; exits non-zero if any entry was edited or removed, the newest ones included.
    Verify {
        /// A copy of the checkpoints kept outside the database: the lines `concierge audit checkpoints`
        /// printed, or the server's JSON log (its `audit checkpoint` lines are read, the rest skipped).
        #[arg(long, value_name = "FILE")]
        anchors: Option<std::path::PathBuf>,
    },
    /// Write today's signed checkpoint of every organization's head, then print every stored checkpoint as one
    /// JSON line each: keep them where the database's administrators cannot edit them.
    Checkpoints,
}

impl clap::ValueEnum for Plan {
    fn value_variants<'a>() -> &'a [Self] {
        &[Plan::Basic, Plan::Standard, Plan::Premium]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// Parses the command line and runs the command; errors print to stderr and exit non-zero.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?
        }
        Command::Migrate => {
            let db = Db::connect(&settings).await?;
            db.migrate().await?;
            println!("migrations applied");
        }
        Command::Bootstrap { org, plan, email } => {
            let db = Db::connect(&settings).await?;
            db.migrate().await?;
            let created = service::identity::bootstrap::bootstrap(&db, &org, plan, &email)
                .await
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            println!(
                "organization  {} ({}, {})",
                created.organization.id, created.organization.name, created.organization.plan
            );
            println!(
                "owner         {} <{}>",
                created.owner.id, created.owner.email
            );
            println!("assistant-id  {}", created.assistant.id);
            println!(
                "api key       {} ({})",
                created.api_key.id, created.api_key.prefix
            );
            println!();
            println!("Owner API key (shown once; store it now):");
            println!("{}", created.secret);
            println!();
            println!(
                "Owner invitation (valid {} days): open the link to set a password, or POST /api/v1/auth/accept-invitation {{\"token\": …, \"password\": …}}",
                service::identity::signin::INVITATION_DAYS
            );
            println!("{}", created.owner_invitation);
            let public_url = settings
                .public_url
                .clone()
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| format!("http://{}", settings.bind));
            println!(
                "invitation-url {}",
                service::identity::signin::invitation_url(&public_url, &created.owner_invitation)
            );
        }
        Command::Org {
            command: OrgCommand::SetPlan { org, plan },
        } => {
            let db = Db::connect(&settings).await?;
            db.migrate().await?;
            // A running server writes to the same database: a change that collides with one of its writes (a
            // busy SQLite file, a serialization failure) is tried again for about half a minute before giving up
            // (a loaded machine was seen to keep the file busy for more than the seven seconds tried before).
            let mut attempt: u64 = 1;
            let updated = loop {
                match service::identity::organizations::set_plan_as_operator(&db, &org, plan).await
                {
                    Err(err) if attempt < 12 && err.is_collision() => {
                        attempt += 1;
                        let wait = (500 * attempt).min(3_000);
                        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                    }
                    other => break other.map_err(|e| anyhow::anyhow!(e.public_message()))?,
                }
            };
            println!(
                "{} ({}) is now on the {} plan",
                updated.id, updated.name, updated.plan
            );
            // Running servers read a key's plan again at once when told through Redis, else within seconds.
            if let Some(url) = &settings.redis_url {
                use secrecy::ExposeSecret;
                if let Err(err) =
                    crate::events::bus::announce_access(url.expose_secret(), &updated.id).await
                {
                    eprintln!(
                        "could not tell the running servers through Redis ({err}); they apply the plan within {} s",
                        crate::auth::key_cache::TTL.as_secs()
                    );
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Checkpoints,
        } => {
            let db = Db::connect(&settings).await?;
            db.migrate().await?;
            let sealer = crate::secrets::Sealer::from_settings(&settings)?;
            service::audit::write_checkpoints(&db, &sealer)
                .await
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            for anchor in service::audit::stored_checkpoints(&db)
                .await
                .map_err(|e| anyhow::anyhow!(e.public_message()))?
            {
                println!("{}", serde_json::to_string(&anchor)?);
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { anchors },
        } => {
            let db = Db::connect(&settings).await?;
            db.migrate().await?;
            let sealer = crate::secrets::Sealer::from_settings(&settings)?;
            let (given, source) = match &anchors {
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|err| {
                        anyhow::anyhow!("cannot read the anchors {}: {err}", path.display())
                    })?;
                    let given = service::audit::read_anchors(&text);
                    if given.is_empty() {
                        anyhow::bail!(
                            "{} holds no audit checkpoint (one JSON object per line)",
                            path.display()
                        );
                    }
                    (given, path.display().to_string())
                }
                None => (Vec::new(), String::new()),
            };
            let report = service::audit::verify(&db, &sealer, &given, &source)
                .await
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            for problem in &report.problems {
                println!("TAMPERED  {problem}");
            }
            if !report.problems.is_empty() {
                anyhow::bail!(
                    "audit log verification failed: {} problem(s) in {} entries of {} organization(s)",
                    report.problems.len(),
                    report.entries,
                    report.organizations
                );
            }
            println!(
                "audit log verified: {} entries in {} organization(s), every hash chain intact and ending at its head, {} signed checkpoint(s) matched",
                report.entries, report.organizations, report.checkpoints
            );
        }
        Command::Schema { output } => {
            let sdl = graphql::federation_sdl(&graphql::build_schema(&settings)).await?;
            match output {
                Some(path) => std::fs::write(path, sdl)?,
                None => print!("{sdl}"),
            }
        }
    }
    Ok(())
}
