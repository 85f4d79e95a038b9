//! End-to-end tests: the real app on a random port, a fresh embedded libSQL
//! file per test, and the sandbox Graph API over real HTTP.

mod faults;
mod fuzz;
mod harness;
mod input;
mod oauth;
mod receiver;
mod tokens;
