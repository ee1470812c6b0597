//! The dev server the client tests run against: the real binary, `server --dev`, on a
//! free port, stopped when dropped. Each test crate uses its own part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_vestibule");

/// A `vestibule server --dev` process on a free port.
pub struct DevServer {
    pub child: Child,
    pub base: String,
}

impl DevServer {
    pub fn start() -> DevServer {
        DevServer::start_with(&[])
    }

    /// Starts it with `extra` server flags and waits for the address it prints.
    #[allow(clippy::zombie_processes)] // a failed start panics the test; Drop reaps a started one
    pub fn start_with(extra: &[&str]) -> DevServer {
        let mut child = Command::new(BIN)
            .args(["server", "--dev", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("VESTIBULE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn vestibule server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        loop {
            let line = lines.next().expect("the server printed its address").expect("stdout");
            if let Some(url) = line.strip_prefix("vestibule listening on ") {
                return DevServer { child, base: url.to_owned() };
            }
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
