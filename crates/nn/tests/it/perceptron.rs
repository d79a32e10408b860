use tfs_nn::perceptron::Perceptron;

fn gate(f: impl Fn(u8, u8) -> u8) -> (Vec<Vec<f64>>, Vec<u8>) {
    let pts = [(0, 0), (0, 1), (1, 0), (1, 1)];
    (
        pts.iter().map(|&(a, b)| vec![a as f64, b as f64]).collect(),
        pts.iter().map(|&(a, b)| f(a, b)).collect(),
    )
}

#[test]
fn learns_and_and_or() {
    for (name, (xs, ys)) in [("AND", gate(|a, b| a & b)), ("OR", gate(|a, b| a | b))] {
        let mut p = Perceptron::new(2);
        let epochs = (1..=100).find(|_| p.epoch(&xs, &ys, 0.1) == 0);
        assert!(epochs.is_some(), "{name} did not converge");
        assert_eq!(p.accuracy(&xs, &ys), 1.0, "{name}");
    }
}

#[test]
fn never_learns_xor() {
    let (xs, ys) = gate(|a, b| a ^ b);
    let mut p = Perceptron::new(2);
    for _ in 0..1000 {
        assert!(
            p.epoch(&xs, &ys, 0.1) > 0,
            "an epoch without mistakes on XOR is impossible"
        );
        assert!(p.accuracy(&xs, &ys) <= 0.75);
    }
}
