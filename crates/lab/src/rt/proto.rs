//! The exec protocol between bgplane and a node's supervisor, over the node's unix socket.
//!
//! The client sends one JSON line (the request) together with its stdin, stdout and stderr as
//! `SCM_RIGHTS`; the supervisor starts the command inside the node with those descriptors
//! and answers with JSON lines: `started`, then `exited`/`signaled` (or `failed`). Closing
//! the connection early kills the command's process group.

use std::io::{BufRead, BufReader, IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

use super::RtError;

/// What to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Program and arguments (a program with a `/` is relative to `cwd`).
    pub argv: Vec<String>,
    /// Extra environment.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Working directory (default `/`, as containerlab's exec).
    #[serde(default)]
    pub cwd: Option<String>,
}

/// The supervisor's answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ExecReply {
    /// Running, with its pid inside the node.
    Started {
        /// pid in the node's PID namespace.
        pid: i32,
    },
    /// Exited with a status.
    Exited {
        /// Exit status.
        code: i32,
    },
    /// Killed by a signal.
    Signaled {
        /// Signal number.
        signal: i32,
    },
    /// Could not start.
    Failed {
        /// Why.
        msg: String,
    },
}

impl ExecReply {
    /// The shell-style exit status (128+signal; 127 when it could not start).
    pub fn status(&self) -> i32 {
        match self {
            ExecReply::Exited { code } => *code,
            ExecReply::Signaled { signal } => 128 + signal,
            ExecReply::Failed { .. } => 127,
            ExecReply::Started { .. } => -1,
        }
    }
}

/// Runs a command in a node: sends the request with the three descriptors and waits for
/// the final reply (up to `timeout`, after which the connection is closed and the command
/// killed).
pub fn exec(
    socket: &Path,
    req: &ExecRequest,
    stdio: [BorrowedFd<'_>; 3],
    timeout: Option<Duration>,
) -> Result<ExecReply, RtError> {
    let stream = UnixStream::connect(socket).map_err(|e| {
        RtError::io(
            format!("connect to node supervisor {}", socket.display()),
            e,
        )
    })?;
    let mut line = serde_json::to_vec(req).map_err(|e| RtError::io("encode request", e.into()))?;
    line.push(b'\n');
    let fds: [RawFd; 3] = [
        stdio[0].as_raw_fd(),
        stdio[1].as_raw_fd(),
        stdio[2].as_raw_fd(),
    ];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(&line)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| RtError::sys(format!("send request to {}", socket.display()), e))?;
    stream
        .set_read_timeout(timeout)
        .map_err(|e| RtError::io("set timeout", e))?;
    let mut reader = BufReader::new(&stream);
    loop {
        let mut l = String::new();
        match reader.read_line(&mut l) {
            Ok(0) => {
                return Err(RtError::Lab {
                    lab: String::new(),
                    msg: format!(
                        "node supervisor {} closed the connection (node destroyed?)",
                        socket.display()
                    ),
                })
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(RtError::io(format!("command {:?} timed out", req.argv), e));
            }
            Err(e) => return Err(RtError::io("read reply", e)),
        }
        let reply: ExecReply =
            serde_json::from_str(l.trim()).map_err(|e| RtError::io("decode reply", e.into()))?;
        if !matches!(reply, ExecReply::Started { .. }) {
            return Ok(reply);
        }
    }
}

/// Server side: reads one request and its descriptors from a fresh connection.
pub fn read_request(stream: &UnixStream) -> Result<(ExecRequest, Vec<OwnedFd>), String> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut cmsg = nix::cmsg_space!([RawFd; 3]);
    let (n, mut fds) = {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("recvmsg: {e}"))?;
        let mut fds = Vec::new();
        for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                fds.extend(raw.into_iter().map(owned));
            }
        }
        (msg.bytes, fds)
    };
    let mut data = buf[..n].to_vec();
    // The JSON line may arrive in more than one read.
    let mut reader = BufReader::new(stream);
    if !data.contains(&b'\n') {
        let mut rest = Vec::new();
        reader
            .read_until(b'\n', &mut rest)
            .map_err(|e| format!("read request: {e}"))?;
        data.extend(rest);
    }
    let req: ExecRequest =
        serde_json::from_slice(data.split(|b| *b == b'\n').next().unwrap_or(&[]))
            .map_err(|e| format!("bad request: {e}"))?;
    if fds.len() != 3 {
        fds.clear();
        return Err("request without stdin/stdout/stderr descriptors".into());
    }
    Ok((req, fds))
}

/// Takes ownership of a descriptor received with SCM_RIGHTS.
#[allow(unsafe_code)]
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just installed in this process by recvmsg(SCM_RIGHTS); no other
    // owner exists, so wrapping it in an OwnedFd (closed on drop) is sound.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Server side: sends one reply line.
pub fn reply(mut stream: &UnixStream, r: &ExecReply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r)?;
    line.push(b'\n');
    stream.write_all(&line)
}
