//! Issue 4 e2e tests (being written).
