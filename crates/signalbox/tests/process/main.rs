//! Process-level tests, one test binary: the real `signalbox` binary, its
//! exit codes and output, and real `serve` processes in front of in-process
//! mocks (one binary links once, where five linked the same dependencies
//! five times).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

mod admin_cli;
mod chaos_cli;
mod cli;
mod eval_cli;
mod explain_cli;
mod left_behind;
mod policy_cli;
mod rollout_cli;
mod runbooks;
mod secrets_cli;
mod serve_threads;
mod what_changed_cli;
