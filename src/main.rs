//! rtech: infrastructure as code for the RTech platform's AWS stack.
//! `main` is the only place that turns errors into text and exit codes.

mod aws;
mod cli;
mod commands;
mod diag;
#[cfg(test)]
mod doc_coverage;
mod drill;
mod engine;
mod interrupt;
mod loadtest;
mod lock;
mod model;
mod plan;
mod policy;
mod progress;
mod reconcile;
mod slots;
mod spec;
#[cfg(test)]
mod testutil;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit 1, not clap's 2: 2 means "the plan has changes" with --detailed-exitcode.
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    diag::init(cli.global.verbose, cli.global.quiet, cli.global.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match rt.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            ExitCode::from(exit_code(&e))
        }
    };
    // An interrupted confirmation prompt leaves a thread blocked reading stdin: do not wait
    // for it.
    rt.shutdown_background();
    code
}

/// The exit code of a failed command, by the error's type: 130 when the user interrupted
/// (twice while changes were in flight, or once while none was), else 1.
fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<commands::Abandoned>().is_some()
        || e.downcast_ref::<commands::Interrupted>().is_some()
    {
        130
    } else {
        1
    }
}

/// One clear message on stderr (the cause chain on one line each), never a backtrace. Several
/// spec errors are printed as they are, one `file:line:col: key.path: what` per line.
fn report(e: &anyhow::Error) {
    if let Some(spec::LoadError::Invalid(errors)) = e.downcast_ref::<spec::LoadError>() {
        if errors.len() > 1 {
            for err in errors {
                eprintln!("{err}");
            }
            return;
        }
    }
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    eprintln!("error: {msg}");
}
