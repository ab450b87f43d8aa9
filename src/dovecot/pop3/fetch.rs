//! RETR/TOP output as Dovecot's `fetch_callback()` (`src/pop3/pop3-commands.c`;
//! `shared/spec/dovecot/pop3.md` §2): bare LF becomes CRLF, a `.` at the
//! start of a line is doubled, a missing final line end is added, then
//! the terminating `.` line. TOP stops after the header and `lines` body
//! lines (the empty separator line counts as Dovecot counts it). A format
//! function: bytes in, bytes out.

/// `pop3_client_workarounds` that change the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Workarounds {
    /// `outlook-no-nuls`: NUL bytes are sent as 0x80.
    pub outlook_no_nuls: bool,
    /// `oe-ns-eoh`: a message without a header end gets an empty line.
    pub oe_ns_eoh: bool,
}

/// Append the wire form of `data` to `out`; `top` is TOP's line count
/// (`None` for RETR).
pub fn write(data: &[u8], top: Option<u64>, w: Workarounds, out: &mut Vec<u8>) {
    // Dovecot counts the empty line ending the header as a body line, and
    // RETR's count is (uoff_t)-1.
    let mut body_lines = top.map_or(u64::MAX, |n| n.wrapping_add(1));
    let mut last = 0u8;
    let mut in_body = false;
    let mut pos = 0;
    while (body_lines > 0 || !in_body) && pos < data.len() {
        let d = &data[pos..];
        let mut add = None;
        let mut i = 0;
        while i < d.len() {
            let c = d[i];
            let prev = if i == 0 { last } else { d[i - 1] };
            if (c == b'\r' || c == b'\n') && !in_body {
                let at_start = i == 0 && (last == 0 || last == b'\n');
                if at_start || (i > 0 && d[i - 1] == b'\n') {
                    in_body = true;
                }
            }
            if c == b'\n' {
                if prev != b'\r' {
                    add = Some(b'\r');
                    break;
                }
                if in_body {
                    body_lines = body_lines.wrapping_sub(1);
                    if body_lines == 0 {
                        i += 1;
                        break;
                    }
                }
            } else if c == b'.' && prev == b'\n' {
                add = Some(b'.');
                break;
            } else if c == 0 && w.outlook_no_nuls {
                add = Some(0x80);
                break;
            }
            i += 1;
        }
        if i > 0 {
            out.extend_from_slice(&d[..i]);
            last = d[i - 1];
            pos += i;
        }
        if let Some(a) = add {
            out.push(a);
            last = a;
            if a == 0x80 {
                pos += 1;
            }
        }
    }
    if last != b'\n' {
        out.extend_from_slice(b"\r\n");
    }
    if !in_body && w.oe_ns_eoh {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(data: &[u8], top: Option<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        write(data, top, Workarounds::default(), &mut out);
        out
    }

    #[test]
    fn retr_converts_and_stuffs() {
        assert_eq!(
            wire(b"A: b\n\n.x\n..y\n.\nz", None),
            b"A: b\r\n\r\n..x\r\n...y\r\n..\r\nz\r\n.\r\n"
        );
        assert_eq!(wire(b"A: b\r\n\r\nq\r\n", None), b"A: b\r\n\r\nq\r\n.\r\n");
        assert_eq!(wire(b"", None), b"\r\n.\r\n");
        assert_eq!(wire(b"a\rb\n", None), b"a\rb\r\n.\r\n");
    }

    #[test]
    fn top_counts_lines() {
        let m = b"A: b\nC: d\n\nl1\nl2\nl3\n";
        assert_eq!(wire(m, Some(0)), b"A: b\r\nC: d\r\n\r\n.\r\n");
        assert_eq!(wire(m, Some(2)), b"A: b\r\nC: d\r\n\r\nl1\r\nl2\r\n.\r\n");
        assert_eq!(
            wire(m, Some(99)),
            b"A: b\r\nC: d\r\n\r\nl1\r\nl2\r\nl3\r\n.\r\n"
        );
        assert_eq!(wire(b"A: b\n", Some(0)), b"A: b\r\n.\r\n");
        assert_eq!(wire(b"\nbody\n", Some(0)), b"\r\n.\r\n");
    }

    #[test]
    fn workarounds() {
        let mut out = Vec::new();
        let w = Workarounds {
            outlook_no_nuls: true,
            oe_ns_eoh: true,
        };
        write(b"A: \0b\n", None, w, &mut out);
        assert_eq!(out, b"A: \x80b\r\n\r\n.\r\n");
    }

    #[test]
    fn every_prefix_terminates() {
        let m = b"A: b\r\n\r\n.x\n\r\n..\n";
        for end in 0..m.len() {
            for top in [None, Some(0), Some(1), Some(u64::MAX)] {
                let out = wire(&m[..end], top);
                assert!(out.ends_with(b"\r\n.\r\n"));
            }
        }
    }
}
