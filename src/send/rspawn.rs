//! qmail-rspawn's channel (`shared/spec/qmail/remote.md` §7): run
//! `bin/qmail-remote HOST SENDER RECIPIENT` and translate its
//! NUL-separated records into one report.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::spawn::{run_collect, Channel, Exit};

/// The report for qmail-remote's exit and output.
pub fn report(exit: Exit, s: &[u8]) -> Vec<u8> {
    match exit {
        Exit::Crashed => return b"Zqmail-remote crashed.\n".to_vec(),
        Exit::Code(111) => return b"ZUnable to run qmail-remote.\n".to_vec(),
        Exit::Code(0) => {}
        Exit::Code(_) => return b"DUnable to run qmail-remote.\n".to_vec(),
    }
    if s.is_empty() {
        return b"Zqmail-remote produced no output.\n".to_vec();
    }
    let len = s.len();
    let mut j = 0;
    for i in 0..len {
        if s[i] == 0 {
            if matches!(s[j], b'K' | b'Z' | b'D') {
                break;
            }
            j = i + 1;
        }
    }
    let result: i32 = match s.get(j) {
        Some(b'K') => 1,
        Some(b'Z') => 0,
        _ => -1,
    };
    let orr = match s[0] {
        b's' => 0,
        b'h' => -1,
        _ => result,
    };
    let mut out = vec![match orr {
        1 => b'K',
        0 => b'Z',
        _ => b'D',
    }];
    let cstr = |at: usize| -> &[u8] {
        let rest = &s[at.min(len)..];
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
    };
    if let Some(end) = s[1.min(len)..].iter().position(|&b| b == 0) {
        let k = 1 + end + 1;
        out.extend_from_slice(cstr(1));
        if result <= orr && k < len && matches!(s[k], b'K' | b'Z' | b'D') {
            out.extend_from_slice(cstr(k + 1));
        }
    }
    out
}

/// The remote channel.
pub struct Remote {
    pub qmail_home: PathBuf,
}

impl Channel for Remote {
    fn deliver(&self, mess: File, sender: &[u8], recipient: &[u8]) -> Vec<u8> {
        let at = recipient
            .iter()
            .rposition(|&b| b == b'@')
            .map_or(0, |a| a + 1);
        let mut c = Command::new(self.qmail_home.join("bin/qmail-remote"));
        c.arg(OsStr::from_bytes(&recipient[at..]))
            .arg(OsStr::from_bytes(sender))
            .arg(OsStr::from_bytes(recipient))
            .current_dir(&self.qmail_home);
        match run_collect(c, Stdio::from(mess)) {
            Ok((exit, out)) => report(exit, &out),
            Err(_) => report(Exit::Code(111), b""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation() {
        assert_eq!(
            report(
                Exit::Code(0),
                b"r\0K1.2.3.4 accepted message.\nRemote host said: 250 ok\n\0"
            ),
            b"K1.2.3.4 accepted message.\nRemote host said: 250 ok\n"
        );
        assert_eq!(
            report(
                Exit::Code(0),
                b"h5.6.7.8 does not like recipient.\n\0DGiving up on 5.6.7.8.\n\0"
            ),
            b"D5.6.7.8 does not like recipient.\nGiving up on 5.6.7.8.\n"
        );
        assert_eq!(
            report(
                Exit::Code(0),
                b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
            ),
            b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n"
        );
        assert_eq!(
            report(Exit::Code(0), b"s1.2.3.4 says later.\n\0DGiving up.\n\0"),
            b"Z1.2.3.4 says later.\nGiving up.\n"
        );
        assert_eq!(
            report(Exit::Code(0), b""),
            b"Zqmail-remote produced no output.\n"
        );
        assert_eq!(
            report(Exit::Code(111), b"x"),
            b"ZUnable to run qmail-remote.\n"
        );
        assert_eq!(
            report(Exit::Code(1), b"x"),
            b"DUnable to run qmail-remote.\n"
        );
        assert_eq!(report(Exit::Crashed, b"x"), b"Zqmail-remote crashed.\n");
    }
}
