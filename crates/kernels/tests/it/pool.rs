//! The persistent pool: every index runs once, borrowed data works, panics reach the caller,
//! nested and concurrent calls do not deadlock, and an index whose worker is busy runs on the
//! caller.

use std::sync::atomic::{AtomicUsize, Ordering};
use tfs_kernels::pool;

#[test]
fn every_index_runs_once() {
    for n in [0, 1, 2, 3, 7] {
        let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        pool::run(n, &|i| {
            hits[i].fetch_add(1, Ordering::SeqCst);
        });
        assert!(
            hits.iter().all(|h| h.load(Ordering::SeqCst) == 1),
            "n = {n}"
        );
    }
}

#[test]
fn nested_and_concurrent_calls_finish() {
    let total = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    pool::run(2, &|_| {
                        pool::run(2, &|_| {
                            total.fetch_add(1, Ordering::SeqCst);
                        })
                    });
                }
            });
        }
    });
    assert_eq!(total.load(Ordering::SeqCst), 4 * 50 * 4);
}

#[test]
fn a_panicking_task_reaches_the_caller_and_the_pool_survives() {
    let result = std::panic::catch_unwind(|| pool::run(2, &|i| assert!(i != 1, "boom")));
    assert!(result.is_err());
    let count = AtomicUsize::new(0);
    pool::run(2, &|_| {
        count.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[test]
fn default_threads_is_positive() {
    assert!(pool::default_threads() >= 1);
}

#[test]
fn an_index_whose_worker_is_busy_runs_on_the_caller() {
    use std::sync::atomic::AtomicBool;
    // Hold the pool's first worker inside another call's index 1, then call `run(2, …)`: its
    // index 1 waits in that worker's queue, so the caller must run it itself rather than wait
    // (it would wait until the release below, which comes only after the call returned).
    let (busy, release) = (AtomicBool::new(false), AtomicBool::new(false));
    let on_worker = || {
        std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("tfs-kernels-"))
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            while !busy.load(Ordering::SeqCst) {
                pool::run(2, &|i| {
                    if i == 1 && on_worker() {
                        busy.store(true, Ordering::SeqCst);
                        while !release.load(Ordering::SeqCst) {
                            std::thread::yield_now();
                        }
                    }
                });
            }
        });
        while !busy.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // A watchdog, so that a pool that waits for the busy worker fails instead of hanging.
        s.spawn(|| {
            let t0 = std::time::Instant::now();
            while !release.load(Ordering::SeqCst) && t0.elapsed().as_secs() < 5 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            release.store(true, Ordering::SeqCst);
        });
        let hits: Vec<AtomicUsize> = (0..2).map(|_| AtomicUsize::new(0)).collect();
        let caller = std::thread::current().id();
        let ran_here: Vec<AtomicBool> = (0..2).map(|_| AtomicBool::new(false)).collect();
        pool::run(2, &|i| {
            hits[i].fetch_add(1, Ordering::SeqCst);
            ran_here[i].store(std::thread::current().id() == caller, Ordering::SeqCst);
        });
        assert!(
            !release.load(Ordering::SeqCst),
            "run waited for the busy worker (released by the watchdog)"
        );
        assert!(ran_here.iter().all(|r| r.load(Ordering::SeqCst)));
        release.store(true, Ordering::SeqCst);
        // The worker, released, finds the job it was sent already taken and skips it.
        pool::run(2, &|_| {});
        assert!(hits.iter().all(|h| h.load(Ordering::SeqCst) == 1));
    });
}
