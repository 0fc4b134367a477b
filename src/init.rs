//! `--init`: ddboot stays as a minimal init and runs the app as its child.
//!
//! This module owns everything after the fork. The app is exec'd exactly as exec mode would do it
//! (the same [`Prepared`] lookup and 126/127 mapping; a close-on-exec pipe carries a failed
//! `execve`'s errno back to the parent, which reports it). The child gets its own process group,
//! made the terminal's foreground group when stdin is a terminal, then the signal mask and
//! dispositions ddboot inherited. The parent ignores SIGTTIN and SIGTTOU, becomes a child
//! subreaper when it is not PID 1, and blocks in `sigwaitinfo` (no thread, no timer, no runtime):
//! it forwards [`FORWARDED`] to the app (or its process group under `--init-group`), reaps every
//! child on SIGCHLD, and returns the app's exit status (128+N when a signal N killed it) as soon
//! as the app is gone. After the fork the parent holds no file descriptor it opened itself.

use nix::errno::Errno;
use nix::libc;

use crate::error::Error;
use crate::exec::Prepared;
use crate::signals;

/// The signals forwarded to the app, as tini forwards them.
pub(crate) const FORWARDED: [libc::c_int; 10] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGTSTP,
    libc::SIGALRM,
];

/// Where forwarded signals go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The app's process only (`--init`).
    Process,
    /// The app's whole process group (`--init-group`).
    Group,
}

/// Whether ddboot runs as PID 1 (of its PID namespace).
pub(crate) fn is_pid1() -> bool {
    std::process::id() == 1
}

/// How `--init` ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The app ran and exited: ddboot exits with this code (the app's, or 128+N).
    Exited(i32),
    /// The app could not be exec'd: the 126/127 error, as exec mode reports it.
    ExecFailed(Error),
    /// No fork happened (why); everything is back as inherited, so the caller can exec instead.
    NoFork(String),
}

/// Forks, execs `prepared` in the child and waits as init.
pub(crate) fn run(prepared: &Prepared, target: Target) -> Outcome {
    let Some(inherited) = signals::inherited() else {
        return Outcome::NoFork("the inherited signal state was not recorded".into());
    };
    let mut pipe = [-1 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Outcome::NoFork(format!("cannot create a pipe: {}", Errno::last().desc()));
    }
    let [read_end, write_end] = pipe;
    let waited = wait_set();
    // Block the forwarded signals and SIGCHLD before the fork: one that arrives from now on is
    // pending, and the wait loop forwards it once the app exists.
    // SAFETY: valid sets; the old mask is ddboot's inherited one, already recorded.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &waited, std::ptr::null_mut()) };
    // A child's exit status must not vanish: SIGCHLD inherited as ignored would auto-reap.
    signals::set_handler(libc::SIGCHLD, libc::SIG_DFL);
    signals::set_handler(libc::SIGTTIN, libc::SIG_IGN);
    signals::set_handler(libc::SIGTTOU, libc::SIG_IGN);
    if !is_pid1() {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }

    // SAFETY: ddboot is single-threaded here (the resolution runtime was dropped), and the child
    // only makes async-signal-safe calls before execve or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let errno = Errno::last();
        close(read_end);
        close(write_end);
        inherited.restore_all();
        signals::ignore_sigpipe();
        return Outcome::NoFork(format!("cannot fork: {}", errno.desc()));
    }
    if pid == 0 {
        child(prepared, &inherited, write_end);
    }
    close(write_end);
    // Also from the parent, so the group exists before any signal is forwarded to it.
    // SAFETY: plain system call; EACCES once the child has exec'd is expected and harmless.
    unsafe { libc::setpgid(pid, pid) };
    let errno = read_exec_error(read_end);
    close(read_end);
    if let Some(errno) = errno {
        // The child exits at once after a failed exec: reap it, then report like exec mode.
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        return Outcome::ExecFailed(prepared.error(errno));
    }
    Outcome::Exited(wait_loop(pid, target, &waited))
}

