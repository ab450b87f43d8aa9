//! vmailmgr's option parser (`cli++`) and its usage/help text
//! (`shared/spec/vmailmgr/commands.md` §1.2–§1.3).
//!
//! A program is described by one [`Spec`]; [`parse`] returns the option
//! values and positional arguments or the exact output of a refusal.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// What an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sets `var` to a fixed value.
    Flag(&'static str),
    Int,
    Uns,
    Str,
    List,
}

/// One row of a program's option table.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub letter: Option<u8>,
    pub name: Option<&'static str>,
    pub kind: Kind,
    /// The variable written (flags sharing a variable: the last wins).
    pub var: &'static str,
    pub help: &'static str,
    pub default: Option<&'static str>,
}

/// A flag option.
pub const fn flag(
    letter: Option<u8>,
    name: Option<&'static str>,
    var: &'static str,
    value: &'static str,
    help: &'static str,
) -> Opt {
    Opt {
        letter,
        name,
        kind: Kind::Flag(value),
        var,
        help,
        default: None,
    }
}

/// An option taking a value.
pub const fn value(letter: Option<u8>, name: &'static str, kind: Kind, help: &'static str) -> Opt {
    Opt {
        letter,
        name: Some(name),
        kind,
        var: name,
        help,
        default: None,
    }
}

/// A program's command-line description.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub prog: &'static str,
    pub args_usage: &'static str,
    pub prefix: &'static str,
    pub suffix: &'static str,
    pub opts: &'static [Opt],
    pub min_args: usize,
    pub max_args: Option<usize>,
}

/// Parsed options: variable → values (lists keep all, others the last).
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub values: HashMap<&'static str, Vec<OsString>>,
    pub args: Vec<OsString>,
}

impl Parsed {
    pub fn get(&self, var: &str) -> Option<&OsString> {
        self.values.get(var).and_then(|v| v.last())
    }
    pub fn has(&self, var: &str) -> bool {
        self.values.contains_key(var)
    }
    pub fn list(&self, var: &str) -> Vec<OsString> {
        self.values.get(var).cloned().unwrap_or_default()
    }
    pub fn str(&self, var: &str) -> Option<String> {
        self.get(var).map(|v| v.to_string_lossy().into_owned())
    }
    /// An Int option's value (validated during parsing).
    pub fn int(&self, var: &str) -> Option<i64> {
        self.get(var).and_then(|v| strtol(v.as_bytes()))
    }
}

/// A refusal or `--help`: bytes for stdout and stderr, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
}

const HELP: Opt = flag(
    Some(b'h'),
    Some("help"),
    "help",
    "1",
    "Display this help and exit",
);

fn suffix(kind: Kind) -> &'static str {
    match kind {
        Kind::Flag(_) => "",
        Kind::Int => "=INT",
        Kind::Uns => "=UNS",
        Kind::Str => "=VALUE",
        Kind::List => "=ITEM",
    }
}

/// The usage and help text (§1.3).
pub fn usage(spec: &Spec) -> Vec<u8> {
    let w = spec
        .opts
        .iter()
        .chain([&HELP])
        .filter_map(|o| o.name.map(|n| n.len() + suffix(o.kind).len()))
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "usage: {} [flags] {}\n{}",
        spec.prog, spec.args_usage, spec.prefix
    );
    let line = |o: &Opt, out: &mut String| {
        match o.letter {
            Some(c) => out.push_str(&format!("  -{}", c as char)),
            None => out.push_str("    "),
        }
        out.push_str(if o.letter.is_some() && o.name.is_some() {
            ", "
        } else {
            "  "
        });
        match o.name {
            Some(n) => {
                let s = suffix(o.kind);
                out.push_str(&format!("--{n}{s}"));
                out.push_str(&" ".repeat(w - n.len() - s.len() + 2));
            }
            None => out.push_str(&" ".repeat(w + 4)),
        }
        out.push_str(o.help);
        out.push('\n');
        if let Some(d) = o.default {
            out.push_str(&" ".repeat(w + 10));
            out.push_str(&format!("(Defaults to {d})\n"));
        }
    };
    for o in spec.opts {
        line(o, &mut out);
    }
    out.push('\n');
    line(&HELP, &mut out);
    out.push_str(spec.suffix);
    out.into_bytes()
}

