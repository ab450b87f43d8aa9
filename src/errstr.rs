//! djb's `error_str` and `error_temp` (`shared/spec/qmail/common.md` §9),
//! kept once: the errno texts qmail's programs (delivery reports, bounces,
//! qmail-qread, qmail-tcpok, maildirmake, ...) and ucspi-tcp's (tcpserver,
//! tcprules) print after `: ` instead of libc's `strerror`, and the set of
//! errnos that make a failure temporary. qmail 1.03 and ucspi-tcp 0.88
//! list the errnos in different orders but give each the same text, so
//! one table serves both.

use std::io;

use nix::errno::Errno;

/// The errno text table, first match wins (EAGAIN before EWOULDBLOCK).
const TEXTS: &[(Errno, &str)] = &[
    (Errno::EINTR, "interrupted system call"),
    (Errno::ENOMEM, "out of memory"),
    (Errno::ENOENT, "file does not exist"),
    (Errno::ETXTBSY, "text busy"),
    (Errno::EIO, "input/output error"),
    (Errno::EEXIST, "file already exists"),
    (Errno::ETIMEDOUT, "timed out"),
    (Errno::EINPROGRESS, "operation in progress"),
    (Errno::EAGAIN, "temporary failure"),
    (Errno::EPIPE, "broken pipe"),
    (Errno::EPERM, "permission denied"),
    (Errno::EACCES, "access denied"),
    (Errno::ESRCH, "no such process"),
    (Errno::ENXIO, "device not configured"),
    (Errno::E2BIG, "argument list too long"),
    (Errno::ENOEXEC, "exec format error"),
    (Errno::EBADF, "file descriptor not open"),
    (Errno::ECHILD, "no child processes"),
    (Errno::EDEADLK, "operation would cause deadlock"),
    (Errno::EFAULT, "bad address"),
    (Errno::ENOTBLK, "not a block device"),
    (Errno::EBUSY, "device busy"),
    (Errno::EXDEV, "cross-device link"),
    (Errno::ENODEV, "device does not support operation"),
    (Errno::ENOTDIR, "not a directory"),
    (Errno::EISDIR, "is a directory"),
    (Errno::EINVAL, "invalid argument"),
    (Errno::ENFILE, "system cannot open more files"),
    (Errno::EMFILE, "process cannot open more files"),
    (Errno::ENOTTY, "not a tty"),
    (Errno::EFBIG, "file too big"),
    (Errno::ENOSPC, "out of disk space"),
    (Errno::ESPIPE, "unseekable descriptor"),
    (Errno::EROFS, "read-only file system"),
    (Errno::EMLINK, "too many links"),
    (Errno::EDOM, "input out of range"),
    (Errno::ERANGE, "output out of range"),
    (Errno::EALREADY, "operation already in progress"),
    (Errno::ENOTSOCK, "not a socket"),
    (Errno::EDESTADDRREQ, "destination address required"),
    (Errno::EMSGSIZE, "message too long"),
    (Errno::EPROTOTYPE, "incorrect protocol type"),
    (Errno::ENOPROTOOPT, "protocol not available"),
    (Errno::EPROTONOSUPPORT, "protocol not supported"),
    (Errno::ESOCKTNOSUPPORT, "socket type not supported"),
    (Errno::EOPNOTSUPP, "operation not supported"),
    (Errno::EPFNOSUPPORT, "protocol family not supported"),
    (Errno::EAFNOSUPPORT, "address family not supported"),
    (Errno::EADDRINUSE, "address already used"),
    (Errno::EADDRNOTAVAIL, "address not available"),
    (Errno::ENETDOWN, "network down"),
    (Errno::ENETUNREACH, "network unreachable"),
    (Errno::ENETRESET, "network reset"),
    (Errno::ECONNABORTED, "connection aborted"),
    (Errno::ECONNRESET, "connection reset"),
    (Errno::ENOBUFS, "out of buffer space"),
    (Errno::EISCONN, "already connected"),
    (Errno::ENOTCONN, "not connected"),
    (Errno::ESHUTDOWN, "socket shut down"),
    (Errno::ETOOMANYREFS, "too many references"),
    (Errno::ECONNREFUSED, "connection refused"),
    (Errno::ELOOP, "symbolic link loop"),
    (Errno::ENAMETOOLONG, "file name too long"),
    (Errno::EHOSTDOWN, "host down"),
    (Errno::EHOSTUNREACH, "host unreachable"),
    (Errno::ENOTEMPTY, "directory not empty"),
    (Errno::EUSERS, "too many users"),
    (Errno::EDQUOT, "disk quota exceeded"),
    (Errno::ESTALE, "stale NFS file handle"),
    (Errno::EREMOTE, "too many levels of remote in path"),
    (Errno::ENOLCK, "no locks available"),
    (Errno::ENOSYS, "system call not available"),
    (Errno::ENOSTR, "not a stream device"),
    (Errno::ETIME, "timer expired"),
    (Errno::ENOSR, "out of stream resources"),
    (Errno::ENOMSG, "no message of desired type"),
    (Errno::EBADMSG, "bad message type"),
    (Errno::EIDRM, "identifier removed"),
    (Errno::ENONET, "machine not on network"),
    (Errno::ENOLINK, "link severed"),
    (Errno::EADV, "advertise error"),
    (Errno::ESRMNT, "srmount error"),
    (Errno::ECOMM, "communication error"),
    (Errno::EPROTO, "protocol error"),
    (Errno::EMULTIHOP, "multihop attempted"),
    (Errno::EREMCHG, "remote address changed"),
];