/// The child, between `fork` and `execve`: async-signal-safe calls only, never returns.
fn child(prepared: &Prepared, inherited: &signals::Inherited, error_pipe: libc::c_int) -> ! {
    // SAFETY: setpgid, isatty, tcsetpgrp, write and _exit are async-signal-safe system calls;
    // SIGTTOU is still ignored here, so tcsetpgrp from the new background group cannot stop us.
    unsafe {
        libc::setpgid(0, 0);
        if libc::isatty(libc::STDIN_FILENO) == 1 {
            libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
        }
        inherited.restore_all();
        let errno = prepared.execve() as i32;
        let bytes = errno.to_ne_bytes();
        let _ = libc::write(error_pipe, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    }
}

/// Reads the errno the child writes when `execve` fails; `None` when the pipe closed without a
/// word, i.e. `execve` succeeded (the write end was close-on-exec).
fn read_exec_error(fd: libc::c_int) -> Option<Errno> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled tail of a local buffer.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        match n {
            0 => break,
            n if n > 0 => got += n.unsigned_abs(),
            _ if Errno::last() == Errno::EINTR => {}
            _ => break,
        }
    }
    (got == buf.len()).then(|| Errno::from_raw(i32::from_ne_bytes(buf)))
}

/// The set `sigwaitinfo` waits on: the forwarded signals and SIGCHLD.
fn wait_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in FORWARDED.iter().chain(&[libc::SIGCHLD]) {
            libc::sigaddset(&mut set, *signal);
        }
        set
    }
}

/// Waits in the kernel for the next signal of `set`; forwards, reaps, and returns the app's exit
/// code once it is gone.
fn wait_loop(app: libc::pid_t, target: Target, set: &libc::sigset_t) -> i32 {
    loop {
        // SAFETY: a zeroed siginfo_t is valid output storage; `set` is initialised.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let signal = unsafe { libc::sigwaitinfo(set, &mut info) };
        if signal < 0 {
            // EINTR (a stop/continue of ddboot itself): wait again.
            continue;
        }
        if signal == libc::SIGCHLD {
            if let Some(code) = reap(app) {
                return code;
            }
            continue;
        }
        let to = match target {
            Target::Process => app,
            Target::Group => -app,
        };
        // SAFETY: kill with a pid and a valid signal number.
        unsafe { libc::kill(to, signal) };
    }
}

/// Reaps every child that has exited; the app's exit code once it is among them.
fn reap(app: libc::pid_t) -> Option<i32> {
    let mut app_code = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            // 0: children left, none exited; ECHILD: none left.
            if pid < 0 && Errno::last() == Errno::ECHILD && app_code.is_none() {
                // The app cannot be gone without our seeing it; never spin on an empty set.
                return Some(127);
            }
            return app_code;
        }
        if pid == app {
            app_code = Some(exit_code(status));
        }
    }
}

/// The shell's convention: the exit code, or 128+N for death by signal N.
fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFSIGNALED(status) { 128 + libc::WTERMSIG(status) } else { libc::WEXITSTATUS(status) }
}

fn close(fd: libc::c_int) {
    // SAFETY: closes a descriptor this module opened and owns.
    unsafe { libc::close(fd) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(7 << 8), 7);
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(libc::SIGKILL), 137);
        assert_eq!(exit_code(libc::SIGTERM), 143);
    }

    #[test]
    fn the_wait_set_holds_the_forwarded_signals_and_sigchld_only() {
        let set = wait_set();
        for signal in 1..32 {
            // SAFETY: sigismember reads an initialised set.
            let member = unsafe { libc::sigismember(&set, signal) } == 1;
            let expected = FORWARDED.contains(&signal) || signal == libc::SIGCHLD;
            assert_eq!(member, expected, "signal {signal}");
        }
        assert!(!FORWARDED.contains(&libc::SIGKILL) && !FORWARDED.contains(&libc::SIGSTOP));
    }
}
