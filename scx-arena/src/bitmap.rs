//! The arena bitmap (bpf/include/scx_arena/bitmap.h) from userspace: a
//! copy of a `struct scx_arena_bitmap` (or `struct scx_arena_cpumask`) read
//! through the arena mmap in one go, then queried without touching the
//! arena again.
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::bitmap::BitmapView;
//! fn idle_cpus(view: ArenaView<'_>, mask: u64) -> Result<Vec<u32>, Box<dyn std::error::Error>> {
//!     let bm = BitmapView::read(view, mask)?;
//!     Ok(bm.ones().collect())
//! }
//! ```
//!
//! The read is not synchronised with BPF: a bitmap BPF changes meanwhile
//! may be caught with some words old and some new.

use crate::arena::{ArenaError, ArenaView};

/// `SCX_ARENA_BITMAP_MAX_BITS`.
pub const BITMAP_MAX_BITS: u32 = 1 << 20;

/// Bytes of the header (`nr_bits`, `nr_words`) before the words.
pub const BITMAP_HDR_SIZE: u64 = 8;

/// Words holding `nr_bits` bits (`SCX_ARENA_BITMAP_WORDS`).
pub fn words_for(nr_bits: u32) -> u32 {
    nr_bits.div_ceil(64)
}

/// Why a bitmap could not be read, or what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BitmapError {
    /// The header or the words are not readable arena memory.
    #[error("bitmap at {addr:#x}: {source}")]
    Read {
        /// Address of the bitmap.
        addr: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// `nr_bits` is larger than `SCX_ARENA_BITMAP_MAX_BITS`.
    #[error("bitmap at {addr:#x}: nr_bits {nr_bits} is over the maximum")]
    TooLarge {
        /// Address of the bitmap.
        addr: u64,
        /// The stored size.
        nr_bits: u32,
    },
    /// `nr_words` does not match `nr_bits`.
    #[error("bitmap at {addr:#x}: nr_words {nr_words} does not hold nr_bits {nr_bits}")]
    Words {
        /// Address of the bitmap.
        addr: u64,
        /// The stored size in bits.
        nr_bits: u32,
        /// The stored word count.
        nr_words: u32,
    },
    /// A bit at or past `nr_bits` is set in the last word.
    #[error(
        "bitmap at {addr:#x}: bits past nr_bits {nr_bits} are set ({word:#x} in the last word)"
    )]
    StrayBits {
        /// Address of the bitmap.
        addr: u64,
        /// The stored size.
        nr_bits: u32,
        /// The last word.
        word: u64,
    },
}

/// A copy of a bitmap in arena memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitmapView {
    addr: u64,
    nr_bits: u32,
    words: Vec<u64>,
}

impl BitmapView {
    /// Reads the bitmap at arena address `addr`: its header, then all its
    /// words in one copy. Fails when the header is implausible
    /// (`nr_bits` over the maximum, `nr_words` not matching it) or the
    /// memory is not in the arena; stray bits past `nr_bits` are left for
    /// [`check`](Self::check).
    pub fn read(view: ArenaView<'_>, addr: u64) -> Result<Self, BitmapError> {
        let read_err = |source| BitmapError::Read { addr, source };
        let hdr: [u32; 2] = view.read(addr).map_err(read_err)?;
        let (nr_bits, nr_words) = (hdr[0], hdr[1]);
        if nr_bits > BITMAP_MAX_BITS {
            return Err(BitmapError::TooLarge { addr, nr_bits });
        }
        // A zeroed header (0 bits) may say 0 words; otherwise they agree.
        if nr_words != words_for(nr_bits) {
            return Err(BitmapError::Words {
                addr,
                nr_bits,
                nr_words,
            });
        }
        let words = view
            .read_array::<u64>(addr + BITMAP_HDR_SIZE, nr_words as usize)
            .map_err(read_err)?;
        Ok(BitmapView {
            addr,
            nr_bits,
            words,
        })
    }

