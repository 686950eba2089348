//! Reads of a loaded BPF object's global variables (`.bss` and `.data`) by
//! name, through libbpf's live mmap of the section's map: no syscall, and
//! the value BPF wrote last.
//!
//! The variable is found through the object's BTF: the `DataSec` of the
//! section lists each `Var` with its offset and size.
//!
//! ```no_run
//! # fn f(obj: &libbpf_rs::Object) -> Result<(), scx_arena::globals::GlobalError> {
//! let root: u64 = scx_arena::globals::read_global(obj, "scx_arena_alloc_root")?;
//! # Ok(()) }
//! ```
//!
//! Values are copied out with a volatile load, as BPF may be writing them.

use std::ffi::OsStr;
use std::mem::{align_of, size_of};

use libbpf_rs::btf::types::{DataSec, Var};
use libbpf_rs::btf::{Btf, BtfType};
use libbpf_rs::{AsRawLibbpf, MapCore, Object};

use crate::arena::ArenaPod;

/// Sections searched for a global, in this order.
pub const SECTIONS: [&str; 2] = [".bss", ".data"];

/// Why a global could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GlobalError {
    /// The name cannot be a C identifier (it holds a NUL byte).
    #[error("invalid global name {0:?}")]
    InvalidName(String),
    /// The object carries no BTF, so its globals cannot be located.
    #[error("the BPF object has no BTF")]
    NoBtf,
    /// libbpf failed to parse the object's BTF.
    #[error("cannot read the BPF object's BTF: {0}")]
    Btf(String),
    /// No variable of that name in `.bss` or `.data`.
    #[error("no global variable {0} in .bss or .data")]
    NotFound(String),
    /// Several variables of that name (static ones in different units).
    #[error("global variable {name} is defined {count} times in {section}")]
    Ambiguous {
        /// The variable.
        name: String,
        /// Its section.
        section: String,
        /// How many variables carry the name.
        count: usize,
    },
    /// The variable's size differs from the type read.
    #[error("global variable {name} is {actual} bytes, not {expected}")]
    Size {
        /// The variable.
        name: String,
        /// Its size in the BTF.
        actual: usize,
        /// `size_of` the type read.
        expected: usize,
    },
    /// The section's map is absent or not mapped (object not loaded).
    #[error("no mapped {0} map in the BPF object (is it loaded?)")]
    NotMapped(String),
    /// The variable does not lie inside the section's mapping.
    #[error("global variable {name} at {offset}+{size} lies outside {section} ({len} bytes)")]
    OutOfRange {
        /// The variable.
        name: String,
        /// Its section.
        section: String,
        /// Its offset in the section.
        offset: usize,
        /// Its size.
        size: usize,
        /// Bytes mapped.
        len: usize,
    },
    /// The variable's address is not aligned for the type read.
    #[error("global variable {name} is not aligned to {align} bytes")]
    Misaligned {
        /// The variable.
        name: String,
        /// Alignment the type needs.
        align: usize,
    },
}

/// Where a global variable lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalVar {
    /// Its section, `.bss` or `.data`.
    pub section: String,
    /// Byte offset in the section.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// Finds global variable `name` in the BTF of `obj`, in `.bss` first, then
/// `.data`.
pub fn find_global(obj: &Object, name: &str) -> Result<GlobalVar, GlobalError> {
    if name.contains('\0') {
        return Err(GlobalError::InvalidName(name.to_string()));
    }
    let btf = obj
        .btf()
        .map_err(|e| GlobalError::Btf(e.to_string()))?
        .ok_or(GlobalError::NoBtf)?;
    for section in SECTIONS {
        if let Some(var) = find_in_section(&btf, section, name)? {
            return Ok(var);
        }
    }
    Err(GlobalError::NotFound(name.to_string()))
}

fn find_in_section(
    btf: &Btf<'_>,
    section: &str,
    name: &str,
) -> Result<Option<GlobalVar>, GlobalError> {
    let Some(sec) = btf.type_by_name::<DataSec<'_>>(section) else {
        return Ok(None);
    };
    let found: Vec<GlobalVar> = sec
        .iter()
        .filter(|info| {
            btf.type_by_id::<BtfType<'_>>(info.ty)
                .and_then(|t| Var::try_from(t).ok())
                .and_then(|v| v.name())
                == Some(OsStr::new(name))
        })
        .map(|info| GlobalVar {
            section: section.to_string(),
            offset: info.offset as usize,
            size: info.size,
        })
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        count => Err(GlobalError::Ambiguous {
            name: name.to_string(),
            section: section.to_string(),
            count,
        }),
    }
}

/// The live mapping of `section`'s map: its address and length.
fn section_mapping(obj: &Object, section: &str) -> Result<(u64, usize), GlobalError> {
    let not_mapped = || GlobalError::NotMapped(section.to_string());
    let map = obj
        .maps()
        .find(|m| m.name().as_encoded_bytes().ends_with(section.as_bytes()))
        .ok_or_else(not_mapped)?;
    let mut size = 0u64;
    // SAFETY: the map pointer is valid while obj lives; libbpf returns the
    // section's mmap (or NULL) and its size.
    let base = unsafe {
        libbpf_rs::libbpf_sys::bpf_map__initial_value(map.as_libbpf_object().as_ptr(), &mut size)
    };
    if base.is_null() {
        return Err(not_mapped());
    }
    Ok((base as u64, size as usize))
}

/// Address in this process of the `size` bytes of `var`, checked to lie in
/// its section's mapping and be aligned to `align`.
fn var_address(
    obj: &Object,
    name: &str,
    var: &GlobalVar,
    size: usize,
    align: usize,
) -> Result<u64, GlobalError> {
    let (base, len) = section_mapping(obj, &var.section)?;
    if var.offset.checked_add(size).is_none_or(|end| end > len) {
        return Err(GlobalError::OutOfRange {
            name: name.to_string(),
            section: var.section.clone(),
            offset: var.offset,
            size,
            len,
        });
    }
    let addr = base + var.offset as u64;
    if !addr.is_multiple_of(align as u64) {
        return Err(GlobalError::Misaligned {
            name: name.to_string(),
            align,
        });
    }
    Ok(addr)
}

/// Reads global variable `name` of a loaded object as a `T`, whose size
/// must equal the variable's.
pub fn read_global<T: ArenaPod>(obj: &Object, name: &str) -> Result<T, GlobalError> {
    let var = find_global(obj, name)?;
    if var.size != size_of::<T>() {
        return Err(GlobalError::Size {
            name: name.to_string(),
            actual: var.size,
            expected: size_of::<T>(),
        });
    }
    let addr = var_address(obj, name, &var, size_of::<T>(), align_of::<T>())?;
    // SAFETY: the range lies in the section's mapping, which lives as long
    // as obj; it is aligned, and T is plain data, valid for any bytes.
    Ok(unsafe { std::ptr::read_volatile(addr as *const T) })
}

/// Copies the bytes of global variable `name` of a loaded object.
pub fn read_global_bytes(obj: &Object, name: &str) -> Result<Vec<u8>, GlobalError> {
    let var = find_global(obj, name)?;
    let addr = var_address(obj, name, &var, var.size, 1)?;
    Ok((0..var.size)
        // SAFETY: each byte lies in the checked range of the mapping.
        .map(|i| unsafe { std::ptr::read_volatile((addr as *const u8).add(i)) })
        .collect())
}
