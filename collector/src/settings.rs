//! The collector's configuration: defaults in code, then a TOML file, then
//! `HEARD_*` environment variables, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the collector can be told. `collector serve` with no file and no
/// environment runs on `127.0.0.1:8080` with `./heard.sqlite3`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the collector listens.
    pub listen: SocketAddr,
    /// The SQLite database file; created on first start.
    pub database: PathBuf,
    /// The address shoppers and merchants reach the collector at, used in
    /// receipt links and the embed snippet. Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// The browser-facing pages and assets (`www/` in the repository).
    pub www_dir: PathBuf,
    /// The built widget bundle (`cargo xtask build-widget` writes it).
    pub widget_dir: PathBuf,
    /// Where `serve --demo` serves the demo shop: a second origin, so the
    /// widget is embedded cross-origin exactly as on a merchant's site.
    pub demo_shop_listen: SocketAddr,
    /// The most complaints committed in one transaction.
    pub max_batch: usize,
    /// How many writes may wait for the writer before intake answers 503.
    pub write_queue: usize,
    /// Argon2id memory per staff password hash, in KiB (OWASP: 19456).
    pub password_hash_memory_kib: u32,
    /// Argon2id passes per staff password hash (OWASP: 2).
    pub password_hash_iterations: u32,
    /// The SMTP server for shopper email. Unset: mail is queued and kept,
    /// and sent once a server is configured.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// The `From` address of shopper email, e.g. `Heard <heard@example.com>`.
    pub smtp_from: String,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Redacted>,
    /// How the SMTP connection is protected.
    pub smtp_tls: SmtpTls,
    /// Failed deliveries of one message before it is parked for an operator.
    pub mail_max_attempts: u32,
}

/// How the collector talks to its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or in tests.
    None,
    /// Plain connection upgraded with STARTTLS (port 587); required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;

    fn from_str(text: &str) -> Result<SmtpTls, String> {
        match text {
            "none" => Ok(SmtpTls::None),
            "starttls" => Ok(SmtpTls::Starttls),
            "tls" => Ok(SmtpTls::Tls),
            other => Err(format!("{other:?} is not one of none, starttls, tls")),
        }
    }
}

/// A secret setting: usable, but never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("<redacted>")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: PathBuf::from("heard.sqlite3"),
            public_url: None,
            www_dir: PathBuf::from("www"),
            widget_dir: PathBuf::from("target/widget"),
            demo_shop_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            max_batch: 512,
            write_queue: 8192,
            password_hash_memory_kib: 19 * 1024,
            password_hash_iterations: 2,
            smtp_host: None,
            smtp_port: 587,
            smtp_from: "Heard <heard@localhost>".to_owned(),
            smtp_username: None,
            smtp_password: None,
            smtp_tls: SmtpTls::Starttls,
            mail_max_attempts: 10,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the environment variable {name} is not valid: {message}")]
    Environment { name: &'static str, message: String },
}

