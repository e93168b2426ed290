//! The `apns` provider against its peer (being written).
