//! Address management from the node's pod CIDR, kept in files so that it survives crashes
//! and reboots of the plugin (which runs once per request and keeps nothing in memory).
//!
//! State of network `N` lives in `<dataDir>/N/`:
//! - one file per allocated address, named by the address (`10.1.0.2`, `fd00::2`), holding
//!   a JSON [`Record`] (container id, interface name, host veth, pod);
//! - `lock`, which every invocation holds with `flock` for as long as it runs, so
//!   concurrent invocations for different pods do not hand out one address twice.
//!
//! An allocation file is first written in full to a temporary file, flushed to disk, then
//! linked to its final name, which fails if the name exists (like `O_EXCL`); the directory
//! is then flushed. A crash therefore leaves either no allocation or a complete one, plus
//! at most a temporary file that the next invocation removes.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::CniError;

/// Prefix of temporary files in the state directory.
const TMP_PREFIX: &str = ".tmp-";

/// Who holds an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// `CNI_CONTAINERID` of the attachment.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// `CNI_IFNAME` of the attachment.
    pub ifname: String,
    /// The host end of the pod's veth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_interface: Option<String>,
    /// The pod, `namespace/name`, when the runtime said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

impl Record {
    /// True when the record belongs to the attachment `(container_id, ifname)`.
    pub fn is(&self, container_id: &str, ifname: &str) -> bool {
        self.container_id == container_id && self.ifname == ifname
    }
}

/// An allocated address and its record (`None` when the file cannot be read as one: such
/// an address stays allocated until `GC` or an operator removes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The address.
    pub ip: IpAddr,
    /// Its holder.
    pub record: Option<Record>,
}

/// The addresses pods may get from one CIDR: all but the network address, the IPv4
/// broadcast address and the gateway (when the gateway lies inside the CIDR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The CIDR.
    pub net: IpNet,
    /// Addresses inside it that are never handed out.
    pub excluded: Vec<IpAddr>,
}

impl Pool {
    /// The pool of `net`, keeping `gateway` out of it.
    pub fn new(net: IpNet, gateway: IpAddr) -> Pool {
        let mut excluded = Vec::new();
        if net.contains(&gateway) {
            excluded.push(gateway);
        }
        Pool { net, excluded }
    }

    /// The first and last addresses that may be handed out, as integers.
    fn bounds(&self) -> (u128, u128) {
        match self.net {
            IpNet::V4(n) => {
                let first = u32::from(n.network()) as u128;
                let last = u32::from(n.broadcast()) as u128;
                if n.prefix_len() <= 30 {
                    (first + 1, last - 1)
                } else {
                    (first, last)
                }
            }
            IpNet::V6(n) => {
                let first = u128::from(n.network());
                let last = u128::from(n.broadcast());
                (first + 1, last)
            }
        }
    }

    fn addr(&self, n: u128) -> IpAddr {
        match self.net {
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }

    /// True when `ip` may be handed out.
    pub fn usable(&self, ip: IpAddr) -> bool {
        let n = match ip {
            IpAddr::V4(a) if self.net.addr().is_ipv4() => u32::from(a) as u128,
            IpAddr::V6(a) if self.net.addr().is_ipv6() => u128::from(a),
            _ => return false,
        };
        let (first, last) = self.bounds();
        (first..=last).contains(&n) && !self.excluded.contains(&ip)
    }

    /// How many addresses may be handed out (saturating for huge IPv6 ranges).
    pub fn size(&self) -> u128 {
        let (first, last) = self.bounds();
        (last - first)
            .saturating_add(1)
            .saturating_sub(self.excluded.len() as u128)
    }

    /// The usable addresses in order, the lowest first.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (first, last) = self.bounds();
        let mut next = Some(first);
        std::iter::from_fn(move || {
            let n = next?;
            next = if n < last { Some(n + 1) } else { None };
            Some(self.addr(n))
        })
        .filter(|ip| !self.excluded.contains(ip))
    }
}

