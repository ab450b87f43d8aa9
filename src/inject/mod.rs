//! qmail-inject's message preparation (`shared/spec/qmail/inject.md` §1):
//! splitting header from body, rewriting address fields, adding Date,
//! Message-ID, From and Cc, and choosing the envelope.
//!
//! The caller reads the controls and environment into [`Config`] and
//! [`Settings`], feeds the header through [`Session::header`], then copies
//! the body with [`copy_body`]. No process or queue here.

pub mod getopt;
pub mod header;
pub mod token;

use crate::quote;
use std::io::{self, BufRead, Write};

use crate::control::Control;
use crate::envelope::Envelope;
use header::Field;
use token::Token;

/// `LINELEN` of qmail-inject's folding.
pub const LINELEN: usize = 80;

/// Why a message was refused (`inject.md` §1.8).
#[derive(Debug)]
pub enum InjectError {
    /// `unable to parse this line:` LF + the bytes (100).
    Parse(Vec<u8>),
    /// `unable to parse address: ADDR` (100).
    ParseAddress(Vec<u8>),
    /// `read error` (111).
    Read(io::Error),
}

impl InjectError {
    /// The exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            InjectError::Parse(_) | InjectError::ParseAddress(_) => 100,
            InjectError::Read(_) => 111,
        }
    }

    /// The bytes after `qmail-inject: fatal: `.
    pub fn message(&self) -> Vec<u8> {
        match self {
            InjectError::Parse(l) => [&b"unable to parse this line:\n"[..], l].concat(),
            InjectError::ParseAddress(a) => [&b"unable to parse address: "[..], a, b"\n"].concat(),
            InjectError::Read(_) => b"read error\n".to_vec(),
        }
    }
}

/// The controls qmail-inject uses, already tokenized (`inject.md` §1.3).
#[derive(Debug, Clone)]
pub struct Config {
    /// `.` + defaultdomain
    pub defaultdomain: Vec<Token>,
    /// `@` + defaulthost
    pub defaulthost: Vec<Token>,
    /// `.` + plusdomain
    pub plusdomain: Vec<Token>,
    pub idhost: Vec<u8>,
}

fn tokens_of(prefix: &[u8], value: &[u8]) -> Result<Vec<Token>, InjectError> {
    let s = [prefix, value].concat();
    token::parse(&s).ok_or(InjectError::Parse(s))
}

impl Config {
    /// Read the controls; `env` overrides them (`QMAILDEFAULTDOMAIN`, ...).
    pub fn load(
        control: &Control,
        env: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<Self, InjectError> {
        let get = |name: &str, var: &str| -> Result<Vec<u8>, InjectError> {
            let v = control
                .read_line_default(name, true, Some(name.as_bytes()))
                .map_err(InjectError::Read)?
                .unwrap_or_default();
            Ok(env(var).unwrap_or(v))
        };
        Ok(Config {
            defaultdomain: tokens_of(b".", &get("defaultdomain", "QMAILDEFAULTDOMAIN")?)?,
            defaulthost: tokens_of(b"@", &get("defaulthost", "QMAILDEFAULTHOST")?)?,
            plusdomain: tokens_of(b".", &get("plusdomain", "QMAILPLUSDOMAIN")?)?,
            idhost: get("idhost", "QMAILIDHOST")?,
        })
    }

    /// `rwgeneric` on a reversed address (last token first).
    pub fn rewrite(&self, addr: &mut Vec<Token>) {
        let prepend = |addr: &mut Vec<Token>, what: &[Token]| {
            let mut v: Vec<Token> = what.iter().rev().cloned().collect();
            v.append(addr);
            *addr = v;
        };
        if addr.is_empty() {
            return;
        }
        if addr.len() >= 2 && addr[1] == Token::At && addr[0] == Token::Literal(Vec::new()) {
            return; // <foo@[]>
        }
        // rwroute: <@a,@b:user@host> -> <user@host>
        if addr.last() == Some(&Token::At) {
            while let Some(t) = addr.pop() {
                if t == Token::Colon {
                    break;
                }
            }
        }
        for extra in [Token::Dot, Token::At] {
            if addr.is_empty() {
                return;
            }
            if addr[0] == extra {
                addr.remove(0);
            }
        }
        if addr.is_empty() {
            return;
        }
        if !addr.contains(&Token::At) {
            prepend(addr, &self.defaulthost);
        }
        if let Some(Token::Atom(a)) = addr.first_mut() {
            if a.last() == Some(&b'+') {
                a.pop();
                prepend(addr, &self.plusdomain);
            }
        }
        let domain = addr.iter().take_while(|t| **t != Token::At);
        if domain
            .clone()
            .any(|t| *t == Token::Dot || matches!(t, Token::Literal(_)))
        {
            return;
        }
        prepend(addr, &self.defaultdomain);
    }
}

/// The `QMAILINJECT` flags and user identity from the environment
/// (`inject.md` §1.2).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub name_comment: bool,
    pub delete_sender: bool,
    pub delete_from: bool,
    pub delete_messid: bool,
    pub hack_recip: bool,
    pub hack_mess: bool,
    pub mailhost: Option<Vec<u8>>,
    pub mailuser: Vec<u8>,
    pub mailrhost: Option<Vec<u8>>,
    pub mailruser: Vec<u8>,
    pub fullname: Option<Vec<u8>>,
    /// Mailing lists of `QMAILMFTFILE`, if it was read.
    pub mft: Option<Vec<Vec<u8>>>,
}

