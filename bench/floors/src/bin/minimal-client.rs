//! The emulator's own cost: the least a Runtime API client can do (blocking HTTP/1.1 on one
//! kept-alive connection, no event parsing, a constant response). Its latency in `bench` is the
//! emulator's overhead plus a loopback round trip, an upper bound on what the emulator adds to
//! every runtime it measures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

const RESPONSE: &[u8] = br#"{"statusCode":200,"body":"ok"}"#;

fn main() -> std::io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(std::io::Error::other)?;
    let stream = TcpStream::connect(&api)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        write!(
            writer,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n"
        )?;
        let request_id = read_response(&mut reader)?;
        write!(
            writer,
            "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\r\n",
            RESPONSE.len()
        )?;
        writer.write_all(RESPONSE)?;
        read_response(&mut reader)?;
    }
}

/// Reads one response; returns its Lambda-Runtime-Aws-Request-Id (empty if none).
fn read_response(reader: &mut impl BufRead) -> std::io::Result<String> {
    let (mut length, mut request_id, mut line) = (0usize, String::new(), String::new());
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(std::io::Error::other)?;
            } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
                request_id = value.trim().to_owned();
            }
        }
    }
    std::io::copy(&mut reader.take(length as u64), &mut std::io::sink())?;
    Ok(request_id)
}
