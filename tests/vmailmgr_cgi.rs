//! The vmailmgr CGIs run as a web server runs them (REQUEST_METHOD,
//! CONTENT_TYPE, the POST body on stdin, HTTP_REFERER) against our
//! vmailmgrd, which a small UNIX-socket server in the test starts per
//! connection as unixserver does. Pages are compared byte for byte with
//! the original's templates (`cgi/cgi-base.cc`, `cgi/listvdomain.cc`).

mod vmailmgr_support;

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use vmailmgr_support::bin;

/// The shared site (the caller owns the domain), a vmailmgrd socket and a
/// cgi-bin directory.
struct Site {
    s: vmailmgr_support::Site,
}

impl std::ops::Deref for Site {
    type Target = vmailmgr_support::Site;
    fn deref(&self) -> &Self::Target {
        &self.s
    }
}

impl Site {
    fn new(with_daemon: bool) -> Site {
        let s = Site {
            s: vmailmgr_support::Site::caller(),
        };
        s.etc("passwd", &s.etc_passwd_line("x"));
        s.etc("shadow", "vmtest:$0$secret:1::::::\n");
        s.control("virtualdomains", "example.com:vmtest\n");
        let sock = s.dir().join("vmailmgrd.sock");
        s.conf("socket-file", &format!("{}\n", sock.display()));
        let cgi = s.dir().join("cgi-bin");
        std::fs::create_dir(&cgi).unwrap();
        for n in qmail::vmailmgr::cgi::NAMES {
            std::os::unix::fs::symlink(bin("vmailmgr-cgi"), cgi.join(n)).unwrap();
        }
        if with_daemon {
            s.serve(sock);
        }
        s
    }

    /// unixserver: one vmailmgrd per connection, stdin/stdout = the socket.
    fn serve(&self, sock: PathBuf) {
        let l = UnixListener::bind(sock).unwrap();
        let (root, home) = (self.root.clone(), self.home.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { return };
                let out = c.try_clone().unwrap();
                let mut child = Command::new(bin("vmailmgrd"))
                    .env_clear()
                    .env("QMAILRS_ROOT", &root)
                    .env("QMAILRS_SINGLE_USER", "1")
                    .env("HOME", &home)
                    .stdin(Stdio::from(std::os::fd::OwnedFd::from(c)))
                    .stdout(Stdio::from(std::os::fd::OwnedFd::from(out)))
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let _ = child.wait();
            }
        });
    }

    fn tool(&self, prog: &str, args: &[&str]) -> String {
        self.owner(prog, args, b"").out
    }

    fn cgi_env(&self, name: &str, method: &str, body: &str, env: &[(&str, &str)]) -> (String, i32) {
        let mut c = Command::new(self.dir().join("cgi-bin").join(name));
        c.env_clear()
            .env("QMAILRS_ROOT", &self.root)
            .env("REQUEST_METHOD", method)
            .env("CONTENT_TYPE", "application/x-www-form-urlencoded")
            .env("CONTENT_LENGTH", body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            o.status.code().unwrap_or(-1),
        )
    }

    fn cgi(&self, name: &str, body: &str) -> (String, i32) {
        self.cgi_env(name, "POST", body, &[])
    }
}

fn ok_page(m: &str) -> String {
    format!(
        "Content-Type: text/html\r\n\r\n<html><head>\n<title>CGI Response</title></head>\n<body>\n\
         <p align=center><h1>CGI Response</h1></p><hr>\n<p>{m}</p>\n</body>\n"
    )
}

fn error_page(m: &str) -> String {
    format!(
        "Content-Type: text/html\r\n\r\n<html><head>\n<title>CGI Error</title></head>\n<body>\n\
         <p align=center><h1>CGI Error</h1></p><hr>\n\
         <p>The following error occurred while trying to process your request:\r\n<pre>\r\n{m}\r\n</pre></p>\r\n</body>\n"
    )
}

const AUTH: &str = "vdomain=example.com&password=secret";