impl Settings {
    /// From environment variables.
    pub fn from_env(env: &dyn Fn(&str) -> Option<Vec<u8>>) -> Self {
        let first = |names: &[&str]| names.iter().find_map(|n| env(n));
        let mut s = Settings::default();
        for c in env("QMAILINJECT").unwrap_or_default() {
            match c {
                b'c' => s.name_comment = true,
                b's' => s.delete_sender = true,
                b'f' => s.delete_from = true,
                b'i' => s.delete_messid = true,
                b'r' => s.hack_recip = true,
                b'm' => s.hack_mess = true,
                _ => {}
            }
        }
        s.mailhost = first(&["QMAILHOST", "MAILHOST"]);
        s.mailrhost = env("QMAILSHOST").or_else(|| s.mailhost.clone());
        s.mailuser =
            first(&["QMAILUSER", "MAILUSER", "USER", "LOGNAME"]).unwrap_or(b"anonymous".to_vec());
        s.mailruser = env("QMAILSUSER").unwrap_or_else(|| s.mailuser.clone());
        s.fullname = first(&["QMAILNAME", "MAILNAME", "NAME"]);
        s
    }
}

/// Which recipients are used (`-a`, `-h`, `-A`, `-H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Default,
    Args,
    Header,
    ArgsAndHeader,
}

/// One message being prepared.
pub struct Session<'a> {
    pub config: &'a Config,
    pub settings: &'a Settings,
    /// Start time and qmail-inject's pid (Date, Message-ID, flag m).
    pub now: i64,
    pub pid: u32,
    /// `-n`: print instead of queueing.
    pub print: bool,
    sender: Option<Vec<u8>>,
    seen: Vec<Field>,
    saved: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
    hr: Vec<Vec<u8>>,
    hrr: Vec<Vec<u8>>,
    tocc: Vec<Vec<u8>>,
    use_header: bool,
    resent: bool,
}

impl<'a> Session<'a> {
    pub fn new(config: &'a Config, settings: &'a Settings, now: i64, pid: u32) -> Self {
        Session {
            config,
            settings,
            now,
            pid,
            print: false,
            sender: None,
            seen: Vec::new(),
            saved: Vec::new(),
            args: Vec::new(),
            hr: Vec::new(),
            hrr: Vec::new(),
            tocc: Vec::new(),
            use_header: true,
            resent: false,
        }
    }

    /// `-f sender`: quote2, tokenize, rewrite, unquote.
    pub fn set_sender(&mut self, arg: &[u8]) -> Result<(), InjectError> {
        let q = quote::quote2(arg);
        let mut t = token::parse(&q).ok_or(InjectError::Parse(q))?;
        t.reverse();
        self.config.rewrite(&mut t);
        t.reverse();
        self.sender = Some(token::unquote(&t));
        Ok(())
    }

    /// Apply the recipient strategy to the argument recipients.
    pub fn set_recipients(
        &mut self,
        strategy: Strategy,
        args: &[Vec<u8>],
    ) -> Result<(), InjectError> {
        let strategy = match strategy {
            Strategy::Default if args.is_empty() => Strategy::Header,
            Strategy::Default => Strategy::Args,
            s => s,
        };
        if strategy != Strategy::Header {
            for a in args {
                let q = quote::quote2(a);
                let mut t = token::parse(&q).ok_or_else(|| InjectError::ParseAddress(a.clone()))?;
                t.reverse();
                self.config.rewrite(&mut t);
                t.reverse();
                self.args.push(token::unquote(&t));
            }
        }
        self.use_header = strategy != Strategy::Args;
        Ok(())
    }

