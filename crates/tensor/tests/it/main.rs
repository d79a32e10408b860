//! tfs-tensor's tests: every op's backward against finite differences (grad), the fused ops
//! against their references, the infrastructure (optim, schedule, loader, memory), and the
//! proof of equality with Phase 5 and with PyTorch (equal).

mod equal;
mod flash;
mod grad;
mod infra;
mod seam;
