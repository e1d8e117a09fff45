//! `collector`: parses the command line and runs the collector library.

// The binary's stdout is its interface: the `heard: …` lines and command output.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use heard_collector::clock::now_millis;
use heard_collector::domain::accounts::Accounts;
use heard_collector::domain::demo::demo_site;
use heard_collector::settings::Settings;
use heard_collector::store::{self, NewSite, Store};
use heard_shared::SiteConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Parser)]
#[command(name = "collector", version, about = "Heard's complaint collector")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct ConfigArg {
    /// A TOML settings file (see collector/heard.example.toml). HEARD_*
    /// environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector until Ctrl-C or SIGTERM.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Also serve the demo shop on a second port (demo_shop_listen) and
        /// seed the `demo` site so that shop may embed the widget.
        #[arg(long)]
        demo: bool,
    },
    /// Manage merchants' sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Copy the database to FILE, safely while the collector runs: a
    /// consistent snapshot (photos included), checked before it is kept.
    Backup {
        #[command(flatten)]
        config: ConfigArg,
        /// The new backup file; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Replace the database with a backup made by `collector backup`. Stop
    /// the collector first (a database in use is refused). The backup is
    /// checked first; the replaced database is kept beside it.
    Restore {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long = "from", value_name = "FILE")]
        from: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an owner account (the first one of a merchant; owners invite
    /// everyone else from the inbox). The password is read from
    /// HEARD_NEW_PASSWORD, or else asked for on the terminal (it is shown as
    /// typed: run it where nobody watches, or use the variable).
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// Create an owner. Required: other roles join by invitation.
        #[arg(long)]
        owner: bool,
        /// The merchant (tenant); created if new.
        #[arg(long)]
        merchant: String,
        /// The address the owner signs in with.
        #[arg(long)]
        email: String,
        /// The name colleagues see; defaults to the part of the email before '@'.
        #[arg(long)]
        name: Option<String>,
    },
    /// List a merchant's staff.
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        merchant: String,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Create a site with the default complaint categories.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// The public site key used in the script tag's data-site.
        #[arg(long)]
        key: String,
        /// The shop's name as shoppers know it.
        #[arg(long)]
        name: String,
        /// The merchant (tenant) that owns the site; created if new.
        #[arg(long, default_value = "Default merchant")]
        merchant: String,
        /// An origin allowed to embed the widget, e.g. https://shop.example.
        /// Repeat for several.
        #[arg(long = "origin", value_name = "ORIGIN")]
        origins: Vec<String>,
    },
    /// List every site with its allowed origins.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print a site's configuration (categories, questions, languages,
    /// channels, branding) as JSON, ready to edit.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        key: String,
    },
    /// Replace a site's configuration with the JSON in FILE (as `site show`
    /// prints it): rename, hide, reorder or add categories and questions.
    Configure {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        key: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    // Before the runtime's threads exist: exec'ing replaces the process.
    let arenas_not_limited = limit_malloc_arenas();
    heard_collector::runtime::build()?.block_on(run(arenas_not_limited))
}

/// Arenas glibc's malloc may create. By default it gives every thread that
/// allocates an arena of its own, up to eight per core, and memory freed
/// into an arena stays there for that arena's next allocations: the
/// blocking threads that run reads (SQLite's page caches), the runtime's
/// workers (request buffers), the writer and the indexer each kept their
/// own high-water mark, which made most of the collector's resident memory
/// under load (BENCHMARKS.md, "Footprint"). Two arenas, one per core of a
/// small server, share the freed memory among the threads; the malloc lock
/// they contend for is a small cost next to SQLite's work.
const MALLOC_ARENAS: &str = "2";

/// Restarts the binary with `MALLOC_ARENA_MAX` set, which glibc reads at
/// start-up, unless the operator set it already. Calling `mallopt` would
/// need `unsafe` code, which this workspace forbids; `exec` keeps the
/// process id, arguments and open descriptors. Answers why it could not,
/// to be logged once logging is set up (the collector then runs with
/// glibc's default arenas).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() -> Option<String> {
    use std::os::unix::process::CommandExt;

    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return None;
    }
    let binary = match std::env::current_exe() {
        Ok(binary) => binary,
        Err(error) => return Some(error.to_string()),
    };
    let mut arguments = std::env::args_os();
    let mut command = std::process::Command::new(binary);
    if let Some(name) = arguments.next() {
        command.arg0(name);
    }
    // Returns only when the exec failed.
    let error = command
        .args(arguments)
        .env("MALLOC_ARENA_MAX", MALLOC_ARENAS)
        .exec();
    Some(error.to_string())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() -> Option<String> {
    None
}

