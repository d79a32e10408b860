//! A persistent thread pool: worker threads are created once, on first use, and then reused by
//! every call, so a parallel GEMM costs two channel messages and a condition-variable wait per
//! helper thread instead of a thread spawn.
//!
//! Workers and waiting callers spin for up to 5 µs, then poll while yielding their time slice
//! for up to 500 µs, before they block, so that back-to-back calls do not pay a futex wake-up
//! each (measured under [`YIELD`]).
//!
//! The model is fork-join over an index: [`run`]`(n, f)` calls `f(0)`, …, `f(n - 1)`, `f(0)` on
//! the calling thread and the others on workers `1..n` (or on the caller, below), and returns when
//! all are done. The closure may borrow from the caller's stack: `run` does not return (not even
//! by unwinding) before every worker has finished with it, which is what makes erasing its
//! lifetime sound.
//!
//! The number of threads a kernel uses by default is [`default_threads`]: `TFS_THREADS` when it is
//! set to a positive integer, else `std::thread::available_parallelism()`.
//!
//! When the caller has finished `f(0)`, it runs itself every index whose worker has not started
//! it yet, instead of waiting: a worker still waking up, or whose core another process holds,
//! then costs nothing. Each index is taken exactly once, by its worker or by the caller (a flag
//! per index); a worker that finds its job taken drops it without touching the task. Tasks that
//! claim their work from a shared counter (GEMM chunks, [`per_task`]) adapt further: a thread
//! that runs slowly claims less. Measured on the baby GPT, 200 steps, median of 4-5 (2026-11-27):
//! 2.76 → 2.70 s on a quiet machine, and 4.45 → 3.47 s while another process takes 3 ms of every
//! 10 on one core (PyTorch slows by 35% under that load; without this, we slowed by 70%).
//!
//! Left out: taking work from an index once started (it runs to its end on its thread), per-worker
//! pinning to cores, and nesting. A task that itself calls [`run`] (from a worker) runs its
//! indices sequentially on that worker, which avoids deadlock when every worker is busy waiting
//! for the others.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The work shared by one call of [`run`]: called once per index.
type Task = dyn Fn(usize) + Sync;

/// How long a worker (or a caller waiting for its helpers) spins before blocking, so that
/// back-to-back calls can hand work over without a futex wake-up. Kept short on purpose: with
/// 100 µs, 256³ on 2 threads fell to a median of 94 GFLOP/s (211 without spinning) while other
/// builds shared the 2 cores, because a spinning thread takes time slices from the thread it
/// waits for.
const SPIN: Duration = Duration::from_micros(5);

/// After [`SPIN`], a waiting thread keeps polling up to this long, giving its time slice away
/// (`yield_now`) between polls, before it blocks on a futex. A training step calls the pool
/// every few tens of µs (a GEMM, then elementwise work on the caller), so a worker that blocked
/// after 5 µs paid a futex wake-up on nearly every GEMM. Measured on the `baby` GPT preset (300
/// steps, best of 4, 2 cores): blocking after 5 µs 6.26 s; yielding up to 200 µs 5.70 s, 500 µs
/// 5.36 s, 1.5 ms 5.96 s; spinning (no yield) up to 500 µs 5.57 s. Why longer polling slows
/// the thread doing the work is not established (a guess: the two vCPUs share a core).
const YIELD: Duration = Duration::from_micros(500);

/// Whether a thread that started waiting at `since` should keep polling (spinning, then
/// yielding) rather than block.
fn keep_polling(since: Instant) -> bool {
    let waited = since.elapsed();
    if waited < SPIN {
        std::hint::spin_loop();
        true
    } else if waited < YIELD {
        std::thread::yield_now();
        true
    } else {
        false
    }
}

/// Counts the helper tasks of one [`run`] call that have not finished yet.
struct Latch {
    remaining: AtomicUsize,
    lock: Mutex<()>,
    done: Condvar,
    panicked: AtomicBool,
    /// `started[i - 1]`: index i has been taken, by its worker or by the caller.
    started: Vec<AtomicBool>,
}

impl Latch {
    /// Takes index `i` (≥ 1) for the calling thread: true for exactly one caller.
    fn take(&self, i: usize) -> bool {
        !self.started[i - 1].swap(true, Ordering::AcqRel)
    }

    fn finish_one(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Notify under the lock, so a waiter between its check and its wait cannot miss it.
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.done.notify_all();
        }
    }

    fn wait(&self) {
        let start = Instant::now();
        while self.remaining.load(Ordering::Acquire) > 0 {
            if !keep_polling(start) {
                let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                while self.remaining.load(Ordering::Acquire) > 0 {
                    guard = self.done.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                return;
            }
        }
    }
}

/// One index of one task, sent to one worker.
struct Job {
    /// Points to the caller's closure, whose lifetime was erased; valid until `latch` reaches 0.
    task: *const Task,
    index: usize,
    latch: Arc<Latch>,
}

// SAFETY: the task behind the pointer is `Sync` (so it may be called from another thread), and
// `run` keeps it alive until the worker has counted the job down on the latch.
unsafe impl Send for Job {}

