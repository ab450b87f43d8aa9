//! qreceipt — respond to delivery notice requests.
//!
//! # Invocation
//! In a `.qmail` file: `|qreceipt youraddress`. If a
//! `Notice-Requested-Upon-Delivery-To:` field lists `youraddress`
//! (exactly, after unquoting) and `$SENDER` is neither empty nor `#@[]`,
//! queues a success notice from `<>` to the sender (its Message-ID field
//! quoted back). The notice is queued when the header ends; the body is
//! then read and ignored.
//!
//! # Security
//! Runs as the mailbox owner; injects through qmail-queue.
//!
//! # Exit codes
//! 0 (also when no notice is due); 100: `qreceipt: usage: qreceipt
//! deliveryaddress` (no address or no SENDER), `qreceipt: fatal: unable to
//! parse this: FIELD`, `... permanent qmail-queue error`; 111: `... unable
//! to fork`, `... temporary qmail-queue error`, `... read error`.

use std::io::{self, BufReader, Write};
use std::os::unix::ffi::OsStrExt;

use qmail::envelope::Envelope;
use qmail::inject::header::Field;
use qmail::inject::token;
use qmail::local::headerbody::{headerbody, Parts};
use qmail::queue::client::Injection;
use qmail::quote::quote2;

fn die(code: i32, msg: &[u8]) -> ! {
    let mut e = io::stderr();
    let _ = e.write_all(msg);
    let _ = e.flush();
    std::process::exit(code)
}

struct Receipt {
    target: Vec<u8>,
    sender: Vec<u8>,
    wanted: bool,
    message_id: Option<Vec<u8>>,
}

impl Receipt {
    fn notice(&self) -> Vec<u8> {
        let q = quote2(&self.sender);
        let mut m = Vec::new();
        m.extend_from_slice(b"From: DELIVERY NOTICE SYSTEM <");
        m.extend_from_slice(&q);
        m.extend_from_slice(b">\nTo: <");
        m.extend_from_slice(&q);
        m.extend_from_slice(
            b">\nSubject: success notice\n\nHi! This is the qreceipt program. \
Your message was delivered to the\nfollowing address: ",
        );
        m.extend_from_slice(&self.target);
        m.extend_from_slice(b". Thanks for asking.\n");
        if let Some(id) = &self.message_id {
            m.extend_from_slice(b"Your ");
            m.extend_from_slice(id);
        }
        m
    }
}

impl Parts for Receipt {
    fn field(&mut self, h: &[u8]) {
        match Field::known(h) {
            Some(Field::MessageId) => self.message_id = Some(h.to_vec()),
            Some(Field::NoticeRequestedUponDeliveryTo) => {
                let bad = || {
                    die(
                        100,
                        &[&b"qreceipt: fatal: unable to parse this: "[..], h].concat(),
                    )
                };
                let Some(tokens) = token::parse(h) else { bad() };
                let target = self.target.clone();
                let mut found = false;
                let r = token::addrlist(&tokens, &mut |addr| {
                    let mut a = addr.clone();
                    a.reverse();
                    if token::unquote(&a) == target {
                        found = true;
                    }
                });
                if r.is_none() {
                    bad();
                }
                self.wanted |= found;
            }
            _ => {}
        }
    }

    fn done(&mut self) {
        if !self.wanted || self.sender.is_empty() || self.sender == b"#@[]" {
            std::process::exit(0);
        }
        let Ok(mut qq) = Injection::open() else {
            die(111, b"qreceipt: fatal: unable to fork\n")
        };
        qq.put(&self.notice());
        let env = Envelope {
            sender: Vec::new(),
            recipients: vec![self.sender.clone()],
        };
        match qq.close(&env) {
            Ok(()) => {}
            Err(e) if e.permanent => die(100, b"qreceipt: fatal: permanent qmail-queue error\n"),
            Err(_) => die(111, b"qreceipt: fatal: temporary qmail-queue error\n"),
        }
    }

    fn body(&mut self, _line: &[u8]) {}
}

fn main() {
    let usage = || die(100, b"qreceipt: usage: qreceipt deliveryaddress\n");
    let Some(target) = std::env::args_os().nth(1) else {
        usage()
    };
    let Some(sender) = std::env::var_os("SENDER") else {
        usage()
    };
    let mut r = Receipt {
        target: target.as_bytes().to_vec(),
        sender: sender.as_bytes().to_vec(),
        wanted: false,
        message_id: None,
    };
    if headerbody(&mut BufReader::new(io::stdin()), &mut r).is_err() {
        die(111, b"qreceipt: fatal: read error\n");
    }
}
