//! (faces: placeholder)