/// C `strtol(s, &end, 10)` with the whole string consumed.
pub fn strtol(s: &[u8]) -> Option<i64> {
    let t = s.trim_ascii_start();
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if s.is_empty() {
        return Some(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    Some(if neg { -n } else { n })
}

fn refuse(spec: &Spec, stderr: String) -> Exit {
    Exit {
        stdout: usage(spec),
        stderr: stderr.into_bytes(),
        code: 1,
    }
}

/// Parse `argv` (with argv[0]) against `spec`.
pub fn parse(spec: &Spec, argv: &[OsString]) -> Result<Parsed, Exit> {
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| spec.prog.to_string());
    let mut p = Parsed::default();
    let mut help = false;
    let mut i = 1;
    let opts: Vec<&Opt> = spec.opts.iter().chain([&HELP]).collect();
    let mut store = |p: &mut Parsed, o: &Opt, v: OsString| -> Result<(), Exit> {
        match o.kind {
            Kind::Int if strtol(v.as_bytes()).is_none() => {
                return Err(refuse(
                    spec,
                    format!("{argv0}: invalid integer: {}\n", v.to_string_lossy()),
                ))
            }
            Kind::Uns
                if strtol(v.as_bytes()).is_none()
                    || v.as_bytes().trim_ascii_start().starts_with(b"-") =>
            {
                return Err(refuse(
                    spec,
                    format!(
                        "{argv0}: invalid unsigned integer: {}\n",
                        v.to_string_lossy()
                    ),
                ))
            }
            _ => {}
        }
        if o.var == "help" {
            help = true;
        }
        let e = p.values.entry(o.var).or_default();
        if o.kind != Kind::List {
            e.clear();
        }
        e.push(v);
        Ok(())
    };
    while i < argv.len() {
        let a = argv[i].as_bytes();
        if a.first() != Some(&b'-') {
            break;
        }
        i += 1;
        if a == b"-" || a == b"--" {
            break;
        }
        if let Some(rest) = a.strip_prefix(b"--") {
            let (name, val) = match rest.iter().position(|&b| b == b'=') {
                Some(eq) => (&rest[..eq], Some(&rest[eq + 1..])),
                None => (rest, None),
            };
            let Some(o) = opts
                .iter()
                .find(|o| o.name.is_some_and(|n| n.as_bytes() == name))
            else {
                return Err(refuse(
                    spec,
                    format!(
                        "{argv0}: unknown option string: '--{}'\n",
                        String::from_utf8_lossy(rest)
                    ),
                ));
            };
            let n = String::from_utf8_lossy(name);
            match (o.kind, val) {
                (Kind::Flag(_), Some(_)) => {
                    return Err(refuse(
                        spec,
                        format!("{argv0}: option --{n} does not take a value.\n"),
                    ))
                }
                (Kind::Flag(v), None) => store(&mut p, o, v.into())?,
                (_, Some(v)) => store(&mut p, o, OsString::from(std::ffi::OsStr::from_bytes(v)))?,
                (_, None) => {
                    let Some(v) = argv.get(i) else {
                        return Err(refuse(
                            spec,
                            format!("{argv0}: option --{n} requires a value.\n"),
                        ));
                    };
                    i += 1;
                    store(&mut p, o, v.clone())?;
                }
            }
            continue;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            j += 1;
            let Some(o) = opts.iter().find(|o| o.letter == Some(c)) else {
                return Err(refuse(
                    spec,
                    format!("{argv0}: unknown option letter -{}\n", c as char),
                ));
            };
            match o.kind {
                Kind::Flag(v) => store(&mut p, o, v.into())?,
                _ if j < a.len() => {
                    let v = OsString::from(std::ffi::OsStr::from_bytes(&a[j..]));
                    store(&mut p, o, v)?;
                    break;
                }
                _ => {
                    let Some(v) = argv.get(i) else {
                        return Err(refuse(
                            spec,
                            format!("{argv0}: option -{} requires a value.\n", c as char),
                        ));
                    };
                    i += 1;
                    store(&mut p, o, v.clone())?;
                    break;
                }
            }
        }
    }
    if help {
        return Err(Exit {
            stdout: usage(spec),
            stderr: Vec::new(),
            code: 0,
        });
    }
    p.args = argv[i.min(argv.len())..].to_vec();
    if p.args.len() < spec.min_args {
        return Err(refuse(
            spec,
            format!("{}: Too few command-line arguments\n", spec.prog),
        ));
    }
    if spec.max_args.is_some_and(|m| p.args.len() > m) {
        return Err(refuse(
            spec,
            format!("{}: Too many command-line arguments\n", spec.prog),
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &[Opt] = &[
        value(Some(b'c'), "msgcount", Kind::Int, "Count"),
        flag(Some(b'D'), Some("no-mailbox"), "mb", "0", "No mailbox"),
        value(None, "password", Kind::Str, "Pw"),
        value(Some(b'f'), "forward", Kind::List, "Fwd"),
    ];
    const SPEC: Spec = Spec {
        prog: "t",
        args_usage: "A",
        prefix: "",
        suffix: "",
        opts: OPTS,
        min_args: 1,
        max_args: Some(2),
    };

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn forms() {
        let p = parse(
            &SPEC,
            &args(&[
                "t",
                "-Dc5",
                "-f",
                "a",
                "--forward=b",
                "--password",
                "x",
                "u",
            ]),
        )
        .unwrap();
        assert_eq!(p.int("msgcount"), Some(5));
        assert_eq!(p.list("forward"), args(&["a", "b"]));
        assert_eq!(p.str("password").as_deref(), Some("x"));
        assert_eq!(p.args, args(&["u"]));
        let p = parse(&SPEC, &args(&["t", "--", "-x"])).unwrap();
        assert_eq!(p.args, args(&["-x"]));
        let e = parse(&SPEC, &args(&["t", "-c", "abc", "u"])).unwrap_err();
        assert_eq!(e.stderr, b"t: invalid integer: abc\n");
        let e = parse(&SPEC, &args(&["t", "--no-mailbox=1"])).unwrap_err();
        assert_eq!(e.stderr, b"t: option --no-mailbox does not take a value.\n");
        let e = parse(&SPEC, &args(&["t", "-c"])).unwrap_err();
        assert_eq!(e.stderr, b"t: option -c requires a value.\n");
        let e = parse(&SPEC, &args(&["t"])).unwrap_err();
        assert_eq!(e.stderr, b"t: Too few command-line arguments\n");
        assert_eq!(parse(&SPEC, &args(&["t", "-h"])).unwrap_err().code, 0);
    }
}
