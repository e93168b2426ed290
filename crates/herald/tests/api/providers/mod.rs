//! Real providers against peers that speak their wire protocols: a real
//! SMTP server (aiosmtpd), and local HTTP servers that check what FCM's,
//! APNs' and the webhook contract's documentation says.

mod apns;
mod chain;
mod fcm;
mod smpp;
mod smpp_crash;
mod smtp;
mod twilio;
mod webhook;
mod whatsapp;
