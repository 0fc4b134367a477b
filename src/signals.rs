//! ddboot's own signal dispositions, from the start of `run` until the exec (or the fork).
//!
//! [`install`] runs first: it records the signal mask and the dispositions ddboot inherited, then
//! makes SIGTERM, SIGINT and SIGHUP end ddboot at once with 128+N (an async-signal-safe handler:
//! one `write` of a fixed line, then `_exit`), so a stop during resolution never starts the app,
//! also as PID 1, where the kernel drops a signal whose disposition is the default. A signal
//! inherited as ignored stays ignored. SIGPIPE is ignored so that ddboot's own writes to a closed
//! stdout or stderr fail with EPIPE instead of killing it. [`restore_before_exec`] puts SIGPIPE
//! (and whatever init mode changed) back as inherited right before `execve`, which itself resets
//! the three handlers to the default: the app gets exactly the mask and dispositions ddboot got.
//! A signal that arrives while `execve` runs is the app's (default action or its own handler).

use std::sync::OnceLock;

use nix::libc;

/// The signals that end ddboot during resolution.
pub(crate) const STOP: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// What ddboot inherited and may change: the signal mask, and the dispositions of the signals
/// ddboot touches (after an `execve` a disposition is either the default or "ignore").
#[derive(Clone, Copy)]
pub(crate) struct Inherited {
    pub(crate) mask: libc::sigset_t,
    /// `(signal, ignored)` for every signal ddboot may change before the exec.
    dispositions: [(libc::c_int, bool); TOUCHED.len()],
}

/// Every signal whose disposition ddboot may change: the three stop signals, SIGPIPE, and what
/// init mode changes in the parent (SIGCHLD to the default, SIGTTIN and SIGTTOU ignored).
const TOUCHED: [libc::c_int; 7] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGPIPE, libc::SIGCHLD, libc::SIGTTIN, libc::SIGTTOU];

static INHERITED: OnceLock<Inherited> = OnceLock::new();

/// The fixed line each stop signal writes before ddboot exits.
fn stop_message(signal: libc::c_int) -> &'static [u8] {
    match signal {
        libc::SIGTERM => b"ddboot: SIGTERM before the app started: exiting 143\n",
        libc::SIGINT => b"ddboot: SIGINT before the app started: exiting 130\n",
        _ => b"ddboot: SIGHUP before the app started: exiting 129\n",
    }
}

extern "C" fn on_stop(signal: libc::c_int) {
    let message = stop_message(signal);
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer is a static string.
    unsafe {
        let _ = libc::write(libc::STDERR_FILENO, message.as_ptr().cast(), message.len());
        libc::_exit(128 + signal);
    }
}

/// Records what ddboot inherited (once) and installs its own dispositions. Call it first.
pub(crate) fn install() {
    let inherited = *INHERITED.get_or_init(read_inherited);
    for &signal in &STOP {
        if !inherited.ignored(signal) {
            set_handler(signal, on_stop as *const () as libc::sighandler_t);
        }
    }
    set_handler(libc::SIGPIPE, libc::SIG_IGN);
}

/// What ddboot inherited, if [`install`] ran.
pub(crate) fn inherited() -> Option<Inherited> {
    INHERITED.get().copied()
}

/// Puts SIGPIPE back as inherited, right before `execve` (the stop handlers stay: `execve`
/// resets them). Async-signal-safe: only `sigaction` calls on precomputed values.
pub(crate) fn restore_before_exec() {
    if let Some(inherited) = INHERITED.get() {
        set_handler(libc::SIGPIPE, inherited.disposition(libc::SIGPIPE));
    }
}

/// Ignores SIGPIPE again (after a failed `execve`, or a failed `--init` fork), so the error
/// line that follows cannot kill ddboot.
pub(crate) fn ignore_sigpipe() {
    set_handler(libc::SIGPIPE, libc::SIG_IGN);
}

impl Inherited {
    /// Whether `signal` was inherited as ignored (false for a signal ddboot does not track).
    pub(crate) fn ignored(&self, signal: libc::c_int) -> bool {
        self.dispositions.iter().any(|&(s, ignored)| s == signal && ignored)
    }

    /// The inherited disposition of `signal`: `SIG_IGN` or `SIG_DFL`.
    fn disposition(&self, signal: libc::c_int) -> libc::sighandler_t {
        if self.ignored(signal) { libc::SIG_IGN } else { libc::SIG_DFL }
    }

    /// Restores every disposition ddboot may have changed, and the mask. For the child of init
    /// mode between `fork` and `execve`: async-signal-safe (`sigaction`, `sigprocmask`).
    pub(crate) fn restore_all(&self) {
        for &(signal, _) in &self.dispositions {
            if !STOP.contains(&signal) {
                set_handler(signal, self.disposition(signal));
            }
        }
        // SAFETY: sigprocmask with a valid set and a null old set.
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, &self.mask, std::ptr::null_mut());
        }
    }
}

fn read_inherited() -> Inherited {
    // SAFETY: sigset_t and sigaction are plain C structs; zeroed is a valid initial value, and
    // both calls only read the current state (null new values).
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
        let mut dispositions = [(0, false); TOUCHED.len()];
        for (slot, &signal) in dispositions.iter_mut().zip(&TOUCHED) {
            let mut old: libc::sigaction = std::mem::zeroed();
            let ignored =
                libc::sigaction(signal, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN;
            *slot = (signal, ignored);
        }
        Inherited { mask, dispositions }
    }
}

/// Sets `signal`'s disposition to `handler` (a function, `SIG_IGN` or `SIG_DFL`), with every
/// signal blocked while a handler runs and SA_RESTART. Async-signal-safe.
pub(crate) fn set_handler(signal: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: a zeroed sigaction is valid; the handler is SIG_IGN, SIG_DFL or `on_stop`, which
    // only makes async-signal-safe calls.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART;
        libc::sigfillset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_messages_name_the_signal_and_its_exit_code() {
        for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT"), (libc::SIGHUP, "SIGHUP")]
        {
            let text = String::from_utf8_lossy(stop_message(signal)).into_owned();
            assert!(text.contains(name), "{text}");
            assert!(text.trim_end().ends_with(&(128 + signal).to_string()), "{text}");
            assert!(text.ends_with('\n') && text.lines().count() == 1, "{text}");
        }
    }

    #[test]
    fn inherited_dispositions_are_default_or_ignored() {
        let inherited = read_inherited();
        assert_eq!(inherited.dispositions.len(), TOUCHED.len());
        assert!(inherited.dispositions.iter().all(|&(s, _)| TOUCHED.contains(&s)));
        assert!(!inherited.ignored(libc::SIGKILL), "an untracked signal is never reported ignored");
    }
}
