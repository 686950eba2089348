//! Reads of BPF arena memory from userspace through libbpf's mmap of the
//! arena: no syscall per read, every address checked against the mapping.
//!
//! BPF code stores arena pointers as the userspace addresses of the same
//! memory (the kernel keeps both views at the same low 32 bits), so a
//! pointer BPF wrote can be followed here as is:
//!
//! ```no_run
//! # use scx_arena::arena::{ArenaView, ArenaPod};
//! #[derive(Clone, Copy)]
//! #[repr(C)]
//! struct Node { next: u64, val: u64 }
//! // SAFETY: two u64s; every bit pattern is a valid Node.
//! unsafe impl ArenaPod for Node {}
//!
//! fn sum(view: &ArenaView<'_>, mut head: u64) -> Result<u64, scx_arena::arena::ArenaError> {
//!     let mut sum = 0;
//!     while head != 0 {
//!         let n: Node = view.read(head)?;
//!         sum += n.val;
//!         head = n.next;
//!     }
//!     Ok(sum)
//! }
//! ```
//!
//! Reads copy the value out with a volatile load: BPF may be writing the same
//! memory concurrently, so no reference into the arena is ever handed out.
//! Touching a page BPF never allocated makes the kernel allocate a zeroed one
//! (arena pages fault in from userspace), so a stale pointer reads zeros
//! rather than crashing.

use std::marker::PhantomData;
use std::mem::{align_of, size_of};

use libbpf_rs::{AsRawLibbpf, MapCore, MapType, Object};

/// Why an arena read was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArenaError {
    /// The object has no arena map.
    #[error("BPF object '{0}' has no arena map")]
    NotArena(String),
    /// The arena has no userspace mapping (object not loaded, or not mmapable).
    #[error("arena '{0}' is not mapped in this process")]
    NotMapped(String),
    /// A NULL arena pointer was followed.
    #[error("NULL arena pointer")]
    Null,
    /// The object at `addr` does not lie inside the arena.
    #[error("arena read of {size} bytes at {addr:#x} is outside the arena [{base:#x}, {end:#x})")]
    OutOfBounds {
        /// Address read.
        addr: u64,
        /// Bytes read.
        size: usize,
        /// First byte of the arena mapping.
        base: u64,
        /// One past its last byte.
        end: u64,
    },
    /// The address is not aligned for the type read.
    #[error("arena read at {addr:#x} is not aligned to {align} bytes")]
    Misaligned {
        /// Address read.
        addr: u64,
        /// Alignment the type needs.
        align: usize,
    },
}

/// Types that may be read from arena memory: plain data for which every bit
/// pattern is a valid value (integers, arrays and `repr(C)` structs of them).
///
/// # Safety
/// Implement only for `Copy` types without padding-sensitive invariants,
/// references, `bool`, `char`, enums or other types with invalid bit patterns.
pub unsafe trait ArenaPod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(unsafe impl ArenaPod for $t {})* };
}
pod!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);
// SAFETY: an array of plain data is plain data.
unsafe impl<T: ArenaPod, const N: usize> ArenaPod for [T; N] {}

/// A window onto one loaded arena. It borrows the object that owns the
/// mapping, so it cannot outlive it.
#[derive(Debug, Clone, Copy)]
pub struct ArenaView<'obj> {
    base: u64,
    len: u64,
    _obj: PhantomData<&'obj ()>,
}

impl<'obj> ArenaView<'obj> {
    /// The view of the arena of a loaded object (a BPF object has at most
    /// one arena). For a skeleton: `ArenaView::of_object(skel.object())`.
    pub fn of_object(obj: &'obj Object) -> Result<Self, ArenaError> {
        let name = obj
            .name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let map = obj
            .maps()
            .find(|m| m.map_type() == MapType::Arena)
            .ok_or(ArenaError::NotArena(name))?;
        let name = map.name().to_string_lossy().into_owned();
        let mut size = 0u64;
        // SAFETY: the map pointer is valid while obj lives; libbpf returns
        // the arena's mmap base (or NULL) and writes a size we do not use.
        let base = unsafe {
            libbpf_rs::libbpf_sys::bpf_map__initial_value(
                map.as_libbpf_object().as_ptr(),
                &mut size,
            )
        };
        if base.is_null() {
            return Err(ArenaError::NotMapped(name));
        }
        let len = u64::from(map.max_entries()) * page_size();
        // The mapping belongs to obj and lives until it is dropped.
        Ok(ArenaView {
            base: base as u64,
            len,
            _obj: PhantomData,
        })
    }

    /// A view of `len` bytes at `base`.
    ///
    /// # Safety
    /// `[base, base + len)` must stay a readable mapping for `'obj`, and a
    /// writable one if [`ArenaView::write_array`] is used.
    pub unsafe fn from_raw(base: u64, len: u64) -> Self {
        ArenaView {
            base,
            len,
            _obj: PhantomData,
        }
    }

