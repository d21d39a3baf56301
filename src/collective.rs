//! Collectives: the one operation a distributed fit needs from its processes (or threads),
//! an all-gather in rank order, and the protocol that makes a failure on one member an error
//! on every member instead of a hang.
//!
//! - [`Collective`] is implemented by [`ThreadGroup`] members (threads of one process: several
//!   GPUs of one machine, or tests) and, with the `mpi` cargo feature, by `MpiWorld` (the
//!   processes of `mpirun`, on any number of machines).
//! - [`exchange`] sends either a member's payload or its error: when any member failed, every
//!   member returns the same [`GmmError::Distributed`] naming the first failed rank, so all of
//!   them stop at the same point and no model is written.
//!
//! Every member must call the collectives in the same order; the distributed backend does so
//! by construction (one exchange per E-step, per statistics pass, and for the shape and the
//! initial sample).

use std::sync::{Barrier, Mutex};

use crate::error::{GmmError, Result};

/// A fixed group of members, each knowing its rank, that can all-gather bytes.
pub trait Collective: Send + Sync {
    /// This member's rank, `0..size`.
    fn rank(&self) -> usize;
    /// The number of members P.
    fn size(&self) -> usize;
    /// Every member's `local` bytes, in rank order, on every member. Every member must call it
    /// (with payloads of any length, zero included).
    fn all_gather(&self, local: &[u8]) -> Result<Vec<Vec<u8>>>;
    /// What the group is, for messages (`mpi, rank 1 of 3`).
    fn describe(&self) -> String {
        format!("rank {} of {}", self.rank(), self.size())
    }
}

const OK: u8 = 0;
const FAILED: u8 = 1;

