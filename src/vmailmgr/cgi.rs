//! The vmailmgr CGIs (`shared/spec/vmailmgr/commands.md` §4; the
//! original's `cgi/*.cc` and `lib/cgi/`): HTML front ends that talk to
//! vmailmgrd over the `socket-file` socket.
//!
//! ```text
//! form     = *(pair "&") [pair]         ; POST body on stdin
//! pair     = name ["=" value]           ; "+" = space, "%XY" = byte
//! ```
//! Every CGI requires the fields `vdomain` and `password`; `redirect` /
//! `error_redirect` turn the result page into a `Location:` header. The
//! original accepts only POST (a GET answers `Must be accessed via a CGI
//! 'POST' form` with exit 0); that is kept. Exit codes: 0 success (and the
//! POST refusal), 1 error page.

use std::path::PathBuf;

use super::client::{self, Call};
use super::config::Config;
use super::domain::Response;
use super::vpwentry::VpwEntry;

/// The CGI programs, by installed name.
pub const NAMES: &[&str] = &[
    "listvdomain",
    "vaddalias",
    "vadduser",
    "vchattr",
    "vchforwards",
    "vdeluser",
    "vpasswd",
];

/// The original's texts, kept once.
pub mod msg {
    pub const NOT_POST: &str = "Must be accessed via a CGI 'POST' form";
    pub const MISMATCH: &str = "The passwords you entered do not match";
    pub const PASSWORD: &str = "The password was succesfully changed.";
    pub const ADDED_USER: &str = "The user was succesfully added.";
    pub const ADDED_ALIAS: &str = "The alias was succesfully added.";
    pub const DELETED: &str = "The user was succesfully deleted.";
    pub const ATTRIBUTE: &str = "The attribute was succesfully changed.";
    pub const FORWARDS: &str = "The alias was succesfully changed.";
}

/// The form fields in arrival order (the first of a name wins).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form(pub Vec<(Vec<u8>, Vec<u8>)>);

impl Form {
    pub fn exists(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name.as_bytes())
    }
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }
    /// The value, or empty when absent.
    pub fn value(&self, name: &str) -> Vec<u8> {
        self.get(name).unwrap_or_default().to_vec()
    }
    /// The value, or `default` when absent or empty.
    pub fn or(&self, name: &str, default: &str) -> Vec<u8> {
        match self.get(name) {
            Some(v) if !v.is_empty() => v.to_vec(),
            _ => default.as_bytes().to_vec(),
        }
    }
}

fn hex(c: u8) -> i32 {
    match c {
        b'0'..=b'9' => i32::from(c - b'0'),
        b'a'..=b'f' => i32::from(c - b'a' + 10),
        b'A'..=b'F' => i32::from(c - b'A' + 10),
        _ => -1,
    }
}

/// Append a C string (up to its first NUL).
fn cat(to: &mut Vec<u8>, buf: &[u8]) {
    to.extend(buf.iter().take_while(|&&b| b != 0));
}

/// `form = *(pair "&") [pair]` as the original decodes it: a name without
/// `=` counts only when followed by `&`; a value is cut at a decoded NUL
/// within its 1023-byte chunk; a bad `%` escape yields the original's byte.
pub fn parse_form(input: &[u8]) -> Form {
    const CHUNK: usize = 1023;
    let mut it = input.iter().copied();
    let mut out = Vec::new();
    'pairs: loop {
        let (mut var, mut val, mut buf) = (Vec::new(), Vec::new(), Vec::new());
        let mut havevar = false;
        while let Some(ch) = it.next() {
            match ch {
                b'+' => buf.push(b' '),
                b'%' => {
                    if let (Some(a), Some(b)) = (it.next(), it.next()) {
                        buf.push((hex(a) << 4 | hex(b)) as u8);
                    }
                }
                b'=' if !havevar => {
                    cat(&mut var, &buf);
                    buf.clear();
                    havevar = true;
                }
                b'&' => {
                    cat(if havevar { &mut val } else { &mut var }, &buf);
                    out.push((var, val));
                    continue 'pairs;
                }
                _ => buf.push(ch),
            }
            if buf.len() >= CHUNK {
                cat(if havevar { &mut val } else { &mut var }, &buf);
                buf.clear();
            }
        }
        if havevar {
            cat(&mut val, &buf);
            out.push((var, val));
        }
        break;
    }
    Form(out)
}

/// What the web server gives a CGI.
#[derive(Debug, Default, Clone)]
pub struct Env {
    pub method: Option<String>,
    pub content_type: Option<String>,
    pub referer: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

/// A finished run: the bytes for stdout and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub code: i32,
}

