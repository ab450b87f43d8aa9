//! mconnect-io — mconnect's terminal side (ucspi-tcp 0.88): what the user
//! types (stdin) goes to the server on fd 7 with a CR before every LF;
//! what the server sends on fd 6 comes out on stdout. Ends, exit 0, when
//! the server's side ends.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;

use qmail::tcp::filters::AddCr;

fn main() {
    // SAFETY: tcpclient set up fds 6 and 7 for us and nothing else here
    // owns them.
    let (from_server, to_server) = unsafe { (File::from_raw_fd(6), File::from_raw_fd(7)) };
    let typing = std::thread::spawn(move || {
        let mut to_server = to_server;
        let mut buf = [0u8; 512];
        let mut out = Vec::new();
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.clear();
            AddCr.feed(&buf[..n], &mut out);
            if to_server.write_all(&out).is_err() {
                break;
            }
        }
    });
    let mut from_server = from_server;
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 512];
    while let Ok(n) = from_server.read(&mut buf) {
        if n == 0
            || stdout
                .write_all(&buf[..n])
                .and_then(|()| stdout.flush())
                .is_err()
        {
            break;
        }
    }
    // The typing side may be blocked in a read of the terminal: leave it.
    drop(typing);
    std::process::exit(0);
}
