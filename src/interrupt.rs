//! Ctrl-C as a request to stop: the first SIGINT sets a flag that long commands check at event
//! boundaries (they then report what they have, marked as interrupted); a second one ends the
//! process at once, as SIGINT's default does.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    REQUESTED.store(true, Ordering::SeqCst);
    // SAFETY: `signal` is async-signal-safe (POSIX.1 lists it); the next Ctrl-C kills.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// Catches the next Ctrl-C (see the module documentation). Elsewhere than on Unix, Ctrl-C
/// keeps its default (the process ends).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic and restores the default disposition.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Whether Ctrl-C was pressed since [`install`].
fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// The exit status of a command stopped by Ctrl-C: 128 + SIGINT, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// What a run's observer answers: stop once Ctrl-C was pressed, go on otherwise.
pub fn control_flow() -> std::ops::ControlFlow<()> {
    if requested() {
        std::ops::ControlFlow::Break(())
    } else {
        std::ops::ControlFlow::Continue(())
    }
}