fn content_type(out: &mut Vec<u8>, ct: &str) {
    out.extend_from_slice(format!("Content-Type: {ct}\r\n\r\n").as_bytes());
}

fn back(out: &mut Vec<u8>, pre: &[u8], referer: &Option<Vec<u8>>) {
    if let Some(r) = referer.as_ref().filter(|r| !r.is_empty()) {
        out.extend_from_slice(pre);
        out.extend_from_slice(b"<a href=\"");
        out.extend_from_slice(r);
        out.extend_from_slice(b"\">Back</a></p>\n");
    }
}

/// The `CGI Error` page.
pub fn error_page(m: &[u8], referer: &Option<Vec<u8>>) -> Vec<u8> {
    let mut o = Vec::new();
    content_type(&mut o, "text/html");
    o.extend_from_slice(
        b"<html><head>\n<title>CGI Error</title></head>\n<body>\n\
          <p align=center><h1>CGI Error</h1></p><hr>\n\
          <p>The following error occurred while trying to process your request:\r\n<pre>\r\n",
    );
    o.extend_from_slice(m);
    o.extend_from_slice(b"\r\n</pre></p>\r\n");
    back(&mut o, b"<p>", referer);
    o.extend_from_slice(b"</body>\n");
    o
}

/// The `CGI Response` page.
pub fn response_page(m: &[u8], referer: &Option<Vec<u8>>) -> Vec<u8> {
    let mut o = Vec::new();
    content_type(&mut o, "text/html");
    o.extend_from_slice(
        b"<html><head>\n<title>CGI Response</title></head>\n<body>\n\
          <p align=center><h1>CGI Response</h1></p><hr>\n<p>",
    );
    o.extend_from_slice(m);
    o.extend_from_slice(b"</p>\n");
    back(&mut o, b"<p>", referer);
    o.extend_from_slice(b"</body>\n");
    o
}

/// A running CGI: its form, the daemon socket, the owner's domain and password.
struct Cgi<'a> {
    form: Form,
    env: &'a Env,
    socket: PathBuf,
    vdomain: Vec<u8>,
    password: Vec<u8>,
}

/// The end of a run (the original's `success()` / `error()` exits).
type Done = Output;

impl Cgi<'_> {
    fn finish(&self, redirect_field: &str, page: Vec<u8>, code: i32) -> Done {
        let stdout = match self.form.get(redirect_field).filter(|u| !u.is_empty()) {
            Some(url) => [b"Location: ", url, b"\r\n\r\n"].concat(),
            None => page,
        };
        Output { stdout, code }
    }
    fn error(&self, m: &[u8]) -> Done {
        self.finish("error_redirect", error_page(m, &self.env.referer), 1)
    }
    fn success(&self, m: &str) -> Done {
        self.finish(
            "redirect",
            response_page(m.as_bytes(), &self.env.referer),
            0,
        )
    }
    /// `CGI_INPUT`: the field, or the error page.
    fn input(&self, name: &str) -> Result<Vec<u8>, Done> {
        if !self.form.exists(name) {
            return Err(self.error(format!("The input field '{name}' must be defined").as_bytes()));
        }
        Ok(self.form.value(name))
    }
    fn call(&self, cmd: &str, rest: &[&[u8]]) -> Response {
        let mut args: Vec<&[u8]> = vec![&self.vdomain];
        args.extend_from_slice(rest);
        client::call(&self.socket, cmd, &args)
    }
    /// A call whose failure is the error page.
    fn must(&self, cmd: &str, rest: &[&[u8]]) -> Result<(), Done> {
        let r = self.call(cmd, rest);
        if r.is_ok() {
            Ok(())
        } else {
            Err(self.error(&r.msg))
        }
    }
}

/// The comma-separated destinations.
fn dests(v: &[u8]) -> Vec<&[u8]> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split(|&b| b == b',').collect()
}

/// Run the CGI called `name`.
pub fn run(name: &str, env: &Env) -> Output {
    let post = matches!(env.method.as_deref(), Some("POST" | "post"));
    if !post || env.content_type.as_deref() == Some("multipart/form-data") {
        return Output {
            stdout: error_page(msg::NOT_POST.as_bytes(), &env.referer),
            code: 0,
        };
    }
    let form = parse_form(&env.body);
    let socket = PathBuf::from(
        String::from_utf8_lossy(&Config::global().string("socket-file")).into_owned(),
    );
    let cgi = Cgi {
        vdomain: form.value("vdomain"),
        password: form.value("password"),
        form,
        env,
        socket,
    };
    for f in ["vdomain", "password"] {
        if let Err(d) = cgi.input(f) {
            return d;
        }
    }
    let r = match name {
        "vpasswd" => vpasswd(&cgi),
        "vadduser" => vadduser(&cgi),
        "vaddalias" => vaddalias(&cgi),
        "vdeluser" => vdeluser(&cgi),
        "vchattr" => vchattr(&cgi),
        "vchforwards" => vchforwards(&cgi),
        _ => listvdomain(&cgi),
    };
    r.unwrap_or_else(|d| d)
}

