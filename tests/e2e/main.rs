//! End-to-end tests: the real app on a random port, a fresh embedded libSQL
//! file (or a fresh `sqld`, the hosted path) per test, and the sandbox Graph
//! API over real HTTP.

mod collect;
mod deletion;
mod deploy;
mod harness;
mod hosted;
mod oauth;
mod receiver;
mod storage;
mod tokens;
