//! The task run queue (bpf/include/scx_arena/rq.h) from userspace: which
//! tasks a scheduler has queued, in the order it will dispatch them, read
//! through the arena mmap without a syscall per task.
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::rq::RqView;
//! fn waiting_pids(view: ArenaView<'_>, rq: u64) -> Result<Vec<i32>, Box<dyn std::error::Error>> {
//!     let q = RqView::new(view, rq);
//!     q.check()?;
//!     Ok(q.queued()?.into_iter().map(|t| t.pid).collect())
//! }
//! ```
//!
//! A FIFO queue is an arena list ([`crate::list`]) and a vtime queue an
//! arena heap ([`crate::heap`]); their views do the walking and checking.
//! The reads are not synchronised with BPF: a queue caught mid-update may
//! read as an [`RqError`].

use std::mem::size_of;

use crate::arena::{ArenaError, ArenaPod, ArenaView};
use crate::heap::{HeapError, HeapView, RawHeap};
use crate::list::{ListError, ListView, RawList};

/// Byte offset of the FIFO list in `struct scx_arena_rq`.
pub const RQ_FIFO_OFF: u64 = 8;
/// Byte offset of the vtime heap in `struct scx_arena_rq`.
pub const RQ_VTIME_OFF: u64 = RQ_FIFO_OFF + size_of::<RawList>() as u64;
/// Byte offset of the heap handle in `struct scx_arena_rq_node`.
pub const NODE_VTIME_OFF: u64 = 16;
/// Byte offset of the pid in `struct scx_arena_rq_node`.
pub const NODE_PID_OFF: u64 = 40;

/// `enum scx_arena_rq_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum RqMode {
    /// Push order.
    Fifo = 0,
    /// Smallest vtime first, ties in push order.
    Vtime = 1,
}

/// `struct scx_arena_rq`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawRq {
    /// The arena spin lock word.
    pub lock: u32,
    /// `enum scx_arena_rq_mode`.
    pub mode: u32,
    /// The queue in FIFO mode.
    pub fifo: RawList,
    /// The queue in vtime mode.
    pub vtime: RawHeap,
}
// SAFETY: integers and plain structs of integers, no padding.
unsafe impl ArenaPod for RawRq {}

/// One queued task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedTask {
    /// Arena address of its `struct scx_arena_rq_node`.
    pub node: u64,
    /// Its pid.
    pub pid: i32,
    /// Its vtime (vtime mode; 0 in a FIFO).
    pub vtime: u64,
}

