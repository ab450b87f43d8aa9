//! ucspi-tcp's error texts: djb's `error_str` ([`crate::errstr`], the same
//! texts as qmail's), plus the texts for our own errors that carry no
//! errno where the original's would have had one.

/// The djb text for an I/O error (`unknown error` for codes it lacks).
pub fn errstr(err: &std::io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(code) => errno_str(code),
        None => match err.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData => "protocol error",
            std::io::ErrorKind::TimedOut => "timed out",
            _ => "unknown error",
        },
    }
}

/// The djb text for an errno value.
pub fn errno_str(code: i32) -> &'static str {
    crate::errstr::text(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_texts() {
        assert_eq!(errno_str(libc::ENOENT), "file does not exist");
        assert_eq!(errno_str(libc::EACCES), "access denied");
        assert_eq!(errno_str(libc::EADDRINUSE), "address already used");
        assert_eq!(errno_str(libc::EWOULDBLOCK), "temporary failure");
        assert_eq!(errno_str(libc::EPROTO), "protocol error");
        assert_eq!(errno_str(99999), "unknown error");
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(errstr(&eof), "protocol error");
    }
}
