//! The HTTP front door: a real request -> an event -> the runtime -> a real response.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};

use crate::broker::{Broker, Outcome, StreamPart, Streamed, split_prelude};
use crate::events::{self, EventFormat, EventSettings, HttpRequest};
use crate::response::{self, HttpResponse};

/// The front door's settings.
pub struct FrontDoor {
    /// The invocation queue.
    pub broker: Arc<Broker>,
    /// Which event shape to send.
    pub format: EventFormat,
    /// API Gateway stage.
    pub stage: String,
    /// The port we listen on (ALB's X-Forwarded-Port).
    pub port: u16,
}

impl FrontDoor {
    /// Serves one request.
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Result<Response<FrontBody>, Infallible> {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let (answer, stream) = match body.collect().await {
            Ok(body) => self.answer(&parts, &body.to_bytes(), peer).await,
            Err(err) => {
                eprintln!("lambda-wsgi-emulator: could not read the request body: {err}");
                (HttpResponse::gateway_error(400, "Bad Request"), None)
            }
        };
        eprintln!(
            "lambda-wsgi-emulator: {} {} -> {}{} ({} ms)",
            parts.method,
            parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            answer.status,
            if stream.is_some() { ", streaming" } else { "" },
            started.elapsed().as_millis()
        );
        Ok(to_hyper(answer, stream))
    }

    async fn answer(
        &self,
        parts: &hyper::http::request::Parts,
        body: &Bytes,
        peer: SocketAddr,
    ) -> (HttpResponse, Option<StreamBody>) {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let request = HttpRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            headers,
            body,
            peer: peer.ip(),
            port: self.port,
        };
        let request_id = format!("{:x}", crate::broker::epoch_ms());
        let event = events::build(
            &request,
            &EventSettings {
                format: self.format,
                stage: &self.stage,
                request_id: &request_id,
            },
        );
        let answer = match self.broker.invoke(Bytes::from(event.to_string())).await {
            Outcome::Response(payload) => response::from_function(&payload, self.format).unwrap_or_else(|err| {
                eprintln!("lambda-wsgi-emulator: 502 because {err}");
                HttpResponse::gateway_error(502, "Internal Server Error")
            }),
            Outcome::Stream(streamed) => {
                return match streamed_head(&streamed).await {
                    Ok((head, body)) => (head, Some(body)),
                    Err(why) => {
                        eprintln!("lambda-wsgi-emulator: 502 because {why}");
                        (HttpResponse::gateway_error(502, "Internal Server Error"), None)
                    }
                };
            }
            Outcome::Error(payload) | Outcome::InitError(payload) => {
                eprintln!(
                    "lambda-wsgi-emulator: 502 because the function failed: {}",
                    String::from_utf8_lossy(&payload)
                );
                HttpResponse::gateway_error(502, "Internal Server Error")
            }
            Outcome::Died(why) => {
                eprintln!("lambda-wsgi-emulator: 502 because {why}");
                HttpResponse::gateway_error(502, "Internal Server Error")
            }
            Outcome::Timeout => HttpResponse::gateway_error(504, "Endpoint request timed out"),
        };
        (answer, None)
    }
}

/// What the front door sends: a whole body, or a streamed one.
pub type FrontBody = BoxBody<Bytes, std::io::Error>;

/// Reads a streamed response up to the end of its prelude (the JSON with the status, headers
/// and cookies, then eight NUL bytes); the rest is the body, passed on as it arrives.
async fn streamed_head(streamed: &Streamed) -> Result<(HttpResponse, StreamBody), String> {
    let mut parts = streamed.take().ok_or("the response stream was already read")?;
    let mut buffered = Vec::new();
    loop {
        match parts.recv().await {
            Some(Ok(bytes)) => buffered.extend_from_slice(&bytes),
            Some(Err(why)) => return Err(format!("the function failed before its response began: {why}")),
            None => return Err("the response stream ended before its prelude did (eight NUL bytes)".to_owned()),
        }
        if let Some((prelude, body)) = split_prelude(&buffered) {
            let head = response::from_prelude(prelude).map_err(|e| format!("the stream prelude: {e}"))?;
            let first = Bytes::copy_from_slice(body);
            return Ok((
                head,
                StreamBody {
                    first: Some(first),
                    parts,
                },
            ));
        }
    }
}

/// A streamed body: each piece goes to the client as soon as the function sends it. An error
/// from the function breaks the connection off, which is what a client of Lambda sees too.
pub struct StreamBody {
    first: Option<Bytes>,
    parts: tokio::sync::mpsc::Receiver<StreamPart>,
}

impl hyper::body::Body for StreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(first) = self.first.take().filter(|first| !first.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        match self.parts.poll_recv(cx) {
            Poll::Ready(Some(Ok(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            Poll::Ready(Some(Err(why))) => {
                eprintln!("lambda-wsgi-emulator: the response stream broke off: {why}");
                Poll::Ready(Some(Err(std::io::Error::other(why))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn whole(bytes: Vec<u8>) -> FrontBody {
    Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed()
}

fn to_hyper(answer: HttpResponse, stream: Option<StreamBody>) -> Response<FrontBody> {
    let mut builder = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match stream {
        Some(stream) => stream.boxed(),
        None => whole(answer.body),
    };
    builder.body(body).unwrap_or_else(|err| {
        eprintln!("lambda-wsgi-emulator: 502 because the response headers are invalid: {err}");
        let fallback = HttpResponse::gateway_error(502, "Internal Server Error");
        let mut response = Response::new(whole(fallback.body));
        *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        response
    })
}
