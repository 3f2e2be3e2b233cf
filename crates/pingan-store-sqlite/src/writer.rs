//! Group commit: one thread owns the write connection, takes every write waiting for it, applies
//! them in one transaction (each of several inside its own savepoint, so one failing write does
//! not undo the others), syncs once, and only then answers each caller. A caller's write is
//! therefore on disk when it is acknowledged, while a burst of concurrent writes shares one fsync.
//!
//! The writer also keeps the open cases the duplicate search looks through ([`OpenCases`]) in step
//! with the transaction: a write's changes to them are taken back with the write, and a group's
//! with the group.
//!
//! A write may also leave work for its group to do once, just before the commit (see
//! [`Deferred`]). That is the one step that can fail the whole group rather than one write (it
//! fails only as the commit would: a full disk, say).

use std::ffi::c_int;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;

use pingan_store::indicators::PendingChanges;
use pingan_store::{StoreError, StoreResult};
use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use tokio::sync::oneshot;

use crate::open_cases::OpenCases;

/// Writes taken into one transaction at most: bounds how long the first caller of a batch waits.
const MAX_BATCH: usize = 4096;
/// Pages in the write-ahead log past which they are copied back into the database (SQLite's own
/// threshold).
const CHECKPOINT_PAGES: c_int = 1000;
/// Pages past which the writer finishes the copy itself: the log starts over only once wholly
/// copied, which a copy running beside a busy writer never quite is. An import's transaction of
/// 10,000 cases writes thousands of pages: with room for several such transactions, the copy
/// thread takes most of each while the writer goes on (at 4,000 pages the writer copied nearly
/// every one itself: BENCHMARKS.md, section 4).
const WRITER_CHECKPOINT_PAGES: c_int = 16 * CHECKPOINT_PAGES;
/// Pages past which the log is copied back whole and started over whatever the readers do. A
/// copy that only takes what no reader still needs (the two above) never lets the log start
/// over while reads overlap without pause, and it grew without bound under load (1.8 GB beside a
/// 400 MB database). Past this, the copy thread waits for the writer's transaction and for the
/// readers of older pages (milliseconds each), while new readers read the database; the writer's
/// next transaction then writes the log from its start, and `journal_size_limit` cuts the file
/// back to this size.
pub(crate) const LOG_LIMIT_PAGES: c_int = 24 * CHECKPOINT_PAGES;
/// Pages past which the writer restarts the log itself, waiting for the readers of older pages
/// and for a checkpoint under way: the copy thread, asked at [`LOG_LIMIT_PAGES`], has not got
/// there while the writer went on (on a machine busy with other work, the log passed the limit by
/// a thousand pages so).
const LOG_MOST_PAGES: c_int = LOG_LIMIT_PAGES + 4 * CHECKPOINT_PAGES;

/// What a successful write leaves for its group to apply once, just before the commit.
#[derive(Default)]
pub struct Deferred {
    /// Changes to the indicator tallies: a burst of reports from one city updates the city's
    /// tally once rather than once per report.
    pub tallies: PendingChanges,
    /// Text-index entries, (case id, grams). FTS5 writes the entries it holds out to a new index
    /// segment whenever a later statement opens a savepoint, so entries written with each case
    /// would make a segment (and later a merge) per case; written last, a group makes one.
    pub texts: Vec<(String, String)>,
}

impl Deferred {
    fn add(&mut self, other: Deferred) {
        self.tallies.add(other.tallies.into_changes());
        self.texts.extend(other.texts);
    }
}

/// What a write answers, with what it leaves for its group to apply.
pub struct Written<T> {
    pub value: T,
    pub deferred: Deferred,
}

trait Job: Send {
    /// Runs the write inside the open transaction; answers what it leaves for its group if it
    /// succeeded, None if it failed.
    fn run(&mut self, connection: &Connection) -> Option<Deferred>;
    /// Answers the caller once the transaction's fate is known.
    fn answer(self: Box<Self>, commit: Result<(), &StoreError>);
}

