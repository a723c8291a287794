//! Collectors that fail the three ways a real one does: nobody listening,
//! answering 503, and accepting connections that never answer.
//!
//! Plain threads and sockets: a broken peer needs no HTTP stack, and the
//! hanging one must not even read.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

/// How the collector fails.
#[derive(Clone, Copy, Debug)]
pub enum Failure {
    /// The port is closed: every connection is refused.
    Refusing,
    /// Every export is answered `503 Service Unavailable`.
    Unavailable,
    /// Connections are accepted and then nothing: no read, no answer.
    Hanging,
}

/// A collector endpoint that fails as told, until dropped.
pub struct BrokenCollector {
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
}

impl BrokenCollector {
    pub fn start(failure: Failure) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        match failure {
            // Bound and dropped: the port is free and nothing listens.
            Failure::Refusing => drop(listener),
            Failure::Unavailable => serve(listener, Arc::clone(&stopping), |stream| {
                thread::spawn(move || answer_503(stream));
            }),
            Failure::Hanging => {
                let mut held = Vec::new();
                serve(listener, Arc::clone(&stopping), move |stream| {
                    held.push(stream);
                });
            }
        }
        Ok(Self { address, stopping })
    }

    /// The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for BrokenCollector {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

fn serve(
    listener: TcpListener,
    stopping: Arc<AtomicBool>,
    mut on_connection: impl FnMut(TcpStream) + Send + 'static,
) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            if stopping.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(stream) = stream {
                on_connection(stream);
            }
        }
    });
}

/// Reads each request on a keep-alive connection and answers 503.
fn answer_503(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut content_length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        content_length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}
