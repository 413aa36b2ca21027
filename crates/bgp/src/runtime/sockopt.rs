//! Socket options of BGP sessions that socket2 and nix do not offer: TCP MD5 signatures
//! (RFC 2385) and the minimum TTL of GTSM (RFC 5082).
//!
//! Unsafe code is allowed here only: `setsockopt(2)` with the kernel's structures, each
//! block justified where it is.
#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, RawFd};

/// The kernel's `struct tcp_md5sig` (linux/tcp.h).
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; libc::TCP_MD5SIG_MAXKEYLEN],
}

/// `TCP_MD5SIG_FLAG_PREFIX`: the key is for a prefix of addresses.
const TCP_MD5SIG_FLAG_PREFIX: u8 = 1;

/// Sets (or with `key: None` removes) the MD5 key for connections with `peer` (or with
/// any address of `peer/prefix_len`) on a listening or connecting socket.
pub(crate) fn set_md5(
    fd: &impl AsFd,
    peer: IpAddr,
    prefix_len: Option<u8>,
    key: Option<&[u8]>,
) -> io::Result<()> {
    let key = key.unwrap_or_default();
    if key.len() > libc::TCP_MD5SIG_MAXKEYLEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 key longer than 80 octets",
        ));
    }
    // Keys for IPv4 peers on an IPv6 socket are looked up by the mapped address.
    let peer = match (socket_is_v6(fd)?, peer) {
        (true, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        _ => peer,
    };
    let sa = socket2::SockAddr::from(SocketAddr::new(peer, 0));
    // SAFETY: all-zero bytes are a valid value of this plain C struct.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    // SAFETY: `sa` holds `sa.len()` initialized bytes of a sockaddr, at most the size of
    // sockaddr_storage, and the two regions do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sa.as_ptr() as *const u8,
            &mut sig.addr as *mut libc::sockaddr_storage as *mut u8,
            sa.len() as usize,
        );
    }
    sig.keylen = key.len() as u16;
    sig.key[..key.len()].copy_from_slice(key);
    let opt = match prefix_len {
        Some(len) => {
            sig.flags = TCP_MD5SIG_FLAG_PREFIX;
            // For a mapped IPv4 range too, the kernel takes the IPv4 length.
            sig.prefixlen = len;
            libc::TCP_MD5SIG_EXT
        }
        None => libc::TCP_MD5SIG,
    };
    setsockopt(fd.as_fd().as_raw_fd(), libc::IPPROTO_TCP, opt, &sig)
}

/// GTSM: packets with a lower TTL (hop limit) than `min` are dropped (RFC 5082 §3).
pub(crate) fn set_min_ttl(fd: &impl AsFd, min: u8) -> io::Result<()> {
    let v: libc::c_int = min.into();
    if socket_is_v6(fd)? {
        setsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MINHOPCOUNT,
            &v,
        )?;
        // IPv4-mapped peers of a dual-stack socket use the IPv4 option.
        let _ = setsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MINTTL,
            &v,
        );
        Ok(())
    } else {
        setsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MINTTL,
            &v,
        )
    }
}

/// Keeps the SYN of each connection a listener accepts, for [`syn_ttl`].
pub(crate) fn save_syn(fd: &impl AsFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    setsockopt(
        fd.as_fd().as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_SAVE_SYN,
        &on,
    )
}

/// The TTL (hop limit) of the SYN that opened an accepted connection, when its listener
/// saves SYNs ([`save_syn`]): GTSM checks it, since data that arrived before the minimum
/// TTL was set on the new socket was not filtered.
pub(crate) fn syn_ttl(fd: &impl AsFd) -> io::Result<u8> {
    let mut buf = [0u8; 512];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` octets into `buf` and updates `len`.
    let r = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_SAVED_SYN,
            buf.as_mut_ptr() as *mut libc::c_void,
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let hdr = &buf[..(len as usize).min(buf.len())];
    match hdr.first().map(|b| b >> 4) {
        // IPv4: TTL at octet 8; IPv6: hop limit at octet 7.
        Some(4) if hdr.len() > 8 => Ok(hdr[8]),
        Some(6) if hdr.len() > 7 => Ok(hdr[7]),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no saved SYN header",
        )),
    }
}

fn socket_is_v6(fd: &impl AsFd) -> io::Result<bool> {
    Ok(socket2::SockRef::from(fd).domain()? == socket2::Domain::IPV6)
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live, initialized `T` of the size passed; the kernel
    // only reads it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_md5_option_matches_the_kernel_struct_layout() {
        // linux/tcp.h: 128 (sockaddr_storage) + 1 + 1 + 2 + 4 + 80.
        assert_eq!(std::mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn md5_keys_and_min_ttl_can_be_set_on_sockets_of_both_families() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_md5(&v4, "127.0.0.2".parse().unwrap(), None, Some(b"secret")).unwrap();
        set_md5(&v4, "127.0.0.0".parse().unwrap(), Some(8), Some(b"secret")).unwrap();
        set_md5(&v4, "127.0.0.2".parse().unwrap(), None, None).unwrap();
        set_min_ttl(&v4, 254).unwrap();
        if let Ok(v6) = std::net::TcpListener::bind("[::1]:0") {
            set_md5(&v6, "::1".parse().unwrap(), None, Some(b"k")).unwrap();
            set_md5(&v6, "10.0.0.0".parse().unwrap(), Some(8), Some(b"k")).unwrap();
            set_min_ttl(&v6, 255).unwrap();
        }
        let long = [b'x'; 81];
        assert!(set_md5(&v4, "127.0.0.2".parse().unwrap(), None, Some(&long)).is_err());
    }

    #[test]
    fn the_ttl_of_the_syn_of_an_accepted_connection_is_known() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        save_syn(&l).unwrap();
        let c = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        c.set_ttl(77).unwrap();
        c.connect(&l.local_addr().unwrap().into()).unwrap();
        let (a, _) = l.accept().unwrap();
        assert_eq!(syn_ttl(&a).unwrap(), 77);
    }
}
