//! (forecast: placeholder)
