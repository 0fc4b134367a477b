//! One minimal use of each of ddboot's runtime dependencies, shaped like ddboot's own use of it.
//! Each binary in src/bin calls a subset; the size differences between the binaries are what
//! each dependency costs, alone (over hello) and in company (all minus all-but-it).
#![allow(dead_code)]

/// `main_with!(clap, tokio)`: a `main` that says hello, then uses exactly these dependencies.
macro_rules! main_with {
    ($($dependency:ident),*) => {
        fn main() {
            uses::hello();
            $(uses::$dependency();)*
        }
    };
}

use std::ffi::{CString, OsString};

pub fn hello() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "world".into());
    println!("hello {name}");
}

/// clap with ddboot's features: a derive parser with a few flags and a trailing command.
pub fn clap() {
    use clap::Parser;
    #[derive(Parser)]
    #[command(name = "x", version, about = "About.")]
    struct Cli {
        /// A duration.
        #[arg(long)]
        timeout: Option<String>,
        /// Strict.
        #[arg(long)]
        strict: bool,
        /// Quiet.
        #[arg(short, long)]
        quiet: bool,
        /// A path.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// The program.
        #[arg(trailing_var_arg = true, value_parser = clap::value_parser!(OsString))]
        command: Vec<OsString>,
    }
    let cli = Cli::parse();
    println!("{:?} {} {} {:?} {:?}", cli.timeout, cli.strict, cli.quiet, cli.file, cli.command);
}

/// The current-thread runtime (ddboot's) the network uses run on: `exchange` gets the address to
/// talk to (`ADDR`, else the discard port on loopback) and a deadline 1 s away; what it answers
/// is printed.
fn on_runtime<F: std::future::Future<Output = String>>(
    exchange: impl FnOnce(String, tokio::time::Instant) -> F,
) {
    use tokio::time::{Duration, Instant};
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:9".into());
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().expect("runtime");
    let out = rt.block_on(exchange(addr, Instant::now() + Duration::from_secs(1)));
    println!("{out}");
}

/// tokio with ddboot's features: a current-thread runtime, one TCP exchange under a deadline,
/// select! against a sleep.
pub fn tokio() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::timeout_at;
    on_runtime(|addr, deadline| async move {
        let exchange = async {
            let mut s = TcpStream::connect(addr.as_str()).await?;
            s.write_all(b"GET / HTTP/1.1\r\n\r\n").await?;
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).await?;
            Ok::<_, std::io::Error>(n)
        };
        tokio::select! {
            r = timeout_at(deadline, exchange) => format!("{r:?}"),
            _ = tokio::time::sleep_until(deadline) => "deadline".to_string(),
        }
    });
}

/// hyper with ddboot's features: one HTTP/1 exchange over a tokio `TcpStream` through a small
/// adapter (as `src/http.rs` does, instead of hyper-util), the body through `Limited`, under a
/// deadline. It needs tokio's runtime, so its binary includes `tokio()` too.
pub fn hyper() {
    use http_body_util::{BodyExt, Empty, Limited};
    use hyper::body::Bytes;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};
    use tokio::io::{AsyncRead, AsyncWrite};
    use tokio::net::TcpStream;
    use tokio::time::timeout_at;
    struct Io(TcpStream);
    impl hyper::rt::Read for Io {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            mut buf: hyper::rt::ReadBufCursor<'_>,
        ) -> Poll<std::io::Result<()>> {
            let mut chunk = [0u8; 4096];
            let want = buf.remaining().min(chunk.len());
            let mut read = tokio::io::ReadBuf::new(&mut chunk[..want]);
            ready!(Pin::new(&mut self.0).poll_read(cx, &mut read))?;
            buf.put_slice(read.filled());
            Poll::Ready(Ok(()))
        }
    }
    impl hyper::rt::Write for Io {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, b)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }
    on_runtime(|addr, deadline| async move {
        let exchange = async {
            let stream = TcpStream::connect(addr.as_str()).await.map_err(|e| e.to_string())?;
            let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
                .max_buf_size(8192)
                .handshake(Io(stream))
                .await
                .map_err(|e| e.to_string())?;
            let request = hyper::Request::builder()
                .uri("/")
                .header("Host", addr.as_str())
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            let answer = async {
                let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let body =
                    Limited::new(response.into_body(), 1024).collect().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((status, body.to_bytes().len()))
            };
            tokio::select! {
                r = answer => r,
                _ = conn => Err("closed".to_string()),
            }
        };
        format!("{:?}", timeout_at(deadline, exchange).await)
    });
}

/// serde_json: parse a file into a Value and read one field.
pub fn serde_json() {
    let path = std::env::var("FILE").unwrap_or_else(|_| "/dev/null".into());
    let bytes = std::fs::read(path).unwrap_or_default();
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => println!("{}", v.get("HostPrivateIPv4Address").and_then(|h| h.as_str()).unwrap_or("-")),
        Err(e) => println!("{e}"),
    }
}

/// which: look a program up in a PATH.
pub fn which() {
    let prog = std::env::var("PROG").unwrap_or_else(|_| "true".into());
    let cwd = std::env::current_dir().unwrap_or_default();
    println!("{:?}", which::which_in(prog, Some("/usr/bin:/bin"), cwd));
}

/// nix: reset a signal disposition and execve.
pub fn nix() {
    let prog = CString::new(std::env::var("EXEC").unwrap_or_else(|_| "/bin/true".into())).unwrap_or_default();
    // SAFETY: SIG_DFL is always a valid disposition.
    let _ = unsafe {
        nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl)
    };
    let err = nix::unistd::execve(&prog, &[prog.clone()], &[] as &[CString]);
    println!("{err:?}");
}
