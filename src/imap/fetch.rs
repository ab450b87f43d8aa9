//! FETCH (`shared/spec/dovecot/imap.md` §6): item parsing with Dovecot's
//! error texts, body sections with partials as CRLF literals, ENVELOPE,
//! BODY / BODYSTRUCTURE, the implicit `\Seen` of non-PEEK body fetches
//! (FLAGS then comes first), and the UID item that UID FETCH adds first.

use std::io::{self, Write};

use super::input::Wait;

use super::message::{self, Part};
use super::parse::{self, Arg};
use super::session::{bad, Reply, Session};
use crate::maildir::filename::SEEN;

/// A body section request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub peek: bool,
    /// The echoed name without partial, e.g. `BODY[HEADER.FIELDS (SUBJECT)]`.
    pub label: String,
    pub path: Vec<usize>,
    /// "", HEADER, TEXT, MIME, HEADER.FIELDS, HEADER.FIELDS.NOT
    pub kind: String,
    pub fields: Vec<String>,
    pub partial: Option<(u64, Option<u64>)>,
    /// BINARY[...] (decoded) or BINARY.SIZE.
    pub binary: bool,
    pub binary_size: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Flags,
    Uid,
    Size,
    InternalDate,
    Envelope,
    Body,
    BodyStructure,
    Section(Section),
}

fn err(why: &str) -> String {
    why.to_string()
}

/// `BODY[...]<...>` / `BODY.PEEK[...]` / `BINARY[...]`.
fn section(atom: &str) -> Result<Section, String> {
    let up = atom.to_ascii_uppercase();
    let open = up
        .find('[')
        .ok_or_else(|| err(&format!("Unknown parameter: {up}")))?;
    let close = up
        .rfind(']')
        .ok_or_else(|| err("Invalid BODY[..] section"))?;
    let prefix = &up[..open];
    let (peek, binary, binary_size) = match prefix {
        "BODY" => (false, false, false),
        "BODY.PEEK" => (true, false, false),
        "BINARY" => (false, true, false),
        "BINARY.PEEK" => (true, true, false),
        "BINARY.SIZE" => (true, true, true),
        _ => return Err(format!("Unknown parameter: {up}")),
    };
    let spec = &up[open + 1..close];
    let rest = &up[close + 1..];
    let partial = if rest.is_empty() {
        None
    } else {
        let p = rest
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .ok_or_else(|| err("Invalid BODY[..] parameter: Missing '>' in partial"))?;
        let (a, b) = match p.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (p, None),
        };
        let a: u64 = a
            .parse()
            .map_err(|_| err("Invalid BODY[..] parameter: Invalid partial start"))?;
        let b = match b {
            Some(b) => Some(
                b.parse::<u64>()
                    .map_err(|_| err("Invalid BODY[..] parameter: Too big partial end"))?,
            ),
            None => None,
        };
        Some((a, b))
    };
    let bad_section = || err("Invalid BODY[..] section");
    let mut path = Vec::new();
    let mut kind = String::new();
    let mut fields = Vec::new();
    let mut s = spec;
    while let Some(c) = s.chars().next() {
        if !c.is_ascii_digit() {
            break;
        }
        let end = s.find('.').unwrap_or(s.len());
        let n: usize = s[..end].parse().map_err(|_| bad_section())?;
        if n == 0 {
            return Err(bad_section());
        }
        path.push(n);
        s = s.get(end + 1..).unwrap_or("");
        if end == spec.len() {
            break;
        }
    }
    if !s.is_empty() {
        let (word, list) = match s.split_once(' ') {
            Some((w, l)) => (w, Some(l)),
            None => (s, None),
        };
        match (word, list) {
            ("HEADER" | "TEXT", None) => kind = word.to_string(),
            ("MIME", None) if !path.is_empty() => kind = word.to_string(),
            ("HEADER.FIELDS" | "HEADER.FIELDS.NOT", Some(l)) => {
                let args = parse::args(l.as_bytes()).map_err(|_| bad_section())?;
                let Some(Arg::List(names)) = args.first() else {
                    return Err(bad_section());
                };
                if names.is_empty() || args.len() != 1 {
                    return Err(bad_section());
                }
                for n in names {
                    fields.push(n.string().ok_or_else(bad_section)?.to_ascii_uppercase());
                }
                kind = word.to_string();
            }
            _ => return Err(bad_section()),
        }
    }
    if binary && !kind.is_empty() {
        return Err(bad_section());
    }
    let mut label = String::from(if binary_size {
        "BINARY.SIZE["
    } else if binary {
        "BINARY["
    } else {
        "BODY["
    });
    label.push_str(
        &path
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("."),
    );
    if !kind.is_empty() {
        if !path.is_empty() {
            label.push('.');
        }
        label.push_str(&kind);
        if !fields.is_empty() {
            label.push_str(&format!(" ({})", fields.join(" ")));
        }
    }
    label.push(']');
    Ok(Section {
        peek,
        label,
        path,
        kind,
        fields,
        partial,
        binary,
        binary_size,
    })
}

