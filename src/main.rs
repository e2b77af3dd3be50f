//! rtech: infrastructure as code for the RTech platform's AWS stack.
//! `main` is the only place that turns errors into text and exit codes.

mod aws;
mod cli;
mod commands;
mod engine;
mod model;
mod plan;
mod progress;
mod reconcile;
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
    match rt.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One clear message (the cause chain on one line each), never a backtrace.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            if msg.contains('\n') && msg.lines().all(|l| l.contains(".toml:")) {
                eprintln!("{msg}");
            } else {
                eprintln!("error: {msg}");
            }
            ExitCode::from(1)
        }
    }
}
