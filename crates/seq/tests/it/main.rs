//! Integration tests of tfs-seq: every cell's backward and BPTT against finite differences.

mod cells;
mod models;
