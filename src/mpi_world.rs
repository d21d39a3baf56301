//! The processes of an MPI job (`mpirun -n P …`) as a [`Collective`]: Open MPI or MPICH
//! through the `mpi` crate (cargo feature `mpi`). The all-gather is `MPI_Allgatherv` on the
//! world communicator, after an `MPI_Allgather` of the payload lengths.

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};
use mpi::Count;

use crate::collective::Collective;
use crate::error::{GmmError, Result};

/// This process's membership of `MPI_COMM_WORLD`. MPI is initialised by [`MpiWorld::init`]
/// and finalised when the value is dropped; collectives are called from the thread that
/// initialised it.
pub struct MpiWorld {
    _universe: mpi::environment::Universe,
    rank: usize,
    size: usize,
    processor: String,
}

impl MpiWorld {
    /// Initialises MPI (once per process).
    pub fn init() -> Result<MpiWorld> {
        let universe = mpi::initialize().ok_or_else(|| {
            GmmError::InvalidData("MPI is already initialised in this process".into())
        })?;
        let world = universe.world();
        let processor = mpi::environment::processor_name().unwrap_or_else(|_| "?".into());
        Ok(MpiWorld {
            rank: world.rank() as usize,
            size: world.size() as usize,
            processor,
            _universe: universe,
        })
    }

    /// Ends every process of the job with `code` (`MPI_Abort`): for failures that cannot
    /// reach the next collective.
    pub fn abort(&self, code: i32) -> ! {
        SimpleCommunicator::world().abort(code)
    }
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_gather(&self, local: &[u8]) -> Result<Vec<Vec<u8>>> {
        let world = SimpleCommunicator::world();
        let len = Count::try_from(local.len()).map_err(|_| {
            GmmError::InvalidData(format!(
                "a payload of {} bytes is more than MPI counts in one message",
                local.len()
            ))
        })?;
        let mut counts: Vec<Count> = vec![0; self.size];
        world.all_gather_into(&len, &mut counts[..]);
        let mut displs = Vec::with_capacity(self.size);
        let mut total: usize = 0;
        for &c in &counts {
            displs.push(Count::try_from(total).map_err(|_| {
                GmmError::InvalidData("the gathered payloads exceed MPI's counts".into())
            })?);
            total += c as usize;
        }
        let mut buf = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(local, &mut partition);
        }
        Ok(counts
            .iter()
            .zip(&displs)
            .map(|(&c, &at)| buf[at as usize..(at + c) as usize].to_vec())
            .collect())
    }

    fn describe(&self) -> String {
        format!(
            "mpi, rank {} of {} on {}",
            self.rank, self.size, self.processor
        )
    }
}
