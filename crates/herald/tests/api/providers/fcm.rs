//! The `fcm` provider against its peer (being written).
