//! End-to-end tests of Herald: a real server driven only through its HTTP
//! contract (API.md), as an integrating engineer would. One test binary, to
//! keep link time low.

mod bookings;
mod cascade;
mod cli;
mod config;
mod console;
mod contract;
mod crash;
mod disk;
mod errors;
mod fuzz;
mod helpers;
mod integrations;
mod isolation;
mod nodes;
mod notifications;
mod openapi;
mod openapi_answers;
mod providers;
mod recipients;
mod removing;
mod retention;
mod secrets;
