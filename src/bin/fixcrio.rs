//! fixcrio — insert a CR before every bare LF between a client and a
//! program (ucspi-tcp 0.88 compatible): `fixcrio program [ arg ... ]`.
//!
//! Exit codes: the program's (it is exec'd); 100 usage; 111 when the
//! pipes, the fork or the exec fail (`fixcrio: fatal: ...`).

#[path = "shared/relay_exec.rs"]
mod relay_exec;

use std::process::ExitCode;

use qmail::tcp::filters::FixCrIo;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    ExitCode::from(relay_exec::run("fixcrio", &args, |_| {
        Box::new(FixCrIo::default())
    }))
}
