//! addcr — a CR before every LF, stdin to stdout (ucspi-tcp 0.88
//! compatible). Exit 0 at end of input, 111 on a read or write error.

use std::process::ExitCode;

use qmail::tcp::filters::{run_filter, AddCr};

fn main() -> ExitCode {
    let mut f = AddCr;
    ExitCode::from(run_filter(
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        |c, o| f.feed(c, o),
        |_| {},
    ))
}