fn vpasswd(c: &Cgi) -> Result<Done, Done> {
    let user = c.input("username")?.to_ascii_lowercase();
    let (p1, p2) = (c.input("newpass1")?, c.input("newpass2")?);
    if p1 != p2 {
        return Err(c.error(msg::MISMATCH.as_bytes()));
    }
    c.must("chattr", &[&user, &c.password, b"1", &p1])?;
    Ok(c.success(msg::PASSWORD))
}

fn vadduser(c: &Cgi) -> Result<Done, Done> {
    let user = c.input("username")?.to_ascii_lowercase();
    let (p1, p2) = (c.input("newpass1")?, c.input("newpass2")?);
    let mut dir = c.form.value("userdir");
    let dest = c.form.value("destination");
    if dir.is_empty() {
        dir = user.clone();
    }
    if p1 != p2 {
        return Err(c.error(msg::MISMATCH.as_bytes()));
    }
    let mut args: Vec<&[u8]> = vec![&user, &c.password, &p1, &dir, b"yes"];
    args.extend(dests(&dest));
    c.must("adduser3", &args)?;
    Ok(c.success(msg::ADDED_USER))
}

fn vaddalias(c: &Cgi) -> Result<Done, Done> {
    let user = c.input("username")?.to_ascii_lowercase();
    let (p1, p2) = (c.form.value("newpass1"), c.form.value("newpass2"));
    let dest = c.input("destination")?;
    if p1 != p2 {
        return Err(c.error(msg::MISMATCH.as_bytes()));
    }
    let mut args: Vec<&[u8]> = vec![&user, &c.password, &p1, b"", b""];
    args.extend(dests(&dest));
    c.must("adduser3", &args)?;
    Ok(c.success(msg::ADDED_ALIAS))
}

fn vdeluser(c: &Cgi) -> Result<Done, Done> {
    let user = c.input("username")?.to_ascii_lowercase();
    c.must("deluser", &[&user, &c.password])?;
    Ok(c.success(msg::DELETED))
}

fn vchattr(c: &Cgi) -> Result<Done, Done> {
    let user = c.input("username")?.to_ascii_lowercase();
    let attr = c.input("attribute")?;
    let value = c.input("newvalue")?;
    c.must("chattr", &[&user, &c.password, &attr, &value])?;
    Ok(c.success(msg::ATTRIBUTE))
}

/// Enable before changing the destinations, disable after (the original's order).
fn vchforwards(c: &Cgi) -> Result<Done, Done> {
    let user = c.input("username")?.to_ascii_lowercase();
    let dest = c.input("destination")?;
    let enable = c.form.value("enable");
    let disable = !enable.is_empty() && enable == b"0";
    if !enable.is_empty() && !disable {
        c.must("chattr", &[&user, &c.password, b"8", &enable])?;
    }
    let mut args: Vec<&[u8]> = vec![&user, &c.password, b"2"];
    let d = dests(&dest);
    if d.is_empty() {
        args.push(b"");
    }
    args.extend(d);
    c.must("chattr", &args)?;
    if disable {
        c.must("chattr", &[&user, &c.password, b"8", &enable])?;
    }
    Ok(c.success(msg::FORWARDS))
}

/// `%` in `userlink` becomes the user name.
fn subst(link: &[u8], name: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    for &b in link {
        if b == b'%' {
            o.extend_from_slice(name);
        } else {
            o.push(b);
        }
    }
    o
}

