//! The `envsync` binary: parse the command line, run it, and turn the outcome into an exit code.

fn main() -> std::process::ExitCode {
    envsync_cli::main()
}
