//! Integration tests: the real `rtech` binary against a private local AWS emulator per test.
//! One test binary (fast builds); modules by area.

mod cli;
mod docdb;
mod emulator;
mod network;
mod redis;
mod secrets;
mod support;