impl Settings {
    /// Defaults, overridden by the file (if given), overridden by the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let settings = match file {
            Some(path) => Self::from_file(path)?,
            None => Settings::default(),
        };
        settings.with_environment(|name| std::env::var(name).ok())
    }

    fn from_file(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| SettingsError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }

    /// Applies `HEARD_*` variables read through `lookup` (a parameter so tests
    /// need not touch the process environment).
    pub fn with_environment(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        fn parsed<T: std::str::FromStr>(
            name: &'static str,
            value: String,
        ) -> Result<T, SettingsError>
        where
            T::Err: std::fmt::Display,
        {
            value
                .parse()
                .map_err(|error: T::Err| SettingsError::Environment {
                    name,
                    message: error.to_string(),
                })
        }
        if let Some(value) = lookup("HEARD_LISTEN") {
            self.listen = parsed("HEARD_LISTEN", value)?;
        }
        if let Some(value) = lookup("HEARD_DATABASE") {
            self.database = PathBuf::from(value);
        }
        if let Some(value) = lookup("HEARD_PUBLIC_URL") {
            self.public_url = Some(value);
        }
        if let Some(value) = lookup("HEARD_WWW_DIR") {
            self.www_dir = PathBuf::from(value);
        }
        if let Some(value) = lookup("HEARD_WIDGET_DIR") {
            self.widget_dir = PathBuf::from(value);
        }
        if let Some(value) = lookup("HEARD_DEMO_SHOP_LISTEN") {
            self.demo_shop_listen = parsed("HEARD_DEMO_SHOP_LISTEN", value)?;
        }
        if let Some(value) = lookup("HEARD_MAX_BATCH") {
            self.max_batch = parsed("HEARD_MAX_BATCH", value)?;
        }
        if let Some(value) = lookup("HEARD_WRITE_QUEUE") {
            self.write_queue = parsed("HEARD_WRITE_QUEUE", value)?;
        }
        if let Some(value) = lookup("HEARD_PASSWORD_HASH_MEMORY_KIB") {
            self.password_hash_memory_kib = parsed("HEARD_PASSWORD_HASH_MEMORY_KIB", value)?;
        }
        if let Some(value) = lookup("HEARD_PASSWORD_HASH_ITERATIONS") {
            self.password_hash_iterations = parsed("HEARD_PASSWORD_HASH_ITERATIONS", value)?;
        }
        if let Some(value) = lookup("HEARD_SMTP_HOST") {
            self.smtp_host = Some(value);
        }
        if let Some(value) = lookup("HEARD_SMTP_PORT") {
            self.smtp_port = parsed("HEARD_SMTP_PORT", value)?;
        }
        if let Some(value) = lookup("HEARD_SMTP_FROM") {
            self.smtp_from = value;
        }
        if let Some(value) = lookup("HEARD_SMTP_USERNAME") {
            self.smtp_username = Some(value);
        }
        if let Some(value) = lookup("HEARD_SMTP_PASSWORD") {
            self.smtp_password = Some(Redacted(value));
        }
        if let Some(value) = lookup("HEARD_SMTP_TLS") {
            self.smtp_tls = parsed("HEARD_SMTP_TLS", value)?;
        }
        if let Some(value) = lookup("HEARD_MAIL_MAX_ATTEMPTS") {
            self.mail_max_attempts = parsed("HEARD_MAIL_MAX_ATTEMPTS", value)?;
        }
        Ok(self)
    }

    /// The Argon2id cost for staff passwords.
    pub fn password_params(&self) -> crate::domain::accounts::PasswordParams {
        crate::domain::accounts::PasswordParams {
            memory_kib: self.password_hash_memory_kib,
            iterations: self.password_hash_iterations,
            parallelism: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("heard.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ndatabase = \"/srv/heard.db\"\n",
        )
        .unwrap();
        let from_file = Settings::from_file(&path).unwrap();
        assert_eq!(from_file.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(from_file.www_dir, PathBuf::from("www"));

        let overridden = from_file
            .with_environment(|name| (name == "HEARD_DATABASE").then(|| "other.db".to_owned()))
            .unwrap();
        assert_eq!(overridden.database, PathBuf::from("other.db"));
        assert_eq!(overridden.listen, "0.0.0.0:9000".parse().unwrap());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("heard.toml");
        std::fs::write(&path, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let error = Settings::from_file(&path).unwrap_err().to_string();
        assert!(error.contains("lisen"), "{error}");

        let error = Settings::default()
            .with_environment(|name| (name == "HEARD_LISTEN").then(|| "nowhere".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("HEARD_LISTEN"), "{error}");
    }

    #[test]
    fn the_smtp_password_never_appears_in_debug_output() {
        let settings = Settings::default()
            .with_environment(|name| match name {
                "HEARD_SMTP_PASSWORD" => Some("hunter2-secret".to_owned()),
                "HEARD_SMTP_TLS" => Some("tls".to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(settings.smtp_tls, SmtpTls::Tls);
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn the_example_file_parses() {
        let example = include_str!("../heard.example.toml");
        let settings: Settings = toml::from_str(example).unwrap();
        assert_eq!(settings, Settings::default());
    }
}