    /// Rewrite one address field; returns the addresses found, in
    /// processing (right-to-left) order.
    fn rewrite_field(&self, h: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), InjectError> {
        let tokens = token::parse(h).ok_or_else(|| InjectError::Parse(h.to_vec()))?;
        let mut found = Vec::new();
        let out = token::addrlist(&tokens, &mut |addr| {
            self.config.rewrite(addr);
            let fwd: Vec<Token> = addr.iter().rev().cloned().collect();
            found.push(token::unquote(&fwd));
        })
        .ok_or_else(|| InjectError::Parse(h.to_vec()))?;
        Ok((token::unparse(&out, LINELEN), found))
    }

    /// `doheaderfield`.
    fn field(&mut self, h: Vec<u8>) -> Result<(), InjectError> {
        let kind = Field::known(&h);
        let s = self.settings;
        if (s.delete_from && kind == Some(Field::From))
            || (s.delete_messid && kind == Some(Field::MessageId))
            || (s.delete_sender && kind == Some(Field::ReturnPath))
        {
            return Ok(());
        }
        let Some(kind) = kind else {
            self.saved.push(h);
            return Ok(());
        };
        self.seen.push(kind);
        let mut h = h;
        if kind.is_address() {
            let (out, found) = self.rewrite_field(&h)?;
            h = out;
            match kind {
                Field::To | Field::Cc => {
                    self.hr.extend(found.iter().cloned());
                    self.tocc.extend(found);
                }
                Field::Bcc | Field::ApparentlyTo => self.hr.extend(found),
                Field::ResentTo | Field::ResentCc | Field::ResentBcc => self.hrr.extend(found),
                Field::ReturnPath if self.sender.is_none() => {
                    if let Some(first) = found.into_iter().next() {
                        self.sender = Some(self.hack(first));
                    }
                }
                _ => {}
            }
        }
        if !matches!(
            kind,
            Field::Bcc | Field::ResentBcc | Field::ReturnPath | Field::ContentLength
        ) {
            self.saved.push(h);
        }
        Ok(())
    }

    /// `setreturn`'s `-@[]` for flag r.
    fn hack(&self, mut sender: Vec<u8>) -> Vec<u8> {
        if self.settings.hack_recip {
            sender.extend_from_slice(b"-@[]");
        }
        sender
    }

    fn seen(&self, f: Field) -> bool {
        self.seen.contains(&f)
    }

    /// Build, tokenize, rewrite and write back a generated address field.
    fn generated(&self, tokens: Vec<Token>) -> Result<(Vec<u8>, Vec<Vec<u8>>), InjectError> {
        let text = token::unparse(&tokens, LINELEN);
        self.rewrite_field(&text)
    }

    fn default_from(&self) -> Result<Vec<u8>, InjectError> {
        let s = self.settings;
        let mut t = vec![Token::Atom(b"From".to_vec()), Token::Colon];
        let name = s.fullname.as_ref();
        if let (Some(n), false) = (name, s.name_comment) {
            t.push(Token::Quote(n.clone()));
            t.push(Token::Left);
        }
        t.push(if quote::quote_need(&s.mailuser) {
            Token::Quote(s.mailuser.clone())
        } else {
            Token::Atom(s.mailuser.clone())
        });
        if let Some(h) = &s.mailhost {
            t.push(Token::At);
            t.push(Token::Atom(h.clone()));
        }
        match (name, s.name_comment) {
            (Some(_), false) => t.push(Token::Right),
            (Some(n), true) => t.push(Token::Comment(n.clone())),
            _ => {}
        }
        Ok(self.generated(t)?.0)
    }

    fn default_sender(&mut self) -> Result<(), InjectError> {
        let s = self.settings;
        let mut user = s.mailruser.clone();
        if s.hack_mess {
            user.extend_from_slice(format!("-{}.{}", self.now, self.pid).as_bytes());
        }
        if s.hack_recip {
            user.push(b'-');
        }
        let mut t = vec![
            Token::Atom(b"Return-Path".to_vec()),
            Token::Colon,
            Token::Quote(user),
        ];
        if let Some(h) = &s.mailrhost {
            t.push(Token::At);
            t.push(Token::Atom(h.clone()));
        }
        let found = self.generated(t)?.1;
        if let Some(first) = found.into_iter().next() {
            self.sender = Some(self.hack(first));
        }
        Ok(())
    }

