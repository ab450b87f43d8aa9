//! SMTP AUTH, server side (fehcom qmail-authentication 0.8.3;
//! `shared/spec/qmail/smtpd.md` §12): the mechanisms' wire forms, the
//! AUTH modes, and the checkpassword client.

pub mod base64;
pub mod checkpassword;
pub mod hmac;
pub mod sasl;
