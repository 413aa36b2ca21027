//! The local API: newline-delimited JSON over a unix socket. The CLI (`bgplane show ...`)
//! and tests speak it; so could any operator tool.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bgp_wire::Prefix;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::speaker::show::{AdvertisedView, NeighborView, RouteView};

/// Soft reset direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Soft {
    /// Ask the peer to resend (ROUTE-REFRESH, RFC 2918).
    In,
    /// Resend everything to the peer.
    Out,
}

/// An API request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// `show bgp summary`.
    Summary,
    /// `show bgp neighbors [ADDRESS]`.
    Neighbors {
        /// One neighbor only.
        #[serde(default)]
        address: Option<IpAddr>,
    },
    /// `show bgp routes [PREFIX]`.
    Routes {
        /// Exact prefix (or covering prefix with `longer`).
        #[serde(default)]
        prefix: Option<Prefix>,
        /// Include more specifics.
        #[serde(default)]
        longer: bool,
        /// `ipv4` or `ipv6`.
        #[serde(default)]
        family: Option<String>,
        /// Paths received from this neighbor (including rejected ones).
        #[serde(default)]
        received_from: Option<IpAddr>,
        /// Routes advertised to this neighbor.
        #[serde(default)]
        advertised_to: Option<IpAddr>,
    },
    /// Re-read the configuration file (like SIGHUP).
    Reload,
    /// Reset sessions: hard, or soft in/out.
    Clear {
        /// One neighbor (all if absent).
        #[serde(default)]
        address: Option<IpAddr>,
        /// Soft reset direction (hard reset if absent).
        #[serde(default)]
        soft: Option<Soft>,
    },
    /// Prometheus text of the router's metrics.
    Metrics,
    /// `show running-config`: the configuration in effect (as loaded or last reloaded,
    /// command-line overrides included), as YAML.
    RunningConfig,
    /// `show bfd peers`.
    BfdPeers,
}

/// One line of `show bgp summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Neighbor address (of an unnumbered neighbor: its discovered link-local address, or
    /// `::` until known).
    pub neighbor: IpAddr,
    /// The interface of an unnumbered neighbor.
    #[serde(default)]
    pub interface: Option<String>,
    /// Accepted from a listen range (FRR marks these with `*`).
    #[serde(default)]
    pub dynamic: bool,
    /// Description.
    pub description: Option<String>,
    /// The peer's AS (negotiated, else configured).
    pub asn: String,
    /// FSM state.
    pub state: String,
    /// Seconds in the current state (Established: uptime).
    pub uptime_secs: u64,
    /// UPDATEs received.
    pub msg_received: u64,
    /// UPDATEs sent.
    pub msg_sent: u64,
    /// Prefixes received (IPv4 + IPv6).
    pub received: u64,
    /// Prefixes accepted.
    pub accepted: u64,
    /// Prefixes advertised.
    pub advertised: u64,
    /// No routes accepted from it: eBGP without import policy under RFC 8212.
    #[serde(default)]
    pub import_withheld: bool,
    /// No routes sent to it: eBGP without export policy under RFC 8212.
    #[serde(default)]
    pub export_withheld: bool,
}

/// `show bgp summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Router id.
    pub router_id: String,
    /// Local AS.
    pub asn: u32,
    /// IPv4 prefixes in the Loc-RIB.
    pub rib_v4: usize,
    /// IPv6 prefixes in the Loc-RIB.
    pub rib_v6: usize,
    /// Distinct attribute sets.
    pub attribute_sets: usize,
    /// Neighbors.
    pub neighbors: Vec<SummaryRow>,
}

/// A neighbor with its runtime state.
#[derive(Debug, Clone, Serialize)]
pub struct NeighborDetail {
    /// FSM state.
    pub state: String,
    /// Seconds in the current state.
    pub state_secs: u64,
    /// Configured hold time, keepalive, connect retry.
    pub timers: Timers,
    /// The last reason the session went down.
    pub last_error: Option<String>,
    /// The interface of an unnumbered neighbor.
    pub interface: Option<String>,
    /// Its peer group.
    pub peer_group: Option<String>,
    /// Accepted from a listen range.
    pub dynamic: bool,
    /// Its BFD session, if BFD runs for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<BfdBrief>,
    /// Speaker-side view.
    #[serde(flatten)]
    pub view: NeighborView,
}

