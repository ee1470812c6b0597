//! The real `vestibule server` process the CLI tests run against: on a free port, stopped
//! when dropped. Each test crate uses its own part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_vestibule");

/// A `vestibule server` process and what it printed before it started listening.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// The API key a first start on an empty database prints.
    pub initial_key: Option<String>,
}

impl Server {
    /// `vestibule server --dev`.
    pub fn dev() -> Server {
        Server::dev_with(&[])
    }

    /// `vestibule server --dev` with `extra` flags.
    pub fn dev_with(extra: &[&str]) -> Server {
        Server::spawn(&[&["--dev"], extra].concat())
    }

    /// `vestibule server` on the database at `url`, with `extra` flags.
    pub fn on_database(url: &str, extra: &[&str]) -> Server {
        Server::spawn(&[&["--database", url], extra].concat())
    }

    /// `vestibule server` with `args`, on a free port.
    pub fn spawn(args: &[&str]) -> Server {
        let mut command = Command::new(BIN);
        command.args(["server", "--addr", "127.0.0.1:0"]).args(args);
        Server::start(command)
    }

    /// Runs `command` (a `vestibule server` on a free port) and waits for the address it
    /// prints.
    pub fn start(command: Command) -> Server {
        Server::start_logging(command, "warn", Stdio::inherit())
    }

    /// Runs `command` with logs at `level` written to `stderr`, and waits for its address.
    #[allow(clippy::zombie_processes)] // a failed start panics the test; Drop reaps a started one
    pub fn start_logging(mut command: Command, level: &str, stderr: Stdio) -> Server {
        let mut child = command
            .env("VESTIBULE_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn vestibule server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut initial_key = None;
        loop {
            let line = lines.next().expect("the server printed its address").expect("stdout");
            if let Some(key) = line.strip_prefix("initial API key: ") {
                initial_key = Some(key.to_owned());
            }
            if let Some(url) = line.strip_prefix("vestibule listening on ") {
                return Server { child, base: url.to_owned(), initial_key };
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
