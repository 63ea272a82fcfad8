//! The HTTP front door: a real request -> an event -> the runtime -> a real response.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::broker::{Broker, Outcome};
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
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let answer = match body.collect().await {
            Ok(body) => self.answer(&parts, &body.to_bytes(), peer).await,
            Err(err) => {
                eprintln!("lambda-wsgi-emulator: could not read the request body: {err}");
                HttpResponse::gateway_error(400, "Bad Request")
            }
        };
        eprintln!(
            "lambda-wsgi-emulator: {} {} -> {} ({} ms)",
            parts.method,
            parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            answer.status,
            started.elapsed().as_millis()
        );
        Ok(to_hyper(answer))
    }

    async fn answer(&self, parts: &hyper::http::request::Parts, body: &Bytes, peer: SocketAddr) -> HttpResponse {
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
        match self.broker.invoke(Bytes::from(event.to_string())).await {
            Outcome::Response(payload) => response::from_function(&payload).unwrap_or_else(|err| {
                eprintln!("lambda-wsgi-emulator: 502 because {err}");
                HttpResponse::gateway_error(502, "Internal Server Error")
            }),
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
        }
    }
}

fn to_hyper(answer: HttpResponse) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(Bytes::from(answer.body))).unwrap_or_else(|err| {
        eprintln!("lambda-wsgi-emulator: 502 because the response headers are invalid: {err}");
        let fallback = HttpResponse::gateway_error(502, "Internal Server Error");
        let mut response = Response::new(Full::new(Bytes::from(fallback.body)));
        *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        response
    })
}