#[test]
fn cgis_manage_a_domain_through_vmailmgrd() {
    let s = Site::new(true);
    s.tool("vsetup", &[]);
    let r = s.cgi(
        "vadduser",
        &format!("{AUTH}&username=Alice&newpass1=pw+1&newpass2=pw+1&destination=a%40x.example,b%40y.example"),
    );
    assert_eq!(r, (ok_page("The user was succesfully added."), 0));
    let d = s.tool("dumpvuser", &["alice"]);
    assert!(d.contains("Directory: ./users/alice\n"), "{d}");
    assert!(
        d.contains("Forward: a@x.example\nForward: b@y.example\n"),
        "{d}"
    );
    assert!(d.contains("Has-Mailbox: true\n"), "{d}");
    assert!(s.home.join("users/alice/new").is_dir());

    let r = s.cgi(
        "vpasswd",
        &format!("{AUTH}&username=alice&newpass1=a&newpass2=b"),
    );
    assert_eq!(r, (error_page("The passwords you entered do not match"), 1));
    let r = s.cgi(
        "vpasswd",
        &format!("{AUTH}&username=ALICE&newpass1=new&newpass2=new"),
    );
    assert_eq!(r, (ok_page("The password was succesfully changed."), 0));
    let hash = s.tool("dumpvuser", &["alice"]);
    let hash = hash
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("Encrypted-Password: ");
    assert!(qmail::crypt::verify(b"new", hash.as_bytes()));

    let r = s.cgi(
        "vaddalias",
        &format!("{AUTH}&username=info&destination=alice"),
    );
    assert_eq!(r, (ok_page("The alias was succesfully added."), 0));
    assert!(s
        .tool("dumpvuser", &["info"])
        .contains("Has-Mailbox: false\nMailbox-Enabled: true\n"));

    let r = s.cgi(
        "vchattr",
        &format!("{AUTH}&username=alice&attribute=3&newvalue=1000"),
    );
    assert_eq!(r, (ok_page("The attribute was succesfully changed."), 0));
    assert!(s
        .tool("dumpvuser", &["alice"])
        .contains("Hard-Quota: 1000\n"));
    let r = s.cgi(
        "vchattr",
        &format!("{AUTH}&username=alice&attribute=3&newvalue=x"),
    );
    assert_eq!(r, (error_page("Invalid number"), 1));

    let r = s.cgi(
        "vchforwards",
        &format!("{AUTH}&username=alice&destination=c%40z.example&enable=0"),
    );
    assert_eq!(r, (ok_page("The alias was succesfully changed."), 0));
    let d = s.tool("dumpvuser", &["alice"]);
    assert!(d.contains("Forward: c@z.example\nHard"), "{d}");
    assert!(d.contains("Mailbox-Enabled: false\n"), "{d}");
    let r = s.cgi(
        "vchforwards",
        &format!("{AUTH}&username=alice&destination=&enable=1"),
    );
    assert_eq!(r.1, 0);
    let d = s.tool("dumpvuser", &["alice"]);
    assert!(
        !d.contains("Forward:") && d.contains("Mailbox-Enabled: true\n"),
        "{d}"
    );

    // The listing: the original's order (reverse of the table's), its layout fields.
    let r = s.cgi(
        "listvdomain",
        &format!("{AUTH}&cell-align=center&userlink=edit%3Fu%3D%25"),
    );
    assert_eq!(r.1, 0);
    let order: Vec<String> = s
        .tool("listvdomain", &[])
        .lines()
        .skip(1)
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let mut rows = String::new();
    for name in order.iter().rev() {
        let d = s.tool("dumpvuser", &[name]);
        let dir = d.lines().nth(2).unwrap().trim_start_matches("Directory: ");
        rows += &format!(
            "<tr><td align=\"center\"><a href=\"edit?u={name}\">{name}</a></td><td align=\"center\">{dir}</td>"
        );
        for f in d.lines().filter_map(|l| l.strip_prefix("Forward: ")) {
            rows += &format!("<td align=\"center\">{f}</td>");
        }
        rows += "</tr>\n";
    }
    let want = format!(
        "Content-Type: text/html\r\n\r\n<html><head><title>Listing of Virtual Domain 'example.com'</title></head>\n\
         <body >\n<p align=\"left\"><h1>Listing of Virtual Domain 'example.com'</h1></p><hr>\n\
         <p align=\"left\">This domain contains {} users:</p>\n<table border=1 align=\"left\">\n\
         <tr><td><u>Username</u></td><td><u>Mailbox</u></td><td><u>Forwards</u></td></tr>\n{rows}</table>\n\
         </body>\n</html>\n",
        order.len()
    );
    assert_eq!(r.0, want);

    let r = s.cgi("vdeluser", &format!("{AUTH}&username=info"));
    assert_eq!(r, (ok_page("The user was succesfully deleted."), 0));
    let r = s.cgi("vdeluser", &format!("{AUTH}&username=info"));
    assert_eq!(r, (error_page("Invalid or unknown virtual user"), 1));
}