    /// `finishheader`: the fields to add before the saved ones.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), InjectError> {
        use Field::*;
        self.resent = [
            ResentSender,
            ResentFrom,
            ResentReplyTo,
            ResentTo,
            ResentCc,
            ResentBcc,
            ResentDate,
            ResentMessageId,
        ]
        .iter()
        .any(|f| self.seen(*f));
        if self.sender.is_none() {
            self.default_sender()?;
        }
        if self.print {
            out.extend_from_slice(b"Return-Path: <");
            out.extend_from_slice(&quote::quote2(self.sender.as_deref().unwrap_or_default()));
            out.extend_from_slice(b">\n");
        }
        let date = format!("Date: {}", crate::date::date822(self.now));
        let msgid = format!(
            "Message-ID: <{}.{}.qmail@{}>\n",
            crate::date::stamp(self.now),
            self.pid,
            String::from_utf8_lossy(&self.config.idhost)
        );
        let (prefix, d, m, f, to, cc): (&[u8], _, _, _, _, _) = if self.resent {
            (
                b"Resent-",
                ResentDate,
                ResentMessageId,
                ResentFrom,
                ResentTo,
                ResentCc,
            )
        } else {
            (b"", Date, MessageId, From, To, Cc)
        };
        if !self.seen(d) {
            out.extend_from_slice(prefix);
            out.extend_from_slice(date.as_bytes());
        }
        if !self.seen(m) {
            out.extend_from_slice(prefix);
            out.extend_from_slice(msgid.as_bytes());
        }
        if !self.seen(f) {
            let from = self.default_from()?;
            out.extend_from_slice(prefix);
            out.extend_from_slice(&from);
        }
        if !self.seen(to) && !self.seen(cc) {
            out.extend_from_slice(prefix);
            out.extend_from_slice(b"Cc: recipient list not shown: ;\n");
        }
        if !self.resent {
            self.followup_to(out);
        }
        for h in &self.saved {
            out.extend_from_slice(h);
        }
        Ok(())
    }

    /// `finishmft`.
    fn followup_to(&self, out: &mut Vec<u8>) {
        let Some(lists) = &self.settings.mft else {
            return;
        };
        if self.seen(Field::MailFollowupTo) {
            return;
        }
        let listed = |a: &[u8]| lists.iter().any(|l| l.eq_ignore_ascii_case(a));
        if !self.tocc.iter().any(|a| listed(a)) {
            return;
        }
        out.extend_from_slice(b"Mail-Followup-To: ");
        for (i, a) in self.tocc.iter().rev().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",\n  ");
            }
            out.extend_from_slice(&quote::quote2(a));
        }
        out.push(b'\n');
    }

    /// Read and process the header (`headerbody`): returns the header to
    /// write, followed by the separator and the first body line if any.
    pub fn header(&mut self, input: &mut dyn BufRead) -> Result<Vec<u8>, InjectError> {
        let mut out = Vec::new();
        let mut reader = header::Lines::new(input);
        let mut line: Option<Vec<u8>> = None;
        loop {
            let Some(next) = reader.next_line().map_err(InjectError::Read)? else {
                if let Some(l) = line.take() {
                    self.field(l)?;
                }
                self.finish(&mut out)?;
                return Ok(out);
            };
            if let Some(l) = line.as_mut() {
                if next[0] == b' ' || next[0] == b'\t' {
                    l.extend_from_slice(&next);
                    continue;
                }
                let l = line.take().unwrap_or_default();
                self.field(l)?;
            }
            if next == b"\n" {
                self.finish(&mut out)?;
                out.extend_from_slice(&next);
                return Ok(out);
            }
            if next.starts_with(b"From ") {
                line = Some([&b"MBOX-Line: "[..], &next].concat());
            } else if header::valid(&next) {
                line = Some(next);
            } else {
                self.finish(&mut out)?;
                out.push(b'\n');
                out.extend_from_slice(&next);
                return Ok(out);
            }
        }
    }

    /// The envelope: argument recipients, then header ones.
    pub fn envelope(&self) -> Envelope {
        let mut recipients = self.args.clone();
        if self.use_header {
            recipients.extend(
                if self.resent { &self.hrr } else { &self.hr }
                    .iter()
                    .cloned(),
            );
        }
        Envelope {
            sender: self.sender.clone().unwrap_or_default(),
            recipients,
        }
    }
}

/// Copy the rest of the body, adding an LF to a final unterminated line.
pub fn copy_body(input: &mut dyn BufRead, out: &mut dyn Write) -> io::Result<()> {
    let mut last = None;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        out.write_all(buf)?;
        last = buf.last().copied();
        let n = buf.len();
        input.consume(n);
    }
    if last.is_some_and(|b| b != b'\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