fn item(atom: &str, out: &mut Vec<Item>) -> Result<(), String> {
    let up = atom.to_ascii_uppercase();
    let simple = |name: &str| -> Section {
        Section {
            peek: false,
            label: name.to_string(),
            path: vec![],
            kind: String::new(),
            fields: vec![],
            partial: None,
            binary: false,
            binary_size: false,
        }
    };
    match up.as_str() {
        "FLAGS" => out.push(Item::Flags),
        "UID" => out.push(Item::Uid),
        "RFC822.SIZE" => out.push(Item::Size),
        "INTERNALDATE" => out.push(Item::InternalDate),
        "ENVELOPE" => out.push(Item::Envelope),
        "BODY" => out.push(Item::Body),
        "BODYSTRUCTURE" => out.push(Item::BodyStructure),
        "FAST" | "ALL" | "FULL" => {
            out.extend([Item::Flags, Item::InternalDate, Item::Size]);
            if up != "FAST" {
                out.push(Item::Envelope);
            }
            if up == "FULL" {
                out.push(Item::Body);
            }
        }
        "RFC822" => out.push(Item::Section(simple("RFC822"))),
        "RFC822.HEADER" => {
            let mut s = simple("RFC822.HEADER");
            s.peek = true;
            s.kind = "HEADER".into();
            out.push(Item::Section(s));
        }
        "RFC822.TEXT" => {
            let mut s = simple("RFC822.TEXT");
            s.kind = "TEXT".into();
            out.push(Item::Section(s));
        }
        _ if up.contains('[') => out.push(Item::Section(section(atom)?)),
        _ => return Err(format!("Unknown parameter: {up}")),
    }
    Ok(())
}

/// Parse the FETCH items argument.
pub fn items(arg: &Arg) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    match arg {
        Arg::Atom(a) => item(a, &mut out)?,
        Arg::List(l) if !l.is_empty() => {
            for a in l {
                let Some(a) = a.atom() else {
                    return Err("Invalid arguments".into());
                };
                item(a, &mut out)?;
            }
        }
        _ => return Err("Invalid arguments".into()),
    }
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `"14-Nov-2023 22:13:20 +0000"` in the zone `offset` seconds east.
pub fn internaldate(t: i64, offset: i64) -> String {
    let d = crate::date::DateTime::from_unix(t + offset);
    let m = (offset.abs() + 30) / 60;
    format!(
        "\"{:02}-{}-{} {:02}:{:02}:{:02} {}{:02}{:02}\"",
        d.day,
        MONTHS[(d.month.clamp(1, 12) - 1) as usize],
        d.year,
        d.hour,
        d.minute,
        d.second,
        if offset < 0 { '-' } else { '+' },
        m / 60,
        m % 60
    )
}

/// An nstring: NIL, a quoted string, or a literal (CR/LF removed first,
/// as Dovecot's `imap_append_nstring_nolf`; 8-bit text as a literal).
pub fn nstring(v: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(v) = v else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let had_lf = v.iter().any(|&b| b == b'\r' || b == b'\n');
    let clean: Vec<u8> = v
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    if had_lf || clean.iter().any(|&b| b >= 0x80 || b == 0) {
        out.extend_from_slice(format!("{{{}}}\r\n", clean.len()).as_bytes());
        out.extend_from_slice(&clean);
        return;
    }
    out.push(b'"');
    for &b in &clean {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn qs(s: &str, out: &mut Vec<u8>) {
    nstring(Some(s.as_bytes()), out);
}

/// One parsed address: (name, mailbox, host) or a group start/end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Mailbox {
        name: Option<Vec<u8>>,
        mailbox: Vec<u8>,
        host: Option<Vec<u8>>,
    },
    GroupStart(Vec<u8>),
    GroupEnd,
}

