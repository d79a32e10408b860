//! A data loader: seeded shuffling into batches, with the next batch prepared on a background
//! thread while the current one trains.
//!
//! Each epoch e visits the examples 0..n in the order of a shuffle seeded by (seed, e), cut into
//! batches of `batch` indices (the last, shorter one dropped when `drop_last`). `make` turns a
//! batch of indices into whatever the model eats (token ids, a padded batch); it runs on the
//! loader's thread, `prefetch` batches ahead, so the training loop only waits when making a
//! batch is slower than a step. The same seed gives the same batches in the same order.
//!
//! Left out: several worker threads (one keeps up with every model of the project on 2 cores),
//! resuming mid-epoch (Phase 8's token cursor does that for GPT).

use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;
use tfs_math::Rng;

/// The batches of one epoch, as index lists.
pub fn epoch_batches(
    n: usize,
    batch: usize,
    seed: u64,
    epoch: u64,
    drop_last: bool,
) -> Vec<Vec<usize>> {
    assert!(batch > 0, "loader: batch size must be at least 1");
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::new(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)).shuffle(&mut idx);
    idx.chunks(batch)
        .filter(|c| !drop_last || c.len() == batch)
        .map(<[usize]>::to_vec)
        .collect()
}

/// An endless iterator of batches made on a background thread.
pub struct Loader<B: Send + 'static> {
    rx: Option<Receiver<B>>,
    worker: Option<JoinHandle<()>>,
}

impl<B: Send + 'static> Loader<B> {
    /// Batches of `batch` of `n` examples, epoch after epoch, made by `make`.
    pub fn new(
        n: usize,
        batch: usize,
        seed: u64,
        drop_last: bool,
        prefetch: usize,
        make: impl Fn(&[usize]) -> B + Send + 'static,
    ) -> Loader<B> {
        assert!(
            n >= batch || !drop_last,
            "loader: {n} examples cannot fill one batch of {batch}"
        );
        assert!(n > 0 && batch > 0, "loader: no examples or zero batch size");
        let (tx, rx) = sync_channel(prefetch.max(1));
        let worker = std::thread::Builder::new()
            .name("tfs-loader".into())
            .spawn(move || {
                for epoch in 0.. {
                    for b in epoch_batches(n, batch, seed, epoch, drop_last) {
                        if tx.send(make(&b)).is_err() {
                            return; // the loader was dropped
                        }
                    }
                }
            })
            .expect("loader: cannot spawn its thread");
        Loader {
            rx: Some(rx),
            worker: Some(worker),
        }
    }
}

impl<B: Send + 'static> Iterator for Loader<B> {
    type Item = B;
    fn next(&mut self) -> Option<B> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl<B: Send + 'static> Drop for Loader<B> {
    fn drop(&mut self) {
        drop(self.rx.take()); // the worker's next send fails and it returns
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
