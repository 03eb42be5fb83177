//! A test's own web page, served from an origin of its own (another port), as a web application
//! that calls the API from a browser would be.

use std::net::SocketAddr;

use axum::{Router, response::Html, routing::get};
use tokio::net::TcpListener;

/// A page served at `/` on a free port of 127.0.0.1 until dropped.
pub struct Site {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    /// Serves `html` at `/` (a page reads what it needs from its query string, so it can be
    /// served, and its origin allowed, before the API starts).
    pub async fn serve(html: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
        let addr = listener.local_addr().expect("bound address");
        let app = Router::new().route("/", get(move || async move { Html(html) }));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the page is served");
        });
        Self { addr, task }
    }

    /// `http://127.0.0.1:<port>`, the page's origin (for `cors.allowed_origins`).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `<origin><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}