struct Write<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T: Send, F: FnOnce(&Connection) -> StoreResult<Written<T>> + Send> Job for Write<T, F> {
    fn run(&mut self, connection: &Connection) -> Option<Deferred> {
        let work = self.work.take()?;
        let (result, deferred) = match work(connection) {
            Ok(Written { value, deferred }) => (Ok(value), Some(deferred)),
            Err(error) => (Err(error), None),
        };
        self.result = Some(result);
        deferred
    }

    fn answer(self: Box<Self>, commit: Result<(), &StoreError>) {
        let outcome = match (commit, self.result) {
            (Err(error), Some(Ok(_))) => Err(StoreError::Database(format!("the commit failed: {error}"))),
            (_, Some(result)) => result,
            (_, None) => Err(StoreError::Unavailable("the write was never run".into())),
        };
        // The caller may have gone away; its write stands or falls all the same.
        let _ = self.reply.send(outcome);
    }
}

#[derive(Clone)]
pub struct GroupWriter {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl GroupWriter {
    /// Starts the writer thread on `connection`, and the thread that checkpoints its log.
    pub fn start(mut connection: Connection, open_cases: Arc<Mutex<OpenCases>>) -> StoreResult<GroupWriter> {
        hand_over_checkpoints(&mut connection)?;
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(connection, &open_cases, queue))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(GroupWriter { jobs })
    }

    /// Runs `work` in the next group transaction and returns its result once that is on disk.
    /// If `work` fails, its changes are rolled back and the rest of the group is unaffected.
    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.write_deferring(move |connection| {
            work(connection).map(|value| Written { value, deferred: Deferred::default() })
        })
        .await
    }

    /// [`GroupWriter::write`] for a write that leaves work for its group: it is done with the
    /// group's, in the same transaction, and only if the write succeeded.
    pub async fn write_deferring<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<Written<T>> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Write { work: Some(work), result: None, reply });
        self.jobs.send(job).map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the writer thread stopped before answering".into()))?
    }
}

/// Copies the write-ahead log back into the database on a thread of its own, which the writer
/// wakes when a commit leaves the log past [`CHECKPOINT_PAGES`]: done by the writer after such a
/// commit (SQLite's way), the copy took a share of its time while the next group waited
/// (BENCHMARKS.md, section 7). The writer copies the rest itself past [`WRITER_CHECKPOINT_PAGES`],
/// little by then, so that the log starts over. It is still on disk before any commit is
/// acknowledged; only the copy moves. A checkpoint that cannot finish (a reader still on older
/// pages, say) is tried after the next commit.
fn hand_over_checkpoints(writer: &mut Connection) -> StoreResult<()> {
    // A database in memory has no log.
    let Some(path) = writer.path().filter(|path| !path.is_empty()).map(Path::new) else {
        return Ok(());
    };
    let checkpointer = crate::open_connection(path)?;
    let (wake, due) = mpsc::sync_channel::<()>(1);
    let restart = Arc::new(AtomicBool::new(false));
    let restart_wanted = restart.clone();
    thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while due.recv().is_ok() {
                let mode = if restart_wanted.swap(false, Ordering::Relaxed) {
                    CheckpointMode::RESTART
                } else {
                    CheckpointMode::PASSIVE
                };
                let _ = checkpointer.wal_checkpoint_v2(Some("main"), mode);
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpoint thread: {e}")))?;
    // Replaces SQLite's own checkpoint after commits. A wake-up already pending is enough.
    writer
        .wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            if pages >= LOG_MOST_PAGES {
                // Until the log starts over, the writer writes nothing more: a checkpoint the copy
                // thread is running makes this one give way at once, and the log grew past the
                // most meanwhile (by 1,600 pages on a busy machine).
                let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while wal.checkpoint_v2(CheckpointMode::RESTART).is_err() && std::time::Instant::now() < give_up {
                    thread::sleep(std::time::Duration::from_millis(1));
                }
            } else if pages >= LOG_LIMIT_PAGES {
                restart.store(true, Ordering::Relaxed);
                let _ = wake.try_send(());
            } else if pages >= WRITER_CHECKPOINT_PAGES {
                let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
            } else if pages >= CHECKPOINT_PAGES {
                let _ = wake.try_send(());
            }
            Ok(())
        }))
        .map_err(|e| StoreError::Unavailable(format!("cannot hand over checkpoints: {e}")))
}

