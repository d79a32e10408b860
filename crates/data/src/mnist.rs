//! MNIST and Fashion-MNIST: 70 000 grey 28×28 images in ten classes, as IDX files.
//!
//! A dataset folder holds the four files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or with `.gz`. MNIST is looked up
//! in `DATA_DIR/mnist`; Fashion-MNIST in `DATA_DIR/fashion-mnist`, then in
//! `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist` package).
//! [`load_mnist_fetching`] downloads MNIST first when it is missing (see [`crate::fetch`]).
//!
//! Left out: EMNIST/KMNIST variants, augmentation.

use crate::fetch::{ensure, Fetch, MNIST};
use crate::idx::{read_idx, IdxArray};
use crate::DataError;
use std::path::{Path, PathBuf};

/// The four files, without `.gz`.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// One split: `images: (n, rows·cols)` u8 row-major, `labels: (n,)` in 0..10.
#[derive(Clone, Debug)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub n: usize,
}

impl Split {
    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.images.len() / self.n.max(1);
        &self.images[i * d..(i + 1) * d]
    }
}

/// A ten-class image dataset in the MNIST layout.
#[derive(Clone, Debug)]
pub struct Mnist {
    pub train: Split,
    pub test: Split,
    pub rows: usize,
    pub cols: usize,
    /// The folder it was read from.
    pub dir: PathBuf,
}

/// `dir/name.gz` if it exists, else `dir/name`; `Missing` with `hint` when neither does.
fn find(dir: &Path, name: &str, hint: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.exists() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.exists() {
        return Ok(raw);
    }
    Err(DataError::Missing {
        path: gz,
        hint: hint.to_string(),
    })
}

fn split(
    images: IdxArray,
    img_path: &Path,
    labels: IdxArray,
    lbl_path: &Path,
) -> Result<(Split, usize, usize), DataError> {
    let corrupt = |path: &Path, message: String| DataError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        message,
    };
    if images.dims.len() != 3 {
        return Err(corrupt(
            img_path,
            format!(
                "images must have rank 3 (n, rows, cols), found dimensions {:?}",
                images.dims
            ),
        ));
    }
    if labels.dims.len() != 1 {
        return Err(corrupt(
            lbl_path,
            format!(
                "labels must have rank 1 (n,), found dimensions {:?}",
                labels.dims
            ),
        ));
    }
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if n == 0 || rows == 0 || cols == 0 {
        return Err(DataError::Corrupt {
            path: img_path.to_path_buf(),
            offset: 4,
            message: format!("no images: dimensions {:?}", images.dims),
        });
    }
    if labels.dims[0] != n {
        return Err(corrupt(
            lbl_path,
            format!(
                "{} labels for {n} images in {}",
                labels.dims[0],
                img_path.display()
            ),
        ));
    }
    if let Some(i) = labels.data.iter().position(|&l| l > 9) {
        return Err(DataError::Corrupt {
            path: lbl_path.to_path_buf(),
            offset: 8 + i as u64,
            message: format!("label {} is not a class 0..=9", labels.data[i]),
        });
    }
    Ok((
        Split {
            images: images.data,
            labels: labels.data,
            n,
        },
        rows,
        cols,
    ))
}

/// Loads the four files from `dir`. `hint` says how to get them when one is missing.
pub fn load_from(dir: &Path, hint: &str) -> Result<Mnist, DataError> {
    let paths: Vec<PathBuf> = FILES
        .iter()
        .map(|f| find(dir, f, hint))
        .collect::<Result<_, _>>()?;
    let (train, r1, c1) = split(
        read_idx(&paths[0])?,
        &paths[0],
        read_idx(&paths[1])?,
        &paths[1],
    )?;
    let (test, r2, c2) = split(
        read_idx(&paths[2])?,
        &paths[2],
        read_idx(&paths[3])?,
        &paths[3],
    )?;
    if (r1, c1) != (r2, c2) {
        return Err(DataError::Corrupt {
            path: paths[2].clone(),
            offset: 8,
            message: format!("test images are {r2}×{c2}, train images {r1}×{c1}"),
        });
    }
    Ok(Mnist {
        train,
        test,
        rows: r1,
        cols: c1,
        dir: dir.to_path_buf(),
    })
}

/// MNIST from `DATA_DIR/mnist`.
pub fn load_mnist(data_dir: &Path) -> Result<Mnist, DataError> {
    load_from(
        &data_dir.join("mnist"),
        "run `tfs data fetch mnist` (or set --data-dir / TFS_DATA_DIR to a folder holding mnist/)",
    )
}

/// MNIST from `DATA_DIR/mnist`, fetched there first if it is missing and `mode` allows
/// (`$TFS_OFFLINE` forces offline); offline or without network, a one-line `Missing` error.
pub fn load_mnist_fetching(data_dir: &Path, mode: Fetch) -> Result<Mnist, DataError> {
    ensure(&MNIST, data_dir, mode)?;
    load_mnist(data_dir)
}

/// Debian's package location of Fashion-MNIST.
pub const FASHION_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST from `DATA_DIR/fashion-mnist`, else from [`FASHION_SYSTEM_DIR`].
pub fn load_fashion_mnist(data_dir: &Path) -> Result<Mnist, DataError> {
    let local = data_dir.join("fashion-mnist");
    let dir = if local.exists() {
        local
    } else {
        PathBuf::from(FASHION_SYSTEM_DIR)
    };
    load_from(
        &dir,
        "install it with `apt-get install dataset-fashion-mnist`",
    )
}
