//! Integration tests of tfs-lab: every experiment end to end in quick mode, the runner's
//! guarantees, and the blog's includes.

mod blog;
mod runner;