fn write_loop(connection: Connection, open_cases: &Mutex<OpenCases>, queue: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = run_batch(&connection, open_cases, &mut batch);
        for job in batch {
            job.answer(commit.as_ref().map(|_| ()));
        }
    }
}

/// Runs `batch` in one transaction and commits it, or rolls it all back; the open cases follow.
fn run_batch(connection: &Connection, open_cases: &Mutex<OpenCases>, batch: &mut [Box<dyn Job>]) -> StoreResult<()> {
    sql(connection, "BEGIN IMMEDIATE")?;
    let reloaded = held(open_cases).reload_if_written_elsewhere(connection);
    let committed =
        reloaded.and_then(|()| run_jobs(connection, open_cases, batch)).and_then(|()| sql(connection, "COMMIT"));
    match committed {
        Ok(()) => held(open_cases).committed(),
        Err(_) => {
            let _ = sql(connection, "ROLLBACK");
            held(open_cases).undo_to(0);
        }
    }
    committed
}

/// Runs each job of `batch` in a savepoint of the open transaction (one failing is rolled back
/// alone), then what they left for the group. A job alone in its group runs without one: the
/// savepoint would keep a copy of every page it changes (an import's batch changes thousands),
/// and if it fails, the group's rollback takes it back all the same.
fn run_jobs(connection: &Connection, open_cases: &Mutex<OpenCases>, batch: &mut [Box<dyn Job>]) -> StoreResult<()> {
    let mut deferred = Deferred::default();
    if let [lone] = batch {
        let left = lone.run(connection).ok_or_else(|| StoreError::Database("the group's one write failed".into()))?;
        deferred.add(left);
    } else {
        for job in batch.iter_mut() {
            let mark = held(open_cases).mark();
            sql(connection, "SAVEPOINT job")?;
            match job.run(connection) {
                Some(left) => {
                    deferred.add(left);
                    sql(connection, "RELEASE job")?;
                }
                // What a failed write leaves is not kept, like the rest of it.
                None => {
                    held(open_cases).undo_to(mark);
                    sql(connection, "ROLLBACK TO job; RELEASE job")?;
                }
            }
        }
    }
    crate::indicators::add_changes(connection, &deferred.tallies.into_changes())?;
    crate::case_text::index_texts(connection, &deferred.texts)
}

/// The open cases, between jobs. Only the writer's thread takes them, and a job that panicked
/// while holding them took the thread with it.
fn held(open_cases: &Mutex<OpenCases>) -> MutexGuard<'_, OpenCases> {
    open_cases.lock().unwrap_or_else(PoisonError::into_inner)
}

