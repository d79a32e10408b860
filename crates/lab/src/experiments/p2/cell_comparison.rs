//! `p2-cell-comparison`: RNN vs LSTM vs GRU at equal hidden size on the char-LM task — parameters,
//! seconds per epoch over the training text, final validation loss after the same number of epochs.

use crate::plot::{LineChart, Series};
use crate::{sig, Ctx, LabError};
use serde_json::json;
use tfs_nn::Params;
use tfs_seq::charlm_train::{train_char_lm, Corpus, LmRecipe};
use tfs_seq::CellKind;

pub(crate) const DESCRIPTION: &str = "RNN vs LSTM vs GRU at equal hidden size: parameters, seconds per epoch, validation loss";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let corpus = Corpus::new(&text, ctx.size(100_000, 20_000), 0.1);
    let (hidden, seq_len, batch, epochs) = ctx.size((128, 64, 32, 6), (32, 16, 8, 1));
    let mut r = LmRecipe {
        hidden,
        seq_len,
        batch,
        steps: 0,
        lr: 3e-3,
        clip: 5.0,
        eval_every: 1,
    };
    corpus.check(&r).map_err(|e| ctx.fail(e))?;
    // At least one window per track: check() guarantees train.len() ≥ batch·seq_len + 1.
    let steps_per_epoch = (corpus.train.len() - 1) / batch / seq_len;
    r.steps = epochs * steps_per_epoch;
    r.eval_every = steps_per_epoch;
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut chart = LineChart::new(
        &format!("Validation loss per epoch at equal hidden size H = {hidden}"),
        "epoch",
        "validation loss (nats/char)",
    )
    .integer_x();
    for kind in CellKind::ALL {
        let pb = ctx.progress(r.steps as u64, kind.name());
        let run = train_char_lm(kind, &corpus, &r, ctx.seed, 0, &mut |_| pb.inc(1))
            .map_err(|e| ctx.fail(e))?;
        pb.finish_and_clear();
        let val = run.val_curve.last().map_or(f64::NAN, |p| p.1);
        let sec_epoch = run.train_seconds / epochs as f64;
        let per_epoch: Vec<(f64, f64)> = run
            .val_curve
            .iter()
            .map(|&(s, l)| (s as f64 / steps_per_epoch as f64, l))
            .collect();
        chart = chart.series(Series::new(kind.name(), per_epoch).with_markers());
        rows.push(vec![
            kind.name().into(),
            run.model.num_params().to_string(),
            sig(sec_epoch, 3),
            format!("{val:.3}"),
        ]);
        records.push(json!({"cell": kind.name(), "params": run.model.num_params(), "seconds_per_epoch": sec_epoch, "val_loss": val}));
    }
    chart.draw(&ctx.figure("val_per_epoch.svg"))?;
    ctx.set("setup", json!({"hidden": hidden, "seq_len": seq_len, "batch": batch, "epochs": epochs, "steps_per_epoch": steps_per_epoch}));
    ctx.set("cells", json!(records));
    ctx.table(
        &[
            &format!("cell (H = {hidden}, {epochs} epochs)"),
            "parameters",
            "seconds / epoch",
            "validation loss (nats/char)",
        ],
        &rows,
    );
    let ratio = |k: usize, key: &str| {
        records[k][key].as_f64().unwrap_or(f64::NAN) / records[0][key].as_f64().unwrap_or(f64::NAN)
    };
    ctx.md(&format!(
        "At equal hidden size the LSTM's matrices have four blocks (three gates and the candidate) \
         and the GRU's three, against the RNN's one. Here that makes the LSTM {:.1}× and the GRU \
         {:.1}× the RNN's parameters (the input and output layers are shared costs), and {:.1}× and \
         {:.1}× its time per epoch; what they buy is in the validation column and the curves.",
        ratio(1, "params"),
        ratio(2, "params"),
        ratio(1, "seconds_per_epoch"),
        ratio(2, "seconds_per_epoch")
    ));
    Ok(())
}
