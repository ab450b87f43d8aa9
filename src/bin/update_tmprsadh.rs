//! update_tmprsadh — the daily cron job of the qmail TLS patch up to
//! 2019, which regenerated `control/rsa2048.pem` and `control/dh2048.pem`
//! (older: rsa512, dh512, dh1024) with openssl.
//!
//! Our qmail-smtpd behaves as the 20231230 patch: rustls needs no
//! temporary RSA key or DH parameters, so nothing reads those files. This
//! stays so that the hoster's crontab entry keeps running clean: it does
//! nothing, prints nothing and exits 0 (known-differences
//! `program:update_tmprsadh`).

fn main() {}
