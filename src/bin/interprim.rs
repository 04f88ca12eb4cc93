//! The `interprim` command-line tool; see `interprim --help`.

use clap::Parser;

fn main() {
    let cli = interprim::cli::Cli::parse();
    if let Err(e) = interprim::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
