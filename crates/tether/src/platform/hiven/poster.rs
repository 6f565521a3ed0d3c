//! Room messages posted through the REST API one at a time, in the order they were
//! queued, each tried again while its failure may pass (network errors, 408, 429, 5xx):
//! a hiccup of the API neither loses a bot's message nor lets a later one overtake it.
//! Hiven takes messages over REST only, so this is the Hiven client's outbox.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::{mpsc, oneshot};

use crate::{backoff::Backoff, config::BackoffConfig};

use super::{
    client::HivenError,
    http::{HivenHttp, HttpError, HttpRequest},
    model::Message,
};

/// How a queued post is tried again: the engine's reconnect backoff (exponential, full
/// jitter, capped), applied to one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostRetry {
    /// Attempts per message, the first included (0 counts as 1).
    pub attempts: u32,
    /// The bound of the wait before the second attempt, doubled before each later one…
    pub base: Duration,
    /// …up to this.
    pub cap: Duration,
}

impl PostRetry {
    /// The backoff between the attempts of one post.
    fn backoff(self) -> Backoff {
        Backoff::new(BackoffConfig {
            base: self.base,
            cap: self.cap.max(self.base),
            max_attempts: Some(self.attempts.saturating_sub(1)),
            seed: None,
        })
    }
}

impl Default for PostRetry {
    /// 5 attempts, waiting at most 250 ms, 500 ms, 1 s and 2 s between them.
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(5),
        }
    }
}

/// Resolves to the message the API created, or to the error that ended its attempts (a
/// failure that will not pass, such as a 404 for an unknown room, ends them at once).
///
/// Dropping it does not withdraw the post.
#[derive(Debug)]
pub struct PostReceipt {
    rx: oneshot::Receiver<Result<Message, HttpError>>,
}

impl Future for PostReceipt {
    type Output = Result<Message, HivenError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|result| match result {
            Ok(posted) => posted.map_err(HivenError::from),
            Err(_) => Err(HivenError::PostAbandoned),
        })
    }
}

struct Job {
    request: HttpRequest,
    reply: oneshot::Sender<Result<Message, HttpError>>,
}

/// The queue and the task that posts from it (ends once every handle is gone and the
/// queue is empty).
#[derive(Debug)]
pub(crate) struct Poster {
    jobs: mpsc::Sender<Job>,
}

impl Poster {
    /// Starts the posting task on the current runtime; at most `capacity` posts wait.
    pub(crate) fn start(http: HivenHttp, retry: PostRetry, capacity: usize) -> Self {
        let (jobs, queue) = mpsc::channel(capacity.max(1));
        tokio::spawn(run(http, retry, queue));
        Self { jobs }
    }

    /// Queues a post, waiting for room while the queue is full.
    pub(crate) async fn queue(&self, request: HttpRequest) -> Result<PostReceipt, HivenError> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| HivenError::PostAbandoned)?;
        Ok(PostReceipt { rx })
    }
}

async fn run(http: HivenHttp, retry: PostRetry, mut queue: mpsc::Receiver<Job>) {
    while let Some(job) = queue.recv().await {
        let posted = post(&http, retry, &job.request).await;
        let _ = job.reply.send(posted);
    }
}

/// One post with its retries.
pub(crate) async fn post(
    http: &HivenHttp,
    retry: PostRetry,
    request: &HttpRequest,
) -> Result<Message, HttpError> {
    let mut backoff = retry.backoff();
    loop {
        match http.call::<Message>(request.clone()).await {
            Ok(message) => return Ok(message),
            Err(error) if error.is_retryable() && !backoff.exhausted() => {
                let delay = backoff.next_delay();
                let attempt = backoff.attempt();
                tracing::info!(attempt, %error, url = %request.url, ?delay, "hiven: post failed; trying again");
                tokio::time::sleep(delay).await;
            }
            Err(error) => return Err(error),
        }
    }
}
