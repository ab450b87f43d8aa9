//! The client side of vmailmgrd's protocol 2 (`server_call` of the
//! original; `shared/spec/vmailmgr/vmailmgrd.md` §2): connect to the
//! UNIX socket, send one request, read responses.
//!
//! Failures are answered as responses with the original's texts, so a
//! caller shows them like any daemon refusal.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::daemon::{write_request, Request};
use super::domain::{Code, Response};

/// The original's client-side messages, kept once.
pub mod msg {
    pub const BAD_DATA: &str = "Invalid command data";
    pub const NO_CONNECT: &str = "Unable to connect to the server";
    pub const ABORTED: &str = "Server aborted the connection";
    pub const EOF: &str = "Sender aborted the data connection";
    pub const INVALID: &str = "Invalid data received from sender";
}

/// An open call: the first response was read; more may follow.
pub struct Call {
    stream: Option<UnixStream>,
}

impl Call {
    /// Connect to `socket`, send `command args...`, return the first
    /// response and the connection for further ones.
    pub fn start(socket: &Path, command: &str, args: &[&[u8]]) -> (Response, Call) {
        let none = |m: &str| (Response::err(m), Call { stream: None });
        if args.len() >= 256 || args.iter().any(|a| a.len() >= 1 << 16) {
            return none(msg::BAD_DATA);
        }
        let req = Request {
            command: command.as_bytes().to_vec(),
            args: args.iter().map(|a| a.to_vec()).collect(),
        };
        let mut bytes = Vec::new();
        write_request(&req, &mut bytes);
        if bytes.len() > 3 + usize::from(u16::MAX) {
            return none(msg::BAD_DATA);
        }
        let Ok(mut s) = UnixStream::connect(socket) else {
            return none(msg::NO_CONNECT);
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        if s.write_all(&bytes).is_err() {
            return none(msg::ABORTED);
        }
        let mut call = Call { stream: Some(s) };
        let first = call.read_next();
        (first, call)
    }

    /// Read the next response.
    pub fn read_next(&mut self) -> Response {
        let Some(s) = self.stream.as_mut() else {
            return Response::err(msg::EOF);
        };
        let mut head = [0u8; 1];
        if s.read_exact(&mut head).is_err() {
            return Response::err(msg::EOF);
        }
        let mut len = [0u8; 2];
        let mut body = Vec::new();
        if s.read_exact(&mut len).is_ok() {
            let n = usize::from(u16::from_be_bytes(len));
            body = vec![0u8; n];
            if s.read_exact(&mut body).is_err() {
                body.clear();
            }
        }
        let code = match head[0] {
            0 => Code::Ok,
            1 => Code::Bad,
            2 => Code::Err,
            _ => return Response::err(msg::INVALID),
        };
        Response { code, msg: body }
    }
}

/// One call, first response only.
pub fn call(socket: &Path, command: &str, args: &[&[u8]]) -> Response {
    Call::start(socket, command, args).0
}