/// Parse an address list header value (RFC 5322, leniently).
pub fn addresses(v: &[u8]) -> Vec<Addr> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut words: Vec<u8> = Vec::new();
    let mut in_group = false;
    let flush_plain = |words: &mut Vec<u8>, out: &mut Vec<Addr>| {
        let w = String::from_utf8_lossy(words).trim().to_string();
        words.clear();
        if w.is_empty() {
            return;
        }
        let (m, h) = match w.rsplit_once('@') {
            Some((m, h)) => (m.trim().to_string(), Some(h.trim().as_bytes().to_vec())),
            None => (w, None),
        };
        out.push(Addr::Mailbox {
            name: None,
            mailbox: m.into_bytes(),
            host: h,
        });
    };
    while i < v.len() {
        let c = v[i];
        match c {
            b'"' => {
                i += 1;
                while i < v.len() && v[i] != b'"' {
                    if v[i] == b'\\' && i + 1 < v.len() {
                        i += 1;
                    }
                    words.push(v[i]);
                    i += 1;
                }
                i += 1;
                words.push(0); // marks "was quoted"
            }
            b'(' => {
                let mut depth = 0;
                while i < v.len() {
                    if v[i] == b'(' {
                        depth += 1;
                    } else if v[i] == b')' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            b'<' => {
                let end = v[i..]
                    .iter()
                    .position(|&b| b == b'>')
                    .map_or(v.len(), |p| i + p);
                let spec = String::from_utf8_lossy(&v[i + 1..end]).to_string();
                let spec = spec.rsplit(':').next().unwrap_or("").trim().to_string();
                let name: Vec<u8> = words.iter().copied().filter(|&b| b != 0).collect();
                let name = String::from_utf8_lossy(&name).trim().to_string();
                words.clear();
                let (m, h) = match spec.rsplit_once('@') {
                    Some((m, h)) => (m.to_string(), Some(h.as_bytes().to_vec())),
                    None => (spec, None),
                };
                out.push(Addr::Mailbox {
                    name: (!name.is_empty()).then(|| name.into_bytes()),
                    mailbox: m.into_bytes(),
                    host: h,
                });
                i = end + 1;
            }
            b':' if !in_group => {
                let name: Vec<u8> = words.iter().copied().filter(|&b| b != 0).collect();
                words.clear();
                out.push(Addr::GroupStart(
                    String::from_utf8_lossy(&name).trim().as_bytes().to_vec(),
                ));
                in_group = true;
                i += 1;
            }
            b';' if in_group => {
                let w: Vec<u8> = std::mem::take(&mut words)
                    .into_iter()
                    .filter(|&b| b != 0)
                    .collect();
                let mut w = w;
                flush_plain(&mut w, &mut out);
                out.push(Addr::GroupEnd);
                in_group = false;
                i += 1;
            }
            b',' => {
                let mut w: Vec<u8> = std::mem::take(&mut words)
                    .into_iter()
                    .filter(|&b| b != 0)
                    .collect();
                flush_plain(&mut w, &mut out);
                i += 1;
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                words.push(c);
                i += 1;
            }
        }
    }
    let mut w: Vec<u8> = words.into_iter().filter(|&b| b != 0).collect();
    flush_plain(&mut w, &mut out);
    if in_group {
        out.push(Addr::GroupEnd);
    }
    out
}

fn addr_list(v: Option<Vec<u8>>, out: &mut Vec<u8>) {
    let list = v.map(|v| addresses(&v)).unwrap_or_default();
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in &list {
        out.push(b'(');
        match a {
            Addr::Mailbox {
                name,
                mailbox,
                host,
            } => {
                nstring(name.as_deref(), out);
                out.extend_from_slice(b" NIL ");
                nstring(Some(mailbox), out);
                out.push(b' ');
                nstring(host.as_deref(), out);
            }
            Addr::GroupStart(n) => {
                out.extend_from_slice(b"NIL NIL ");
                nstring(Some(n), out);
                out.extend_from_slice(b" NIL");
            }
            Addr::GroupEnd => out.extend_from_slice(b"NIL NIL NIL NIL"),
        }
        out.push(b')');
    }
    out.push(b')');
}

/// ENVELOPE of the header bytes.
pub fn envelope(header: &[u8], out: &mut Vec<u8>) {
    let raw = |n: &str| {
        message::fields(header)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v)
    };
    out.push(b'(');
    nstring(raw("Date").as_deref(), out);
    out.push(b' ');
    nstring(raw("Subject").as_deref(), out);
    let from = raw("From");
    for (i, n) in ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"]
        .iter()
        .enumerate()
    {
        out.push(b' ');
        let mut v = raw(n);
        if (i == 1 || i == 2) && v.as_ref().is_none_or(|x| addresses(x).is_empty()) {
            v = from.clone();
        }
        addr_list(v, out);
    }
    out.push(b' ');
    nstring(raw("In-Reply-To").as_deref(), out);
    out.push(b' ');
    nstring(raw("Message-ID").as_deref(), out);
    out.push(b')');
}