/// Errnos that `error_temp` calls temporary.
const TEMPORARY: &[Errno] = &[
    Errno::EINTR,
    Errno::ENOMEM,
    Errno::ETXTBSY,
    Errno::EIO,
    Errno::ETIMEDOUT,
    Errno::EAGAIN,
    Errno::EDEADLK,
    Errno::EBUSY,
    Errno::ENFILE,
    Errno::EMFILE,
    Errno::EFBIG,
    Errno::ENOSPC,
    Errno::ENETDOWN,
    Errno::ENETUNREACH,
    Errno::ENETRESET,
    Errno::ECONNABORTED,
    Errno::ECONNRESET,
    Errno::ENOBUFS,
    Errno::ETOOMANYREFS,
    Errno::ECONNREFUSED,
    Errno::EHOSTDOWN,
    Errno::EHOSTUNREACH,
    Errno::EUSERS,
    Errno::EDQUOT,
    Errno::ESTALE,
    Errno::ENOLCK,
];

/// `error_str(errno)` for a raw errno value.
pub fn text(errno: i32) -> &'static str {
    if errno == 0 {
        return "no error";
    }
    let e = Errno::from_raw(errno);
    TEXTS
        .iter()
        .find(|(x, _)| *x == e)
        .map_or("unknown error", |(_, t)| t)
}

/// `error_str` of an `io::Error` (errors without an errno read "unknown error").
pub fn io_text(e: &io::Error) -> &'static str {
    e.raw_os_error().map_or("unknown error", text)
}

/// `error_temp(errno)`.
pub fn is_temp(errno: i32) -> bool {
    TEMPORARY.contains(&Errno::from_raw(errno))
}

/// `error_temp` of an `io::Error`; errors without an errno count as permanent.
pub fn io_is_temp(e: &io::Error) -> bool {
    e.raw_os_error().is_some_and(is_temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(text(libc::ENOENT), "file does not exist");
        assert_eq!(text(libc::EAGAIN), "temporary failure");
        assert_eq!(text(libc::EACCES), "access denied");
        assert_eq!(text(0), "no error");
        assert_eq!(text(9999), "unknown error");
        assert!(is_temp(libc::ENOSPC));
        assert!(!is_temp(libc::ENOENT));
    }
}
