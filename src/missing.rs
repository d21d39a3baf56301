//! EM with missing values (NaN entries): placeholder, see issue 6.
