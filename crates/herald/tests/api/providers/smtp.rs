//! The `smtp` provider against its peer (being written).
