//! Slow and idle connections cannot take the server down: half-sent requests from one address, then
//! from many, fill the server's caps, and it still answers a whole request (health, signing in)
//! from anywhere; a stream of events being answered is never the one closed; a connection that
//! sends no whole request head in time is closed. Every address is on loopback (127.0.0.0/8).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use pingan_test_support::*;
use pingan_web::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const LIMITS: ConnectionLimits = ConnectionLimits { max: 64, per_address: 16, idle: Duration::from_secs(2) };

async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// A connection that sends the start of a request head and then nothing.
async fn half_sent(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let mut stream = connect_from(from, to).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: pingan\r\nX-Slow: ").await.unwrap();
    stream
}

/// Whether the server has closed `stream` (it reads as ended, or reset).
fn closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(error) => error.kind() != std::io::ErrorKind::WouldBlock,
    }
}

fn still_open(streams: &[TcpStream]) -> usize {
    streams.iter().filter(|s| !closed(s)).count()
}

/// One whole request from `from`, answered: the status line's code and the body.
async fn request(from: Ipv4Addr, to: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut stream = connect_from(from, to).await;
    let message =
        format!("{head}\r\nHost: pingan\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    stream.write_all(message.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer)).await.unwrap().unwrap();
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[test]
fn slow_connections_are_capped_and_whole_requests_are_still_answered() {
    let served = served_with(Engine::Sqlite, LIMITS);
    let server: SocketAddr = served.base.trim_start_matches("http://").parse().unwrap();
    let bearer = token(&served, "county");
    served.runtime.block_on(async {
        // A live screen's stream of events, being answered before the flood.
        let mut events = connect_from(Ipv4Addr::new(127, 0, 0, 30), server).await;
        let head = format!("GET /api/v1/events HTTP/1.1\r\nHost: pingan\r\nAuthorization: {bearer}\r\n\r\n");
        events.write_all(head.as_bytes()).await.unwrap();
        let mut start = [0u8; 12];
        events.read_exact(&mut start).await.unwrap();
        assert_eq!(&start, b"HTTP/1.1 200");

        // One address sends 200 half requests: it keeps its newest 16 open, no more.
        let one = Ipv4Addr::new(127, 0, 0, 2);
        let mut from_one = Vec::new();
        for _ in 0..200 {
            from_one.push(half_sent(one, server).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(still_open(&from_one), LIMITS.per_address, "open from one address");
        assert_eq!(still_open(&from_one[200 - LIMITS.per_address..]), LIMITS.per_address, "the newest stay");

        // Eight more addresses fill the server's cap and beyond.
        let mut from_many = Vec::new();
        for last in 3..=10 {
            for _ in 0..LIMITS.per_address {
                from_many.push(half_sent(Ipv4Addr::new(127, 0, 0, last), server).await);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let open = still_open(&from_one) + still_open(&from_many);
        assert_eq!(open, LIMITS.max - 1, "the cap holds, the stream of events among it");

        // Whole requests are answered all the same, from a new address and from the flooding ones.
        let (status, answer) = request(Ipv4Addr::new(127, 0, 0, 20), server, "GET /healthz HTTP/1.1", "").await;
        assert_eq!(status, 200, "{answer}");
        let login =
            serde_json::json!({ "login": "county", "password": pingan_app::demo::DEMO_PASSWORD, "label": "flood" });
        let head = "POST /api/v1/auth/tokens HTTP/1.1\r\nContent-Type: application/json";
        let (status, answer) = request(Ipv4Addr::new(127, 0, 0, 21), server, head, &login.to_string()).await;
        assert_eq!(status, 201, "{answer}");
        let (status, answer) = request(one, server, "GET /healthz HTTP/1.1", "").await;
        assert_eq!(status, 200, "{answer}");
        assert!(!closed(&events), "the stream of events being answered was closed");

        // Half requests are closed once they have waited the limit without a whole head.
        let deadline = Instant::now() + LIMITS.idle + Duration::from_secs(3);
        while still_open(&from_one) + still_open(&from_many) > 0 {
            assert!(Instant::now() < deadline, "idle connections were not closed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!closed(&events), "a stream of events is not idle");
    });
}

/// A chunk announced as 2^64-1 bytes and never sent is answered (400) once the body has stalled
/// for the idle limit, never met with silence or a closed connection; an endpoint that reads no
/// body answers at once.
#[test]
fn a_malformed_chunked_body_is_answered() {
    let served = served_with(Engine::Sqlite, LIMITS);
    let server: SocketAddr = served.base.trim_start_matches("http://").parse().unwrap();
    served.runtime.block_on(async {
        for (request, expected) in [
            ("POST /api/v1/cases HTTP/1.1\r\nContent-Type: application/json", "400"),
            ("POST /api/v1/photos HTTP/1.1\r\nContent-Type: image/png", "4"),
            ("POST /open311/v2/requests.json HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded", "400"),
            ("GET /healthz HTTP/1.1", "200"),
        ] {
            let mut stream = connect_from(Ipv4Addr::LOCALHOST, server).await;
            let head =
                format!("{request}\r\nHost: pingan\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc");
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = [0u8; 12];
            let read = tokio::time::timeout(Duration::from_secs(6), stream.read_exact(&mut answer)).await;
            assert!(matches!(read, Ok(Ok(_))), "{request}: no answer ({read:?})");
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with(&format!("HTTP/1.1 {expected}")), "{request}: {answer:?}");
        }
    });
}
