//! (io: placeholder)