#[test]
fn cgi_refusals_redirects_and_back_links() {
    let s = Site::new(true);
    s.tool("vsetup", &[]);
    // Only POST; the refusal exits 0 as the original's main() does.
    let r = s.cgi_env("vdeluser", "GET", "", &[("QUERY_STRING", "vdomain=x")]);
    assert_eq!(r, (error_page("Must be accessed via a CGI 'POST' form"), 0));
    let r = s.cgi("vdeluser", "password=secret");
    assert_eq!(
        r,
        (error_page("The input field 'vdomain' must be defined"), 1)
    );
    let r = s.cgi("vdeluser", "vdomain=example.com");
    assert_eq!(
        r,
        (error_page("The input field 'password' must be defined"), 1)
    );
    let r = s.cgi("vchattr", &format!("{AUTH}&username=root&attribute=3"));
    assert_eq!(
        r,
        (error_page("The input field 'newvalue' must be defined"), 1)
    );
    let r = s.cgi(
        "vdeluser",
        "vdomain=example.com&password=wrong&username=root",
    );
    assert_eq!(r, (error_page("Incorrect password"), 1));
    let r = s.cgi(
        "vdeluser",
        "vdomain=nowhere.example&password=x&username=root",
    );
    assert_eq!(
        r,
        (
            error_page("Invalid or unknown domain name: nowhere.example"),
            1
        )
    );
    let r = s.cgi(
        "vdeluser",
        "vdomain=example.com&password=wrong&username=root&error_redirect=/err.html&redirect=/ok.html",
    );
    assert_eq!(r, ("Location: /err.html\r\n\r\n".to_string(), 1));
    let r = s.cgi(
        "vdeluser",
        &format!("{AUTH}&username=root&error_redirect=/err.html&redirect=/ok.html"),
    );
    assert_eq!(r, ("Location: /ok.html\r\n\r\n".to_string(), 0));
    let r = s.cgi_env(
        "vdeluser",
        "POST",
        &format!("{AUTH}&username=postmaster"),
        &[("HTTP_REFERER", "http://panel/")],
    );
    let back = ok_page("The user was succesfully deleted.").replace(
        "</body>\n",
        "<p><a href=\"http://panel/\">Back</a></p>\n</body>\n",
    );
    assert_eq!(r, (back, 0));
    // No daemon listening.
    let quiet = Site::new(false);
    let r = quiet.cgi("vdeluser", &format!("{AUTH}&username=root"));
    assert_eq!(r, (error_page("Unable to connect to the server"), 1));
    // Unknown program name.
    let o = Command::new(bin("vmailmgr-cgi")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn empty_listing() {
    let s = Site::new(true);
    std::fs::write(
        s.home.join("passwd.cdb"),
        qmail::cdb::Writer::new().finish().unwrap(),
    )
    .unwrap();
    let r = s.cgi(
        "listvdomain",
        &format!("{AUTH}&p-align=center&title-pre=<b>&title-post=</b>"),
    );
    assert_eq!(r.1, 0);
    assert!(
        r.0.contains("<p align=\"center\"><b>Listing of Virtual Domain 'example.com'</b></p><hr>\n<p align=\"center\">This domain contains no users.</p>\n</body>\n</html>\n"),
        "{}",
        r.0
    );
}