/// A neighbor's BFD session in `show bgp neighbors` (details: `show bfd peers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdBrief {
    /// Multihop (RFC 5883) rather than single hop (RFC 5881).
    pub multihop: bool,
    /// `down`, `init`, `up` or `admin-down`.
    pub state: String,
    /// The diagnostic of its last change.
    pub diagnostic: String,
    /// Seconds since its last change (`None`: none yet).
    pub since_secs: Option<u64>,
    /// Strict mode is configured (draft-ietf-idr-bgp-bfd-strict-mode).
    #[serde(default)]
    pub strict: bool,
    /// The BGP session waits in OpenSent for BFD to come up: `open-sent-bfd-up-pending`
    /// or `open-sent-confirmed-bfd-up-pending` (the draft's sub-states, §8.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_waiting: Option<String>,
}

/// Configured timers of a neighbor.
#[derive(Debug, Clone, Serialize)]
pub struct Timers {
    /// Hold time proposed.
    pub hold_time: u16,
    /// Keepalive proposed (0: a third of the hold time).
    pub keepalive: u16,
    /// ConnectRetry time.
    pub connect_retry: u32,
}

/// An API response.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum Response {
    /// `summary`.
    Summary(Summary),
    /// `neighbors`.
    Neighbors(Vec<NeighborDetail>),
    /// `routes`.
    Routes(Vec<RouteView>),
    /// `routes --advertised-to`.
    Advertised(Vec<AdvertisedView>),
    /// A message (reload, clear).
    Message(String),
    /// Prometheus text.
    Metrics(String),
    /// `running-config`.
    RunningConfig(RunningConfig),
    /// `bfd peers`.
    BfdPeers(Vec<bfd::runtime::PeerStatus>),
    /// The request failed.
    Error(String),
}

/// The configuration in effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningConfig {
    /// The file it was read from (`None`: started with command-line flags).
    pub file: Option<String>,
    /// As YAML, every setting spelled out (defaults included); `bgplane router --config`
    /// reads it back to the same configuration.
    pub yaml: String,
}

/// A request with its reply channel, as the actor receives it.
pub type ApiCall = (Request, oneshot::Sender<Response>);

/// Serves the API on `path` until the process ends.
pub async fn serve(path: PathBuf, to_actor: mpsc::Sender<ApiCall>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let to_actor = to_actor.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, to_actor).await {
                debug!(%e, "API connection ended");
            }
        });
    }
}

async fn handle(stream: UnixStream, to_actor: mpsc::Sender<ApiCall>) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Some(line) = lines.next_line().await? {
        let resp = match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (tx, rx) = oneshot::channel();
                if to_actor.send((req, tx)).await.is_err() {
                    Response::Error("router is shutting down".into())
                } else {
                    rx.await
                        .unwrap_or_else(|_| Response::Error("no answer".into()))
                }
            }
            Err(e) => {
                warn!(%e, "bad API request");
                Response::Error(format!("bad request: {e}"))
            }
        };
        let mut out = serde_json::to_vec(&resp).map_err(std::io::Error::other)?;
        out.push(b'\n');
        w.write_all(&out).await?;
    }
    Ok(())
}

/// Errors of the API client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No router listens on the socket.
    #[error("cannot reach the router API at {path}: {source} (is `bgplane router` running? see --socket)")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// I/O or protocol failure.
    #[error("router API at {path}: {detail}")]
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// What happened.
        detail: String,
    },
}

/// Sends one request and returns the raw JSON response.
pub async fn call(path: &Path, req: &Request) -> Result<serde_json::Value, ClientError> {
    let proto = |detail: String| ClientError::Protocol {
        path: path.to_path_buf(),
        detail,
    };
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    let (r, mut w) = stream.into_split();
    let mut line = serde_json::to_vec(req).map_err(|e| proto(e.to_string()))?;
    line.push(b'\n');
    w.write_all(&line).await.map_err(|e| proto(e.to_string()))?;
    let mut lines = BufReader::new(r).lines();
    let resp = lines
        .next_line()
        .await
        .map_err(|e| proto(e.to_string()))?
        .ok_or_else(|| proto("connection closed without an answer".into()))?;
    serde_json::from_str(&resp).map_err(|e| proto(e.to_string()))
}
