//! Integration tests: the real `rtech` binary against a private local AWS emulator per test.
//! One test binary (fast builds); modules by area.

mod cli;
mod deploy;
mod docdb;
mod ecr;
mod ecs;
mod edge;
mod emulator;
mod iam;
mod network;
mod redis;
mod scaling;
mod secrets;
mod stack;
mod support;
