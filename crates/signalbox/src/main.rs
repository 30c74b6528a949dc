//! The `signalbox` command: serve the gateway, validate and describe
//! configurations, simulate, test and explain routing decisions, run the
//! mock provider, and give newcomers a demo.

#![expect(
    clippy::print_stdout,
    reason = "a command-line tool prints its results"
)]

mod cmd;
mod logging;

/// jemalloc instead of glibc's malloc: at the gateway's maximum throughput
/// glibc's allocator took ~12 % of its CPU (malloc, free, consolidation),
/// and its arenas kept memory the many small per-request allocations had
/// returned (docs/benchmarks.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Signalbox: LLM routing and failover as reviewed policy.
#[derive(Debug, Parser)]
#[command(name = "signalbox", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = logging::Format::Text, env = "SIGNALBOX_LOG_FORMAT")]
    log_format: logging::Format,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The configuration file (YAML).
        #[arg(long, short, env = "SIGNALBOX_CONFIG")]
        config: PathBuf,
        /// Listen address; overrides `server.listen` (default 127.0.0.1:4000).
        #[arg(long, env = "SIGNALBOX_LISTEN")]
        listen: Option<SocketAddr>,
        /// Do not reload when the file changes (SIGHUP and POST /admin/reload still work).
        #[arg(long)]
        no_watch: bool,
    },
    /// Validate a configuration file and print a summary, or every error with its path.
    Check {
        /// The configuration file (YAML).
        file: PathBuf,
    },
    /// Print the JSON Schema of the configuration file, for editors.
    Schema,
    /// Start three mock providers and a gateway on loopback, and show how to use them.
    Demo {
        /// Run a narrated walk (normal, streamed, outage with failover) and exit.
        #[arg(long, conflicts_with = "chaos")]
        tour: bool,
        /// Tell the quality loop's story (a silent model regression moves
        /// traffic away and back) and exit.
        #[arg(long, conflicts_with_all = ["tour", "chaos"])]
        quality: bool,
        /// Run two chaos scenarios (a regional outage, a flapping primary) in
        /// their short form and print the table (see `signalbox chaos`).
        #[arg(long)]
        chaos: bool,
        /// The gateway's listen address (falls back to a free port if taken).
        #[arg(long, default_value = "127.0.0.1:4000")]
        listen: SocketAddr,
    },
    /// Explain one request's routing decision from the decision log.
    Explain {
        /// A configuration file; its `decision-log.path` is the log (default: $SIGNALBOX_CONFIG).
        #[arg(long, short, conflicts_with = "db")]
        config: Option<PathBuf>,
        /// The decision log database (default: signalbox-decisions.db).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
        /// Only this tenant's records (to pick among requests that sent the same `x-request-id`).
        #[arg(long)]
        tenant: Option<String>,
        /// The gateway's request id (`x-signalbox-request-id`), or the caller's `x-request-id`.
        request_id: String,
    },
    /// Operator actions on a running gateway (drain, throttle, pin, …) over
    /// its admin API; the token comes from $SIGNALBOX_ADMIN_TOKEN or --token-file.
    Admin {
        #[command(flatten)]
        conn: cmd::admin::Conn,
        #[command(subcommand)]
        command: cmd::admin::AdminCommand,
    },
    /// Shadow traffic's report over the admin API: agreement of each shadow
    /// route's answers with the served ones.
    Shadow {
        #[command(flatten)]
        conn: cmd::admin::Conn,
        #[command(subcommand)]
        command: cmd::rollout::ShadowCommand,
    },
    /// Canary rollouts over the admin API: each canary's step, arms and
    /// events.
    Canary {
        #[command(flatten)]
        conn: cmd::admin::Conn,
        #[command(subcommand)]
        command: cmd::rollout::CanaryCommand,
    },
    /// List decision records, filtered by tenant, route, outcome, time and
    /// every shared identifier (alias, provider, model version, prompt
    /// version, policy version, intent, degradation step, operator action).
    Decisions {
        #[command(flatten)]
        log: cmd::explain::LogArgs,
        #[command(flatten)]
        filters: Box<cmd::decisions::Filters>,
    },
    /// Compare a window of the decision log with the one before it: policy,
    /// model and prompt versions, operator actions, and the metrics that moved.
    WhatChanged {
        #[command(flatten)]
        log: cmd::explain::LogArgs,
        #[command(flatten)]
        windows: cmd::what_changed::Windows,
    },
    /// Evaluate a request against a policy without calling any provider.
    ///
    /// Exit status: 0 routed, 2 refused by the policy, 1 usage or configuration error.
    Simulate {
        /// The configuration file (YAML).
        #[arg(long, short)]
        config: PathBuf,
        /// The chat completion body (JSON), or `-` for stdin.
        #[arg(long, short)]
        request: PathBuf,
        /// A request header, `NAME:VALUE` (repeatable).
        #[arg(long = "header", short = 'H', value_name = "NAME:VALUE")]
        headers: Vec<String>,
        /// Evaluate as this tenant (as if its key were presented).
        #[arg(long)]
        tenant: Option<String>,
        /// Print the decision record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run evaluation suites of critical intents through a gateway, or
    /// check suite files.
    #[command(subcommand)]
    Eval(cmd::eval::EvalCommand),
    /// Check a policy against a file of cases (policy as code).
    ///
    /// Exit status: 0 all passed, 1 a case failed, 2 the cases file is invalid.
    TestPolicy {
        /// The configuration file (YAML).
        config: PathBuf,
        /// The cases file (YAML).
        cases: PathBuf,
    },
    /// Prove the gateway under faults: run chaos scenarios against the real
    /// gateway and in-process mock providers, and check their invariants.
    ///
    /// Exit status: 0 every invariant held, 1 an invariant broke, 2 a
    /// scenario could not be read or set up.
    Chaos {
        #[command(subcommand)]
        command: cmd::chaos::ChaosCommand,
    },
    /// Run a fake upstream (the wire format of any provider kind with a mock
    /// side: OpenAI, Anthropic, Gemini, …) with runtime fault injection.
    MockProvider {
        /// Wire format: a provider family or kind name (openai, anthropic,
        /// gemini, …; an unknown name lists them all).
        #[arg(long, default_value = "openai")]
        format: signalbox_mock::MockFormat,
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9001")]
        listen: SocketAddr,
        /// Name shown in answers and the `x-mock-name` header.
        #[arg(long, default_value = "mock")]
        name: String,
        /// Content chunks per streamed answer.
        #[arg(long, default_value_t = 5)]
        stream_chunks: u32,
        /// Delay between streamed chunks, in milliseconds.
        #[arg(long, default_value_t = 0)]
        chunk_delay_ms: u64,
    },
}