struct Pool {
    workers: Mutex<Vec<Sender<Job>>>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

thread_local! {
    static IN_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// A thread count set by [`set_threads`] (0: none), which wins over the environment.
static OVERRIDE: AtomicUsize = AtomicUsize::new(0);

/// Sets the thread count for the rest of the process (`None`: back to `TFS_THREADS` / the cores),
/// for experiments that compare thread counts in one run. At most the pool's size is used.
pub fn set_threads(n: Option<usize>) {
    OVERRIDE.store(n.unwrap_or(0), Ordering::SeqCst);
}

/// The number of threads kernels use unless told otherwise: [`set_threads`], else `TFS_THREADS`,
/// else the core count.
pub fn default_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    let set = OVERRIDE.load(Ordering::Relaxed);
    if set > 0 {
        return set;
    }
    *THREADS.get_or_init(|| {
        let env = std::env::var("TFS_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        match env {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    })
}

fn worker_loop(rx: Receiver<Job>) {
    IN_WORKER.with(|w| w.set(true));
    let mut idle_since = Instant::now();
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) if keep_polling(idle_since) => continue,
            Err(TryRecvError::Empty) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        // The caller runs an index itself when its worker has not started it by the time the
        // caller's own share is done; then the job is only dropped here (the task, which may be
        // gone by now, is not touched).
        if job.latch.take(job.index) {
            // SAFETY: `run` is blocked on `job.latch` until we call `finish_one` below, so the
            // closure it lent us (and everything it borrows) is still alive here.
            let task: &Task = unsafe { &*job.task };
            if catch_unwind(AssertUnwindSafe(|| task(job.index))).is_err() {
                job.latch.panicked.store(true, Ordering::SeqCst);
            }
            job.latch.finish_one();
        }
        idle_since = Instant::now();
    }
}

/// Senders to at least `helpers` workers, spawning the missing ones (this happens once per size).
fn helpers(helpers: usize) -> Vec<Sender<Job>> {
    let pool = POOL.get_or_init(|| Pool {
        workers: Mutex::new(Vec::new()),
    });
    let mut workers = pool.workers.lock().unwrap_or_else(|e| e.into_inner());
    while workers.len() < helpers {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name(format!("tfs-kernels-{}", workers.len() + 1))
            .spawn(move || worker_loop(rx))
            .expect("tfs-kernels: cannot spawn a worker thread");
        workers.push(tx);
    }
    workers[..helpers].to_vec()
}

/// Waits for the helpers when dropped, so that `run` never returns (or unwinds) while a worker
/// may still be calling the borrowed closure.
struct WaitOnDrop<'a>(&'a Latch);

impl Drop for WaitOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// Calls `f(i)` for every `i` in `0..n`, `f(0)` on this thread and the rest on pool workers, and
/// returns when all calls have returned. Panics if any call panicked.
pub fn run(n: usize, f: &(dyn Fn(usize) + Sync)) {
    if n <= 1 || IN_WORKER.with(|w| w.get()) {
        (0..n).for_each(f);
        return;
    }
    let senders = helpers(n - 1);
    let latch = Arc::new(Latch {
        remaining: AtomicUsize::new(n - 1),
        lock: Mutex::new(()),
        done: Condvar::new(),
        panicked: AtomicBool::new(false),
        started: (1..n).map(|_| AtomicBool::new(false)).collect(),
    });
    // SAFETY: only the lifetime is changed. The pointer is dereferenced by workers before they
    // count down `latch`, and `guard` below blocks this function (on return and on unwind) until
    // the latch is 0, so `f` outlives every use.
    let task: *const Task = unsafe {
        std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const Task>(f as *const _)
    };
    let guard = WaitOnDrop(&latch);
    for (i, tx) in senders.iter().enumerate() {
        let job = Job {
            task,
            index: i + 1,
            latch: Arc::clone(&latch),
        };
        // A worker that is gone (it cannot be: workers live as long as the process) leaves its
        // index to the loop below.
        let _ = tx.send(job);
    }
    f(0);
    // Indices whose worker has not started yet (still waking, or its core taken by another
    // process) run here rather than be waited for. Tasks that claim their work from a shared
    // counter (GEMM chunks, `per_task`) usually find none left by then.
    for i in 1..n {
        if latch.take(i) {
            // Counted down even if it panics (as on a worker), so that the wait below ends.
            if catch_unwind(AssertUnwindSafe(|| f(i))).is_err() {
                latch.panicked.store(true, Ordering::SeqCst);
            }
            latch.finish_one();
        }
    }
    drop(guard);
    assert!(
        !latch.panicked.load(Ordering::SeqCst),
        "tfs-kernels: a pool worker panicked"
    );
}

/// Runs `f(task, pieces)` for every task in `0..tasks` on `threads` threads, where `pieces[j]` is
/// the task's own chunk of `outs[j]` (chunks of `sizes[j]` elements). Each thread claims the
/// next task when it is free, so a thread that starts late (a worker still waking up) or runs
/// slowly (another process on its core) takes fewer.
pub fn per_task(
    threads: usize,
    tasks: usize,
    outs: Vec<&mut [f32]>,
    sizes: &[usize],
    f: &(dyn Fn(usize, &mut [&mut [f32]]) + Sync),
) {
    let mut pieces: Vec<Vec<&mut [f32]>> = (0..tasks).map(|_| Vec::new()).collect();
    for (o, &s) in outs.into_iter().zip(sizes) {
        for (i, c) in o.chunks_mut(s.max(1)).take(tasks).enumerate() {
            pieces[i].push(c);
        }
    }
    if pieces.iter().any(|p| p.len() != sizes.len()) {
        return; // some output is empty: nothing to compute
    }
    let slots: Vec<Mutex<Vec<&mut [f32]>>> = pieces.into_iter().map(Mutex::new).collect();
    let threads = threads.clamp(1, tasks.max(1));
    let next = AtomicUsize::new(0);
    run(threads, &|_| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= tasks {
            return;
        }
        let mut mine = slots[i].lock().unwrap_or_else(|e| e.into_inner());
        f(i, &mut mine);
    });
}
