//! The persistent pool: every index runs once, borrowed data works, panics reach the caller,
//! nested and concurrent calls do not deadlock.

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
