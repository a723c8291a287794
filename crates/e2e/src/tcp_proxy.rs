//! A TCP proxy the test controls, to take a dependency away and bring it
//! back without touching the machine's shared server: a service pointed at
//! the proxy loses every connection at [`TcpProxy::cut`] and can connect
//! again after [`TcpProxy::restore`].

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinSet,
};

/// Forwards connections to `upstream` until cut; stops when dropped.
pub struct TcpProxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<JoinSet<()>>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port. Must be called inside a Tokio
    /// runtime, which then runs the proxy.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let acceptor = tokio::spawn({
            let cut = Arc::clone(&cut);
            let connections = Arc::clone(&connections);
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    // While cut, a connection is closed as soon as it opens:
                    // what a client sees of a server that is down.
                    if cut.load(Ordering::SeqCst) {
                        continue;
                    }
                    lock(&connections).spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Ok(Self {
            address,
            cut,
            connections,
            acceptor,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes every open connection and every new one, until restored.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        lock(&self.connections).abort_all();
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        lock(&self.connections).abort_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
