//! Futex wait and wake on an `AtomicU32` (process-private futexes): the
//! cheapest way to put a thread to sleep and have another one wake it,
//! with nothing between the waker and the scheduler.

use std::sync::atomic::AtomicU32;

/// Sleeps while `word` holds `expected`. Returns at once if it does not,
/// and may return spuriously (a signal, a stale wake): callers re-check
/// their condition in a loop. Returns whether the thread slept and was
/// woken (false when the word had already changed, or on a signal).
pub fn wait(word: &AtomicU32, expected: u32) -> bool {
    // SAFETY: the futex address is a live, aligned u32 for the whole call;
    // a NULL timeout means no timeout.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
    ret == 0
}

/// Wakes up to `n` threads sleeping on `word`; returns how many woke.
pub fn wake(word: &AtomicU32, n: u32) -> u32 {
    // SAFETY: the futex address is a live, aligned u32; FUTEX_WAKE only
    // uses it as a key.
    let woken = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n.min(i32::MAX as u32),
        )
    };
    woken.max(0) as u32
}
