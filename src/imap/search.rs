//! SEARCH / UID SEARCH (`shared/spec/dovecot/imap.md` §7): the RFC 3501
//! keys, `CHARSET` (UTF-8, US-ASCII), ESEARCH `RETURN (MIN MAX COUNT ALL)`,
//! and Dovecot's error texts. Text keys match case-insensitively on the
//! decoded header (RFC 2047 words) and decoded body (quoted-printable,
//! base64) text.

use std::io::{self, Write};

use super::input::Wait;

use super::copy::uid_set;
use super::fetch::qp_decode;
use super::mailbox::Selected;
use super::message::{self, Part};
use super::parse::{self, Arg};
use super::session::{bad, Reply, Session};
use crate::maildir::filename::{ANSWERED, DELETED, DRAFT, FLAGGED, SEEN};

/// A search key.
#[derive(Debug, Clone)]
enum Key {
    All,
    Flag(u8, bool),
    Recent(bool),
    New,
    Keyword(String, bool),
    Header(String, String),
    Body(String),
    Text(String),
    /// INTERNALDATE day compared: -1 before, 0 on, 1 since.
    Date(i64, i8),
    SentDate(i64, i8),
    Larger(u64),
    Smaller(u64),
    Seq(Vec<(u32, u32)>),
    Uid(Vec<(u32, u32)>),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// `16-Nov-2023` → day number.
fn search_date(s: &str) -> Option<i64> {
    let mut p = s.split('-');
    let d: i64 = p.next()?.parse().ok()?;
    let mon = p.next()?;
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(mon))? as i64 + 1;
    let y: i64 = p.next()?.parse().ok()?;
    if p.next().is_some() || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The day of a Date header as written (`Tue, 14 Nov 2023 ...`).
fn header_day(v: &[u8]) -> Option<i64> {
    let s = String::from_utf8_lossy(v);
    let s = s.split_once(',').map_or(&*s, |(_, r)| r);
    let mut w = s.split_whitespace();
    let d: i64 = w.next()?.parse().ok()?;
    let mon = w.next()?.get(..3)?;
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(mon))? as i64 + 1;
    let y: i64 = w.next()?.parse().ok()?;
    Some(days_from_civil(y, m, d))
}

struct Parser<'a> {
    args: &'a [Arg],
    i: usize,
}

type KeyResult = Result<Key, Reply>;

impl<'a> Parser<'a> {
    fn next(&mut self) -> Option<&'a Arg> {
        let a = self.args.get(self.i);
        self.i += 1;
        a
    }

    fn string(&mut self) -> Result<String, Reply> {
        self.next()
            .and_then(Arg::astring)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .ok_or_else(|| bad("SEARCH", "Missing parameter for argument"))
    }

    fn date(&mut self) -> Result<i64, Reply> {
        let s = self.string()?;
        search_date(&s).ok_or_else(|| bad("SEARCH", "Invalid search date parameter"))
    }

    fn number(&mut self) -> Result<u64, Reply> {
        let s = self.string()?;
        s.parse()
            .map_err(|_| bad("SEARCH", "Invalid search number parameter"))
    }

    fn key(&mut self) -> KeyResult {
        let Some(a) = self.next() else {
            return Err(bad("SEARCH", "Missing search parameters"));
        };
        if let Arg::List(l) = a {
            let mut p = Parser { args: l, i: 0 };
            let mut v = Vec::new();
            while p.i < l.len() {
                v.push(p.key()?);
            }
            return Ok(Key::And(v));
        }
        let Some(w) = a.atom() else {
            return Err(bad("SEARCH", "Invalid arguments"));
        };
        let up = w.to_ascii_uppercase();
        Ok(match up.as_str() {
            "ALL" => Key::All,
            "ANSWERED" => Key::Flag(ANSWERED, true),
            "DELETED" => Key::Flag(DELETED, true),
            "DRAFT" => Key::Flag(DRAFT, true),
            "FLAGGED" => Key::Flag(FLAGGED, true),
            "SEEN" => Key::Flag(SEEN, true),
            "UNANSWERED" => Key::Flag(ANSWERED, false),
            "UNDELETED" => Key::Flag(DELETED, false),
            "UNDRAFT" => Key::Flag(DRAFT, false),
            "UNFLAGGED" => Key::Flag(FLAGGED, false),
            "UNSEEN" => Key::Flag(SEEN, false),
            "RECENT" => Key::Recent(true),
            "OLD" => Key::Recent(false),
            "NEW" => Key::New,
            "KEYWORD" => Key::Keyword(self.string()?, true),
            "UNKEYWORD" => Key::Keyword(self.string()?, false),
            "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" => Key::Header(up.clone(), self.string()?),
            "HEADER" => {
                let n = self.string()?;
                Key::Header(n, self.string()?)
            }
            "BODY" => Key::Body(self.string()?),
            "TEXT" => Key::Text(self.string()?),
            "SINCE" => Key::Date(self.date()?, 1),
            "BEFORE" => Key::Date(self.date()?, -1),
            "ON" => Key::Date(self.date()?, 0),
            "SENTSINCE" => Key::SentDate(self.date()?, 1),
            "SENTBEFORE" => Key::SentDate(self.date()?, -1),
            "SENTON" => Key::SentDate(self.date()?, 0),
            "LARGER" => Key::Larger(self.number()?),
            "SMALLER" => Key::Smaller(self.number()?),
            "UID" => {
                let s = self.string()?;
                Key::Uid(parse::sequence_set(&s).ok_or_else(|| bad("SEARCH", "Invalid uid set"))?)
            }
            "NOT" => Key::Not(Box::new(self.key()?)),
            "OR" => {
                let a = self.key()?;
                Key::Or(Box::new(a), Box::new(self.key()?))
            }
            _ => match parse::sequence_set(w) {
                Some(s) => Key::Seq(s),
                None => return Err(bad("SEARCH", &format!("Unknown argument {up}"))),
            },
        })
    }
}

