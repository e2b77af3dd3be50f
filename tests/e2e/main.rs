//! Integration tests: the real `rtech` binary against a private local AWS emulator per test.
//! One test binary (fast builds); modules by area.

mod acm;
mod alarms;
mod backup;
mod bootstrap;
mod cdn;
mod cli;
mod dashboard;
mod deploy;
mod deploying;
mod dns;
mod docdb;
mod drill;
mod ecr;
mod ecs;
mod edge;
mod emulator;
mod events;
mod fault_proxy;
mod faults;
mod flow_logs;
mod iam;
mod iam_policy;
mod latency;
mod loadtest;
mod lock;
mod logs;
mod network;
mod redis;
mod s3;
mod scaling;
mod secrets;
mod ship;
mod sns;
mod stack;
mod support;
