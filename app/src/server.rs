//! The HTTP/1.1 server in front of the endpoint, with the limits an exposed service needs and
//! poem's own server does not offer: a request's headers must arrive within 10 s of its first
//! byte (or of the connection opening), its body within 30 s of its headers, an idle keep-alive
//! connection closes after 60 s, and at most `max_connections` are open at once (further
//! clients wait in the listen backlog). A connection that misses a deadline is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt as _, IntoEndpoint, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};

/// The server's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From a request's first byte (or the connection's opening) to the end of its headers.
    pub header_timeout: Duration,
    /// From the end of a request's headers to the end of its body.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a write may wait for a client that does not read its answer.
    pub write_timeout: Duration,
    /// Connections open at once (`CODEX_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// How long shutting down waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

type Dyn = Arc<dyn poem::endpoint::DynEndpoint<Output = Response>>;

/// Serves `endpoint` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish (at most `shutdown_grace`).
///
/// # Errors
/// When the listener's address cannot be read.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let endpoint: Dyn =
        Arc::new(poem::endpoint::ToDynEndpoint(endpoint.into_endpoint().map_to_response()));
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (endpoint, stopping) = (endpoint.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(stream, local, peer, endpoint, limits, stopping).await;
            drop(slot);
        });
    }
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("requests still in flight after the shutdown grace period were dropped");
    }
    Ok(())
}

