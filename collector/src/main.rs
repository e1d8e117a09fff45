//! `collector`: parses the command line and runs the collector library.

// The binary's stdout is its interface: the `heard: …` lines and command output.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use heard_collector::domain::demo::demo_site;
use heard_collector::settings::Settings;
use heard_collector::store::{NewSite, Store};
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
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
    }
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
    println!("heard: collector listening on {collector_url}");

    tokio::spawn(async move {
        shutdown_signal().await;
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

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("cannot listen for SIGTERM");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
