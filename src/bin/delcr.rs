//! delcr — drop the CR of every CR LF, stdin to stdout (ucspi-tcp 0.88
//! compatible); other CRs stay. Exit 0 at end of input, 111 on a read or
//! write error.

use std::process::ExitCode;

use qmail::tcp::filters::{run_filter, DelCr};

fn main() -> ExitCode {
    let f = std::cell::RefCell::new(DelCr::default());
    ExitCode::from(run_filter(
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        |c, o| f.borrow_mut().feed(c, o),
        |o| f.borrow_mut().finish(o),
    ))
}
