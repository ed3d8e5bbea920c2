//! Turning a panic inside a runner future into an error value, so
//! `run_stage` keeps its promise of always returning a result.
//!
//! Input: a future. Output: its value, or the panic message. Invariant: no
//! unsafe code (the future is boxed to pin it).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls `fut`, catching a panic from any poll.
pub(crate) async fn catch<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    CatchUnwind { inner: Box::pin(fut) }.await
}

struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        // The runner state is dropped right after a panic, so observing it
        // half-updated is impossible.
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(message(payload.as_ref()))),
        }
    }
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
