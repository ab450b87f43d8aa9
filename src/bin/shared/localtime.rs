//! The local zone's UTC offset, for the programs that print local time
//! (predate, splogger). It lives with the binaries because it needs
//! `localtime_r` (unsafe), which the library forbids.

/// Seconds east of UTC of the local zone at `t`.
pub fn local_offset(t: i64) -> i64 {
    let tt = t as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which we own; the
    // pointers are valid for the duration of the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::localtime_r(&tt, &mut tm) };
    if r.is_null() {
        0
    } else {
        tm.tm_gmtoff
    }
}
