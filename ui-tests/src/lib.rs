//! trybuild UI tests for chsk-macros (see tests/).
