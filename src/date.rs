//! Date formats of qmail (`shared/spec/qmail/common.md` §5): the RFC 822
//! date of `date822fmt`, the Message-ID stamp, qmail-qread's form and
//! predate's local-time form. Pure: callers pass the time.
//!
//! ```text
//! date822   = day SP month SP year SP hh ":" mm ":" ss SP "-0000" LF
//! day       = 1*2DIGIT            ; not padded
//! ```

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC (or offset-shifted) time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl DateTime {
    /// Break down seconds since the epoch (UTC).
    pub fn from_unix(t: i64) -> Self {
        let days = t.div_euclid(86400);
        let secs = t.rem_euclid(86400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        DateTime {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
        }
    }

    fn month_name(&self) -> &'static str {
        MONTHS[(self.month.clamp(1, 12) - 1) as usize]
    }

    /// `D Mon YYYY HH:MM:SS` (no zone).
    pub fn without_zone(&self) -> String {
        format!(
            "{} {} {} {:02}:{:02}:{:02}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

/// `date822fmt`: `26 Sep 1995 04:46:54 -0000` + LF.
pub fn date822(t: i64) -> String {
    format!("{} -0000\n", DateTime::from_unix(t).without_zone())
}

/// qmail-qread's date: the RFC 822 date without ` -0000`, then ` GMT`.
pub fn qread(t: i64) -> String {
    format!("{} GMT", DateTime::from_unix(t).without_zone())
}

/// The Message-ID stamp `YYYYMMDDHHMMSS` (UTC).
pub fn stamp(t: i64) -> String {
    let d = DateTime::from_unix(t);
    format!(
        "{}{:02}{:02}{:02}{:02}{:02}",
        d.year, d.month, d.day, d.hour, d.minute, d.second
    )
}

/// predate's `D Mon YYYY HH:MM:SS +HHMM`: local time `t + offset`
/// (`offset` seconds east of UTC), the zone rounded to minutes.
pub fn with_offset(t: i64, offset: i64) -> String {
    let minutes = (offset.abs() + 30) / 60;
    let sign = if offset < 0 { '-' } else { '+' };
    format!(
        "{} {}{:02}{:02}",
        DateTime::from_unix(t + offset).without_zone(),
        sign,
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_dates() {
        // 25 Nov 2026 11:46:13 -0000 from queue-files.txt.
        let t = 1_795_607_173;
        assert_eq!(date822(t), "25 Nov 2026 11:46:13 -0000\n");
        assert_eq!(stamp(t), "20261125114613");
        assert_eq!(qread(t), "25 Nov 2026 11:46:13 GMT");
        assert_eq!(date822(812_090_814), "26 Sep 1995 04:46:54 -0000\n");
        assert_eq!(date822(0), "1 Jan 1970 00:00:00 -0000\n");
    }

    #[test]
    fn offsets() {
        assert_eq!(with_offset(0, 3600), "1 Jan 1970 01:00:00 +0100");
        assert_eq!(with_offset(0, -5400), "31 Dec 1969 22:30:00 -0130");
    }
}
