//! The `mockmeta` binary owns the command-line face of the mock for shell scripts: it parses
//! flags by hand into a [`Behaviour`], starts a [`Mock`], announces `listening http://ADDR:PORT`
//! on stdout (and optionally in a ready file), appends every request as a JSON line to `--log`,
//! and then runs until killed.

use mockmeta::{Behaviour, Get, Hostile, Mock, Put, TaskMeta, Tokens};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

const USAGE: &str = "usage: mockmeta [--listen ADDR:PORT (default 127.0.0.1:0)] [--local-ipv4 IP] [--ipv6 IP] \
[--put token|hang|reset|status:N|fail-then-token:COUNT:STATUS|hostile:KIND] \
[--get ok|status:N|hang|reset|drip[:MS]|chunked-forever|unauthorized-first:N|redirect:URL|body:TEXT|hostile:KIND] \
[--tokens optional|required] [--put-ttl N] [--max-concurrent N] [--container-json FILE] \
[--task-json FILE] [--task-metadata ok|status:N|hang|delay-ms:N|hostile:KIND] [--delay-ms N] [--log FILE] \
[--ready-file FILE]";

/// Default pace of `--get drip` (the body is `--local-ipv4`).
const DRIP_INTERVAL: Duration = Duration::from_millis(200);

struct Config {
    listen: SocketAddr,
    behaviour: Behaviour,
    container_json: Option<String>,
    task_json: Option<String>,
    log: Option<String>,
    ready_file: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match parse_args(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("mockmeta: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("mockmeta: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> Result<(), String> {
    let mut b = config.behaviour;
    if let Some(path) = &config.container_json {
        b.container_json = Some(fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?);
    }
    if let Some(path) = &config.task_json {
        b.task_json = Some(fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?);
    }
    let log = match &config.log {
        Some(path) => Some(Mutex::new(
            OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{path}: {e}"))?,
        )),
        None => None,
    };
    let hook = move |req: &mockmeta::Request| {
        if let Some(file) = &log {
            let mut line = req.to_json().to_string();
            line.push('\n');
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            // One write per line (O_APPEND), then flush, so readers never see half a line.
            if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
                eprintln!("mockmeta: writing the log: {e}");
            }
        }
    };
    let mock = Mock::start_with_hook(config.listen, b, hook)
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let url = mock.url();
    // Ready file first, so it exists by the time anyone has read the stdout line.
    if let Some(path) = &config.ready_file {
        let tmp = format!("{path}.tmp.{}", std::process::id());
        fs::write(&tmp, format!("{url}\n"))
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|e| format!("{path}: {e}"))?;
    }
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening {url}").and_then(|()| out.flush()).map_err(|e| format!("stdout: {e}"))?;
    }
    loop {
        std::thread::park();
    }
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        behaviour: Behaviour::default(),
        container_json: None,
        task_json: None,
        log: None,
        ready_file: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().cloned().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        let b = &mut config.behaviour;
        match flag {
            "--listen" => {
                let v = value()?;
                config.listen = v.parse().map_err(|_| format!("--listen: not an ADDR:PORT: {v:?}"))?;
            }
            "--local-ipv4" => b.local_ipv4 = value()?,
            "--ipv6" => b.ipv6 = Some(value()?),
            "--put" => b.put = parse_put(&value()?)?,
            "--get" => b.get = parse_get(&value()?)?,
            "--tokens" => {
                b.tokens = match value()?.as_str() {
                    "optional" => Tokens::Optional,
                    "required" => Tokens::Required,
                    v => return Err(format!("--tokens: expected optional|required, got {v:?}")),
                }
            }
            "--put-ttl" => b.put_ip_ttl = Some(number("--put-ttl", &value()?)?),
            "--max-concurrent" => b.max_concurrent = Some(number("--max-concurrent", &value()?)?),
            "--container-json" => config.container_json = Some(value()?),
            "--task-json" => config.task_json = Some(value()?),
            "--task-metadata" => b.task_metadata = parse_task(&value()?)?,
            "--delay-ms" => b.response_delay = Some(millis("--delay-ms", &value()?)?),
            "--log" => config.log = Some(value()?),
            "--ready-file" => config.ready_file = Some(value()?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    // `--get drip` drips the local IPv4 address, whatever order the flags came in.
    let b = &mut config.behaviour;
    if let Get::Drip { body, .. } = &mut b.get {
        *body = b.local_ipv4.clone().into_bytes();
    }
    Ok(config)
}

fn number<T: std::str::FromStr>(what: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{what}: not a valid number: {v:?}"))
}

fn millis(what: &str, v: &str) -> Result<Duration, String> {
    number::<u64>(what, v).map(Duration::from_millis)
}

fn status(what: &str, v: &str) -> Result<u16, String> {
    let n: u16 = number(what, v)?;
    if (100..=999).contains(&n) { Ok(n) } else { Err(format!("{what}: status out of range: {n}")) }
}

/// `trailers|interim|headers|huge-length|huge-until-close` (see [`Hostile`]).
fn parse_hostile(v: &str) -> Result<Hostile, String> {
    Ok(match v {
        "trailers" => Hostile::Trailers,
        "interim" => Hostile::Interim,
        "headers" => Hostile::Headers,
        "huge-length" => Hostile::HugeLength,
        "huge-until-close" => Hostile::HugeUntilClose,
        _ => {
            return Err(format!(
                "hostile: unknown kind {v:?} (trailers|interim|headers|huge-length|huge-until-close)"
            ));
        }
    })
}

fn parse_put(v: &str) -> Result<Put, String> {
    if let Some(kind) = v.strip_prefix("hostile:") {
        return Ok(Put::Hostile(parse_hostile(kind)?));
    }
    Ok(match v.split(':').collect::<Vec<_>>().as_slice() {
        ["token"] => Put::Token,
        ["hang"] => Put::Hang,
        ["reset"] => Put::Reset,
        ["status", n] => Put::Status(status("--put status", n)?),
        ["fail-then-token", count, s] => Put::FailThenToken {
            failures: number("--put fail-then-token COUNT", count)?,
            status: status("--put fail-then-token STATUS", s)?,
        },
        _ => return Err(format!("--put: unknown behaviour {v:?}")),
    })
}

fn parse_get(v: &str) -> Result<Get, String> {
    if let Some(loc) = v.strip_prefix("redirect:") {
        return Ok(Get::Redirect(loc.to_string()));
    }
    if let Some(kind) = v.strip_prefix("hostile:") {
        return Ok(Get::Hostile(parse_hostile(kind)?));
    }
    if let Some(body) = v.strip_prefix("body:") {
        return Ok(Get::Body(body.as_bytes().to_vec()));
    }
    Ok(match v.split(':').collect::<Vec<_>>().as_slice() {
        ["ok"] => Get::Ok,
        ["status", n] => Get::Status(status("--get status", n)?),
        ["hang"] => Get::Hang,
        ["reset"] => Get::Reset,
        // The empty body is replaced by --local-ipv4 once all flags are parsed.
        ["drip"] => Get::Drip { body: Vec::new(), interval: DRIP_INTERVAL },
        ["drip", ms] => Get::Drip { body: Vec::new(), interval: millis("--get drip", ms)? },
        ["chunked-forever"] => Get::ChunkedForever,
        ["unauthorized-first", n] => Get::UnauthorizedFirst(number("--get unauthorized-first", n)?),
        _ => return Err(format!("--get: unknown behaviour {v:?}")),
    })
}

fn parse_task(v: &str) -> Result<TaskMeta, String> {
    if let Some(kind) = v.strip_prefix("hostile:") {
        return Ok(TaskMeta::Hostile(parse_hostile(kind)?));
    }
    Ok(match v.split(':').collect::<Vec<_>>().as_slice() {
        ["ok"] => TaskMeta::Ok,
        ["status", n] => TaskMeta::Status(status("--task-metadata status", n)?),
        ["hang"] => TaskMeta::Hang,
        ["delay-ms", ms] => TaskMeta::Delay(millis("--task-metadata delay-ms", ms)?),
        _ => return Err(format!("--task-metadata: unknown behaviour {v:?}")),
    })
}
