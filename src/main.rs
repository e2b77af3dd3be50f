//! rtech: infrastructure as code for the RTech platform's AWS stack.
//! `main` is the only place that turns errors into text and exit codes.

mod aws;
mod cli;
mod commands;
mod engine;
mod model;
mod plan;
mod reconcile;
mod spec;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