fn params(p: &[(String, String)], out: &mut Vec<u8>) {
    if p.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in p.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        qs(k, out);
        out.push(b' ');
        qs(v, out);
    }
    out.push(b')');
}

fn disposition(header: &[u8], out: &mut Vec<u8>) {
    match message::field(header, "Content-Disposition") {
        Some(v) => {
            let s = String::from_utf8_lossy(&v).to_string();
            let mut it = message::split_params(&s).into_iter();
            let d = it.next().unwrap_or_default();
            let ps: Vec<(String, String)> = it
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|x| x.strip_suffix('"'))
                        .unwrap_or(v);
                    Some((k.trim().to_ascii_lowercase(), v.to_string()))
                })
                .collect();
            out.push(b'(');
            qs(&d, out);
            out.push(b' ');
            params(&ps, out);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

/// BODY (`ext` = false) or BODYSTRUCTURE of a part.
pub fn structure(buf: &[u8], p: &Part, ext: bool, out: &mut Vec<u8>) {
    let header = &buf[p.start..p.body];
    out.push(b'(');
    if p.ctype == "multipart" {
        for c in &p.children {
            structure(buf, c, ext, out);
        }
        out.push(b' ');
        qs(&p.subtype, out);
        if ext {
            out.push(b' ');
            params(&p.params, out);
            out.push(b' ');
            disposition(header, out);
            out.push(b' ');
            nstring(message::field(header, "Content-Language").as_deref(), out);
            out.push(b' ');
            nstring(message::field(header, "Content-Location").as_deref(), out);
        }
        out.push(b')');
        return;
    }
    qs(&p.ctype, out);
    out.push(b' ');
    qs(&p.subtype, out);
    out.push(b' ');
    params(&p.params, out);
    out.push(b' ');
    nstring(message::field(header, "Content-ID").as_deref(), out);
    out.push(b' ');
    nstring(
        message::field(header, "Content-Description").as_deref(),
        out,
    );
    out.push(b' ');
    let enc = message::field(header, "Content-Transfer-Encoding")
        .map(|v| String::from_utf8_lossy(&v).trim().to_string())
        .unwrap_or_else(|| "7bit".into());
    qs(&enc, out);
    out.extend_from_slice(format!(" {}", p.end - p.body).as_bytes());
    if let Some(m) = &p.message {
        out.push(b' ');
        envelope(&buf[m.start..m.body], out);
        out.push(b' ');
        structure(buf, m, ext, out);
        out.extend_from_slice(format!(" {}", p.lines(buf)).as_bytes());
    } else if p.ctype == "text" {
        out.extend_from_slice(format!(" {}", p.lines(buf)).as_bytes());
    }
    if ext {
        out.extend_from_slice(b" ");
        nstring(message::field(header, "Content-MD5").as_deref(), out);
        out.push(b' ');
        disposition(header, out);
        out.push(b' ');
        nstring(message::field(header, "Content-Language").as_deref(), out);
        out.push(b' ');
        nstring(message::field(header, "Content-Location").as_deref(), out);
    }
    out.push(b')');
}