/// The listing page. Users appear in the reverse of the daemon's order:
/// the original sorts with a comparator that only tells "different",
/// which glibc's merge sort turns into a reversal.
fn listvdomain(c: &Cgi) -> Result<Done, Done> {
    let f = &c.form;
    let p_pre = [b"<p align=\"".as_slice(), &f.or("p-align", "left"), b"\">"].concat();
    let cell_pre = [
        b"<td align=\"".as_slice(),
        &f.or("cell-align", "left"),
        b"\">",
        &f.value("cell-pre"),
    ]
    .concat();
    let cell_post = [f.value("cell-post").as_slice(), b"</td>"].concat();
    let userlink = f.value("userlink");
    let (first, mut call) = Call::start(&c.socket, "listdomain", &[&c.vdomain, &c.password]);
    if !first.is_ok() {
        return Err(c.error(&first.msg));
    }
    let mut o = Vec::new();
    content_type(&mut o, "text/html");
    let vd = &c.vdomain;
    o.extend_from_slice(b"<html><head><title>Listing of Virtual Domain '");
    o.extend_from_slice(vd);
    o.extend_from_slice(b"'</title></head>\n<body ");
    o.extend_from_slice(&f.value("body-flags"));
    o.extend_from_slice(b">\n");
    o.extend_from_slice(&p_pre);
    o.extend_from_slice(&f.or("title-pre", "<h1>"));
    o.extend_from_slice(b"Listing of Virtual Domain '");
    o.extend_from_slice(vd);
    o.push(b'\'');
    o.extend_from_slice(&f.or("title-post", "</h1>"));
    o.extend_from_slice(b"</p><hr>\n");
    let mut users = Vec::new();
    let mut failure = None;
    loop {
        let r = call.read_next();
        if !r.is_ok() {
            failure = Some(r.msg);
            break;
        }
        if r.msg.is_empty() {
            break;
        }
        let nul = r.msg.iter().position(|&b| b == 0).unwrap_or(r.msg.len());
        let code = r.msg.get(nul + 1..).unwrap_or_default().to_vec();
        users.push((r.msg[..nul].to_vec(), code));
    }
    if users.is_empty() {
        o.extend_from_slice(&p_pre);
        o.extend_from_slice(b"This domain contains no users.</p>\n");
    } else if let Some(m) = failure {
        o.extend_from_slice(&p_pre);
        o.extend_from_slice(b"<samp>");
        o.extend_from_slice(&m);
        o.extend_from_slice(b"</samp></p>\n");
    } else {
        o.extend_from_slice(&p_pre);
        o.extend_from_slice(
            format!("This domain contains {} users:</p>\n", users.len()).as_bytes(),
        );
        o.extend_from_slice(b"<table border=1 align=\"");
        o.extend_from_slice(&f.or("table-align", "left"));
        o.extend_from_slice(
            b"\">\n<tr><td><u>Username</u></td><td><u>Mailbox</u></td><td><u>Forwards</u></td></tr>\n",
        );
        for (name, code) in users.iter().rev() {
            let (dir, forwards) = VpwEntry::parse(code)
                .map(|e| (e.directory, e.forwards))
                .unwrap_or_default();
            let cell = |o: &mut Vec<u8>, parts: &[&[u8]]| {
                o.extend_from_slice(&cell_pre);
                for p in parts {
                    o.extend_from_slice(p);
                }
                o.extend_from_slice(&cell_post);
            };
            o.extend_from_slice(b"<tr>");
            if userlink.is_empty() {
                cell(&mut o, &[name]);
            } else {
                let link = [b"<a href=\"".as_slice(), &subst(&userlink, name), b"\">"].concat();
                cell(&mut o, &[&link, name, b"</a>"]);
            }
            cell(&mut o, &[&dir]);
            for fw in &forwards {
                cell(&mut o, &[fw]);
            }
            o.extend_from_slice(b"</tr>\n");
        }
        o.extend_from_slice(b"</table>\n");
    }
    back(&mut o, &p_pre, &c.env.referer);
    o.extend_from_slice(b"</body>\n</html>\n");
    Ok(Output { stdout: o, code: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(f: &Form) -> Vec<(String, String)> {
        f.0.iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn form_decoding_quirks() {
        let f = parse_form(b"a=1+2&b=%41%42&flag&c=x=y&tail");
        assert_eq!(
            pairs(&f),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "AB".into()),
                ("flag".into(), "".into()),
                ("c".into(), "x=y".into()),
            ]
        );
        let f = parse_form(b"v=ab%00cd&w=%4");
        assert_eq!(f.get("v"), Some(&b"ab"[..]));
        assert!(!f.exists("w") || f.get("w") == Some(&b""[..]));
        assert_eq!(parse_form(b"x=%zz").get("x"), Some(&[0xffu8][..]));
        assert_eq!(parse_form(b"").0, vec![]);
        let f = parse_form(b"a=1&a=2");
        assert_eq!(f.get("a"), Some(&b"1"[..]));
    }

    #[test]
    fn refuses_get() {
        let o = run(
            "vpasswd",
            &Env {
                method: Some("GET".into()),
                ..Env::default()
            },
        );
        assert_eq!(o.code, 0);
        assert!(String::from_utf8_lossy(&o.stdout).contains(msg::NOT_POST));
    }
}