    /// Userspace address of the arena's first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size of the arena's address range in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the arena range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks that `size` bytes at `addr` lie in the arena, aligned to `align`.
    pub fn check(&self, addr: u64, size: usize, align: usize) -> Result<(), ArenaError> {
        if addr == 0 {
            return Err(ArenaError::Null);
        }
        let end = self.base + self.len;
        let inside = addr >= self.base && addr.checked_add(size as u64).is_some_and(|e| e <= end);
        if !inside {
            return Err(ArenaError::OutOfBounds {
                addr,
                size,
                base: self.base,
                end,
            });
        }
        if !addr.is_multiple_of(align as u64) {
            return Err(ArenaError::Misaligned { addr, align });
        }
        Ok(())
    }

    /// Copies the `T` at arena address `addr` out of the arena.
    pub fn read<T: ArenaPod>(&self, addr: u64) -> Result<T, ArenaError> {
        self.check(addr, size_of::<T>(), align_of::<T>())?;
        // SAFETY: checked to lie in the mapping and be aligned; T is plain
        // data, so any bytes BPF left there form a valid T.
        Ok(unsafe { std::ptr::read_volatile(addr as *const T) })
    }

    /// Copies `n` consecutive `T`s starting at `addr`.
    pub fn read_array<T: ArenaPod>(&self, addr: u64, n: usize) -> Result<Vec<T>, ArenaError> {
        let size = size_of::<T>()
            .checked_mul(n)
            .ok_or(ArenaError::OutOfBounds {
                addr,
                size: usize::MAX,
                base: self.base,
                end: self.base + self.len,
            })?;
        self.check(addr, size, align_of::<T>())?;
        Ok((0..n)
            // SAFETY: each element lies in the checked range and is aligned.
            .map(|i| unsafe { std::ptr::read_volatile((addr as *const T).add(i)) })
            .collect())
    }

    /// Copies `vals` into the arena at `addr`: how userspace hands BPF a
    /// batch of input (operations, key streams) without a syscall per item.
    /// Like every access through the mapping, it is not synchronised with
    /// BPF programs running meanwhile.
    pub fn write_array<T: ArenaPod>(&self, addr: u64, vals: &[T]) -> Result<(), ArenaError> {
        let size = std::mem::size_of_val(vals);
        self.check(addr, size, align_of::<T>())?;
        for (i, v) in vals.iter().enumerate() {
            // SAFETY: each element lies in the checked, writable arena
            // mapping and is aligned; T is plain data.
            unsafe { std::ptr::write_volatile((addr as *mut T).add(i), *v) };
        }
        Ok(())
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let sz = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if sz > 0 {
        sz as u64
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_refuses_outside() {
        let buf: Vec<u64> = (0..64).collect();
        let base = buf.as_ptr() as u64;
        // SAFETY: buf outlives the view.
        let v = unsafe { ArenaView::from_raw(base, 64 * 8) };
        assert_eq!(v.read::<u64>(base + 8 * 5), Ok(5));
        assert_eq!(v.read_array::<u64>(base + 8, 3), Ok(vec![1, 2, 3]));
        assert_eq!(v.read::<u64>(0), Err(ArenaError::Null));
        assert!(matches!(
            v.read::<u64>(base + 64 * 8),
            Err(ArenaError::OutOfBounds { .. })
        ));
        assert!(matches!(
            v.read::<u64>(base - 8),
            Err(ArenaError::OutOfBounds { .. })
        ));
        assert!(matches!(
            v.read::<u64>(base + 4),
            Err(ArenaError::Misaligned { .. })
        ));
        assert!(matches!(
            v.read_array::<u64>(base, 65),
            Err(ArenaError::OutOfBounds { .. })
        ));
        assert!(matches!(
            v.read::<u64>(u64::MAX - 3),
            Err(ArenaError::OutOfBounds { .. })
        ));
    }

    #[test]
    fn writes_inside_and_refuses_outside() {
        let mut buf = vec![0u64; 8];
        let base = buf.as_mut_ptr() as u64;
        // SAFETY: buf outlives the view and is writable.
        let v = unsafe { ArenaView::from_raw(base, 8 * 8) };
        assert_eq!(v.write_array(base + 8 * 2, &[7u64, 8, 9]), Ok(()));
        assert_eq!(
            v.read_array::<u64>(base, 8),
            Ok(vec![0, 0, 7, 8, 9, 0, 0, 0])
        );
        assert!(matches!(
            v.write_array(base + 8 * 6, &[1u64, 2, 3]),
            Err(ArenaError::OutOfBounds { .. })
        ));
        assert_eq!(v.read::<u64>(base + 8 * 6), Ok(0));
        assert!(matches!(
            v.write_array(base + 1, &[1u64]),
            Err(ArenaError::Misaligned { .. })
        ));
    }
}
