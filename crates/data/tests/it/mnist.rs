use crate::{gz, temp_dir};
use tfs_data::idx::{encode_idx, IdxArray};
use tfs_data::mnist::*;
use tfs_data::{data_dir, DataError};

fn write_fake(dir: &std::path::Path, n_train: usize, labels: Vec<u8>) {
    let img = |n| IdxArray {
        dims: vec![n, 4, 4],
        data: vec![7; n * 16],
    };
    std::fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        gz(&encode_idx(&img(n_train))),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        encode_idx(&IdxArray {
            dims: vec![labels.len()],
            data: labels,
        }),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), encode_idx(&img(2))).unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte.gz"),
        gz(&encode_idx(&IdxArray {
            dims: vec![2],
            data: vec![0, 9],
        })),
    )
    .unwrap();
}

#[test]
fn loads_a_small_dataset_mixing_raw_and_gz() {
    let dir = temp_dir("mnist-ok");
    write_fake(&dir, 3, vec![1, 2, 3]);
    let m = load_from(&dir, "hint").unwrap();
    assert_eq!((m.train.n, m.test.n, m.rows, m.cols), (3, 2, 4, 4));
    assert_eq!(m.train.image(2), &[7; 16]);
    assert_eq!(m.test.labels, vec![0, 9]);
}

#[test]
fn inconsistent_files_are_errors() {
    let dir = temp_dir("mnist-count");
    write_fake(&dir, 3, vec![1, 2]);
    let err = load_from(&dir, "hint").unwrap_err().to_string();
    assert!(err.contains("2 labels for 3 images"), "{err}");

    let dir = temp_dir("mnist-label");
    write_fake(&dir, 3, vec![1, 12, 3]);
    match load_from(&dir, "hint").unwrap_err() {
        DataError::Corrupt {
            offset, message, ..
        } => {
            assert_eq!(offset, 9);
            assert!(message.contains("label 12"), "{message}");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_split_with_no_images_is_an_error() {
    // It used to load, and the MLP then reported "0.00 %" test accuracy with exit 0.
    let dir = temp_dir("mnist-empty");
    write_fake(&dir, 0, vec![]);
    let err = load_from(&dir, "hint").unwrap_err().to_string();
    assert!(err.contains("no images"), "{err}");
    assert!(err.contains("train-images-idx3-ubyte.gz"), "{err}");
}

#[test]
fn a_missing_dataset_names_the_file_and_the_command() {
    let dir = temp_dir("mnist-missing");
    let err = load_mnist(&dir).unwrap_err().to_string();
    assert!(
        err.contains("mnist/train-images-idx3-ubyte.gz not found"),
        "{err}"
    );
    assert!(err.contains("tfs data fetch mnist"), "{err}");
}

#[test]
fn data_dir_prefers_the_explicit_folder() {
    let p = std::path::Path::new("/somewhere");
    assert_eq!(data_dir(Some(p)), p);
}

/// The real MNIST, when the data folder has it (CI and developers do: ../shared/data).
#[test]
fn real_mnist_has_the_published_shape() {
    let Some(dir) = std::env::var_os("TFS_DATA_DIR") else {
        eprintln!("TFS_DATA_DIR not set: real-MNIST test skipped");
        return;
    };
    let m = load_mnist(std::path::Path::new(&dir)).unwrap();
    assert_eq!(
        (m.train.n, m.test.n, m.rows, m.cols),
        (60_000, 10_000, 28, 28)
    );
    let mut counts = [0usize; 10];
    for &l in &m.train.labels {
        counts[l as usize] += 1;
    }
    // Published class counts of the training set: 5923 zeros, 6742 ones.
    assert_eq!((counts[0], counts[1]), (5923, 6742));
}

#[test]
fn text_errors_name_the_file_and_the_offset() {
    use tfs_data::text::{load_tiny_shakespeare, read_text};
    let dir = temp_dir("text");
    let err = load_tiny_shakespeare(&dir).unwrap_err().to_string();
    assert!(err.contains("tinyshakespeare/input.txt not found"), "{err}");
    std::fs::write(dir.join("bad.txt"), b"ok\xff").unwrap();
    match read_text(&dir.join("bad.txt"), "").unwrap_err() {
        DataError::Corrupt { offset, .. } => assert_eq!(offset, 2),
        e => panic!("{e:?}"),
    }
}