/// The state directory of one network, locked for the lifetime of the value.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Store {
    /// Opens (creating it if needed) the state of `network` under `data_dir` and takes its
    /// lock, waiting up to `wait` for another invocation to finish. Leftover temporary
    /// files of crashed invocations are removed.
    pub fn open(data_dir: &Path, network: &str, wait: Duration) -> Result<Store, CniError> {
        let dir = data_dir.join(network);
        std::fs::create_dir_all(&dir)
            .map_err(|e| CniError::io(format!("create the IPAM directory {}", dir.display()), e))?;
        let lock_path = dir.join("lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| CniError::io(format!("open {}", lock_path.display()), e))?;
        let deadline = Instant::now() + wait;
        let lock = loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(l) => break l,
                Err((f, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    file = f;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(CniError::TryAgain {
                        what: format!(
                            "the IPAM lock {} is held by another invocation",
                            lock_path.display()
                        ),
                    })
                }
                Err((_, e)) => {
                    return Err(CniError::sys(format!("flock {}", lock_path.display()), e))
                }
            }
        };
        let store = Store { dir, _lock: lock };
        store.remove_temporaries()?;
        Ok(store)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn remove_temporaries(&self) -> Result<(), CniError> {
        for entry in self.entries()? {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(TMP_PREFIX) {
                let p = entry.path();
                tracing::info!(file = %p.display(), "removing a temporary file of an interrupted invocation");
                std::fs::remove_file(&p)
                    .map_err(|e| CniError::io(format!("remove {}", p.display()), e))?;
            }
        }
        Ok(())
    }

    fn entries(&self) -> Result<Vec<std::fs::DirEntry>, CniError> {
        let what = || format!("list the IPAM directory {}", self.dir.display());
        std::fs::read_dir(&self.dir)
            .map_err(|e| CniError::io(what(), e))?
            .map(|r| r.map_err(|e| CniError::io(what(), e)))
            .collect()
    }

    /// Every allocated address, in address order.
    pub fn allocations(&self) -> Result<Vec<Allocation>, CniError> {
        let mut out = Vec::new();
        for entry in self.entries()? {
            let Some(ip) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
            else {
                continue;
            };
            let path = entry.path();
            let record = match std::fs::read(&path) {
                Ok(bytes) => match serde_json::from_slice::<Record>(&bytes) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "unreadable IPAM record; the address stays allocated until GC");
                        None
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CniError::io(format!("read {}", path.display()), e)),
            };
            out.push(Allocation { ip, record });
        }
        out.sort_by_key(|a| a.ip);
        Ok(out)
    }

    /// The addresses held by the attachment `(container_id, ifname)`.
    pub fn owned_by(&self, container_id: &str, ifname: &str) -> Result<Vec<Allocation>, CniError> {
        Ok(self
            .allocations()?
            .into_iter()
            .filter(|a| {
                a.record
                    .as_ref()
                    .is_some_and(|r| r.is(container_id, ifname))
            })
            .collect())
    }

    /// Allocates the lowest free address of `pool` to `record`'s attachment; an address
    /// the attachment already holds in the pool is returned again.
    pub fn allocate(&self, pool: &Pool, record: &Record) -> Result<IpAddr, CniError> {
        let all = self.allocations()?;
        if let Some(a) = all.iter().find(|a| {
            pool.usable(a.ip)
                && a.record
                    .as_ref()
                    .is_some_and(|r| r.is(&record.container_id, &record.ifname))
        }) {
            return Ok(a.ip);
        }
        let used: HashSet<IpAddr> = all.iter().map(|a| a.ip).collect();
        let body = serde_json::to_vec_pretty(record).map_err(|e| CniError::Decode {
            what: "an IPAM record".into(),
            why: e.to_string(),
        })?;
        for ip in pool.addresses() {
            if used.contains(&ip) {
                continue;
            }
            if self.create(ip, &body)? {
                return Ok(ip);
            }
        }
        Err(CniError::PoolExhausted {
            cidr: pool.net.to_string(),
            allocated: all.iter().filter(|a| pool.usable(a.ip)).count(),
        })
    }

    /// Writes the allocation file of `ip` atomically; false when it already exists.
    fn create(&self, ip: IpAddr, body: &[u8]) -> Result<bool, CniError> {
        let final_path = self.dir.join(ip.to_string());
        let tmp = self
            .dir
            .join(format!("{TMP_PREFIX}{}-{ip}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(body)?;
            f.sync_all()
        };
        write().map_err(|e| CniError::io(format!("write {}", tmp.display()), e))?;
        let linked = std::fs::hard_link(&tmp, &final_path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                self.sync_dir()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(CniError::io(format!("create {}", final_path.display()), e)),
        }
    }

    /// Releases `ip`; false when it was not allocated.
    pub fn release(&self, ip: IpAddr) -> Result<bool, CniError> {
        let path = self.dir.join(ip.to_string());
        match std::fs::remove_file(&path) {
            Ok(()) => {
                self.sync_dir()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(CniError::io(format!("remove {}", path.display()), e)),
        }
    }

    /// How many addresses of `pool` are still free.
    pub fn free(&self, pool: &Pool) -> Result<u128, CniError> {
        let used = self
            .allocations()?
            .iter()
            .filter(|a| pool.usable(a.ip))
            .count() as u128;
        Ok(pool.size().saturating_sub(used))
    }

    fn sync_dir(&self) -> Result<(), CniError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| {
                CniError::io(
                    format!("flush the IPAM directory {}", self.dir.display()),
                    e,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Record {
        Record {
            container_id: id.to_string(),
            ifname: "eth0".into(),
            host_interface: Some(format!("bgpl{id}")),
            pod: None,
        }
    }

    fn pool(s: &str, gw: &str) -> Pool {
        Pool::new(s.parse().unwrap(), gw.parse().unwrap())
    }

    fn store(dir: &Path) -> Store {
        Store::open(dir, "pods", Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn addresses_come_lowest_first_after_the_network_address() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = pool("10.1.0.0/24", "169.254.1.1");
        assert_eq!(p.size(), 254);
        let a = s.allocate(&p, &rec("a")).unwrap();
        let b = s.allocate(&p, &rec("b")).unwrap();
        assert_eq!(a, "10.1.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(b, "10.1.0.2".parse::<IpAddr>().unwrap());
        // Released addresses are reused, lowest first.
        assert!(s.release(a).unwrap());
        assert!(!s.release(a).unwrap());
        assert_eq!(s.allocate(&p, &rec("c")).unwrap(), a);
    }

    #[test]
    fn a_gateway_inside_the_pod_cidr_is_never_handed_out() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = pool("10.1.0.0/24", "10.1.0.1");
        assert_eq!(p.size(), 253);
        assert_eq!(
            s.allocate(&p, &rec("a")).unwrap(),
            "10.1.0.2".parse::<IpAddr>().unwrap()
        );
        let p6 = pool("fd00:10::/64", "fd00:10::1");
        assert_eq!(
            s.allocate(&p6, &rec("a")).unwrap(),
            "fd00:10::2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_attachment_asking_again_gets_the_address_it_holds() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = pool("10.1.0.0/24", "169.254.1.1");
        let a = s.allocate(&p, &rec("a")).unwrap();
        assert_eq!(s.allocate(&p, &rec("a")).unwrap(), a);
        assert_eq!(s.owned_by("a", "eth0").unwrap().len(), 1);
        assert_eq!(s.owned_by("a", "eth1").unwrap().len(), 0);
    }

    #[test]
    fn an_exhausted_pool_says_so_and_frees_up_on_release() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = pool("10.1.0.0/29", "169.254.1.1");
        assert_eq!(p.size(), 6);
        let got: Vec<IpAddr> = (0..6)
            .map(|i| s.allocate(&p, &rec(&format!("c{i}"))).unwrap())
            .collect();
        assert_eq!(got.last().unwrap(), &"10.1.0.6".parse::<IpAddr>().unwrap());
        assert_eq!(s.free(&p).unwrap(), 0);
        let e = s.allocate(&p, &rec("late")).unwrap_err();
        assert_eq!(e.code(), crate::error::code::POOL_EXHAUSTED);
        assert!(e.to_string().contains("10.1.0.0/29"), "{e}");
        s.release(got[3]).unwrap();
        assert_eq!(s.free(&p).unwrap(), 1);
        assert_eq!(s.allocate(&p, &rec("late")).unwrap(), got[3]);
    }

    #[test]
    fn allocations_survive_a_new_invocation_and_records_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = pool("10.1.0.0/24", "169.254.1.1");
        let ip = {
            let s = store(d.path());
            s.allocate(&p, &rec("a")).unwrap()
        };
        let s = store(d.path());
        let all = s.allocations().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].ip, ip);
        assert_eq!(all[0].record.as_ref().unwrap(), &rec("a"));
        assert_ne!(s.allocate(&p, &rec("b")).unwrap(), ip);
    }

    #[test]
    fn leftovers_of_a_crash_are_cleaned_or_kept_allocated() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("pods");
        std::fs::create_dir_all(&dir).unwrap();
        // A crash before the link: only a temporary file (maybe half written).
        std::fs::write(dir.join(".tmp-4242-10.1.0.1"), b"{\"contai").unwrap();
        // A record damaged outside the plugin: the address is not handed out again.
        std::fs::write(dir.join("10.1.0.2"), b"garbage").unwrap();
        let s = store(d.path());
        assert!(!dir.join(".tmp-4242-10.1.0.1").exists());
        let p = pool("10.1.0.0/24", "169.254.1.1");
        assert_eq!(
            s.allocate(&p, &rec("a")).unwrap(),
            "10.1.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            s.allocate(&p, &rec("b")).unwrap(),
            "10.1.0.3".parse::<IpAddr>().unwrap()
        );
        let damaged: Vec<_> = s
            .allocations()
            .unwrap()
            .into_iter()
            .filter(|a| a.record.is_none())
            .collect();
        assert_eq!(damaged.len(), 1);
    }

    #[test]
    fn a_file_that_appears_under_our_feet_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = pool("10.1.0.0/24", "169.254.1.1");
        // Not seen by the listing, but present when the link is made.
        assert!(s.create("10.1.0.1".parse().unwrap(), b"{}").unwrap());
        assert!(!s.create("10.1.0.1".parse().unwrap(), b"{}").unwrap());
        assert_eq!(
            s.allocate(&p, &rec("a")).unwrap(),
            "10.1.0.2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn concurrent_invocations_never_share_an_address() {
        let d = tempfile::tempdir().unwrap();
        let p = pool("10.1.0.0/24", "169.254.1.1");
        let got: Vec<IpAddr> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..16)
                .map(|i| {
                    let p = p.clone();
                    let root = d.path().to_path_buf();
                    sc.spawn(move || {
                        let s = Store::open(&root, "pods", Duration::from_secs(30)).unwrap();
                        s.allocate(&p, &rec(&format!("c{i}"))).unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let distinct: HashSet<_> = got.iter().collect();
        assert_eq!(distinct.len(), 16);
    }

    #[test]
    fn a_held_lock_makes_others_try_again_later() {
        let d = tempfile::tempdir().unwrap();
        let _held = store(d.path());
        let e = Store::open(d.path(), "pods", Duration::from_millis(50)).unwrap_err();
        assert_eq!(e.code(), 11);
    }

    #[test]
    fn small_and_ipv6_pools_have_the_right_sizes() {
        assert_eq!(pool("10.0.0.0/31", "169.254.1.1").size(), 2);
        assert_eq!(pool("10.0.0.0/30", "169.254.1.1").size(), 2);
        assert_eq!(pool("fd00::/120", "fe80::1").size(), 255);
        assert!(pool("::/0", "fe80::1").size() > u128::from(u64::MAX));
        let p = pool("fd00::/64", "fe80::1");
        let first: Vec<IpAddr> = p.addresses().take(2).collect();
        assert_eq!(first[0], "fd00::1".parse::<IpAddr>().unwrap());
        assert!(!p.usable("10.0.0.1".parse().unwrap()));
        assert!(!p.usable("fd00::".parse().unwrap()));
    }
}