/// The bytes of a section.
fn section_bytes(buf: &[u8], root: &Part, s: &Section) -> Vec<u8> {
    let Some(p) = root.find(&s.path) else {
        return Vec::new();
    };
    let top = s.path.is_empty();
    // HEADER/TEXT of a sub-part refer to its encapsulated message.
    let msg: Option<&Part> = if top {
        Some(root)
    } else {
        p.message.as_deref()
    };
    match s.kind.as_str() {
        "" if top => buf.to_vec(),
        "" => buf[p.body..p.end].to_vec(),
        "MIME" => buf[p.start..p.body].to_vec(),
        "HEADER" => msg.map_or(Vec::new(), |m| buf[m.start..m.body].to_vec()),
        "TEXT" => msg.map_or(Vec::new(), |m| buf[m.body..m.end].to_vec()),
        _ => msg.map_or(Vec::new(), |m| {
            message::header_lines(&buf[m.start..m.body], &s.fields, s.kind.ends_with(".NOT"))
        }),
    }
}

fn decode(buf: &[u8], root: &Part, path: &[usize], data: Vec<u8>) -> Vec<u8> {
    let Some(p) = root.find(path) else {
        return data;
    };
    let enc = message::field(&buf[p.start..p.body], "Content-Transfer-Encoding")
        .map(|v| String::from_utf8_lossy(&v).trim().to_ascii_lowercase())
        .unwrap_or_default();
    match enc.as_str() {
        "base64" => {
            use base64::Engine;
            let clean: Vec<u8> = data
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .unwrap_or(data)
        }
        "quoted-printable" => qp_decode(&data),
        _ => data,
    }
}

/// Quoted-printable decoding (soft line breaks removed).
pub fn qp_decode(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.len());
    let mut i = 0;
    while i < d.len() {
        if d[i] == b'=' {
            if d.get(i + 1) == Some(&b'\r') && d.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if d.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            let hex = d
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(d[i]);
        i += 1;
    }
    out
}

/// Run FETCH / UID FETCH.
pub fn fetch<R: Wait, W: Write>(
    s: &mut Session<R, W>,
    cmd: &str,
    args: &[Arg],
    uid: bool,
) -> io::Result<Reply> {
    let (Some(set), Some(items_arg)) = (args.first().and_then(Arg::atom), args.get(1)) else {
        return Ok(bad(cmd, "Invalid arguments"));
    };
    let mut items = match items(items_arg) {
        Ok(i) => i,
        Err(e) => return Ok(bad(cmd, &e)),
    };
    if let Some(m) = args.get(2) {
        if m.list().is_none() {
            return Ok(bad(cmd, "Invalid arguments"));
        }
    }
    if let Some(Item::Section(sec)) = items
        .iter()
        .find(|i| matches!(i, Item::Section(x) if x.partial.is_some_and(|(_, b)| b.is_some_and(|b| b > u32::MAX as u64))))
    {
        let _ = sec;
        return Ok(bad(cmd, "Invalid BODY[..] parameter: Too big partial end"));
    }
    let Some(idxs) = s.resolve(set, uid) else {
        return Ok(bad(cmd, "Invalid messageset"));
    };
    if uid && !items.contains(&Item::Uid) {
        items.insert(0, Item::Uid);
    }
    let tz = s.cfg.tz;
    for i in idxs {
        let line = match one(s, i, &items, tz) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        s.w.write_all(&line)?;
    }
    Ok(Reply::Ok("Fetch completed.".into()))
}

fn needs_body(items: &[Item]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            Item::Envelope | Item::Body | Item::BodyStructure | Item::Section(_)
        )
    })
}

