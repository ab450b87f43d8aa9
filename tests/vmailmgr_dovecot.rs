//! checkvpw as Dovecot's checkpassword passdb, with the real Debian Dovecot
//! (`/usr/sbin/dovecot`, packages dovecot-imapd and dovecot-pop3d, installed
//! by scripts/ci-deps): a Dovecot instance in a temporary directory on
//! 127.0.0.1, `passdb { driver = checkpassword; args = checkvpw }`,
//! `userdb { driver = prefetch }`; a virtual user made with vsetup and
//! vadduser logs in over IMAP and POP3, sees the message in its virtual
//! maildir; a wrong password, an unknown user and (after vpasswd) the old
//! password are refused.
//!
//! As root (CI) the domain owner is the `qmaild` system user and checkvpw
//! really switches to it; Dovecot's checkpassword-reply then needs
//! `INSECURE_SETUID=1` (Dovecot's documented setting for checkpassword
//! programs that setuid, as every vmailmgr site has). As an ordinary user
//! everything runs as that user (single-user mode, no chroot).

mod vmailmgr_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vmailmgr_support::bin;

const DOVECOT: &str = "/usr/sbin/dovecot";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Who runs Dovecot: its internal user, group, login user.
struct Ids {
    internal: String,
    group: String,
    login: String,
    root: bool,
}

fn ids() -> Ids {
    use nix::unistd::{Group, User};
    if nix::unistd::geteuid().is_root() {
        let dovecot_group = Group::from_name("dovecot")
            .unwrap()
            .expect("group dovecot (dovecot-core package) is missing");
        return Ids {
            internal: "dovecot".into(),
            group: dovecot_group.name,
            login: "dovenull".into(),
            root: true,
        };
    }
    let me = User::from_uid(nix::unistd::getuid())
        .unwrap()
        .expect("Dovecot needs the current uid to have a passwd entry (its internal user)");
    let g = Group::from_gid(nix::unistd::getgid())
        .unwrap()
        .expect("Dovecot needs the current gid to have a group entry");
    Ids {
        internal: me.name.clone(),
        group: g.name,
        login: me.name,
        root: false,
    }
}

/// The shared site (owner `qmaild` as root) and Dovecot's users.
struct Site {
    s: vmailmgr_support::Site,
    ids: Ids,
}

impl std::ops::Deref for Site {
    type Target = vmailmgr_support::Site;
    fn deref(&self) -> &Self::Target {
        &self.s
    }
}

impl Site {
    fn new() -> Site {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} is missing: install dovecot-imapd and dovecot-pop3d (scripts/ci-deps)"
        );
        Site {
            s: vmailmgr_support::Site::new(),
            ids: ids(),
        }
    }

    /// A domain owner's tool, as the owner; it must succeed.
    fn owner(&self, prog: &str, args: &[&str], stdin: &str) -> String {
        let o = self.s.owner(prog, args, stdin.as_bytes());
        assert_eq!(o.code, 0, "{prog}: {}", o.err);
        o.out
    }

    fn dovecot(&self, imap: u16, pop3: u16) -> Child {
        let d = self.dir();
        let i = &self.ids;
        let auth_user = if i.root { "root" } else { i.internal.as_str() };
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = imap pop3\nlisten = 127.0.0.1\nssl = no\n\
             disable_plaintext_auth = no\nauth_verbose = yes\nauth_failure_delay = 0\n\
             import_environment = QMAILRS_ROOT QMAILRS_SINGLE_USER TZ INSECURE_SETUID=1\n\
             default_internal_user = {}\ndefault_internal_group = {}\ndefault_login_user = {}\n\
             first_valid_uid = 1\nmail_location = maildir:~/users/%{{auth_username}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = {imap}\n  }}\n}}\n\
             service pop3-login {{\n  chroot =\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             service auth {{\n  user = {auth_user}\n}}\n\
             passdb {{\n  driver = checkpassword\n  args = {}\n}}\n\
             userdb {{\n  driver = prefetch\n}}\n",
            i.internal,
            i.group,
            i.login,
            bin("checkvpw").display(),
            d = d.display(),
        );
        let path = d.join("dovecot.conf");
        std::fs::write(&path, conf).unwrap();
        let mut c = Command::new(DOVECOT);
        c.arg("-F")
            .arg("-c")
            .arg(&path)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILRS_ROOT", &self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !i.root {
            c.env("QMAILRS_SINGLE_USER", "1");
        }
        let child = c.spawn().expect("start dovecot");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", imap)).is_err()
            || TcpStream::connect(("127.0.0.1", pop3)).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start (running as {}): {}",
                if i.root { "root" } else { "an ordinary user" },
                std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("dovecot.log")).unwrap_or_default()
    }
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    /// Connect from 127.0.0.`from`: Dovecot's failed-login penalty is per
    /// client address, so each refusal gets a fresh one.
    fn open_from(port: u16, from: u8) -> Conn {
        use nix::sys::socket::{
            bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn,
        };
        let fd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        use std::os::fd::AsRawFd;
        bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, from, 0)).unwrap();
        connect(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port)).unwrap();
        Conn::wrap(TcpStream::from(fd))
    }

    fn wrap(s: TcpStream) -> Conn {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        c.line();
        c
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l
    }
    fn send(&mut self, l: &str) {
        self.w.write_all(format!("{l}\r\n").as_bytes()).unwrap();
    }
    /// Send an IMAP command; the untagged lines and the tagged reply.
    fn imap(&mut self, tag: &str, cmd: &str) -> (Vec<String>, String) {
        self.send(&format!("{tag} {cmd}"));
        let mut untagged = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "connection closed after {cmd}");
            if l.starts_with(&format!("{tag} ")) {
                return (untagged, l);
            }
            untagged.push(l);
        }
    }
}