fn sql(connection: &Connection, statement: &str) -> StoreResult<()> {
    connection.execute_batch(statement).map_err(|e| StoreError::Database(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer on a new database in WAL mode with one table, `t (x INTEGER PRIMARY KEY)`, the
    /// database's path, and the folder that holds it.
    fn writer_of_table_t() -> (GroupWriter, std::path::PathBuf, tempfile::TempDir) {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("writer.db");
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER PRIMARY KEY)").unwrap();
        (GroupWriter::start(connection, Arc::default()).unwrap(), path, directory)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_a_failure_stays_alone() {
        let (writer, path, _directory) = writer_of_table_t();
        let mut tasks = Vec::new();
        for x in 0..500i64 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .write(move |c| {
                        c.execute("INSERT INTO t (x) VALUES (?1)", [x])
                            .map_err(|e| StoreError::Database(e.to_string()))?;
                        // Every hundredth write fails after writing: its row must not survive.
                        if x % 100 == 7 { Err(StoreError::Database("refused".into())) } else { Ok(x) }
                    })
                    .await
            }));
        }
        let mut failures = 0;
        for task in tasks {
            if task.await.unwrap().is_err() {
                failures += 1;
            }
        }
        assert_eq!(failures, 5);
        let reader = Connection::open(&path).unwrap();
        let count: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 495);
        let failed_rows: i64 = reader.query_row("SELECT count(*) FROM t WHERE x % 100 = 7", [], |r| r.get(0)).unwrap();
        assert_eq!(failed_rows, 0);
    }

    /// A write alone in its group runs without a savepoint: failing after it wrote, it leaves
    /// nothing, is answered with its own error, and the writer goes on.
    #[tokio::test]
    async fn a_lone_write_that_fails_leaves_nothing() {
        let (writer, path, _directory) = writer_of_table_t();
        let insert = |x: i64, fail: bool| {
            move |c: &Connection| {
                c.execute("INSERT INTO t (x) VALUES (?1)", [x]).map_err(|e| StoreError::Database(e.to_string()))?;
                if fail { Err(StoreError::Database("refused".into())) } else { Ok(x) }
            }
        };
        let refused = writer.write(insert(1, true)).await;
        assert!(matches!(&refused, Err(StoreError::Database(message)) if message == "refused"), "{refused:?}");
        assert_eq!(writer.write(insert(2, false)).await.unwrap(), 2);
        let reader = Connection::open(&path).unwrap();
        let rows: Vec<i64> = reader
            .prepare("SELECT x FROM t")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, [2]);
    }

    /// The log is copied back into the database beside the writer, and still starts over, while
    /// readers overlap without pause: written 300 MB in 3,000 commits, the database holds them
    /// and the log never passes the most pages it may hold (without the restart, it grew past
    /// 300 MB).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_is_checkpointed_beside_the_writer_and_bounded_under_reads() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("writer.db");
        let connection = crate::open_connection(&path).unwrap();
        connection.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY, filler BLOB)").unwrap();
        let writer = GroupWriter::start(connection, Arc::default()).unwrap();
        // Two readers, each in a read transaction of a few milliseconds, one starting as the other
        // ends: some reader is always on the log.
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|i| {
                let (path, done) = (path.clone(), done.clone());
                thread::spawn(move || {
                    let reader = crate::open_connection(&path).unwrap();
                    thread::sleep(std::time::Duration::from_millis(2 * i));
                    let mut reads = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        reader.execute_batch("BEGIN").unwrap();
                        let _: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
                        thread::sleep(std::time::Duration::from_millis(4));
                        reader.execute_batch("COMMIT").unwrap();
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        let size = |file: &str| std::fs::metadata(directory.path().join(file)).map(|m| m.len()).unwrap_or(0);
        let page = u64::from(crate::PAGE_SIZE);
        // The most pages, and one commit's (13).
        let bound = u64::try_from(LOG_MOST_PAGES + 100).unwrap() * page;
        let mut largest = 0;
        for x in 0..3000i64 {
            writer
                .write(move |c| {
                    c.execute("INSERT INTO t (x, filler) VALUES (?1, zeroblob(100000))", [x])
                        .map_err(|e| StoreError::Database(e.to_string()))
                })
                .await
                .unwrap();
            largest = largest.max(size("writer.db-wal"));
        }
        done.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 100, "the readers read throughout");
        }
        assert!(largest < bound, "the log grew to {largest} bytes (bound {bound})");
        // All but the log's last pages: a log shorter than the threshold waits for the next commit.
        let copied = 300_000_000 - u64::try_from(CHECKPOINT_PAGES).unwrap() * page;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while size("writer.db") < copied {
            assert!(std::time::Instant::now() < deadline, "the log was never copied back");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