/// All-gathers every member's `local` values, or its error: `Ok` with every member's values
/// in rank order when all succeeded, and on every member the same
/// [`GmmError::Distributed`] (the first failed rank's message) when any failed.
pub fn exchange(group: &dyn Collective, local: Result<Vec<f64>>) -> Result<Vec<Vec<f64>>> {
    let bytes = match &local {
        Ok(values) => {
            let mut b = Vec::with_capacity(1 + 8 * values.len());
            b.push(OK);
            for v in values {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b
        }
        Err(e) => {
            let mut b = vec![FAILED];
            b.extend_from_slice(e.to_string().as_bytes());
            b
        }
    };
    let parts = group.all_gather(&bytes)?;
    if parts.len() != group.size() {
        return Err(GmmError::InvalidData(format!(
            "the collective returned {} parts for {} members",
            parts.len(),
            group.size()
        )));
    }
    for (rank, part) in parts.iter().enumerate() {
        if part.first() != Some(&OK) {
            let message = String::from_utf8_lossy(part.get(1..).unwrap_or_default()).into_owned();
            return Err(match local {
                Err(own) if rank == group.rank() => own,
                _ => GmmError::Distributed {
                    rank,
                    size: group.size(),
                    message,
                },
            });
        }
    }
    parts
        .into_iter()
        .map(|p| {
            let body = &p[1..];
            if body.len() % 8 != 0 {
                return Err(GmmError::InvalidData(format!(
                    "a collective payload of {} bytes is not a whole number of f64 values",
                    body.len()
                )));
            }
            Ok(body
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect())
        })
        .collect()
}

/// [`exchange`] of the values `values` derives from this member's outcome `local`, handing
/// `local` back: `Ok((local's value, every member's values))` when every member succeeded;
/// this member's own error, unchanged, when it failed; otherwise the first failed member's
/// [`GmmError::Distributed`]. What a member needs whenever it must go on with its own result
/// only if every member can go on too.
pub fn exchange_with<T>(
    group: &dyn Collective,
    local: Result<T>,
    values: impl FnOnce(&T) -> Vec<f64>,
) -> Result<(T, Vec<Vec<f64>>)> {
    let sent = match &local {
        Ok(v) => Ok(values(v)),
        Err(e) => Err(GmmError::Caller(e.to_string())),
    };
    match (local, exchange(group, sent)) {
        (Ok(v), Ok(all)) => Ok((v, all)),
        (Err(own), _) => Err(own),
        (Ok(_), Err(e)) => Err(e),
    }
}

/// The members of an in-process group: one per thread, all-gathering through shared memory.
/// Each member must be used by its own thread, and every member must take part in every
/// collective, as with MPI.
pub struct ThreadGroup {
    rank: usize,
    shared: std::sync::Arc<Shared>,
}

struct Shared {
    size: usize,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<u8>>>,
}

impl ThreadGroup {
    /// `size` (≥ 1) members, ranks `0..size`.
    pub fn new(size: usize) -> Result<Vec<ThreadGroup>> {
        if size == 0 {
            return Err(GmmError::param(
                "size",
                0,
                "a group needs at least one member",
            ));
        }
        let shared = std::sync::Arc::new(Shared {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
        });
        Ok((0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: std::sync::Arc::clone(&shared),
            })
            .collect())
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_gather(&self, local: &[u8]) -> Result<Vec<Vec<u8>>> {
        let poisoned = || GmmError::InvalidData("a member of the thread group panicked".into());
        self.shared.slots.lock().map_err(|_| poisoned())?[self.rank] = local.to_vec();
        // Everyone has written; everyone reads; nobody writes the next round before all read.
        self.shared.barrier.wait();
        let all = self.shared.slots.lock().map_err(|_| poisoned())?.clone();
        self.shared.barrier.wait();
        Ok(all)
    }

    fn describe(&self) -> String {
        format!("thread group, rank {} of {}", self.rank, self.shared.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_threads<T: Send>(size: usize, f: impl Fn(&ThreadGroup) -> T + Sync) -> Vec<T> {
        let members = ThreadGroup::new(size).unwrap();
        std::thread::scope(|s| {
            let handles: Vec<_> = members.iter().map(|m| s.spawn(|| f(m))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn every_member_gets_every_payload_in_rank_order() {
        let got = on_threads(3, |m| {
            let mine: Vec<f64> = (0..m.rank()).map(|i| (10 * m.rank() + i) as f64).collect();
            let first = exchange(m, Ok(mine)).unwrap();
            let second = exchange(m, Ok(vec![m.rank() as f64])).unwrap();
            (first, second)
        });
        for (first, second) in got {
            assert_eq!(first, vec![vec![], vec![10.0], vec![20.0, 21.0]]);
            assert_eq!(second, vec![vec![0.0], vec![1.0], vec![2.0]]);
        }
    }

    #[test]
    fn a_failure_on_one_member_is_the_same_error_on_every_member() {
        let got = on_threads(3, |m| {
            let local = if m.rank() == 1 {
                Err(GmmError::InvalidData("shard 1 is truncated".into()))
            } else {
                Ok(vec![1.0])
            };
            exchange(m, local).unwrap_err().to_string()
        });
        assert!(got[1].contains("shard 1 is truncated"), "{}", got[1]);
        for other in [&got[0], &got[2]] {
            assert!(
                other.contains("rank 1 of 3") && other.contains("shard 1 is truncated"),
                "{other}"
            );
        }
        assert!(ThreadGroup::new(0).is_err());
        // exchange_with hands back this member's own error unchanged
        let kinds = on_threads(2, |m| {
            let local = if m.rank() == 0 {
                Err(GmmError::file("shard-0.npy", "cannot open"))
            } else {
                Ok(7)
            };
            match exchange_with(m, local, |v| vec![*v as f64]) {
                Err(GmmError::File { .. }) => "own file error",
                Err(GmmError::Distributed { rank: 0, .. }) => "rank 0 failed",
                _ => "something else",
            }
        });
        assert_eq!(kinds, vec!["own file error", "rank 0 failed"]);
        let got = on_threads(2, |m| {
            exchange_with(m, Ok(m.rank() + 1), |v| vec![*v as f64]).unwrap()
        });
        assert_eq!(got[1], (2, vec![vec![1.0], vec![2.0]]));
    }
}
