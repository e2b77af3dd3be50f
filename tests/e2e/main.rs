//! Integration tests: the real `rtech` binary against a private local AWS emulator per test.
//! One test binary (fast builds); modules by area.

mod acm;
mod cdn;
mod cli;
mod deploy;
mod dns;
mod docdb;
mod ecr;
mod ecs;
mod edge;
mod emulator;
mod iam;
mod network;
mod redis;
mod s3;
mod scaling;
mod secrets;
mod stack;
mod support;
