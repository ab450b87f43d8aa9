//! The hoster variant's switches (README.md "0.96.8 and the hoster
//! variant"; Hetzner's Debian package): `/etc/vmailmgr/passwd-mode`
//! (passwd.cdb written 0640) and `/etc/vmailmgr/setgid-group` (checkvpw
//! and vmailmgrd take group `mail`; `Bad group <name>` if it is missing).
//! Unset, everything is upstream's (0600, the owner's group).

mod vmailmgr_support;

use vmailmgr_support::{mode, Site};

#[test]
fn passwd_mode_switch() {
    let s = Site::new();
    s.ok("vadduser", &["--password", "$0$pw", "alice"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o600);
    s.conf("passwd-mode", "0640\n");
    s.ok("vadduser", &["--password", "$0$pw", "bob"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o640);
    s.ok("vchattr", &["-Q", "1000", "bob"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o640);
    s.conf("passwd-mode", "rw-r-----\n");
    s.ok("vdeluser", &["bob"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o600);
}

#[test]
fn setgid_group_switch() {
    let s = Site::new();
    s.ok("vadduser", &["--password", "$0$alicepw", "alice"]);
    s.hook(
        "checkvpw-error",
        "#!/bin/sh\necho \"error: $CHECKVPW_ERROR\"\n",
    );
    let data = b"alice@example.com\0alicepw\0";
    let (out, code) = s.login(data, &["/bin/sh", "-c", "id -g", "maildir"]).pair();
    assert_eq!((out, code), (format!("{}\n", s.gid), 0));

    s.conf("setgid-group", "nosuch-group-xyz\n");
    let (out, code) = s.login(data, &["/bin/sh", "-c", "id -g", "maildir"]).pair();
    assert_eq!(
        (out.as_str(), code),
        ("error: Bad group nosuch-group-xyz\n", 111)
    );
    // vmailmgrd refuses the same way.
    let mut req = Vec::new();
    qmail::vmailmgr::daemon::write_request(
        &qmail::vmailmgr::daemon::Request {
            command: b"check".to_vec(),
            args: vec![
                b"example.com".to_vec(),
                b"alice".to_vec(),
                b"alicepw".to_vec(),
            ],
        },
        &mut req,
    );
    let o = vmailmgr_support::run(s.cmd("vmailmgrd", &[]), &req);
    assert_eq!(&o.out.as_bytes()[3..], b"Bad group nosuch-group-xyz");
    assert_eq!(o.out.as_bytes()[0], 2);

    // The hoster's group: `mail` as root (a real switch), else our own group.
    let (name, want) = if s.root_run {
        let g = nix::unistd::Group::from_name("mail")
            .unwrap()
            .expect("group mail");
        ("mail".to_string(), g.gid.as_raw())
    } else {
        let g = nix::unistd::Group::from_gid(nix::unistd::getgid())
            .unwrap()
            .unwrap();
        (g.name, s.gid)
    };
    s.conf("setgid-group", &format!("{name}\n"));
    let (out, code) = s
        .login(data, &["/bin/sh", "-c", "id -g; id -G", "maildir"])
        .pair();
    assert_eq!((out, code), (format!("{want}\n{want}\n"), 0));
}
