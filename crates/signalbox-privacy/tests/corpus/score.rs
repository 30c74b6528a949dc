//! Scores the detectors on the labelled corpus in this folder (format in
//! README.md): precision and recall per class. Shared by `tests/corpus.rs`
//! and `examples/corpus_report.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use signalbox_privacy::{
    Action, CustomPatternSpec, DictionarySpec, NationalIdPattern, PrivacyProfile, PrivacySpec,
    SpecError,
};

/// True and false positives and false negatives of one class.
#[derive(Debug, Default, Clone, Copy)]
pub struct Score {
    pub true_pos: u32,
    pub false_pos: u32,
    pub false_neg: u32,
}

impl Score {
    pub fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }
}

fn ratio(n: u32, d: u32) -> f64 {
    if d == 0 {
        1.0
    } else {
        f64::from(n) / f64::from(d)
    }
}

/// One mistake, for the report.
#[derive(Debug)]
pub struct Miss {
    pub file: String,
    pub line: usize,
    pub kind: &'static str,
    pub class: String,
    pub span: String,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} {} `{}`",
            self.file, self.line, self.kind, self.class, self.span
        )
    }
}

/// Scores per class plus every mistake.
#[derive(Debug, Default)]
pub struct Report {
    pub classes: BTreeMap<String, Score>,
    pub misses: Vec<Miss>,
    pub lines: usize,
}

/// The profile the corpus is labelled for: every built-in class, a GB
/// National Insurance pattern, a `ticket` regex and a `customer` dictionary.
pub fn corpus_profile() -> Result<PrivacyProfile, SpecError> {
    let mut spec = PrivacySpec::all_builtin(Action::Redact);
    spec.national_ids.patterns.push(NationalIdPattern {
        country: "GB".to_owned(),
        regex: r"\b[A-CEGHJ-PR-TW-Z]{2}\d{6}[A-D]\b".to_owned(),
    });
    spec.custom.push(CustomPatternSpec {
        name: "ticket".to_owned(),
        regex: r"\bTCK-\d{5}\b".to_owned(),
        action: Action::Redact,
    });
    spec.dictionaries.push(DictionarySpec {
        name: "customer".to_owned(),
        terms: vec![
            "Acme Corp".to_owned(),
            "Globex".to_owned(),
            "Initech".to_owned(),
        ],
        action: Action::Redact,
    });
    PrivacyProfile::compile(&spec)
}

/// `text [[class:value]] more` → plain text and labelled byte spans.
pub fn parse_line(line: &str) -> (String, Vec<(String, usize, usize)>) {
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find("[[") {
        let Some(close) = rest[open..].find("]]") else {
            break;
        };
        let label = &rest[open + 2..open + close];
        let Some((class, value)) = label.split_once(':') else {
            break;
        };
        text.push_str(&rest[..open]);
        let start = text.len();
        text.push_str(value);
        spans.push((class.to_owned(), start, text.len()));
        rest = &rest[open + close + 2..];
    }
    text.push_str(rest);
    (text, spans)
}

/// Scores every `*.txt` file in `dir`.
pub fn score_dir(dir: &Path, profile: &PrivacyProfile) -> std::io::Result<Report> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut report = Report::default();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (number, line) in std::fs::read_to_string(&path)?.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            report.lines += 1;
            score_line(&mut report, profile, &name, number + 1, line);
        }
    }
    Ok(report)
}

fn score_line(report: &mut Report, profile: &PrivacyProfile, file: &str, line: usize, raw: &str) {
    let (text, expected) = parse_line(raw);
    let found: Vec<(String, usize, usize)> = profile
        .find(&text)
        .into_iter()
        .map(|f| (profile.label(f.class).to_owned(), f.start, f.end))
        .collect();
    let miss = |kind, (class, start, end): &(String, usize, usize)| Miss {
        file: file.to_owned(),
        line,
        kind,
        class: class.clone(),
        span: text[*start..*end].to_owned(),
    };
    for span in &found {
        let score = report.classes.entry(span.0.clone()).or_default();
        if expected.contains(span) {
            score.true_pos += 1;
        } else {
            score.false_pos += 1;
            report.misses.push(miss("false positive", span));
        }
    }
    for span in expected.iter().filter(|s| !found.contains(s)) {
        report.classes.entry(span.0.clone()).or_default().false_neg += 1;
        report.misses.push(miss("missed", span));
    }
}