fn one<R: Wait, W: Write>(
    s: &mut Session<R, W>,
    i: usize,
    items: &[Item],
    tz: fn(i64) -> i64,
) -> io::Result<Vec<u8>> {
    let Some(sel) = s.sel.as_mut() else {
        return Ok(Vec::new());
    };
    let sets_seen = !sel.read_only
        && !sel.mbox.messages[i].flags().has(SEEN)
        && items
            .iter()
            .any(|it| matches!(it, Item::Section(x) if !x.peek));
    let buf = if needs_body(items) {
        message::crlf(&sel.read(i)?)
    } else {
        Vec::new()
    };
    let root = if buf.is_empty() {
        Part::default()
    } else {
        message::parse(&buf, 0, buf.len(), false, 0)
    };
    if sets_seen {
        let mut f = sel.mbox.messages[i].flags();
        f.set(SEEN, true);
        sel.set_flags(i, &f)?;
    }
    let sel = &*sel;
    let m = &sel.mbox.messages[i];
    let mut out = format!("* {} FETCH (", i + 1).into_bytes();
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    if sets_seen {
        sep(&mut out);
        out.extend_from_slice(format!("FLAGS {}", sel.flags_of(m)).as_bytes());
    }
    for it in items {
        match it {
            Item::Flags => {
                if sets_seen {
                    continue;
                }
                sep(&mut out);
                out.extend_from_slice(format!("FLAGS {}", sel.flags_of(m)).as_bytes());
            }
            Item::Uid => {
                sep(&mut out);
                out.extend_from_slice(format!("UID {}", m.uid).as_bytes());
            }
            Item::Size => {
                sep(&mut out);
                out.extend_from_slice(format!("RFC822.SIZE {}", sel.virtual_size(i)?).as_bytes());
            }
            Item::InternalDate => {
                sep(&mut out);
                let t = sel.mtime(i);
                out.extend_from_slice(b"INTERNALDATE ");
                out.extend_from_slice(internaldate(t, tz(t)).as_bytes());
            }
            Item::Envelope => {
                sep(&mut out);
                out.extend_from_slice(b"ENVELOPE ");
                envelope(&buf[..root.body], &mut out);
            }
            Item::Body | Item::BodyStructure => {
                sep(&mut out);
                let ext = *it == Item::BodyStructure;
                out.extend_from_slice(if ext { b"BODYSTRUCTURE " } else { b"BODY " });
                structure(&buf, &root, ext, &mut out);
            }
            Item::Section(sec) => {
                sep(&mut out);
                let mut data = section_bytes(&buf, &root, sec);
                if sec.binary {
                    data = decode(&buf, &root, &sec.path, data);
                }
                if sec.binary_size {
                    out.extend_from_slice(format!("{} {}", sec.label, data.len()).as_bytes());
                    continue;
                }
                out.extend_from_slice(sec.label.as_bytes());
                if let Some((start, len)) = sec.partial {
                    let st = (start as usize).min(data.len());
                    let en = len.map_or(data.len(), |l| {
                        st.saturating_add(l as usize).min(data.len())
                    });
                    data = data[st..en].to_vec();
                    out.extend_from_slice(format!("<{start}>").as_bytes());
                }
                let tilde = if sec.binary { "~" } else { "" };
                out.extend_from_slice(format!(" {tilde}{{{}}}\r\n", data.len()).as_bytes());
                out.extend_from_slice(&data);
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections() {
        let s = section("BODY.PEEK[HEADER.FIELDS (Subject)]").unwrap();
        assert_eq!(s.label, "BODY[HEADER.FIELDS (SUBJECT)]");
        assert!(s.peek);
        assert_eq!(
            section("BODY[FOO]").unwrap_err(),
            "Invalid BODY[..] section"
        );
        assert_eq!(
            section("BODY.PEEK[HEADER.FIELDS ()]").unwrap_err(),
            "Invalid BODY[..] section"
        );
        assert_eq!(
            section("BODY.PEEK[]<0.-1>").unwrap_err(),
            "Invalid BODY[..] parameter: Too big partial end"
        );
        assert_eq!(section("BODY[3.1]").unwrap().path, vec![3, 1]);
        assert_eq!(section("BODY[2.MIME]").unwrap().label, "BODY[2.MIME]");
    }

    #[test]
    fn dates() {
        assert_eq!(
            internaldate(1_700_000_000, 0),
            "\"14-Nov-2023 22:13:20 +0000\""
        );
    }

    #[test]
    fn envelope_addresses() {
        let mut out = Vec::new();
        addr_list(Some(b"undisclosed-recipients:;".to_vec()), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
        );
        let mut out = Vec::new();
        addr_list(
            Some(b"bob@example.org, \"Dave, D.\" <dave@example.com>".to_vec()),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "((NIL NIL \"bob\" \"example.org\")(\"Dave, D.\" NIL \"dave\" \"example.com\"))"
        );
    }
}