async fn run(arenas_not_limited: Option<String>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    if let Some(error) = arenas_not_limited {
        tracing::warn!(%error, arenas = MALLOC_ARENAS, "could not limit malloc's arenas; running with glibc's default");
    }
    survive_file_size_limit();
    match Cli::parse().command {
        Command::Serve { config, demo } => {
            serve(Settings::load(config.config.as_deref())?, demo).await
        }
        Command::Site(SiteCommand::Add {
            config,
            key,
            name,
            merchant,
            origins,
        }) => {
            let settings = Settings::load(config.config.as_deref())?;
            add_site(&settings, key, name, merchant, origins).await
        }
        Command::Site(SiteCommand::List { config }) => {
            list_sites(&Settings::load(config.config.as_deref())?).await
        }
        Command::Site(SiteCommand::Show { config, key }) => {
            show_site(&Settings::load(config.config.as_deref())?, &key).await
        }
        Command::Site(SiteCommand::Configure { config, key, file }) => {
            configure_site(&Settings::load(config.config.as_deref())?, &key, &file).await
        }
        Command::User(UserCommand::Add {
            config,
            owner,
            merchant,
            email,
            name,
        }) => {
            if !owner {
                anyhow::bail!(
                    "only owners are created here (pass --owner); owners invite everyone else"
                );
            }
            let settings = Settings::load(config.config.as_deref())?;
            add_owner(&settings, &merchant, &email, name).await
        }
        Command::User(UserCommand::List { config, merchant }) => {
            list_users(&Settings::load(config.config.as_deref())?, &merchant).await
        }
        Command::Backup { config, to } => {
            backup(&Settings::load(config.config.as_deref())?, to).await
        }
        Command::Restore { config, from } => {
            restore(&Settings::load(config.config.as_deref())?, from).await
        }
    }
}

async fn backup(settings: &Settings, to: PathBuf) -> anyhow::Result<()> {
    let database = settings.database.clone();
    let copy = to.clone();
    let summary = tokio::task::spawn_blocking(move || store::backup::backup(&database, &copy))
        .await?
        .with_context(|| format!("backing up {}", settings.database.display()))?;
    println!(
        "Backed up {} to {}: {} complaints, {} bytes, schema version {}; integrity check ok.",
        settings.database.display(),
        to.display(),
        summary.complaints,
        summary.bytes,
        summary.schema_version
    );
    Ok(())
}

async fn restore(settings: &Settings, from: PathBuf) -> anyhow::Result<()> {
    let database = settings.database.clone();
    let backup = from.clone();
    let label = heard_collector::clock::rfc3339(now_millis()).replace(':', "");
    let (summary, kept) =
        tokio::task::spawn_blocking(move || store::backup::restore(&database, &backup, &label))
            .await?
            .with_context(|| format!("restoring {}", from.display()))?;
    println!(
        "Restored {} into {}: {} complaints, schema version {}.",
        from.display(),
        settings.database.display(),
        summary.complaints,
        summary.schema_version
    );
    if let Some(kept) = kept {
        println!("The database it replaced is kept as {}.", kept.display());
    }
    Ok(())
}

async fn add_owner(
    settings: &Settings,
    merchant: &str,
    email: &str,
    name: Option<String>,
) -> anyhow::Result<()> {
    let password = new_password()?;
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_owned());
    let store = Store::open(&settings.database, 1, 1)?;
    let created = match Accounts::new(store.clone(), settings.password_params()) {
        Ok(accounts) => {
            accounts
                .create_owner(merchant, email, &name, password, now_millis())
                .await
        }
        Err(error) => Err(error),
    };
    store.shutdown().await;
    let user = created?;
    println!(
        "Created owner {} ({}) of {merchant:?}. Sign in at {}/inbox/login.",
        user.email,
        user.display_name,
        heard_collector::public_url(settings, settings.listen)
    );
    Ok(())
}

/// The new password: HEARD_NEW_PASSWORD, or a line typed on the terminal.
fn new_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("HEARD_NEW_PASSWORD") {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("set HEARD_NEW_PASSWORD, or run this on a terminal to type the password");
    }
    eprint!("Password for the new owner (at least 12 characters; it is shown as you type): ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn list_users(settings: &Settings, merchant: &str) -> anyhow::Result<()> {
    let store = Store::open(&settings.database, 1, 1)?;
    let listed = match Accounts::new(store.clone(), settings.password_params()) {
        Ok(accounts) => accounts.staff_of_merchant(merchant).await,
        Err(error) => Err(error),
    };
    store.shutdown().await;
    for user in listed? {
        let state = if user.disabled { "disabled" } else { "active" };
        println!(
            "{}\t{}\t{}\t{}\t{state}",
            user.id,
            user.email,
            user.role.as_str(),
            user.display_name
        );
    }
    Ok(())
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let collector_url = heard_collector::public_url(&settings, listener.local_addr()?);

    let (stop, stopped) = watch::channel(false);
    let wait_for = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };

    let demo_shop = if demo {
        let shop_listener = TcpListener::bind(settings.demo_shop_listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.demo_shop_listen))?;
        let port = shop_listener.local_addr()?.port();
        let origins = vec![
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
        ];
        let store = Store::open(&settings.database, 1, 1)?;
        store.upsert_site(demo_site(origins.clone())).await?;
        store.shutdown().await;
        println!("heard: demo shop on {}", origins[0]);
        let settings = settings.clone();
        let url = collector_url.clone();
        let stopped = wait_for(stopped.clone());
        Some(tokio::spawn(async move {
            heard_collector::serve_demo_shop(&settings, &url, shop_listener, stopped).await
        }))
    } else {
        None
    };
    // Listening for SIGTERM before saying we listen: whoever starts us may
    // stop us the moment the line is out.
    let signal = shutdown_signal()?;
    println!("heard: collector listening on {collector_url}");

    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    heard_collector::serve(&settings, listener, wait_for(stopped)).await?;
    if let Some(demo_shop) = demo_shop {
        demo_shop.await??;
    }
    Ok(())
}

