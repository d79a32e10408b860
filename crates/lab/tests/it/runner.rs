use serde_json::Value;
use std::path::PathBuf;
use tfs_lab::{registry, run, select, Experiment, LabError, RunOptions};

fn temp_out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfs-lab-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

/// Runs every experiment of `phase` in quick mode and checks its outputs parse and say something.
fn every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs(phase: &str) {
    let out = temp_out(&format!("quick-{phase}"));
    let opts = RunOptions {
        out: out.clone(),
        quick: true,
        seed: 1,
        ..offline()
    };
    let chosen = select(phase).unwrap();
    assert!(!chosen.is_empty(), "{phase} has no experiment");
    for exp in chosen {
        let dir = match run(&exp, &opts) {
            Ok(dir) => dir,
            // Without a data folder (a bare clone), data experiments are skipped, loudly; CI sets
            // TFS_DATA_DIR, and there a missing dataset fails the test.
            Err(LabError::DataMissing { message, .. })
                if std::env::var_os("TFS_DATA_DIR").is_none() =>
            {
                eprintln!("skipped {}: {message}", exp.id);
                continue;
            }
            Err(e) => panic!("{}: {e}", exp.id),
        };
        let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", exp.id));
        assert_eq!(doc["id"], exp.id);
        assert_eq!(doc["seed"], 1);
        assert_eq!(doc["quick"], true);
        assert!(doc["machine"]["cores"].as_u64().unwrap() >= 1);
        let figures = doc["figures"].as_array().unwrap();
        assert!(!figures.is_empty(), "{} drew no figure", exp.id);
        for f in figures {
            let svg = std::fs::read_to_string(dir.join(f.as_str().unwrap())).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                "{f}"
            );
            assert!(svg.contains("<text"), "{f} has no text (title, axes)");
        }
        // Every recorded key beyond the runner's own is a measured number or structure.
        assert!(
            doc.as_object().unwrap().len() > 8,
            "{} recorded nothing",
            exp.id
        );
        let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(summary.trim().len() > 50, "{} summary is empty", exp.id);
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn every_p0_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p0");
}

#[test]
fn every_p1_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p1");
}

#[test]
fn every_p2_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p2");
}

#[test]
fn every_p3_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p3");
}

#[test]
fn every_p4_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p4");
}

#[test]
fn every_p5_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p5");
}

#[test]
fn every_p6_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p6");
}

#[test]
fn every_p7_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p7");
}

#[test]
fn every_p8_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p8");
}

#[test]
fn every_p9_experiment_runs_in_quick_mode_and_writes_parsable_outputs() {
    every_experiment_of_phase_runs_in_quick_mode_and_writes_parsable_outputs("p9");
}

#[test]
fn every_experiment_is_in_one_of_the_quick_mode_phases() {
    let phases: Vec<u32> = registry().iter().map(|e| e.phase).collect();
    assert!(
        phases.iter().all(|&p| p <= 9),
        "a phase beyond p9 needs its quick-mode test"
    );
}

#[test]
fn ids_are_unique_and_follow_the_phase() {
    let all = registry();
    let mut ids: Vec<&str> = all.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
    for e in &all {
        assert!(e.id.starts_with(&format!("p{}-", e.phase)), "{}", e.id);
    }
}

#[test]
fn select_by_id_phase_and_all() {
    assert_eq!(select("p0-entropy-kl").unwrap().len(), 1);
    assert_eq!(select("p0").unwrap().len(), 6);
    assert_eq!(select("all").unwrap().len(), registry().len());
    match select("p99") {
        Err(LabError::UnknownTarget { target, .. }) => assert_eq!(target, "p99"),
        _ => panic!("p99 should be unknown"),
    }
    assert!(select("nonsense").is_err());
}

fn failing(_: &mut tfs_lab::Ctx) -> Result<(), LabError> {
    Err(LabError::Experiment {
        id: "p0-entropy-kl".into(),
        message: "planted failure".into(),
    })
}

