//! qmail-send's log lines (`shared/spec/qmail/send.md` §6), kept in one
//! place. Each function returns one complete line, LF included.

/// `logsafe`: LF → `/`, then `%`, bytes < 33 and > 126 → `_`.
pub fn safe(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| match b {
            b'\n' => b'/',
            b'%' => b'_',
            b if !(33..=126).contains(&b) => b'_',
            b => b,
        })
        .collect()
}

fn line(parts: &[&[u8]]) -> Vec<u8> {
    let mut v: Vec<u8> = parts.concat();
    v.push(b'\n');
    v
}

/// `status: local L/LMAX remote R/RMAX[ exitasap]`.
pub fn status(used: [usize; 2], max: [usize; 2], exitasap: bool) -> Vec<u8> {
    let s = format!(
        "status: local {}/{} remote {}/{}{}",
        used[0],
        max[0],
        used[1],
        max[1],
        if exitasap { " exitasap" } else { "" }
    );
    line(&[s.as_bytes()])
}

pub fn exiting() -> Vec<u8> {
    line(&[b"status: exiting"])
}

pub fn new_msg(id: u64) -> Vec<u8> {
    line(&[format!("new msg {id}").as_bytes()])
}

pub fn info_msg(id: u64, size: u64, sender: &[u8], qp: &[u8], uid: &[u8]) -> Vec<u8> {
    line(&[
        format!("info msg {id}: bytes {size} from <").as_bytes(),
        &safe(sender),
        b"> qp ",
        &safe(qp),
        b" uid ",
        &safe(uid),
    ])
}

/// Channel names as they appear in the log.
pub const CHANNEL: [&str; 2] = ["local", "remote"];

pub fn starting(delid: u64, id: u64, chan: usize, recipient: &[u8]) -> Vec<u8> {
    line(&[
        format!("starting delivery {delid}: msg {id} to {} ", CHANNEL[chan]).as_bytes(),
        &safe(recipient),
    ])
}

/// What a report said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Deferral,
}

pub fn delivery(delid: u64, outcome: Outcome, text: &[u8]) -> Vec<u8> {
    let word = match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Deferral => "deferral",
    };
    line(&[
        format!("delivery {delid}: {word}: ").as_bytes(),
        &safe(text),
    ])
}

pub fn mangled(delid: u64) -> Vec<u8> {
    line(&[format!("delivery {delid}: report mangled, will defer").as_bytes()])
}

pub fn bounce_msg(id: u64, qp: u32) -> Vec<u8> {
    line(&[format!("bounce msg {id} qp {qp}").as_bytes()])
}

pub fn triple_bounce(id: u64) -> Vec<u8> {
    line(&[format!("triple bounce: discarding bounce/{id}").as_bytes()])
}

pub fn end_msg(id: u64) -> Vec<u8> {
    line(&[format!("end msg {id}").as_bytes()])
}

/// `warning: TEXT` / `alert: TEXT` lines with a queue-relative file name.
pub fn warning(text: &str) -> Vec<u8> {
    line(&[b"warning: ", text.as_bytes()])
}

pub fn alert(text: &str) -> Vec<u8> {
    line(&[b"alert: ", text.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_lines() {
        assert_eq!(
            info_msg(754985, 329, b"testuser@example.org", b"6009", b"1002"),
            b"info msg 754985: bytes 329 from <testuser@example.org> qp 6009 uid 1002\n"
        );
        assert_eq!(
            starting(4, 754985, 0, b"nosuchuser@oracle.example"),
            b"starting delivery 4: msg 754985 to local nosuchuser@oracle.example\n"
        );
        assert_eq!(
            delivery(
                4,
                Outcome::Failure,
                b"Sorry, no mailbox here by that name. (#5.1.1)\n"
            ),
            b"delivery 4: failure: Sorry,_no_mailbox_here_by_that_name._(#5.1.1)/\n"
        );
        assert_eq!(
            delivery(2, Outcome::Success, b"did 0+1+0\nqp 3417\n"),
            b"delivery 2: success: did_0+1+0/qp_3417/\n"
        );
        assert_eq!(
            status([1, 0], [10, 20], false),
            b"status: local 1/10 remote 0/20\n"
        );
        assert_eq!(bounce_msg(754985, 6013), b"bounce msg 754985 qp 6013\n");
        assert_eq!(safe(b"a%b\xff c"), b"a_b__c");
    }
}
