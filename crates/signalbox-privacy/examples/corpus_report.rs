//! Prints precision and recall per class on the labelled corpus, then every
//! mistake. Run: `cargo run -p signalbox-privacy --example corpus_report`.

#[path = "../tests/corpus/score.rs"]
mod score;

use std::io::Write as _;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = score::corpus_profile()?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let report = score::score_dir(&dir, &profile)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "corpus: {} lines in {}", report.lines, dir.display())?;
    writeln!(
        out,
        "{:<12} {:>5} {:>5} {:>5} {:>10} {:>8}",
        "class", "tp", "fp", "fn", "precision", "recall"
    )?;
    for (class, s) in &report.classes {
        writeln!(
            out,
            "{class:<12} {:>5} {:>5} {:>5} {:>10.3} {:>8.3}",
            s.true_pos,
            s.false_pos,
            s.false_neg,
            s.precision(),
            s.recall()
        )?;
    }
    for m in &report.misses {
        writeln!(
            out,
            "{}:{}: {} {} `{}`",
            m.file, m.line, m.kind, m.class, m.span
        )?;
    }
    Ok(())
}
