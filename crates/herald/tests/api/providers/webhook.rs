//! The `webhook` provider against its peer (being written).
