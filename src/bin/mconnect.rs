//! mconnect — ucspi-tcp 0.88's script of that name, run as installed
//! (`src/sh/mconnect.sh`, `UCSPI` the directory of this program, where
//! tcpclient, addcr, delcr and mconnect-io are) by `/bin/sh`.

#[path = "shared/script.rs"]
mod script;

fn main() {
    script::run_ucspi("mconnect", include_bytes!("../sh/mconnect.sh"));
}
