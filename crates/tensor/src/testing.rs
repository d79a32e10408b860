//! Tests with a device axis: [`on_each_device`] runs a test body once per available device and
//! compares each device's outputs with the CPU's, the oracle.
//!
//! ```text
//!   for device in devices():   out[device] = body(device)
//!   every out[device] ≈ out[cpu] within tol (relative, floor 1)
//! ```
//!
//! Today the CPU is the only device, so the body runs once and is its own oracle; a GPU backend
//! adds itself to [`devices`] and every test written this way checks it.

use crate::storage::Device;

/// The devices this build and machine can compute on, the CPU first.
pub fn devices() -> Vec<Device> {
    vec![Device::Cpu]
}

/// Runs `body` on every device in [`devices`] and asserts that each device's outputs equal the
/// CPU's within `tol` (|a − b| ≤ tol·max(1, |b|), elementwise, same lengths). Returns the CPU's.
pub fn on_each_device(tol: f32, body: impl Fn(Device) -> Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let mut all = devices().into_iter();
    let first = all.next().expect("the CPU is always there");
    let oracle = body(first);
    for d in all {
        let got = body(d);
        assert_eq!(
            got.len(),
            oracle.len(),
            "{d}: {} outputs, cpu {}",
            got.len(),
            oracle.len()
        );
        for (i, (g, o)) in got.iter().zip(&oracle).enumerate() {
            assert_eq!(
                g.len(),
                o.len(),
                "{d}: output {i} has {} values, cpu {}",
                g.len(),
                o.len()
            );
            for (j, (&a, &b)) in g.iter().zip(o).enumerate() {
                assert!(
                    (a - b).abs() <= tol * b.abs().max(1.0),
                    "{d}: output {i}[{j}] = {a}, cpu {b}"
                );
            }
        }
    }
    oracle
}