async fn connection(
    stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    endpoint: Dyn,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let phase = Arc::new(Phase::new(limits));
    let io = Guarded::new(stream, phase.clone());
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let (endpoint, phase) = (endpoint.clone(), phase.clone());
        async move { Ok::<_, Infallible>(handle(request, local, peer, &*endpoint, phase).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

async fn handle(
    request: hyper::Request<Incoming>,
    local: SocketAddr,
    peer: SocketAddr,
    endpoint: &dyn poem::endpoint::DynEndpoint<Output = Response>,
    phase: Arc<Phase>,
) -> hyper::Response<BoxBody<Bytes, io::Error>> {
    let generation = phase.request_started();
    let (local, peer) = (LocalAddr(Addr::SocketAddr(local)), RemoteAddr(Addr::SocketAddr(peer)));
    let mut request: poem::Request = (request, local, peer, poem::http::uri::Scheme::HTTP).into();
    let body: BoxBody<Bytes, io::Error> = request.take_body().into();
    let deadline = Instant::now() + phase.limits.body_timeout;
    let body = DeadlineBody { inner: body, sleep: Box::pin(tokio::time::sleep_until(deadline)) };
    request.set_body(poem::Body::from(BodyExt::boxed(WithPhase {
        inner: body,
        phase: phase.clone(),
        generation: None,
    })));
    let response: hyper::Response<BoxBody<Bytes, io::Error>> =
        endpoint.get_response(request).await.into();
    response.map(|inner| WithPhase { inner, phase, generation: Some(generation) }.boxed())
}

/// Where a connection is, and the deadline that goes with it.
struct Phase {
    limits: Limits,
    state: Mutex<State>,
}

struct State {
    stage: Stage,
    /// Requests begun on the connection so far.
    requests: u64,
    /// The read waiting on the socket, woken when a new deadline applies to it.
    reader: Option<Waker>,
}

#[derive(Clone, Copy)]
enum Stage {
    /// Waiting for the rest of a request's headers, until then.
    Head(Instant),
    /// Between requests, until then.
    Idle(Instant),
    /// A request is being handled or answered (its body has a deadline of its own).
    Busy,
    /// A deadline was missed: the connection is to be dropped.
    Dead,
}

impl Phase {
    fn new(limits: Limits) -> Self {
        let stage = Stage::Head(Instant::now() + limits.header_timeout);
        Self { limits, state: Mutex::new(State { stage, requests: 0, reader: None }) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Bytes arrived: a new request begins if the connection was idle.
    fn bytes_arrived(&self) {
        let header_timeout = self.limits.header_timeout;
        self.with(|s| {
            if let Stage::Idle(_) = s.stage {
                s.stage = Stage::Head(Instant::now() + header_timeout);
            }
        });
    }

    /// The headers are in: the request is handled. Its number.
    fn request_started(&self) -> u64 {
        self.with(|s| {
            s.requests += 1;
            if !matches!(s.stage, Stage::Dead) {
                s.stage = Stage::Busy;
            }
            s.requests
        })
    }

    /// The answer to request `generation` is written: idle, unless another request has begun.
    fn answered(&self, generation: u64) {
        let idle_timeout = self.limits.idle_timeout;
        let reader = self.with(|s| {
            if s.requests == generation && matches!(s.stage, Stage::Busy) {
                s.stage = Stage::Idle(Instant::now() + idle_timeout);
                s.reader.take()
            } else {
                None
            }
        });
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    fn kill(&self) {
        let reader = self.with(|s| {
            s.stage = Stage::Dead;
            s.reader.take()
        });
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    /// The current stage, remembering who waits to read so that a new deadline reaches them.
    fn stage(&self, reader: &Waker) -> Stage {
        self.with(|s| {
            if !s.reader.as_ref().is_some_and(|r| r.will_wake(reader)) {
                s.reader = Some(reader.clone());
            }
            s.stage
        })
    }
}

/// The socket, failing its reads once the connection's deadline has passed.
struct Guarded {
    stream: TcpStream,
    phase: Arc<Phase>,
    sleep: Pin<Box<Sleep>>,
    /// Set while a write waits for the client to read: until when it may.
    write_stalled: Option<Instant>,
    write_sleep: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(stream: TcpStream, phase: Arc<Phase>) -> Self {
        let sleep = Box::pin(tokio::time::sleep(Duration::ZERO));
        let write_sleep = Box::pin(tokio::time::sleep(Duration::ZERO));
        Self { stream, phase, sleep, write_stalled: None, write_sleep }
    }

    /// A write's outcome, failed once the client has not read for `write_timeout`.
    fn write_deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.write_stalled = None;
            return polled;
        }
        let deadline = match self.write_stalled {
            Some(deadline) => deadline,
            None => {
                let deadline = Instant::now() + self.phase.limits.write_timeout;
                self.write_stalled = Some(deadline);
                self.write_sleep.as_mut().reset(deadline);
                deadline
            }
        };
        debug_assert_eq!(self.write_sleep.deadline(), deadline);
        match self.write_sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.phase.kill();
                Poll::Ready(Err(timed_out("the client does not read its answer")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let deadline = match self.phase.stage(cx.waker()) {
            Stage::Dead => return Poll::Ready(Err(timed_out("the request body was too slow"))),
            Stage::Head(deadline) | Stage::Idle(deadline) => Some(deadline),
            Stage::Busy => None,
        };
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.phase.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = deadline else { return Poll::Pending };
                if self.sleep.deadline() != deadline {
                    self.sleep.as_mut().reset(deadline);
                }
                match self.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.phase.kill();
                        Poll::Ready(Err(timed_out("the connection missed its deadline")))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.write_deadline(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.write_deadline(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.write_deadline(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A request body that must have arrived by a deadline.
struct DeadlineBody {
    inner: BoxBody<Bytes, io::Error>,
    sleep: Pin<Box<Sleep>>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Some(Err(timed_out("the request body was too slow"))))
                }
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body that tells the connection's phase how it went: a request body that fails ends the
/// connection; a response body, once written (dropped), makes the connection idle.
struct WithPhase<B> {
    inner: B,
    phase: Arc<Phase>,
    /// For a response: the request it answers.
    generation: Option<u64>,
}

impl<B: HttpBody<Data = Bytes, Error = io::Error> + Unpin> HttpBody for WithPhase<B> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(Some(Err(_)))) && self.generation.is_none() {
            self.phase.kill();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for WithPhase<B> {
    fn drop(&mut self) {
        if let Some(generation) = self.generation {
            self.phase.answered(generation);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use poem::{Route, get, handler, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[handler]
    fn hello() -> &'static str {
        "ok"
    }

    #[handler]
    fn echo(body: String) -> String {
        body
    }

    #[handler]
    fn large() -> Vec<u8> {
        vec![b'x'; 16 << 20]
    }

    /// A server on a free port with these limits; its address.
    async fn start(limits: Limits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Route::new().at("/", get(hello)).at("/echo", post(echo)).at("/large", get(large));
        tokio::spawn(serve(listener, app, limits, std::future::pending()));
        address
    }

    /// Reads one response (headers and a `Content-Length` body) off the stream.
    async fn response(stream: &mut TcpStream) -> String {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed mid-response");
            seen.push(byte[0]);
            if seen.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8(seen).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned)
            })
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.unwrap();
        format!("{head}{}", String::from_utf8(body).unwrap())
    }

    /// Reads until the server closes the connection; what came before.
    async fn until_closed(stream: &mut TcpStream) -> String {
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        String::from_utf8_lossy(&rest).into_owned()
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: codex\r\n\r\n";

    #[tokio::test(start_paused = true)]
    async fn a_client_sending_its_headers_a_byte_at_a_time_is_dropped_after_ten_seconds() {
        let address = start(Limits::default()).await;
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let started = Instant::now();
        tokio::spawn(async move {
            for byte in b"GET / HTTP/1.1\r\nHost: codex\r\nX-Slow: abcdefghijklmnopqrstuvwxyz" {
                if writer.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });

        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest).await;

        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_secs(10), "closed after {elapsed:?}");
        assert!(elapsed < Duration::from_secs(11), "closed after {elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_keep_alive_connection_serves_until_sixty_seconds_then_closes() {
        let address = start(Limits::default()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(GET).await.unwrap();
        assert!(response(&mut stream).await.starts_with("HTTP/1.1 200"));

        tokio::time::sleep(Duration::from_secs(59)).await;
        stream.write_all(GET).await.unwrap();
        assert!(response(&mut stream).await.ends_with("ok"), "still open after 59 s idle");
        let answered = Instant::now();
        until_closed(&mut stream).await;

        let idle = answered.elapsed();
        assert!(idle >= Duration::from_secs(60), "closed after {idle:?} idle");
        assert!(idle < Duration::from_secs(61), "closed after {idle:?} idle");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_dropped_after_ten_seconds() {
        let address = start(Limits::default()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let started = Instant::now();

        until_closed(&mut stream).await;

        let elapsed = started.elapsed();
        assert!(
            (Duration::from_secs(10)..Duration::from_secs(11)).contains(&elapsed),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_has_not_arrived_thirty_seconds_after_the_headers_drops_the_connection() {
        let address = start(Limits::default()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = "POST /echo HTTP/1.1\r\nHost: codex\r\nContent-Length: 10\r\n\r\nhello";
        stream.write_all(request.as_bytes()).await.unwrap();
        let started = Instant::now();

        let answer = until_closed(&mut stream).await;

        let elapsed = started.elapsed();
        assert!(
            (Duration::from_secs(30)..Duration::from_secs(31)).contains(&elapsed),
            "{elapsed:?}"
        );
        assert!(!answer.contains("200 OK"), "{answer}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_arriving_in_time_is_read_whole() {
        let address = start(Limits::default()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: codex\r\nContent-Length: 10\r\n\r\nhello")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(29)).await;
        stream.write_all(b"world").await.unwrap();

        assert!(response(&mut stream).await.ends_with("helloworld"));
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_max_connections_are_served_at_once() {
        let limits = Limits { max_connections: 2, ..Limits::default() };
        let address = start(limits).await;
        let mut open = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream.write_all(GET).await.unwrap();
            assert!(response(&mut stream).await.ends_with("ok"));
            open.push(stream);
        }
        let mut third = TcpStream::connect(address).await.unwrap();
        third.write_all(GET).await.unwrap();
        let mut byte = [0u8; 1];
        let waited = tokio::time::timeout(Duration::from_secs(5), third.read(&mut byte)).await;
        assert!(waited.is_err(), "a third connection is not served while two are open");

        drop(open.pop());

        assert!(response(&mut third).await.ends_with("ok"), "served once one closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_does_not_read_its_answer_is_dropped_after_thirty_seconds() {
        let address = start(Limits::default()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /large HTTP/1.1\r\nHost: codex\r\n\r\n").await.unwrap();

        // Reading nothing: the socket buffers fill long before 16 MiB.
        tokio::time::sleep(Duration::from_secs(31)).await;
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received).await;

        assert!(received.len() < 16 << 20, "the whole answer was written: {}", received.len());
    }
}
