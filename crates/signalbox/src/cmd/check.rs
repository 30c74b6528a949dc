//! `signalbox check` and `signalbox schema`.

use std::path::Path;
use std::process::ExitCode;

use signalbox_config::{EnvVars, json_schema, load_file};

pub fn run(file: &Path) -> anyhow::Result<ExitCode> {
    match load_file(file, &EnvVars) {
        Ok(config) => {
            print!("{}", config.summary());
            for w in config.warnings() {
                println!("  warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            let n = errors.0.len();
            println!(
                "{}: {n} error{}",
                file.display(),
                if n == 1 { "" } else { "s" }
            );
            for e in &errors.0 {
                println!("  {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn schema() -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(&json_schema())?);
    Ok(ExitCode::SUCCESS)
}
