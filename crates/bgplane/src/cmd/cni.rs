//! `bgplane cni`: the CNI plugin for natively routed pods (the `cni` crate).
//!
//! Container runtimes run a plugin as `<CNI_PATH>/<type>` with no arguments, the operation
//! in `CNI_COMMAND` and the network configuration on stdin. The binary (or a link to it,
//! under any name) installed in the CNI bin directory therefore acts as the plugin when it
//! is started with no arguments and `CNI_COMMAND` set; `bgplane cni` does the same
//! explicitly.

use std::ffi::OsString;

/// Arguments of `bgplane cni` (none: the protocol passes everything through `CNI_*`
/// variables and stdin).
#[derive(Debug, clap::Args)]
#[command(
    long_about = "CNI plugin for natively routed pods (CNI spec 1.1.0). Container runtimes run it \
with CNI_COMMAND (ADD, DEL, CHECK, STATUS, VERSION, GC), CNI_CONTAINERID, CNI_NETNS, \
CNI_IFNAME, CNI_ARGS and CNI_PATH set and the network configuration on stdin; the result, \
or an error result, is printed on stdout. See docs/cni.md."
)]
pub(crate) struct Args {}

/// Runs the subcommand: one CNI invocation.
pub(crate) fn run(_args: Args) -> anyhow::Result<()> {
    let reply = cni::execute(&|k| std::env::var(k).ok(), &mut std::io::stdin().lock());
    if !reply.stdout.is_empty() {
        super::outln!("{}", reply.stdout);
    }
    if reply.exit_code != 0 {
        // The error result is on stdout and the error in the log: nothing more to say.
        std::process::exit(reply.exit_code);
    }
    Ok(())
}

/// The command line to parse: a runtime starting the binary as a CNI plugin (no
/// arguments, `CNI_COMMAND` set) means `bgplane cni`.
pub(crate) fn argv(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut v: Vec<OsString> = args.collect();
    if v.len() == 1 && std::env::var_os("CNI_COMMAND").is_some() {
        v.push("cni".into());
    }
    v
}
