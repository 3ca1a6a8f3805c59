//! The command line: `sesame serve`, `keygen`, `apikey`, `migrate`,
//! `inspect`, `cookie inspect`, `sessions list|revoke`, `cleanup`.
//!
//! Every command loads the same configuration as `serve` and works on the
//! configured store directly (no running server needed). Exit codes: 0 done,
//! 1 failed, 2 invalid configuration or usage.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use sesame::{EndReason, Manager, SessionId, SystemClock};

use crate::api::{InspectionView, SessionView};
use crate::config::{Config, ConfigError, LogFormat, Overrides};

/// Session management for web apps: the `sesame` service and its tools.
#[derive(Debug, Parser)]
#[command(name = "sesame", version, propagate_version = true)]
pub struct Cli {
    /// Config file (default: $SESAME_CONFIG, else ./sesame.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Store URL: sqlite://FILE, memory://, postgres://…, mysql://…,
    /// redis://…, redis+cluster://…, memcached://… (as built in).
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// Data folder for the embedded store and first-start keys (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
    /// Print a new Fernet cookie key (for `cookie.keys` / SESAME_COOKIE_KEYS).
    Keygen {
        /// Print a new API key and its config entry instead.
        #[arg(long)]
        api_key: bool,
    },
    /// Print a new API key and the config entry holding its hash.
    Apikey(ApiKeyArgs),
    /// Create or upgrade the store's schema.
    Migrate,
    /// Show everything known about a session (token, or - to read stdin).
    Inspect {
        /// The session token; `-` reads it from stdin (keeps it out of shell history).
        token: String,
    },
    /// Cookie tools.
    Cookie {
        /// Cookie subcommand.
        #[command(subcommand)]
        command: CookieCommand,
    },
    /// A user's sessions.
    Sessions {
        /// Sessions subcommand.
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Run one cleanup pass now: end expired sessions, purge old tombstones.
    Cleanup,
}

/// `sesame serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:7700).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Log format: text or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or sesame_server=debug.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// `sesame apikey` flags.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// A label for the key.
    #[arg(long, default_value = "app")]
    pub name: String,
    /// Scopes, comma-separated: validate, sessions, admin.
    #[arg(long, value_delimiter = ',', default_value = "validate")]
    pub scopes: Vec<String>,
}

/// `sesame cookie …`.
#[derive(Debug, Subcommand)]
pub enum CookieCommand {
    /// Decode a cookie value: valid or why not, issued, time left, session id.
    Inspect {
        /// The cookie value; `-` reads it from stdin.
        value: String,
    },
}

/// `sesame sessions …`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions, oldest first.
    List {
        /// The user id.
        #[arg(long)]
        user: String,
    },
    /// End a user's sessions (all, or all but one).
    Revoke {
        /// The user id.
        #[arg(long)]
        user: String,
        /// Keep this session (its id, as `list` shows it).
        #[arg(long, value_name = "SESSION_ID")]
        except_id: Option<String>,
    },
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sesame: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprintln!("sesame: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("sesame: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Invalid configuration (exit 2).
    Config(ConfigError),
    /// Anything else (exit 1).
    Other(String),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}

impl From<crate::stores::OpenError> for Failure {
    fn from(e: crate::stores::OpenError) -> Self {
        match e {
            crate::stores::OpenError::Url(message) => {
                Failure::Config(ConfigError::new("store", message))
            }
            // The store refused the URL itself (a bad prefix, a bad option).
            crate::stores::OpenError::Store(sesame::Error::Config(text)) => {
                Failure::Config(ConfigError::new("store", text))
            }
            other => Failure::Other(other.to_string()),
        }
    }
}

impl From<crate::server::StartError> for Failure {
    fn from(e: crate::server::StartError) -> Self {
        match e {
            crate::server::StartError::Config(c) => Failure::Config(c),
            crate::server::StartError::Open(o) => o.into(),
            other => Failure::Other(other.to_string()),
        }
    }
}

