//! (condition: placeholder)
