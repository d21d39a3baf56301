//! What moves between the host and the device: bytes written to device buffers, bytes read
//! back, and host round trips (a submission whose results the host waits for and maps).
//!
//! Every write and read-back of the engine goes through [`crate::gpu::GpuContext`], which
//! counts them here; [`crate::gpu::GpuContext::traffic`] gives a snapshot, and the difference
//! of two snapshots is what happened in between (one EM iteration, say).

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the host–device traffic of one [`crate::gpu::GpuContext`] (of every engine
/// and query on it), or the difference of two snapshots (`later - earlier`, or
/// [`Traffic::since`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes written from the host into device buffers (data, parameters, uniform blocks).
    pub bytes_to_device: u64,
    /// Bytes copied from the device and mapped on the host.
    pub bytes_from_device: u64,
    /// Times the host submitted work and waited for its results (submit + map-read).
    pub round_trips: u64,
}

impl Traffic {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        Traffic {
            bytes_to_device: self.bytes_to_device.saturating_sub(earlier.bytes_to_device),
            bytes_from_device: self
                .bytes_from_device
                .saturating_sub(earlier.bytes_from_device),
            round_trips: self.round_trips.saturating_sub(earlier.round_trips),
        }
    }
}

impl std::ops::Sub for Traffic {
    type Output = Traffic;

    fn sub(self, earlier: Traffic) -> Traffic {
        self.since(&earlier)
    }
}

impl std::fmt::Display for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} B to the device, {} B from it, {} round trips",
            self.bytes_to_device, self.bytes_from_device, self.round_trips
        )
    }
}

/// The running totals behind [`Traffic`], shared by the clones of a context.
#[derive(Debug, Default)]
pub(crate) struct TrafficCounter {
    to_device: AtomicU64,
    from_device: AtomicU64,
    round_trips: AtomicU64,
}

impl TrafficCounter {
    pub(crate) fn wrote(&self, bytes: u64) {
        self.to_device.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One submission waited for, and `bytes` mapped from it.
    pub(crate) fn read_back(&self, bytes: u64) {
        self.from_device.fetch_add(bytes, Ordering::Relaxed);
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Traffic {
        Traffic {
            bytes_to_device: self.to_device.load(Ordering::Relaxed),
            bytes_from_device: self.from_device.load(Ordering::Relaxed),
            round_trips: self.round_trips.load(Ordering::Relaxed),
        }
    }
}
