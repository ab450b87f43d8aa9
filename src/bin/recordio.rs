//! recordio — log a client's dialogue with a program on stderr (ucspi-tcp
//! 0.88 compatible): `recordio program [ arg ... ]`; lines `PID < ...`
//! from the client, `PID > ...` from the program, PID the program's.
//!
//! Exit codes: the program's (it is exec'd); 100 usage; 111 when the
//! pipes, the fork or the exec fail (`recordio: fatal: ...`).

#[path = "shared/relay_exec.rs"]
mod relay_exec;

use std::process::ExitCode;

use qmail::tcp::filters::RecordIo;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    ExitCode::from(relay_exec::run("recordio", &args, |pid| {
        Box::new(RecordIo {
            pid,
            log: std::io::stderr(),
        })
    }))
}
