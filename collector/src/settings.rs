//! The collector's configuration: defaults in code, then a TOML file, then
//! `HEARD_*` environment variables, each overriding the one before.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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
    /// Delays between attempts to deliver a notification (webhook or staff
    /// email), in ms: after the 1st failure, the 2nd, …; after the last the
    /// notification is dead. Defaults to the Standard Webhooks schedule.
    pub notify_retry_delays_ms: Vec<i64>,
    /// How long a webhook receiver may take to answer, in ms.
    pub notify_request_timeout_ms: u64,
    /// Minutes after a first-response or resolution target is missed that
    /// the assignee, the team lead(s) and the owners are told, in order.
    pub escalation_delays_minutes: Vec<u32>,
    /// How far apart similar complaints may be and still form a cluster.
    pub cluster_window_hours: u32,
    /// Similar complaints within the window that alert the owners (a
    /// safety category alerts at the first).
    pub cluster_threshold: u32,
    /// The hour (UTC) the owners' daily and weekly digests are queued.
    pub digest_hour: u32,
    /// The day of the weekly digest: 1 Monday … 7 Sunday.
    pub digest_weekday: u32,
    /// How many days after a complaint is resolved its shopper may still
    /// reopen it from the status page.
    pub reopen_window_days: u32,
    /// Site API requests (config, complaints, photos, recovery) one client
    /// may make at once, and how many more a minute. 0 turns the limit off.
    pub rate_limit_client_burst: u32,
    pub rate_limit_client_per_minute: u32,
    /// The same for all clients of one site together.
    pub rate_limit_site_burst: u32,
    pub rate_limit_site_per_minute: u32,
    /// Requests one client may make at once, and how many more a minute,
    /// to the shopper's status-link pages and API (`/r/…`,
    /// `/api/v1/receipts/…`, `/recover`): token guessing is slow. 0 turns
    /// the limit off.
    pub rate_limit_link_burst: u32,
    pub rate_limit_link_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client. Requests
    /// from any other peer are attributed to the peer, whatever they claim.
    pub trusted_proxies: Vec<AddressRange>,
    /// Clients never rate-limited: by default the machine itself.
    pub rate_limit_exempt: Vec<AddressRange>,
    /// Seconds a client has to send a request's headers (slow clients are
    /// cut off); also how long an idle keep-alive connection stays open.
    pub header_read_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body once its headers
    /// are in; a body still arriving then is refused.
    pub body_read_timeout_seconds: u64,
    /// Whether a complaint must carry a solved proof-of-work challenge
    /// (`Heard-Proof`, see `GET /api/v1/sites/{key}/challenge`).
    pub proof_of_work_required: bool,
    /// How hard a challenge is while its site is calm: the secret number is
    /// at most this (a phone tries about a million a second; it expects to
    /// need half of them).
    pub proof_of_work_base_maxnumber: u64,
    /// Challenges a minute one site may issue before they get harder; at
    /// twice this rate they are twice as hard, at four times four times, …
    pub proof_of_work_calm_per_minute: u32,
    /// The most a challenge is made harder under load.
    pub proof_of_work_max_factor: u32,
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

/// An address or a network in CIDR notation: `203.0.113.7`, `10.0.0.0/8`,
/// `fd00::/8`. An IPv4 range also matches the same addresses written as
/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: IpAddr,
    prefix: u8,
}

impl AddressRange {
    /// Whether `address` is in the range.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            IpAddr::V4(_) => address,
        };
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl From<IpAddr> for AddressRange {
    fn from(address: IpAddr) -> AddressRange {
        AddressRange {
            network: address,
            prefix: if address.is_ipv4() { 32 } else { 128 },
        }
    }
}

impl std::str::FromStr for AddressRange {
    type Err = String;

    fn from_str(text: &str) -> Result<AddressRange, String> {
        let invalid = || format!("{text:?} is not an address or a network like 10.0.0.0/8");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let mut range = AddressRange::from(address);
        if let Some(prefix) = prefix {
            let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
            if prefix > range.prefix {
                return Err(invalid());
            }
            range.prefix = prefix;
        }
        Ok(range)
    }
}

