//! Driving the cascade's async code on a synchronous backend. SQLite's
//! primitives answer at once (the writer thread owns its connection), so
//! the futures of `crate::flow` are ready on their first poll: this polls
//! once, with no runtime and no thread hand-off.

use crate::{Result, StoreError};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The output of a future that must be ready at once; an error, not a
/// hang, if a primitive ever waits.
pub(crate) fn now<F: Future>(f: F) -> Result<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(StoreError::Backend(
            "a synchronous store's step waited; its primitives must answer at once".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::now;

    #[test]
    fn ready_futures_answer_and_waiting_ones_are_an_error() {
        assert_eq!(now(async { 7 }).unwrap(), 7);
        assert!(now(std::future::pending::<()>()).is_err());
    }
}