fn main() -> ExitCode {
    // reqwest is built without a bundled TLS provider; install ring before
    // any client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Check { .. }
        | Command::Eval(_)
        | Command::Schema
        | Command::Explain { .. }
        | Command::Admin { .. }
        | Command::Shadow { .. }
        | Command::Canary { .. }
        | Command::Decisions { .. }
        | Command::WhatChanged { .. }
        | Command::Simulate { .. }
        | Command::TestPolicy { .. }
        | Command::Chaos { .. } => "warn",
        // The tour narrates on stdout; only real problems go to stderr.
        Command::Demo { tour: true, .. }
        | Command::Demo { quality: true, .. }
        | Command::Demo { chaos: true, .. } => "error",
        _ => "info",
    };
    // Flushes exported spans at exit, after the runtime (declared later) is gone.
    let otel = logging::init(cli.log_format, default_level);
    if otel.exporting() {
        signalbox_gateway::enable_request_spans();
    }
    // `serve` runs requests on threads of its own (see
    // signalbox-gateway's workers.rs); this runtime keeps only its control
    // work (reload, probes, signals), for which one thread is plenty.
    let mut builder = match cli.command {
        Command::Serve { .. } => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand to its exit code.
async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve {
            config,
            listen,
            no_watch,
        } => cmd::serve::run(&config, listen, no_watch).await,
        Command::Check { file } => cmd::check::run(&file),
        Command::Schema => cmd::check::schema(),
        Command::Eval(command) => cmd::eval::dispatch(command).await,
        Command::Demo { chaos: true, .. } => cmd::chaos::demo().await,
        Command::Demo {
            tour,
            quality,
            listen,
            ..
        } => cmd::demo::run(tour, quality, listen).await,
        Command::Admin { conn, command } => cmd::admin::run(&conn, command).await,
        Command::Shadow { conn, command } => cmd::rollout::shadow(&conn, command).await,
        Command::Canary { conn, command } => cmd::rollout::canary(&conn, command).await,
        Command::Decisions { log, filters } => {
            cmd::decisions::run(&log.source(), filters, log.json)
        }
        Command::WhatChanged { log, windows } => {
            cmd::what_changed::run(&log.source(), windows, log.json)
        }
        Command::Explain {
            config,
            db,
            json,
            tenant,
            request_id,
        } => cmd::explain::run(
            &cmd::explain::Source::pick(config, db),
            json,
            &request_id,
            tenant.as_deref(),
        ),
        Command::Simulate {
            config,
            request,
            headers,
            tenant,
            json,
        } => cmd::simulate::run(&cmd::simulate::Args {
            config,
            request,
            headers,
            tenant,
            json,
        }),
        Command::TestPolicy { config, cases } => cmd::test_policy::run(&config, &cases),
        Command::Chaos { command } => cmd::chaos::dispatch(command).await,
        Command::MockProvider {
            format,
            listen,
            name,
            stream_chunks,
            chunk_delay_ms,
        } => {
            let options = signalbox_mock::MockOptions {
                name,
                stream_chunks,
                chunk_delay_ms,
            };
            cmd::mock::run(listen, format, options).await
        }
    }
}
