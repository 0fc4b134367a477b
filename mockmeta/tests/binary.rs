//! Tests of the `mockmeta` binary as shell scripts use it: the `listening` line, the ready file,
//! the JSON-lines `--log`, behaviour flags, and exit status 2 on bad arguments.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mockmeta-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn spawn(args: &[&str]) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mockmeta"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run mockmeta");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("listening "))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (Killed(child), url)
}

fn get(url: &str, path: &str, extra: &str) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serves_logs_and_announces() {
    let log = tmp("log.jsonl");
    let ready = tmp("ready");
    let container = tmp("container.json");
    let _ = std::fs::remove_file(&log);
    std::fs::write(&container, "{\"Name\":\"app\"}").unwrap();
    let (_child, url) = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--local-ipv4=10.9.8.7",
        "--tokens",
        "optional",
        "--log",
        log.to_str().unwrap(),
        "--ready-file",
        ready.to_str().unwrap(),
        "--container-json",
        container.to_str().unwrap(),
    ]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(std::fs::read_to_string(&ready).unwrap(), format!("{url}\n"));

    let r = get(&url, "/latest/meta-data/local-ipv4", "X-Test: yes\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.ends_with("\r\n\r\n10.9.8.7"), "{r}");
    assert!(get(&url, "/v4/mock-container", "").ends_with("{\"Name\":\"app\"}"));

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[0]["path"], "/latest/meta-data/local-ipv4");
    assert_eq!(lines[0]["headers"]["X-Test"], "yes");
    assert!(lines[0]["at_ms"].is_u64());
    assert_eq!(lines[1]["path"], "/v4/mock-container");
}

#[test]
fn behaviour_flags() {
    let (_child, url) = spawn(&["--get", "status:418", "--put", "fail-then-token:1:503"]);
    assert!(get(&url, "/latest/meta-data/local-ipv4", "").starts_with("HTTP/1.1 418 "));
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["--bogus"][..],
        &["--put", "sometimes"],
        &["--get", "status:abc"],
        &["--listen"],
        &["--max-concurrent", "-1"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mockmeta")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: mockmeta"));
    }
}