fn imap_login(port: u16, from: u8, user: &str, pass: &str) -> (Conn, String) {
    let mut c = Conn::open_from(port, from);
    let (_, r) = c.imap("a", &format!("LOGIN \"{user}\" \"{pass}\""));
    (c, r)
}

fn pop3_login(port: u16, from: u8, user: &str, pass: &str) -> (Conn, String) {
    let mut c = Conn::open_from(port, from);
    c.send(&format!("USER {user}"));
    c.line();
    c.send(&format!("PASS {pass}"));
    let r = c.line();
    (c, r)
}

#[test]
fn checkvpw_is_dovecots_checkpassword_passdb() {
    let s = Site::new();
    s.owner("vsetup", &[], "");
    s.owner("vadduser", &["alice"], "alicepw\n");
    s.owner("vaddalias", &["info", "alice"], "");
    let msg = s.home.join("users/alice/new/1700000000.1.test");
    std::fs::write(&msg, "From: a@b\nSubject: hi\n\nhello\n").unwrap();
    nix::unistd::chown(
        &msg,
        Some(nix::unistd::Uid::from_raw(s.uid)),
        Some(nix::unistd::Gid::from_raw(s.gid)),
    )
    .unwrap_or(());
    let (imap, pop3) = (free_port(), free_port());
    let mut dovecot = s.dovecot(imap, pop3);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (mut c, r) = imap_login(imap, 1, "alice@example.com", "alicepw");
        assert!(r.starts_with("a OK"), "IMAP login: {r}\n{}", s.log());
        let (untagged, r) = c.imap("b", "SELECT INBOX");
        assert!(r.starts_with("b OK"), "{r}");
        assert!(
            untagged.iter().any(|l| l == "* 1 EXISTS\r\n"),
            "{untagged:?}"
        );
        c.imap("c", "LOGOUT");

        let (mut p, r) = pop3_login(pop3, 1, "alice@example.com", "alicepw");
        assert!(r.starts_with("+OK"), "POP3 login: {r}\n{}", s.log());
        p.send("STAT");
        assert!(p.line().starts_with("+OK 1 "));
        p.send("QUIT");

        for (n, (user, pass)) in [
            ("alice@example.com", "wrong"),
            ("alice@example.com", ""),
            ("nobody@example.com", "alicepw"),
            ("info@example.com", "x"),
            ("alice@unknown.example", "alicepw"),
        ]
        .into_iter()
        .enumerate()
        {
            let (_, r) = imap_login(imap, 10 + n as u8, user, pass);
            assert!(r.starts_with("a NO"), "{user}/{pass}: {r}");
        }
        let (_, r) = pop3_login(pop3, 20, "alice@example.com", "wrong");
        assert!(r.starts_with("-ERR"), "{r}");

        s.owner("vpasswd", &["alice"], "newpw\n");
        let (_, r) = imap_login(imap, 21, "alice@example.com", "alicepw");
        assert!(r.starts_with("a NO"), "old password: {r}");
        let (_, r) = imap_login(imap, 1, "alice@example.com", "newpw");
        assert!(r.starts_with("a OK"), "new password: {r}");
    }));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dovecot.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = dovecot.wait();
    if let Err(e) = result {
        eprintln!("dovecot.log:\n{}", s.log());
        std::panic::resume_unwind(e);
    }
}
