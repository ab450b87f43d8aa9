//! qmailrs-conformance — replay recorded sessions of the original
//! programs against ours (or anyone's) and report differences.
//!
//! # Invocation
//! `qmailrs-conformance [options] TRANSCRIPT...`
//!
//! * `--tcp HOST:PORT` — connect to a running server (one connection per
//!   transcript section);
//! * `--exec PROGRAM [ARG...] --` — start PROGRAM per connection with the
//!   client on fds 0/1 (as tcpserver would);
//! * `--env K=V` (repeatable), `--header-env` — environment for `--exec`
//!   (`--header-env` adds what the header's tcpserver instance set:
//!   `TCPLOCALHOST`, `TCPLOCALIP`, `TCPREMOTEIP`, ..., and its
//!   `env`/VARIANT values);
//! * `--timeout SECS` (default 10) per server line; `--tls-name NAME`;
//! * `--known FILE` — `known-differences`: listed cases may fail (XFAIL);
//! * `--write-control DIR` — write the control files the first
//!   transcript's header declares into DIR, then exit.
//!
//! Prints `PASS`/`FAIL`/`XFAIL`/`XPASS`/`UNSUPPORTED` per transcript, with
//! line-exact masked diffs for failures.
//!
//! # Uid and security
//! Any uid; only connects to what it is told and starts what it is told.
//!
//! # Exit codes
//! 0 all passed (or failed as known); 1 some unexpected failure; 100 usage
//! or unreadable input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use qmail::conformance::{self, setup, transcript, Options, Target, Verdict};

const USAGE: &str = "usage: qmailrs-conformance (--tcp HOST:PORT | --exec PROG [ARG...] --) \
[--env K=V] [--header-env] [--timeout SECS] [--tls-name NAME] [--known FILE] \
[--write-control DIR] TRANSCRIPT...";

#[derive(Default)]
struct Args {
    tcp: Option<String>,
    exec: Vec<String>,
    env: Vec<(String, String)>,
    header_env: bool,
    timeout: Option<u64>,
    tls_name: Option<String>,
    known: Option<PathBuf>,
    write_control: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    let need = |it: &mut dyn Iterator<Item = String>, o: &str| {
        it.next().ok_or_else(|| format!("{o} needs a value"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--tcp" => a.tcp = Some(need(&mut it, "--tcp")?),
            "--exec" => {
                for w in it.by_ref() {
                    if w == "--" {
                        break;
                    }
                    a.exec.push(w);
                }
            }
            "--env" => {
                let kv = need(&mut it, "--env")?;
                let (k, v) = kv.split_once('=').ok_or("--env wants K=V")?;
                a.env.push((k.into(), v.into()));
            }
            "--header-env" => a.header_env = true,
            "--timeout" => {
                let s = need(&mut it, "--timeout")?;
                a.timeout = Some(s.parse().map_err(|_| "--timeout wants seconds")?);
            }
            "--tls-name" => a.tls_name = Some(need(&mut it, "--tls-name")?),
            "--known" => a.known = Some(need(&mut it, "--known")?.into()),
            "--write-control" => a.write_control = Some(need(&mut it, "--write-control")?.into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => a.files.push(arg.into()),
        }
    }
    if a.files.is_empty() {
        return Err("no transcripts given".into());
    }
    Ok(a)
}

fn run(a: Args) -> Result<bool, String> {
    let read =
        |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let known = match &a.known {
        Some(p) => setup::known_differences(&read(p)?)?,
        None => Vec::new(),
    };
    if let Some(dir) = &a.write_control {
        let t = transcript::parse(&read(&a.files[0])?).map_err(|e| e.to_string())?;
        setup::write_controls(&t.header, dir, &|_| None).map_err(|e| e.to_string())?;
        return Ok(true);
    }
    let opts = Options {
        timeout: Duration::from_secs(a.timeout.unwrap_or(10)),
        tls_name: a.tls_name.clone().unwrap_or_else(|| "localhost".into()),
    };
    let mut all_ok = true;
    for path in &a.files {
        let text = read(path)?;
        let t = transcript::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let target = match (&a.tcp, a.exec.split_first()) {
            (Some(addr), None) => Target::Tcp(addr.clone()),
            (None, Some((prog, args))) => {
                let mut env = Vec::new();
                if a.header_env {
                    env.extend(setup::tcp_env(&t.header));
                    env.extend(t.header.env.iter().cloned());
                }
                env.extend(a.env.iter().cloned());
                Target::Child {
                    program: prog.clone(),
                    args: args.to_vec(),
                    env,
                    clear_env: false,
                }
            }
            _ => return Err("give exactly one of --tcp and --exec".into()),
        };
        let case = conformance::case_name(path);
        let verdict = conformance::replay(&t, &target, &opts);
        let listed = known.iter().find(|k| k.case == case);
        match (listed, verdict.passed()) {
            (Some(k), false) => println!("XFAIL {case}: {}", k.reason),
            (Some(_), true) => println!("XPASS {case}: listed in known-differences but passes"),
            (None, _) => {
                print!("{}", conformance::report(&case, &verdict));
                all_ok &= matches!(verdict, Verdict::Pass);
            }
        }
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("qmailrs-conformance: {e}\n{USAGE}");
            return ExitCode::from(100);
        }
    };
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("qmailrs-conformance: fatal: {e}");
            ExitCode::from(100)
        }
    }
}