impl From<sesame::Error> for Failure {
    fn from(e: sesame::Error) -> Self {
        match e {
            sesame::Error::Policy(e) => {
                Failure::Config(crate::config::policy::invalid(&e).within(crate::config::POLICY))
            }
            other => Failure::Other(other.to_string()),
        }
    }
}

fn load_config(cli: &Cli, serve: Option<&ServeArgs>) -> Result<Config, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let path = crate::config::config_path(cli.config.as_deref(), &env);
    let flags = Overrides {
        listen: serve.and_then(|s| s.listen.clone()),
        store: cli.store.clone(),
        data_dir: cli.data_dir.clone(),
        log_format: serve.and_then(|s| s.log_format.clone()),
        log_level: serve.and_then(|s| s.log_level.clone()),
    };
    Config::load(path.as_deref(), &env, &flags)
}

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn read_arg(value: &str) -> Result<String, Failure> {
    if value != "-" {
        return Ok(value.to_owned());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("reading from stdin…");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Other(format!("cannot read stdin: {e}")))?;
    Ok(line.trim().to_owned())
}

async fn manager(config: &Config) -> Result<Manager, Failure> {
    let handle = crate::stores::open(&config.store_url(), false).await?;
    let policy = config.policy.to_policy()?;
    Ok(Manager::with_clock(
        handle.store,
        policy,
        Arc::new(SystemClock),
    )?)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Serve(args) => serve(load_config(&cli, Some(args))?).await,
        Command::Keygen { api_key: false } => {
            let key = crate::cookies::generate_key().map_err(|e| Failure::Other(e.to_string()))?;
            println!("{}", *key);
            eprintln!(
                "# put it first in cookie.keys (or SESAME_COOKIE_KEYS), keeping older keys after it"
            );
            Ok(())
        }
        Command::Keygen { api_key: true } => apikey(&ApiKeyArgs {
            name: "app".into(),
            scopes: vec!["validate".into()],
        }),
        Command::Apikey(args) => apikey(args),
        Command::Migrate => {
            let config = load_config(&cli, None)?;
            crate::bootstrap::ensure_data_dir(&config)?;
            let done = crate::stores::migrate(&config.store_url()).await?;
            println!("{done}");
            Ok(())
        }
        Command::Inspect { token } => {
            let config = load_config(&cli, None)?;
            let token = read_arg(token)?;
            let m = manager(&config).await?;
            let view: InspectionView = m.inspect(&token).await?.into();
            print_json(&view)
        }
        Command::Cookie {
            command: CookieCommand::Inspect { value },
        } => {
            let mut config = load_config(&cli, None)?;
            crate::bootstrap::cookie_keys(&mut config, false)?;
            let value = read_arg(value)?;
            let policy = config.policy.to_policy()?;
            let cookies =
                crate::cookies::Cookies::new(config.cookie_keys()?, policy.absolute_lifetime());
            let now = sesame::Clock::now(&SystemClock).as_secs();
            let report = cookies.inspect(&value, now).ok_or_else(|| {
                Failure::Config(ConfigError::new(
                    "cookie.keys",
                    "no cookie keys: set cookie.keys or SESAME_COOKIE_KEYS",
                ))
            })?;
            print_json(&report)?;
            if report.valid {
                Ok(())
            } else {
                Err(Failure::Other(format!(
                    "the cookie is not valid: {}",
                    report.reason.as_deref().unwrap_or("unknown")
                )))
            }
        }
        Command::Sessions {
            command: SessionsCommand::List { user },
        } => {
            let config = load_config(&cli, None)?;
            let m = manager(&config).await?;
            let sessions: Vec<SessionView> = m
                .list_user(user)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            print_json(&serde_json::json!({"user": user, "sessions": sessions}))
        }
        Command::Sessions {
            command: SessionsCommand::Revoke { user, except_id },
        } => {
            let config = load_config(&cli, None)?;
            let except = except_id
                .as_deref()
                .map(SessionId::from_hex)
                .transpose()
                .map_err(|_| Failure::Other("--except-id is not a session id (64 hex)".into()))?;
            let m = manager(&config).await?;
            let ended = m.revoke_user(user, except.as_ref()).await?;
            let ids: Vec<String> = ended.iter().map(SessionId::to_hex).collect();
            print_json(
                &serde_json::json!({"user": user, "revoked": ids, "reason": EndReason::Revoked}),
            )
        }
        Command::Cleanup => {
            let config = load_config(&cli, None)?;
            let m = manager(&config).await?;
            let report = m.cleanup().await?;
            print_json(&crate::api::CleanupView::from(&report))
        }
    }
}

