//! mconnect — talk SMTP (or another line protocol) to a server by hand
//! (ucspi-tcp 0.88's script): `mconnect [ host [ port ] ]`, host 0 (this
//! machine) and port 25 by default; runs `tcpclient -RHl0 -- host port
//! mconnect-io`, both taken from this program's own directory.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let host = args.next().unwrap_or_else(|| OsString::from("0"));
    let port = args.next().unwrap_or_else(|| OsString::from("25"));
    let dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_default();
    let err = std::process::Command::new(dir.join("tcpclient"))
        .arg0("tcpclient")
        .args(["-RHl0", "--"])
        .arg(host)
        .arg(port)
        .arg(dir.join("mconnect-io"))
        .exec();
    eprintln!("mconnect: fatal: unable to run tcpclient: {err}");
    ExitCode::from(111)
}