/// RFC 2047 encoded words decoded (UTF-8 and ISO-8859-1 charsets).
pub fn decode_words(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v).into_owned();
    let mut out = String::new();
    let mut rest = s.as_str();
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, tail) = rest.split_at(start);
        let decoded = (|| {
            let inner = &tail[2..];
            let (charset, inner) = inner.split_once('?')?;
            let (enc, inner) = inner.split_once('?')?;
            let end = inner.find("?=")?;
            let text = &inner[..end];
            let bytes = match enc {
                "B" | "b" => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .ok()?
                }
                "Q" | "q" => qp_decode(text.replace('_', " ").as_bytes()),
                _ => return None,
            };
            let txt = if charset.eq_ignore_ascii_case("utf-8")
                || charset.eq_ignore_ascii_case("us-ascii")
            {
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                bytes.iter().map(|&b| char::from(b)).collect()
            };
            Some((txt, 2 + charset.len() + 1 + enc.len() + 1 + end + 2))
        })();
        match decoded {
            Some((txt, len)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&txt);
                rest = &tail[len..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &tail[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The decoded text of every leaf part's body.
fn body_text(buf: &[u8], p: &Part, out: &mut String) {
    if !p.children.is_empty() {
        for c in &p.children {
            body_text(buf, c, out);
        }
        return;
    }
    if let Some(m) = &p.message {
        out.push_str(&decode_words(&buf[m.start..m.body]));
        body_text(buf, m, out);
        return;
    }
    let data = &buf[p.body..p.end];
    let enc = message::field(&buf[p.start..p.body], "Content-Transfer-Encoding")
        .map(|v| String::from_utf8_lossy(&v).trim().to_ascii_lowercase())
        .unwrap_or_default();
    let dec = match enc.as_str() {
        "quoted-printable" => qp_decode(data),
        "base64" => {
            use base64::Engine;
            let clean: Vec<u8> = data
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .unwrap_or_default()
        }
        _ => data.to_vec(),
    };
    let latin1 = p
        .params
        .iter()
        .any(|(k, v)| k == "charset" && v.to_ascii_lowercase().starts_with("iso-8859"));
    if latin1 {
        out.extend(dec.iter().map(|&b| char::from(b)));
    } else {
        out.push_str(&String::from_utf8_lossy(&dec));
    }
}

struct Ctx<'a> {
    sel: &'a Selected,
    tz: fn(i64) -> i64,
}

/// A message's parsed content, made on first need.
struct Content {
    buf: Vec<u8>,
    root: Part,
}

fn contains(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

impl Ctx<'_> {
    fn content(&self, i: usize, c: &mut Option<Content>) -> io::Result<()> {
        if c.is_none() {
            let buf = message::crlf(&self.sel.read(i)?);
            let root = message::parse(&buf, 0, buf.len(), false, 0);
            *c = Some(Content { buf, root });
        }
        Ok(())
    }

    fn eval(&self, k: &Key, i: usize, c: &mut Option<Content>) -> io::Result<bool> {
        let m = &self.sel.mbox.messages[i];
        Ok(match k {
            Key::All => true,
            Key::Flag(l, on) => m.flags().has(*l) == *on,
            Key::Recent(on) => self.sel.recent.contains(&m.uid) == *on,
            Key::New => self.sel.recent.contains(&m.uid) && !m.flags().has(SEEN),
            Key::Keyword(n, on) => {
                let has = self
                    .sel
                    .keywords
                    .index(n)
                    .is_some_and(|x| m.flags().has(b'a' + x as u8));
                has == *on
            }
            Key::Header(name, v) => {
                self.content(i, c)?;
                let Some(ct) = c.as_ref() else {
                    return Ok(false);
                };
                let hdr = &ct.buf[..ct.root.body];
                let vals: Vec<String> = message::fields(hdr)
                    .into_iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, raw)| {
                        let raw: Vec<u8> = raw
                            .into_iter()
                            .filter(|&b| b != b'\r' && b != b'\n')
                            .collect();
                        decode_words(&raw)
                    })
                    .collect();
                if v.is_empty() {
                    !vals.is_empty()
                } else {
                    vals.iter().any(|x| contains(x, v))
                }
            }
            Key::Body(v) | Key::Text(v) => {
                self.content(i, c)?;
                let Some(ct) = c.as_ref() else {
                    return Ok(false);
                };
                let mut t = String::new();
                if matches!(k, Key::Text(_)) {
                    t.push_str(&decode_words(&ct.buf[..ct.root.body]));
                }
                body_text(&ct.buf, &ct.root, &mut t);
                contains(&t, v)
            }
            Key::Date(d, cmp) => {
                let t = self.sel.mtime(i);
                let day = (t + (self.tz)(t)).div_euclid(86400);
                cmp_day(day, *d, *cmp)
            }
            Key::SentDate(d, cmp) => {
                self.content(i, c)?;
                let Some(ct) = c.as_ref() else {
                    return Ok(false);
                };
                match message::field(&ct.buf[..ct.root.body], "Date").and_then(|v| header_day(&v)) {
                    Some(day) => cmp_day(day, *d, *cmp),
                    None => false,
                }
            }
            Key::Larger(n) => self.sel.virtual_size(i)? > *n,
            Key::Smaller(n) => self.sel.virtual_size(i)? < *n,
            Key::Seq(set) => {
                let n = self.sel.count() as u32;
                let q = i as u32 + 1;
                set.iter().any(|&(a, b)| {
                    let a = if a == u32::MAX { n } else { a };
                    let b = if b == u32::MAX { n } else { b };
                    q >= a.min(b) && q <= a.max(b)
                })
            }
            Key::Uid(set) => {
                let max = self.sel.mbox.messages.last().map_or(0, |m| m.uid);
                set.iter().any(|&(a, b)| {
                    let a = if a == u32::MAX { max } else { a };
                    let b = if b == u32::MAX { max } else { b };
                    m.uid >= a.min(b) && m.uid <= a.max(b)
                })
            }
            Key::Not(k) => !self.eval(k, i, c)?,
            Key::Or(a, b) => self.eval(a, i, c)? || self.eval(b, i, c)?,
            Key::And(v) => {
                for k in v {
                    if !self.eval(k, i, c)? {
                        return Ok(false);
                    }
                }
                true
            }
        })
    }
}

