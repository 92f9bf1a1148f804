//! What the handlers share, built by [`crate::startup`] and handed to them
//! through `web::Data`. It sits below every handler module so that no handler
//! depends on the wiring that registers it.

use std::sync::Arc;

use nimbus_protocol::RpcClient;

use crate::auth::Authenticator;
use crate::blobs::BlobStore;
use crate::config::Settings;
use crate::index::ObjectIndex;
use crate::tree::TreeCache;
use crate::upload_sessions::UploadSessions;

/// What every request handler shares.
pub struct AppState {
    pub settings: Settings,
    pub index: Arc<dyn ObjectIndex>,
    pub blobs: Arc<dyn BlobStore>,
    pub auth: Arc<Authenticator>,
    /// The metadata RPC, for what requests ask on their caller's behalf.
    pub rpc: RpcClient,
    /// The web UI's resumable uploads.
    pub uploads: Arc<UploadSessions>,
}

/// What the REST API and the OAuth endpoints share.
pub struct RestState {
    pub rpc: RpcClient,
    /// The base URL clients sign requests for (RFC 5849 §3.4.1.2): the
    /// `public_url` setting, else `http://<bound address>`.
    pub public_url: String,
    pub trees: TreeCache,
}

impl RestState {
    pub fn new(rpc: RpcClient, public_url: String) -> Self {
        Self {
            rpc,
            public_url: public_url.trim_end_matches('/').to_owned(),
            trees: TreeCache::default(),
        }
    }

    /// The state of a proxy listening on `local_addr`: OAuth base URIs come
    /// from `settings.public_url`, else from `http://<local_addr>` (right for
    /// a proxy reached directly; behind TLS or a load balancer, set
    /// `public_url`, or every signature fails).
    pub fn from_settings(
        rpc: RpcClient,
        settings: &crate::config::Settings,
        local_addr: std::net::SocketAddr,
    ) -> Self {
        let public_url = settings.public_url.clone().unwrap_or_else(|| {
            if local_addr.ip().is_unspecified() {
                tracing::warn!(
                    %local_addr,
                    "public_url is not set and the proxy listens on every address: OAuth \
                     signatures are checked against http://{local_addr}; set public_url"
                );
            }
            format!("http://{local_addr}")
        });
        Self::new(rpc, public_url)
    }
}