/// What is wrong with a run queue, or why it could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RqError {
    /// The queue header or a node could not be read.
    #[error("run queue: {0}")]
    Arena(#[from] ArenaError),
    /// `mode` is not a known `enum scx_arena_rq_mode`.
    #[error("run queue mode {0} is unknown")]
    Mode(u32),
    /// The FIFO list is broken.
    #[error("FIFO run queue: {0}")]
    List(#[from] ListError),
    /// The vtime heap is broken.
    #[error("vtime run queue: {0}")]
    Heap(#[from] HeapError),
    /// The structure of the other mode holds tasks.
    #[error("{mode:?} run queue: its unused {other} holds {nr} tasks")]
    OtherMode {
        /// The queue's mode.
        mode: RqMode,
        /// The structure that should be empty ("list" or "heap").
        other: &'static str,
        /// How many tasks it holds.
        nr: u64,
    },
}

/// A view of one `struct scx_arena_rq` in an arena.
#[derive(Debug, Clone, Copy)]
pub struct RqView<'obj> {
    view: ArenaView<'obj>,
    addr: u64,
}

impl<'obj> RqView<'obj> {
    /// The queue at arena address `rq_addr`.
    pub fn new(view: ArenaView<'obj>, rq_addr: u64) -> Self {
        RqView {
            view,
            addr: rq_addr,
        }
    }

    /// The queue's header.
    pub fn head(&self) -> Result<RawRq, RqError> {
        Ok(self.view.read(self.addr)?)
    }

    /// The queue's mode.
    pub fn mode(&self) -> Result<RqMode, RqError> {
        match self.head()?.mode {
            0 => Ok(RqMode::Fifo),
            1 => Ok(RqMode::Vtime),
            m => Err(RqError::Mode(m)),
        }
    }

    /// The number of queued tasks, as the header counts them.
    pub fn nr_queued(&self) -> Result<u64, RqError> {
        let h = self.head()?;
        Ok(match self.mode()? {
            RqMode::Fifo => h.fifo.nr,
            RqMode::Vtime => u64::from(h.vtime.nr),
        })
    }

    fn list(&self) -> ListView<'obj> {
        ListView::new(self.view, self.addr + RQ_FIFO_OFF)
    }

    fn heap(&self) -> HeapView<'obj> {
        HeapView::new(self.view, self.addr + RQ_VTIME_OFF)
    }

    /// The queued tasks in dispatch order.
    pub fn queued(&self) -> Result<Vec<QueuedTask>, RqError> {
        let pid = |node: u64| self.view.read::<i32>(node + NODE_PID_OFF);
        match self.mode()? {
            RqMode::Fifo => self
                .list()
                .nodes()?
                .into_iter()
                .map(|node| {
                    Ok(QueuedTask {
                        node,
                        pid: pid(node)?,
                        vtime: 0,
                    })
                })
                .collect(),
            RqMode::Vtime => self
                .heap()
                .sorted()?
                .into_iter()
                .map(|e| {
                    let node = e.node - NODE_VTIME_OFF;
                    Ok(QueuedTask {
                        node,
                        pid: pid(node)?,
                        vtime: e.key,
                    })
                })
                .collect(),
        }
    }

    /// Checks the queue: a known mode, the structure of that mode intact
    /// ([`ListView::check`], [`HeapView::check`]), the other one empty.
    pub fn check(&self) -> Result<(), RqError> {
        let h = self.head()?;
        let mode = self.mode()?;
        match mode {
            RqMode::Fifo => {
                self.list().check()?;
                if h.vtime.nr != 0 {
                    return Err(RqError::OtherMode {
                        mode,
                        other: "heap",
                        nr: u64::from(h.vtime.nr),
                    });
                }
            }
            RqMode::Vtime => {
                self.heap().check()?;
                if h.fifo.nr != 0 || h.fifo.first != 0 {
                    return Err(RqError::OtherMode {
                        mode,
                        other: "list",
                        nr: h.fifo.nr,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_rq_h() {
        // struct scx_arena_rq: lock, mode, list (3 x u64), heap (u64, 2 x u32, u64).
        assert_eq!(size_of::<RawRq>(), 56);
        assert_eq!(RQ_VTIME_OFF, 32);
    }

    #[test]
    fn reads_a_fifo_queue_built_by_hand() {
        // Two nodes of 48 bytes (list node, heap node, pid, pad) and a queue.
        let mut mem = vec![0u64; 64];
        let base = mem.as_mut_ptr() as u64;
        let (q, n1, n2) = (base, base + 64, base + 128);
        let w = |mem: &mut Vec<u64>, addr: u64, v: u64| mem[((addr - base) / 8) as usize] = v;
        // Queue: FIFO, first n1, last n2, nr 2.
        w(&mut mem, q + 8, n1);
        w(&mut mem, q + 16, n2);
        w(&mut mem, q + 24, 2);
        // n1 -> n2.
        w(&mut mem, n1, n2);
        w(&mut mem, n2 + 8, n1);
        w(&mut mem, n1 + NODE_PID_OFF, 11);
        w(&mut mem, n2 + NODE_PID_OFF, 22);
        // SAFETY: mem outlives the view.
        let view = unsafe { ArenaView::from_raw(base, 64 * 8) };
        let rq = RqView::new(view, q);
        assert_eq!(rq.check(), Ok(()));
        assert_eq!(rq.mode(), Ok(RqMode::Fifo));
        assert_eq!(rq.nr_queued(), Ok(2));
        let pids: Vec<i32> = rq.queued().expect("queued").iter().map(|t| t.pid).collect();
        assert_eq!(pids, [11, 22]);
        // A count that disagrees with the links is caught.
        w(&mut mem, q + 24, 3);
        assert!(matches!(rq.check(), Err(RqError::List(_))));
        w(&mut mem, q + 24, 2);
        // So is an unknown mode, and a heap that holds tasks in FIFO mode.
        w(&mut mem, q, 7 << 32);
        assert_eq!(rq.check(), Err(RqError::Mode(7)));
        w(&mut mem, q, 0);
        w(&mut mem, q + 40, 1);
        assert!(matches!(rq.check(), Err(RqError::OtherMode { .. })));
    }
}