fn cmp_day(day: i64, d: i64, cmp: i8) -> bool {
    match cmp {
        1 => day >= d,
        -1 => day < d,
        _ => day == d,
    }
}

fn keywords_in(k: &Key, out: &mut Vec<String>) {
    match k {
        Key::Keyword(n, _) => out.push(n.clone()),
        Key::Not(a) => keywords_in(a, out),
        Key::Or(a, b) => {
            keywords_in(a, out);
            keywords_in(b, out);
        }
        Key::And(v) => v.iter().for_each(|x| keywords_in(x, out)),
        _ => {}
    }
}

/// SEARCH / UID SEARCH.
pub fn search<R: Wait, W: Write>(
    s: &mut Session<R, W>,
    tag: &str,
    cmd: &str,
    args: &[Arg],
    uid: bool,
) -> io::Result<Reply> {
    let mut i = 0;
    let mut ret: Option<Vec<String>> = None;
    if args
        .first()
        .and_then(Arg::atom)
        .is_some_and(|a| a.eq_ignore_ascii_case("RETURN"))
    {
        let Some(l) = args.get(1).and_then(Arg::list) else {
            return Ok(bad(cmd, "Invalid arguments"));
        };
        ret = Some(
            l.iter()
                .filter_map(Arg::atom)
                .map(str::to_ascii_uppercase)
                .collect(),
        );
        i = 2;
    }
    if args
        .get(i)
        .and_then(Arg::atom)
        .is_some_and(|a| a.eq_ignore_ascii_case("CHARSET"))
    {
        let cs = args.get(i + 1).and_then(Arg::string).unwrap_or_default();
        if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("US-ASCII") {
            return Ok(Reply::No("[BADCHARSET] Unknown charset".into()));
        }
        i += 2;
    }
    if i >= args.len() {
        return Ok(bad(cmd, "Missing search parameters"));
    }
    let mut p = Parser {
        args: &args[i..],
        i: 0,
    };
    let mut keys = Vec::new();
    while p.i < p.args.len() {
        match p.key() {
            Ok(k) => keys.push(k),
            Err(Reply::Bad(t)) => {
                return Ok(Reply::Bad(t.replacen(
                    "command SEARCH",
                    &format!("command {cmd}"),
                    1,
                )))
            }
            Err(r) => return Ok(r),
        }
    }
    let key = Key::And(keys);
    // Dovecot registers searched keywords in the mailbox.
    let mut kws = Vec::new();
    keywords_in(&key, &mut kws);
    let tz = s.cfg.tz;
    let mut hits: Vec<(usize, u32)> = Vec::new();
    let mut added = false;
    if let Some(sel) = s.sel.as_mut() {
        if !sel.read_only {
            for k in &kws {
                let valid = !k.is_empty()
                    && k.bytes()
                        .all(|b| b > b' ' && b < 0x7f && !b"()]{%*\"\\".contains(&b));
                if valid {
                    sel.keyword_index(k, &mut added)?;
                }
            }
        }
    }
    if let Some(sel) = s.sel.as_ref() {
        let ctx = Ctx { sel, tz };
        for idx in 0..sel.count() {
            let mut c = None;
            match ctx.eval(&key, idx, &mut c) {
                Ok(true) => hits.push((idx + 1, sel.mbox.messages[idx].uid)),
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    let nums: Vec<u32> = hits
        .iter()
        .map(|&(q, u)| if uid { u } else { q as u32 })
        .collect();
    match ret {
        None => {
            let mut l = String::from("* SEARCH");
            for n in &nums {
                l.push_str(&format!(" {n}"));
            }
            s.out(&l)?;
        }
        Some(r) => {
            let r = if r.is_empty() {
                vec!["ALL".to_string()]
            } else {
                r
            };
            let mut l = format!("* ESEARCH (TAG \"{tag}\")");
            if uid {
                l.push_str(" UID");
            }
            for o in &r {
                match o.as_str() {
                    "MIN" if !nums.is_empty() => l.push_str(&format!(" MIN {}", nums[0])),
                    "MAX" if !nums.is_empty() => {
                        l.push_str(&format!(" MAX {}", nums[nums.len() - 1]))
                    }
                    "COUNT" => l.push_str(&format!(" COUNT {}", nums.len())),
                    "ALL" if !nums.is_empty() => l.push_str(&format!(" ALL {}", uid_set(&nums))),
                    _ => {}
                }
            }
            s.out(&l)?;
        }
    }
    if added {
        if let Some(sel) = s.sel.as_ref() {
            let f = sel.flag_names();
            s.out(&format!("* FLAGS ({f})"))?;
            s.out(&format!("* OK [PERMANENTFLAGS ({f} \\*)] Flags permitted."))?;
        }
    }
    Ok(Reply::Ok("Search completed.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_words(b"=?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?="),
            "Grüße aus München"
        );
        assert_eq!(
            decode_words(b"=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <j@x>"),
            "Jürgen Müller <j@x>"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            search_date("16-Nov-2023"),
            Some(days_from_civil(2023, 11, 16))
        );
        assert_eq!(search_date("32-Foo-2023"), None);
        assert_eq!(
            header_day(b"Tue, 14 Nov 2023 23:13:20 +0100"),
            Some(days_from_civil(2023, 11, 14))
        );
    }
}
