//! Reading one IMAP command from the client: a line, and for every line
//! that ends in a literal announcement the literal's bytes and the next
//! line, all assembled as on the wire. A synchronising literal `{n}` gets
//! the `+ OK` continuation first (Dovecot's text); `{n+}` (LITERAL+) none.

use std::io::{self, BufRead, Write};

use super::parse::literal_at_end;

/// Longest command line (without literals), as Dovecot's
/// `imap_max_line_length` (64 KiB).
pub const MAX_LINE: usize = 65536;
/// Largest literal accepted (APPEND of big messages).
pub const MAX_LITERAL: usize = 256 << 20;

/// What the client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// A complete command, line ends and literals included, without the
    /// final line end.
    Command(Vec<u8>),
    /// End of input.
    Eof,
    /// A line longer than [`MAX_LINE`].
    TooLong,
}

/// One line including its LF; `None` at EOF with nothing read.
pub fn read_line(r: &mut impl BufRead, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = io::Read::take(&mut *r, limit as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(line))
}

fn strip_eol(line: &mut Vec<u8>) -> bool {
    if line.last() != Some(&b'\n') {
        return false;
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    true
}

/// Read a command; `check` sees the command so far before a synchronising
/// literal is accepted and may return an error line to send instead of
/// the continuation (the command is then abandoned and `Err(line)`
/// returned inside `Ok`).
pub fn read_command(
    r: &mut impl BufRead,
    w: &mut impl Write,
    check: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
) -> io::Result<Result<Input, Vec<u8>>> {
    let mut cmd = Vec::new();
    loop {
        let Some(mut line) = read_line(r, MAX_LINE)? else {
            return Ok(Ok(if cmd.is_empty() {
                Input::Eof
            } else {
                Input::Command(cmd)
            }));
        };
        let complete = strip_eol(&mut line);
        if !complete && line.len() > MAX_LINE {
            return Ok(Ok(Input::TooLong));
        }
        cmd.extend_from_slice(&line);
        let Some((n, plus)) = literal_at_end(&line) else {
            return Ok(Ok(Input::Command(cmd)));
        };
        if n > MAX_LITERAL {
            return Ok(Ok(Input::TooLong));
        }
        if !plus {
            if let Some(err) = check(&cmd) {
                return Ok(Err(err));
            }
            w.write_all(b"+ OK\r\n")?;
            w.flush()?;
        }
        cmd.extend_from_slice(b"\r\n");
        let start = cmd.len();
        cmd.resize(start + n, 0);
        r.read_exact(&mut cmd[start..])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_assembled() {
        let mut r = &b"a LOGIN {5}\r\nalice {3+}\r\npw!\r\nb NOOP\r\n"[..];
        let mut w = Vec::new();
        let got = read_command(&mut r, &mut w, &mut |_| None).unwrap();
        assert_eq!(
            got,
            Ok(Input::Command(b"a LOGIN {5}\r\nalice {3+}\r\npw!".to_vec()))
        );
        assert_eq!(w, b"+ OK\r\n");
        let got = read_command(&mut r, &mut w, &mut |_| None).unwrap();
        assert_eq!(got, Ok(Input::Command(b"b NOOP".to_vec())));
        assert_eq!(
            read_command(&mut r, &mut w, &mut |_| None).unwrap(),
            Ok(Input::Eof)
        );
    }
}