impl<'de> Deserialize<'de> for AddressRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
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
            notify_retry_delays_ms: crate::notify::schedule::STANDARD_DELAYS_MS.to_vec(),
            notify_request_timeout_ms: 15_000,
            escalation_delays_minutes: crate::domain::escalation::DEFAULT_DELAYS_MINUTES.to_vec(),
            cluster_window_hours: crate::domain::clusters::DEFAULT_WINDOW_HOURS,
            cluster_threshold: crate::domain::clusters::DEFAULT_THRESHOLD,
            digest_hour: crate::domain::digest::DEFAULT_HOUR,
            digest_weekday: crate::domain::digest::DEFAULT_WEEKDAY,
            reopen_window_days: 14,
            rate_limit_client_burst: 60,
            rate_limit_client_per_minute: 60,
            rate_limit_site_burst: 1200,
            rate_limit_site_per_minute: 1200,
            rate_limit_link_burst: 60,
            rate_limit_link_per_minute: 60,
            trusted_proxies: Vec::new(),
            rate_limit_exempt: vec![
                AddressRange::from(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                AddressRange::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ],
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 60,
            proof_of_work_required: crate::domain::proof::ProofPolicy::DEFAULT.required,
            proof_of_work_base_maxnumber: crate::domain::proof::ProofPolicy::DEFAULT.base_maxnumber,
            proof_of_work_calm_per_minute: crate::domain::proof::ProofPolicy::DEFAULT
                .calm_per_minute,
            proof_of_work_max_factor: crate::domain::proof::ProofPolicy::DEFAULT.max_factor,
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
        /// A comma-separated list, e.g. `10.0.0.1, 10.0.0.2`; empty for none.
        fn parsed_list<T: std::str::FromStr>(
            name: &'static str,
            value: &str,
        ) -> Result<Vec<T>, SettingsError>
        where
            T::Err: std::fmt::Display,
        {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| parsed(name, item.to_owned()))
                .collect()
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
        if let Some(value) = lookup("HEARD_NOTIFY_RETRY_DELAYS_MS") {
            // A comma-separated list, e.g. `500,1000,2000`.
            self.notify_retry_delays_ms = value
                .split(',')
                .filter(|part| !part.trim().is_empty())
                .map(|part| parsed("HEARD_NOTIFY_RETRY_DELAYS_MS", part.trim().to_owned()))
                .collect::<Result<_, _>>()?;
        }
        if let Some(value) = lookup("HEARD_NOTIFY_REQUEST_TIMEOUT_MS") {
            self.notify_request_timeout_ms = parsed("HEARD_NOTIFY_REQUEST_TIMEOUT_MS", value)?;
        }
        if let Some(value) = lookup("HEARD_ESCALATION_DELAYS_MINUTES") {
            self.escalation_delays_minutes = value
                .split(',')
                .map(|part| parsed("HEARD_ESCALATION_DELAYS_MINUTES", part.trim().to_owned()))
                .collect::<Result<_, _>>()?;
        }
        if let Some(value) = lookup("HEARD_CLUSTER_WINDOW_HOURS") {
            self.cluster_window_hours = parsed("HEARD_CLUSTER_WINDOW_HOURS", value)?;
        }
        if let Some(value) = lookup("HEARD_CLUSTER_THRESHOLD") {
            self.cluster_threshold = parsed("HEARD_CLUSTER_THRESHOLD", value)?;
        }
        if let Some(value) = lookup("HEARD_DIGEST_HOUR") {
            self.digest_hour = parsed("HEARD_DIGEST_HOUR", value)?;
        }
        if let Some(value) = lookup("HEARD_DIGEST_WEEKDAY") {
            self.digest_weekday = parsed("HEARD_DIGEST_WEEKDAY", value)?;
        }
        if let Some(value) = lookup("HEARD_REOPEN_WINDOW_DAYS") {
            self.reopen_window_days = parsed("HEARD_REOPEN_WINDOW_DAYS", value)?;
        }
        if let Some(value) = lookup("HEARD_RATE_LIMIT_CLIENT_BURST") {
            self.rate_limit_client_burst = parsed("HEARD_RATE_LIMIT_CLIENT_BURST", value)?;
        }
        if let Some(value) = lookup("HEARD_RATE_LIMIT_CLIENT_PER_MINUTE") {
            self.rate_limit_client_per_minute =
                parsed("HEARD_RATE_LIMIT_CLIENT_PER_MINUTE", value)?;
        }
        if let Some(value) = lookup("HEARD_RATE_LIMIT_LINK_BURST") {
            self.rate_limit_link_burst = parsed("HEARD_RATE_LIMIT_LINK_BURST", value)?;
        }
        if let Some(value) = lookup("HEARD_RATE_LIMIT_LINK_PER_MINUTE") {
            self.rate_limit_link_per_minute = parsed("HEARD_RATE_LIMIT_LINK_PER_MINUTE", value)?;
        }
        if let Some(value) = lookup("HEARD_RATE_LIMIT_SITE_BURST") {
            self.rate_limit_site_burst = parsed("HEARD_RATE_LIMIT_SITE_BURST", value)?;
        }
        if let Some(value) = lookup("HEARD_RATE_LIMIT_SITE_PER_MINUTE") {
            self.rate_limit_site_per_minute = parsed("HEARD_RATE_LIMIT_SITE_PER_MINUTE", value)?;
        }
        if let Some(value) = lookup("HEARD_TRUSTED_PROXIES") {
            self.trusted_proxies = parsed_list("HEARD_TRUSTED_PROXIES", &value)?;
        }
        if let Some(value) = lookup("HEARD_RATE_LIMIT_EXEMPT") {
            self.rate_limit_exempt = parsed_list("HEARD_RATE_LIMIT_EXEMPT", &value)?;
        }
        if let Some(value) = lookup("HEARD_HEADER_READ_TIMEOUT_SECONDS") {
            self.header_read_timeout_seconds = parsed("HEARD_HEADER_READ_TIMEOUT_SECONDS", value)?;
        }
        if let Some(value) = lookup("HEARD_BODY_READ_TIMEOUT_SECONDS") {
            self.body_read_timeout_seconds = parsed("HEARD_BODY_READ_TIMEOUT_SECONDS", value)?;
        }
        if let Some(value) = lookup("HEARD_PROOF_OF_WORK_REQUIRED") {
            self.proof_of_work_required = parsed("HEARD_PROOF_OF_WORK_REQUIRED", value)?;
        }
        if let Some(value) = lookup("HEARD_PROOF_OF_WORK_BASE_MAXNUMBER") {
            self.proof_of_work_base_maxnumber =
                parsed("HEARD_PROOF_OF_WORK_BASE_MAXNUMBER", value)?;
        }
        if let Some(value) = lookup("HEARD_PROOF_OF_WORK_CALM_PER_MINUTE") {
            self.proof_of_work_calm_per_minute =
                parsed("HEARD_PROOF_OF_WORK_CALM_PER_MINUTE", value)?;
        }
        if let Some(value) = lookup("HEARD_PROOF_OF_WORK_MAX_FACTOR") {
            self.proof_of_work_max_factor = parsed("HEARD_PROOF_OF_WORK_MAX_FACTOR", value)?;
        }
        Ok(self)
    }

    /// How long a client has for a request's headers; never zero.
    pub fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout_seconds.max(1))
    }

    /// How long a client has for a request's body; never zero.
    pub fn body_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_read_timeout_seconds.max(1))
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
    fn address_lists_come_from_the_environment_comma_separated() {
        let settings = Settings::default()
            .with_environment(|name| match name {
                "HEARD_TRUSTED_PROXIES" => Some("10.0.0.1, ::1".to_owned()),
                "HEARD_RATE_LIMIT_EXEMPT" => Some(String::new()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            settings.trusted_proxies,
            vec![
                "10.0.0.1".parse::<AddressRange>().unwrap(),
                "::1/128".parse().unwrap()
            ]
        );
        assert!(settings.rate_limit_exempt.is_empty());
        let error = Settings::default()
            .with_environment(|name| {
                (name == "HEARD_TRUSTED_PROXIES").then(|| "10.0.0.0/33".to_owned())
            })
            .unwrap_err()
            .to_string();
        assert!(error.contains("HEARD_TRUSTED_PROXIES"), "{error}");
    }

    #[test]
    fn address_ranges_match_their_networks_only() {
        let range = |text: &str| text.parse::<AddressRange>().unwrap();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert!(range("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!range("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(range("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(range("203.0.113.7").contains(ip("203.0.113.7")));
        assert!(!range("203.0.113.7").contains(ip("203.0.113.8")));
        assert!(range("0.0.0.0/0").contains(ip("198.51.100.1")));
        assert!(!range("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(range("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!range("2001:db8::/32").contains(ip("2001:db9::1")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "localhost",
            "10.0.0.1/x",
        ] {
            assert!(bad.parse::<AddressRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_example_file_parses() {
        let example = include_str!("../heard.example.toml");
        let settings: Settings = toml::from_str(example).unwrap();
        assert_eq!(settings, Settings::default());
    }
}