fn apikey(args: &ApiKeyArgs) -> Result<(), Failure> {
    for s in &args.scopes {
        if crate::auth::Scope::parse(s).is_none() {
            return Err(Failure::Config(ConfigError::new(
                "--scopes",
                format!("{s:?} is not one of validate, sessions, admin"),
            )));
        }
    }
    let (key, line) = crate::auth::generate_api_key().map_err(|e| Failure::Other(e.to_string()))?;
    println!("{key}");
    let scopes: Vec<String> = args.scopes.iter().map(|s| format!("{s:?}")).collect();
    eprintln!("# the key is above; it is not stored anywhere. Add this to the config:");
    eprintln!("[[api_keys]]");
    eprintln!("name = {:?}", args.name);
    eprintln!("hash = {line:?}");
    eprintln!("scopes = [{}]", scopes.join(", "));
    Ok(())
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.log.level.clone()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn serve(mut config: Config) -> Result<(), Failure> {
    init_logging(&config);
    // Listen for SIGTERM/Ctrl-C before anything can send one: a signal that
    // arrives between "listening" and the first poll of a lazily registered
    // handler would kill the process without draining.
    let shutdown = shutdown_signal()?;
    let boot = crate::bootstrap::prepare(&mut config)?;
    let running = crate::server::start(&config, Arc::new(SystemClock)).await?;
    let base = format!("http://{}", running.addr);
    println!("sesame listening on {base}");
    println!("  store: {}", crate::redact::url(&config.store_url()));
    let key_hint = match (&boot.new_admin_key, &boot.admin_key_file) {
        (Some(key), Some(file)) => {
            println!("  first start: made an admin API key; it is shown only now:");
            println!();
            println!("      {key}");
            println!();
            println!(
                "  (only its hash is kept, in {}; delete that file to make a new key,",
                file.display()
            );
            println!("   or configure [[api_keys]] — see `sesame apikey --help`)");
            key.clone()
        }
        (None, Some(file)) => {
            println!(
                "  API key: the admin key printed at first start (hash in {})",
                file.display()
            );
            "$SESAME_KEY".to_owned()
        }
        _ => "$SESAME_KEY".to_owned(),
    };
    if let Some(file) = &boot.cookie_key_file {
        println!("  cookie key: {}", file.display());
    }
    println!("  try:");
    println!(
        "    curl -s -X POST {base}/v1/sessions -H 'authorization: Bearer {key_hint}' -H 'content-type: application/json' -d '{{\"user\":\"alice\"}}'"
    );
    println!(
        "    curl -s -X POST {base}/v1/session/validate -H 'authorization: Bearer {key_hint}' -H 'sesame-token: <token from above>'"
    );
    println!(
        "  API description: {base}/openapi.json   health: {base}/healthz   metrics: {base}/metrics"
    );
    tracing::info!(addr = %running.addr, store = running.state.store_kind, "listening");
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests");
    running
        .shutdown()
        .await
        .map_err(|e| Failure::Other(format!("server error: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// Registers the shutdown signals now and returns a future that resolves on
/// the first SIGTERM or Ctrl-C. Registering eagerly matters: tokio installs a
/// signal's handler when its stream is created, not when it is first polled.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, Failure> {
    let register = |e: std::io::Error| Failure::Other(format!("cannot listen for signals: {e}"));
    #[cfg(unix)]
    let (mut term, mut interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).map_err(register)?,
            signal(SignalKind::interrupt()).map_err(register)?,
        )
    };
    #[cfg(unix)]
    return Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
    });
    #[cfg(not(unix))]
    return Ok(async move {
        let _ = tokio::signal::ctrl_c().await;
    });
}
