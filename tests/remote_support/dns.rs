//! A tiny authoritative DNS responder on 127.0.0.1 for the qmail-remote
//! and rblsmtpd tests (pointed at with `QMAILRS_RESOLVER`, or on 127.0.0.1:53 inside a
//! network namespace).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

#[derive(Clone)]
pub enum Answer {
    Records(Vec<RData>),
    ServFail,
    /// Never answer (a timeout).
    Silent,
}

#[derive(Default)]
pub struct Zone {
    map: HashMap<(String, RecordType), Answer>,
    /// Names that exist (NODATA rather than NXDOMAIN for other types).
    names: Vec<String>,
    silent_all: bool,
}

impl Zone {
    pub fn silent() -> Self {
        Zone {
            silent_all: true,
            ..Zone::default()
        }
    }

    pub fn set(&mut self, name: &str, t: RecordType, a: Answer) -> &mut Self {
        self.names.push(name.to_string());
        self.map.insert((name.to_string(), t), a);
        self
    }

    pub fn mx(&mut self, name: &str, list: &[(u16, &str)]) -> &mut Self {
        let v = list
            .iter()
            .map(|(p, n)| RData::MX(MX::new(*p, Name::from_ascii(format!("{n}.")).unwrap())))
            .collect();
        self.set(name, RecordType::MX, Answer::Records(v))
    }

    pub fn a(&mut self, name: &str, ips: &[&str]) -> &mut Self {
        let v = ips
            .iter()
            .map(|i| RData::A(A(i.parse().unwrap())))
            .collect();
        self.set(name, RecordType::A, Answer::Records(v))
    }

    pub fn txt(&mut self, name: &str, strings: &[&str]) -> &mut Self {
        let v = vec![RData::TXT(TXT::new(
            strings.iter().map(|s| s.to_string()).collect(),
        ))];
        self.set(name, RecordType::TXT, Answer::Records(v))
    }

    pub fn cname(&mut self, name: &str, target: &str) -> &mut Self {
        let v = vec![RData::CNAME(CNAME(
            Name::from_ascii(format!("{target}.")).unwrap(),
        ))];
        self.set(name, RecordType::CNAME, Answer::Records(v))
    }
}

/// Start answering on 127.0.0.1, any port; returns `127.0.0.1:PORT` and
/// the log of questions.
pub fn start(zone: Zone) -> (String, Arc<Mutex<Vec<String>>>) {
    let s = Server::start_on("127.0.0.1:0");
    s.set(zone);
    (s.addr.clone(), s.log.clone())
}

/// A responder whose zone can be replaced between lookups.
pub struct Server {
    pub addr: String,
    zone: Arc<Mutex<Zone>>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Answer on `addr` (e.g. `127.0.0.1:53` inside a namespace).
    pub fn start_on(addr: &str) -> Self {
        let sock = UdpSocket::bind(addr).unwrap();
        let addr = sock.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let zone = Arc::new(Mutex::new(Zone::default()));
        let (log2, zone2) = (log.clone(), zone.clone());
        std::thread::spawn(move || serve(&sock, &zone2, &log2));
        Server { addr, zone, log }
    }

    /// Replace the zone and clear the log.
    pub fn set(&self, zone: Zone) {
        *self.zone.lock().unwrap() = zone;
        self.log.lock().unwrap().clear();
    }

    /// The questions asked since the last `set`.
    pub fn questions(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(sock: &UdpSocket, zone: &Mutex<Zone>, log: &Mutex<Vec<String>>) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            return;
        };
        let Ok(q) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let Some(query) = q.queries.first().cloned() else {
            continue;
        };
        let name = query
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let t = query.query_type();
        log.lock().unwrap().push(format!("{name} {t}"));
        let zone = zone.lock().unwrap();
        if zone.silent_all {
            continue;
        }
        let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
        r.metadata.recursion_desired = true;
        r.metadata.recursion_available = true;
        r.metadata.authoritative = true;
        r.add_query(query.clone());
        match zone.map.get(&(name.clone(), t)) {
            Some(Answer::Silent) => continue,
            Some(Answer::ServFail) => r.metadata.response_code = ResponseCode::ServFail,
            Some(Answer::Records(v)) => {
                for d in v {
                    r.answers
                        .push(Record::from_rdata(query.name().clone(), 60, d.clone()));
                }
            }
            None if zone.names.contains(&name) => {}
            None => r.metadata.response_code = ResponseCode::NXDomain,
        }
        drop(zone);
        if let Ok(bytes) = r.to_vec() {
            let _ = sock.send_to(&bytes, from);
        }
    }
}
