//! The real binary as a child process, over a store of its own: for what only a whole
//! process shows (a kill, a signal, its own metrics recorder).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Backend, TestDb};

/// Where the server under test keeps its data.
pub struct Target {
    args: Vec<String>,
    dir: tempfile::TempDir,
    _db: Option<TestDb>,
}

impl Target {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--data-dir".to_owned(), dir.path().to_str().unwrap().to_owned()];
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let db = TestDb::create().await;
                args.extend(["--db".to_owned(), db.url().to_owned()]);
                Some(db)
            }
        };
        Self { args, dir, _db: db }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn command(&self, sub: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_playpulse"));
        cmd.args(sub).args(&self.args).env_remove("PLAYPULSE_DB").env_remove("PLAYPULSE_REDIS");
        cmd
    }

    pub fn key(&self) -> String {
        let out = self
            .command(&["keys", "create", "--scope", "ingest,read", "--name", "durability"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub async fn serve(&self) -> Server {
        self.serve_with(&[]).await
    }

    /// Serves with extra environment (config overrides such as `PLAYPULSE_SCHEDULE__ENABLED`).
    pub async fn serve_with(&self, env: &[(&str, &str)]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let child = self
            .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            // Every scrape reads the store's figures afresh, so a test sees its own writes.
            .env("PLAYPULSE_SERVER__METRICS_REFRESH_S", "0")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while reqwest::get(format!("{base}/healthz")).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { child, base }
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
}
