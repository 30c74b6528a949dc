//! One module per subcommand, plus the policy evaluation and cases file
//! shared by `simulate` and `test-policy`.

pub mod admin;
pub mod cases;
pub mod chaos;
pub mod check;
pub mod decisions;
pub mod demo;
mod demo_changed;
mod demo_drain;
pub mod eval;
pub mod eval_prompts;
pub mod eval_run;
pub mod eval_scores;
pub mod evaluate;
pub mod explain;
pub mod mock;
pub mod rollout;
pub mod serve;
pub mod simulate;
pub mod test_policy;
pub mod what_changed;

/// Writes `text` to stdout. A closed pipe (`signalbox explain … | head`)
/// is not an error: the reader has seen what it wanted.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