    /// Arena address of the bitmap.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The size in bits.
    pub fn nr_bits(&self) -> u32 {
        self.nr_bits
    }

    /// The words, bit n in bit n % 64 of word n / 64.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Whether bit `bit` is set (false past the end).
    pub fn test(&self, bit: u32) -> bool {
        bit < self.nr_bits && (self.words[(bit / 64) as usize] >> (bit % 64)) & 1 == 1
    }

    /// The set bits, lowest first.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        let nr_bits = self.nr_bits;
        self.words.iter().enumerate().flat_map(move |(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some(i as u32 * 64 + b)
            })
            .filter(move |&b| b < nr_bits)
        })
    }

    /// The number of set bits below `nr_bits`.
    pub fn weight(&self) -> u32 {
        self.ones().count() as u32
    }

    /// The bits as booleans, `nr_bits` of them.
    pub fn to_bools(&self) -> Vec<bool> {
        (0..self.nr_bits).map(|b| self.test(b)).collect()
    }

    /// Checks the invariant every operation keeps: no bit set at or past
    /// `nr_bits`.
    pub fn check(&self) -> Result<(), BitmapError> {
        let rem = self.nr_bits % 64;
        if let (Some(&last), true) = (self.words.last(), rem != 0) {
            if last >> rem != 0 {
                return Err(BitmapError::StrayBits {
                    addr: self.addr,
                    nr_bits: self.nr_bits,
                    word: last,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_of(buf: &[u64]) -> ArenaView<'_> {
        // SAFETY: buf outlives the view and is never reallocated.
        unsafe { ArenaView::from_raw(buf.as_ptr() as u64, (buf.len() * 8) as u64) }
    }

    #[test]
    fn reads_bits_weight_and_ones() {
        // nr_bits 130, nr_words 3.
        let buf = vec![130u64 | (3 << 32), 0x8000_0000_0000_0001, 1, 2, 0];
        let v = view_of(&buf);
        let bm = BitmapView::read(v, buf.as_ptr() as u64).expect("read");
        assert_eq!(bm.nr_bits(), 130);
        assert_eq!(bm.ones().collect::<Vec<_>>(), vec![0, 63, 64, 129]);
        assert_eq!(bm.weight(), 4);
        assert!(bm.test(129) && !bm.test(130) && !bm.test(1000));
        assert_eq!(bm.check(), Ok(()));
        assert_eq!(bm.to_bools().len(), 130);
    }

    #[test]
    fn bad_headers_and_stray_bits_are_reported() {
        let buf = vec![130u64 | (2 << 32), 0, 0, 0];
        let a = buf.as_ptr() as u64;
        assert!(matches!(
            BitmapView::read(view_of(&buf), a),
            Err(BitmapError::Words { .. })
        ));
        let buf = vec![u64::from(BITMAP_MAX_BITS + 1), 0];
        let a = buf.as_ptr() as u64;
        assert!(matches!(
            BitmapView::read(view_of(&buf), a),
            Err(BitmapError::TooLarge { .. })
        ));
        let buf = vec![130u64 | (3 << 32), 0, 0, 4];
        let a = buf.as_ptr() as u64;
        let bm = BitmapView::read(view_of(&buf), a).expect("read");
        assert!(matches!(bm.check(), Err(BitmapError::StrayBits { .. })));
        // Words past the view.
        let buf = vec![640u64 | (10 << 32), 0];
        let a = buf.as_ptr() as u64;
        assert!(matches!(
            BitmapView::read(view_of(&buf), a),
            Err(BitmapError::Read { .. })
        ));
        // A zeroed header: 0 bits.
        let buf = vec![0u64];
        let a = buf.as_ptr() as u64;
        let bm = BitmapView::read(view_of(&buf), a).expect("read");
        assert_eq!((bm.nr_bits(), bm.weight()), (0, 0));
    }
}
