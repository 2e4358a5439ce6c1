//! The binary's memory allocator: mimalloc, set up to give memory back.
//!
//! Every page and call allocates and frees many small buffers on several
//! threads; with glibc's malloc that took about a sixth of the shop's CPU, and
//! mimalloc serves the storefront's pages about a fifth faster (BENCHMARKS.md).
//! Its defaults hold on to memory, though: freed memory is returned to the OS
//! only a second later, on the next allocation, and where the kernel backs
//! memory with transparent huge pages whenever it can (`always`, a common
//! default) each touched 2 MiB region stays resident whole. An idle shop
//! then sat at twice glibc's resident size. So, unless the caller chose
//! otherwise through mimalloc's own variables (`MIMALLOC_PURGE_DELAY`,
//! `MIMALLOC_ALLOW_THP`), [`tune`] makes freed memory go back at once and turns
//! transparent huge pages off for this process.
//!
//! This is the workspace's one `unsafe` code: two calls into C with plain
//! integer arguments.
#![allow(unsafe_code)]

/// The allocator of every service in this binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (`mimalloc.h`; the
/// -sys crate does not name it). The value is the enum's position, which
/// mimalloc keeps stable: retired options keep their slots as `deprecated_*`.
const OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the allocator up (see the module docs). Call it first in `main`:
/// what was allocated before is not moved.
pub(crate) fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an integer option of the allocator, which any thread
        // may do at any time; no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(OPTION_PURGE_DELAY, 0) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only
        // how the kernel backs this process's memory. Its result is ignored:
        // a kernel without it keeps the default, which costs memory, not
        // correctness.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}
