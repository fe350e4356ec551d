use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = sextant_server::cli::Cli::parse();
    match sextant_server::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