async fn add_site(
    settings: &Settings,
    key: String,
    name: String,
    merchant: String,
    origins: Vec<String>,
) -> anyhow::Result<()> {
    if key.is_empty()
        || !key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        anyhow::bail!("a site key is letters, digits, '-' and '_' only");
    }
    for origin in &origins {
        if !(origin.starts_with("https://") || origin.starts_with("http://"))
            || origin.ends_with('/')
        {
            anyhow::bail!(
                "{origin:?} is not an origin: write scheme://host[:port], e.g. https://shop.example"
            );
        }
    }
    let store = Store::open(&settings.database, 1, 1)?;
    let config = SiteConfig::with_defaults(&key, &name);
    let site = store
        .add_site(NewSite {
            merchant,
            key,
            name,
            allowed_origins: origins,
            config,
        })
        .await;
    store.shutdown().await;
    let site = site?;
    let collector = heard_collector::public_url(settings, settings.listen);
    println!("Created site {:?} ({}).", site.key, site.name);
    println!(
        "Identity secret (keep it on your server; it signs Heard('identify', …) calls): {}",
        heard_collector::domain::identity::hex(&site.identity_secret.0)
    );
    println!("Paste this into every page of the shop, before </body>:");
    println!(
        "  <script src=\"{collector}/widget.js\" data-site=\"{}\" async></script>",
        site.key
    );
    Ok(())
}

async fn show_site(settings: &Settings, key: &str) -> anyhow::Result<()> {
    let store = Store::open(&settings.database, 1, 1)?;
    let site = store.site_by_key(key).await;
    store.shutdown().await;
    let site = site?.with_context(|| format!("no site has the key {key:?}"))?;
    println!("{}", serde_json::to_string_pretty(&site.config)?);
    Ok(())
}

async fn configure_site(
    settings: &Settings,
    key: &str,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut config: SiteConfig = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a site configuration", file.display()))?;
    config.site_key = key.to_owned();
    if let Err(problems) = heard_shared::site_rules::validate_site_config(&config) {
        for problem in &problems {
            eprintln!("{}: {}", problem.field, problem.message);
        }
        anyhow::bail!(
            "the configuration was not saved: {} problem(s)",
            problems.len()
        );
    }
    let store = Store::open(&settings.database, 1, 1)?;
    let site = store.configure_site(key, config).await;
    store.shutdown().await;
    let site = site?.with_context(|| format!("no site has the key {key:?}"))?;
    println!(
        "Saved the configuration of {:?}: {} categories offered. The widget shows it within a minute.",
        site.key,
        site.config.visible_categories().count()
    );
    Ok(())
}

async fn list_sites(settings: &Settings) -> anyhow::Result<()> {
    let store = Store::open(&settings.database, 1, 1)?;
    let sites = store.sites().await;
    store.shutdown().await;
    for site in sites? {
        println!(
            "{}\t{}\t{}",
            site.key,
            site.name,
            site.allowed_origins.join(" ")
        );
    }
    Ok(())
}

/// Keeps the process alive past its file-size limit (`RLIMIT_FSIZE`, e.g.
/// `ulimit -f` or a service manager's `LimitFSIZE`). A write past the limit
/// sends `SIGXFSZ`, whose default action ends the process; with a handler
/// installed (tokio's, which replaces that action and only records the
/// signal), the write fails with `EFBIG` instead, and the store answers it
/// as a full disk: the write is refused, nothing else stops, and writes
/// succeed again once the limit is raised.
fn survive_file_size_limit() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let kind = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
        match signal(kind) {
            Ok(mut signals) => {
                tokio::spawn(async move {
                    let mut logged = false;
                    while signals.recv().await.is_some() {
                        // Every refused write signals; the store logs each
                        // refused batch, so one line here is enough.
                        if !logged {
                            tracing::warn!(
                                "a write went past the process's file-size limit (SIGXFSZ); \
                                 such writes are refused as on a full disk"
                            );
                            logged = true;
                        }
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "cannot catch SIGXFSZ: a file-size limit would stop the collector");
            }
        }
    }
}

/// Ctrl-C or SIGTERM, registered now (before the returned future is first
/// polled), so a signal that arrives meanwhile is not lost.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for SIGINT")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
