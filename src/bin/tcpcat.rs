//! tcpcat — ucspi-tcp 0.88's script of that name, run as installed
//! (`src/sh/tcpcat.sh`, `UCSPI` the directory of this program, where
//! tcpclient, addcr, delcr and mconnect-io are) by `/bin/sh`.

#[path = "shared/script.rs"]
mod script;

fn main() {
    script::run_ucspi("tcpcat", include_bytes!("../sh/tcpcat.sh"));
}
