//! A service running in the test process.

use service_kit::Application;
use tokio::sync::oneshot;

/// An `Application` (bound to port 0) serving on the test's runtime until dropped.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    _stop: oneshot::Sender<()>,
}

impl TestServer {
    pub fn start(app: Application) -> Self {
        crate::init_tracing();
        let address = format!("http://127.0.0.1:{}", app.port());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            address,
            _stop: stop,
        }
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}