#[test]
fn a_failed_run_keeps_the_previous_good_result() {
    let out = temp_out("fail");
    let opts = RunOptions {
        out: out.clone(),
        quick: true,
        ..offline()
    };
    let good = select("p0-entropy-kl").unwrap()[0];
    let dir = run(&good, &opts).unwrap();
    let before = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let bad = Experiment {
        run: failing,
        ..good
    };
    let err = run(&bad, &opts).unwrap_err();
    assert!(err.to_string().contains("planted failure"));
    assert_eq!(
        std::fs::read_to_string(dir.join("results.json")).unwrap(),
        before
    );
    // Nothing stranded: the failed run's ID.partial/ is gone.
    assert!(!out.join("p0-entropy-kl.partial").exists());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_plain_file_at_out_id_is_an_error_before_running() {
    let out = temp_out("plain-file");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("p0-entropy-kl"), "mine").unwrap();
    let opts = RunOptions {
        out: out.clone(),
        quick: true,
        ..offline()
    };
    let e = run(&select("p0-entropy-kl").unwrap()[0], &opts).unwrap_err();
    assert!(e.to_string().contains("not a folder"), "{e}");
    assert_eq!(
        std::fs::read_to_string(out.join("p0-entropy-kl")).unwrap(),
        "mine"
    );
    assert!(!out.join("p0-entropy-kl.partial").exists());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_run_stopped_between_its_renames_loses_nothing() {
    // The state a crash between "ID → ID.old" and "ID.partial → ID" leaves: no ID, the old
    // result in ID.old. The next run brings it back, then replaces it.
    let out = temp_out("crash");
    let opts = RunOptions {
        out: out.clone(),
        quick: true,
        ..offline()
    };
    let good = select("p0-entropy-kl").unwrap()[0];
    let dir = run(&good, &opts).unwrap();
    std::fs::rename(&dir, out.join("p0-entropy-kl.old")).unwrap();
    let bad = Experiment {
        run: failing,
        ..good
    };
    assert!(run(&bad, &opts).is_err());
    assert!(dir.join("results.json").exists(), "the old result was lost");
    assert!(!out.join("p0-entropy-kl.old").exists());
    run(&good, &opts).unwrap();
    assert!(dir.join("results.json").exists());
    assert!(!out.join("p0-entropy-kl.old").exists());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn same_seed_same_numbers() {
    let a = temp_out("seed-a");
    let b = temp_out("seed-b");
    let exp = select("p0-cross-entropy").unwrap()[0];
    for out in [&a, &b] {
        let opts = RunOptions {
            out: out.clone(),
            quick: true,
            seed: 3,
            ..offline()
        };
        run(&exp, &opts).unwrap();
    }
    let read = |d: &PathBuf| {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(exp.id).join("results.json")).unwrap(),
        )
        .unwrap();
        v["curve"].clone()
    };
    assert_eq!(read(&a), read(&b));
    std::fs::remove_dir_all(&a).ok();
    std::fs::remove_dir_all(&b).ok();
}

#[test]
fn adam_beats_plain_sgd_after_the_same_steps() {
    let out = temp_out("optim");
    let opts = RunOptions {
        out: out.clone(),
        quick: true,
        ..offline()
    };
    let exp = select("p1-optimizers").unwrap()[0];
    let dir = match run(&exp, &opts) {
        Ok(d) => d,
        Err(LabError::DataMissing { message, .. })
            if std::env::var_os("TFS_DATA_DIR").is_none() =>
        {
            eprintln!("skipped: {message}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let (adam, sgd) = (
        doc["best"]["adam"]["final_smoothed_loss"].as_f64().unwrap(),
        doc["best"]["sgd"]["final_smoothed_loss"].as_f64().unwrap(),
    );
    assert!(adam < sgd, "Adam {adam} vs SGD {sgd}");
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn the_xor_mlp_solves_xor() {
    let out = temp_out("xor");
    let opts = RunOptions {
        out: out.clone(),
        quick: true,
        ..offline()
    };
    let dir = run(&select("p1-xor-mlp").unwrap()[0], &opts).unwrap();
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(doc["accuracy"], 1.0);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn moving_average_is_a_trailing_mean() {
    let v = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(
        tfs_lab::moving_average(&v, 2, 1),
        vec![(1.0, 1.0), (2.0, 1.5), (3.0, 2.5), (4.0, 3.5), (5.0, 4.5)]
    );
    assert_eq!(
        tfs_lab::moving_average(&v, 3, 2),
        vec![(1.0, 1.0), (3.0, 2.0), (5.0, 4.0)]
    );
    assert!(tfs_lab::moving_average(&[], 3, 1).is_empty());
}

/// Test runs never download: a missing dataset is skipped (or, under TFS_DATA_DIR, fails).
fn offline() -> RunOptions {
    RunOptions {
        fetch: tfs_data::fetch::Fetch::Offline,
        ..RunOptions::default()
    }
}
