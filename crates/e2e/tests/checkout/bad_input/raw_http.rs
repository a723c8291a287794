//! Raw HTTP/1.1, for what reqwest would not send.

#![allow(
    clippy::wildcard_imports,
    reason = "the sections of one test module share its imports"
)]

use super::*;

/// What came back on a raw connection.
#[derive(Debug)]
pub(super) struct RawAnswer {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl RawAnswer {
    pub(super) fn content_type(&self) -> Option<&str> {
        (self.headers.iter())
            .find(|(name, _)| name == "content-type")
            .map(|(_, value)| value.as_str())
    }

    /// The answer, once its head and its `content-length` of body are in.
    pub(super) fn parse(received: &[u8]) -> Option<Self> {
        let end = received
            .windows(4)
            .position(|window| window == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&received[..end]);
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length = (headers.iter())
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let body = received.get(end + 4..end + 4 + length)?.to_vec();
        Some(Self {
            status,
            headers,
            body,
        })
    }
}

pub(super) fn address(suite: &Suite, service: Service) -> anyhow::Result<SocketAddr> {
    let url = reqwest::Url::parse(&suite.url(service))?;
    let host = url.host_str().context("no host")?;
    let port = url.port().context("no port")?;
    Ok(format!("{host}:{port}").parse()?)
}

/// Sends the head of a JSON request and the start of its body, then
/// stalls, or trickles a byte of JSON whitespace every 250 ms, never
/// finishing; returns the answer that came back.
pub(super) fn slow_body(
    address: SocketAddr,
    path: &str,
    trickle: bool,
) -> anyhow::Result<RawAnswer> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_millis(250)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         content-length: 4096\r\n\r\n{{\"customer_id\":"
    )?;
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while started.elapsed() < SLOW_BODY_VERDICT {
        if trickle {
            // Fails once the service has answered and closed: that is fine.
            let _ = stream.write_all(b" ");
        }
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => return Err(error.into()),
        }
        if let Some(answer) = RawAnswer::parse(&received) {
            return Ok(answer);
        }
    }
    Err(anyhow!(
        "no answer after {:?}; received {:?}",
        started.elapsed(),
        String::from_utf8_lossy(&received)
    ))
}

/// Writes `request` on its own thread (the service may answer, and close,
/// before it has read it all) and reads the answer.
pub(super) fn exchange(address: SocketAddr, request: &[u8]) -> anyhow::Result<RawAnswer> {
    let stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Fails once the service has answered and closed: that is fine.
            let _ = writer.write_all(request);
        });
        let mut reader = &stream;
        let mut received = Vec::new();
        let mut buffer = [0; 4096];
        loop {
            if let Some(answer) = RawAnswer::parse(&received) {
                return Ok(answer);
            }
            let read = reader
                .read(&mut buffer)
                .with_context(|| format!("received {:?}", String::from_utf8_lossy(&received)))?;
            if read == 0 {
                return Err(anyhow!(
                    "closed without an answer; received {:?}",
                    String::from_utf8_lossy(&received)
                ));
            }
            received.extend_from_slice(&buffer[..read]);
        }
    })
}
