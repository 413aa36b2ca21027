//! `bgplane lab` command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::ops::check::{check_cmd, trace_cmd, CheckOpts};
use crate::ops::deploy::{deploy, DeployOpts};
use crate::ops::destroy::destroy_cmd;
use crate::ops::exec::exec_cmd;
use crate::ops::generate::{generate, ClosSpec, RouterKind};
use crate::ops::inspect::inspect_cmd;
use crate::ops::link::link_cmd;
use crate::ops::save::save_cmd;
use crate::ops::{graph, load_plan, Format, LabSel, OpError};
use crate::rt::supervisor;

/// How this program re-invokes itself for node supervisors: the binary and the arguments
/// that lead to the lab subcommand (`["lab"]` for `bgplane`).
#[derive(Clone, Debug)]
pub struct SelfExe {
    /// The executable.
    pub path: PathBuf,
    /// Arguments before the lab subcommand.
    pub prefix: Vec<String>,
}

impl SelfExe {
    /// The running executable with the given prefix.
    pub fn current(prefix: &[&str]) -> std::io::Result<SelfExe> {
        Ok(SelfExe {
            path: std::env::current_exe()?,
            prefix: prefix.iter().map(|s| s.to_string()).collect(),
        })
    }
}

/// Build and operate network-namespace labs from containerlab topologies and kind clusters.
#[derive(Debug, Parser)]
#[command(name = "lab")]
pub struct Args {
    /// Directory that holds the labs' state and node files.
    #[arg(
        long,
        global = true,
        env = "BGPLANE_LAB_DIR",
        default_value = "/var/lib/bgplane/lab"
    )]
    pub lab_dir: PathBuf,

    /// The subcommand.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// Selects a deployed lab.
#[derive(Debug, Clone, clap::Args)]
pub struct SelArgs {
    /// The lab's topology file.
    #[arg(short = 't', long = "topo")]
    pub topo: Option<PathBuf>,
    /// The lab's name (default: the only deployed lab).
    #[arg(long)]
    pub name: Option<String>,
}

impl SelArgs {
    fn sel(&self) -> LabSel {
        LabSel {
            topo: self.topo.clone(),
            name: self.name.clone(),
        }
    }
}

/// `bgplane lab` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Deploy a lab from a containerlab topology (and a kind cluster file).
    Deploy {
        /// containerlab topology file.
        #[arg(short = 't', long = "topo")]
        topo: PathBuf,
        /// kind `Cluster` config (or use the topology's `cluster:` key).
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Cluster name, as `kind create cluster --name` (overrides the file's `name`).
        #[arg(long)]
        cluster_name: Option<String>,
        /// Destroy a deployed lab of the same name first.
        #[arg(long)]
        reconfigure: bool,
        /// Cilium's `autoDirectNodeRoutes`: each cluster node gets a route to the pod CIDR
        /// of every other node whose address is on one of its links (pods of one rack reach
        /// each other before any BGP, as in seed 000).
        #[arg(long)]
        auto_direct_node_routes: bool,
        /// Output of the final table.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Remove a lab: processes, namespaces, veths, bridges, state.
    Destroy {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Every deployed lab.
        #[arg(long)]
        all: bool,
        /// Also remove the lab directory (node files, logs, saved configs).
        #[arg(long)]
        cleanup: bool,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show nodes: kind, behaviour, state, addresses.
    Inspect {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Every deployed lab.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Run a command in a node (or in every node with the given labels).
    Exec {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Run on every node with this label (`key=value`; repeatable); then every argument
        /// is the command.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Output format (JSON captures the output).
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
        /// `NODE [--] CMD…` (a kind node also by its short name, e.g. `worker2`); one quoted
        /// command string is split like a shell would.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            required = true,
            value_name = "NODE [--] CMD"
        )]
        args: Vec<String>,
    },
    /// Draw the topology: HTML page (default), Mermaid or Graphviz.
    Graph {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// kind cluster file (when drawing from a topology file).
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Mermaid flowchart instead of HTML.
        #[arg(long, conflicts_with = "dot")]
        mermaid: bool,
        /// Graphviz instead of HTML.
        #[arg(long)]
        dot: bool,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Set a link end down or up.
    Link {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// `down` or `up`.
        #[arg(value_parser = ["down", "up"])]
        state: String,
        /// `NODE:INTERFACE`.
        endpoint: String,
    },
    /// Save routers' running configurations into the lab directory.
    Save {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Ping every addressed host from every other, as a matrix with explanations.
    Check {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Sources: node names, addresses, `key=value` labels (repeatable).
        #[arg(long)]
        from: Vec<String>,
        /// Destinations (same forms).
        #[arg(long)]
        to: Vec<String>,
        /// Expectations file (`expect: [{from, to, expect: reach|no-reach}]`).
        #[arg(long)]
        expect: Option<PathBuf>,
        /// Seconds to wait for replies.
        #[arg(long, default_value_t = 1.5)]
        timeout: f64,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Print the hop path from A to B (B: a node or an address), read from the FIBs.
    Trace {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Source node.
        from: String,
        /// Destination node or address.
        to: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Apply Kubernetes manifests to the lab's cluster (peering policies, Services,
    /// Secrets, Pods, DaemonSets, …), like `kubectl apply -f`.
    Apply {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Manifest file, directory, or `-` for stdin (repeatable).
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
    },
    /// Delete the objects of Kubernetes manifests from the lab's cluster (pods go with
    /// them), like `kubectl delete -f`.
    Delete {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// Manifest file, directory, or `-` for stdin (repeatable).
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
    },
    /// kubectl for the lab's cluster: `get pods -o wide`, `get nodes -o wide`,
    /// `get ciliumbgppeeringpolicies`, `exec -it POD -- CMD`, `apply -f`, `delete -f`,
    /// `taint nodes NODE KEY:EFFECT-`.
    Kubectl {
        /// Which lab.
        #[command(flatten)]
        sel: SelArgs,
        /// kubectl's arguments.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            required = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Generate a leaf-spine topology for scale tests.
    Generate {
        /// Lab name.
        #[arg(long, default_value = "clos")]
        name: String,
        /// Spines.
        #[arg(long)]
        spines: u32,
        /// Leafs.
        #[arg(long)]
        leafs: u32,
        /// Hosts per leaf.
        #[arg(long)]
        hosts_per_leaf: u32,
        /// Routing daemon of spines and leafs.
        #[arg(long, value_enum, default_value_t)]
        router: RouterKind,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Internal: start a node's PID 1 (run by deploy inside the node's namespaces).
    #[command(name = "__node", hide = true)]
    Node {
        /// Node spec file.
        spec: PathBuf,
    },
    /// Internal: a node's PID 1.
    #[command(name = "__init", hide = true)]
    Init {
        /// Node spec file.
        spec: PathBuf,
    },
}

/// Runs `bgplane lab`. `exe` says how to re-invoke this binary for node supervisors.
/// Commands that run something in a node exit with its status.
pub fn run(args: Args, exe: SelfExe) -> anyhow::Result<()> {
    let root = args.lab_dir.clone();
    match args.command {
        LabCommand::Node { spec } => return supervisor::outer_main(&exe, &spec),
        LabCommand::Init { spec } => return supervisor::init_main(&spec),
        LabCommand::Deploy {
            topo,
            cluster,
            cluster_name,
            reconfigure,
            auto_direct_node_routes,
            output,
        } => {
            deploy(&DeployOpts {
                topo,
                cluster,
                cluster_name,
                reconfigure,
                auto_direct_node_routes,
                root,
                exe,
                format: output,
            })?;
        }
        LabCommand::Destroy {
            sel,
            all,
            cleanup,
            output,
        } => destroy_cmd(&root, &sel.sel(), all, cleanup, output)?,
        LabCommand::Inspect { sel, all, output } => inspect_cmd(&root, &sel.sel(), all, output)?,
        LabCommand::Exec {
            sel,
            labels,
            output,
            args,
        } => {
            let (node, cmd) = split_exec_args(&args, !labels.is_empty());
            let code = exec_cmd(&root, &sel.sel(), node, &labels, cmd, output)?;
            if code != 0 {
                std::process::exit(code.clamp(1, 255));
            }
        }
        LabCommand::Graph {
            sel,
            cluster,
            mermaid,
            dot,
            out,
        } => {
            let plan = match &sel.topo {
                Some(t) => load_plan(t, cluster.as_deref(), None, &root)?.0,
                None => sel.sel().state(&root)?.plan,
            };
            let g = graph::build(&plan);
            let text = if mermaid {
                graph::mermaid(&g)
            } else if dot {
                graph::dot(&g)
            } else {
                graph::html(&g)
            };
            write_out(out.as_deref(), &text)?;
        }
        LabCommand::Link {
            sel,
            state,
            endpoint,
        } => link_cmd(&root, &sel.sel(), &endpoint, state == "up")?,
        LabCommand::Save { sel, output } => save_cmd(&root, &sel.sel(), output, &exe)?,
        LabCommand::Check {
            sel,
            from,
            to,
            expect,
            timeout,
            output,
        } => {
            let opts = CheckOpts {
                from,
                to,
                expect,
                timeout: Duration::from_secs_f64(timeout.max(0.1)),
            };
            check_cmd(&root, &sel.sel(), &opts, output)?;
        }
        LabCommand::Trace {
            sel,
            from,
            to,
            output,
        } => trace_cmd(&root, &sel.sel(), &from, &to, output)?,
        LabCommand::Apply { sel, files } => {
            crate::cluster::kubectl::apply_cmd(&root, &sel.sel(), &files, &exe)?
        }
        LabCommand::Delete { sel, files } => {
            crate::cluster::kubectl::delete_cmd(&root, &sel.sel(), &files)?
        }
        LabCommand::Kubectl { sel, args } => {
            let code = crate::cluster::kubectl::kubectl_cmd(&root, &sel.sel(), &args, &exe)?;
            if code != 0 {
                std::process::exit(code.clamp(1, 255));
            }
        }
        LabCommand::Generate {
            name,
            spines,
            leafs,
            hosts_per_leaf,
            router,
            out,
        } => {
            let text = generate(&ClosSpec {
                name,
                spines,
                leafs,
                hosts_per_leaf,
                router,
            })?;
            write_out(out.as_deref(), &text)?;
        }
    }
    Ok(())
}

/// `NODE [--] CMD…` (or only `[--] CMD…` with `--label`) → (node, command).
fn split_exec_args(args: &[String], by_label: bool) -> (Option<&str>, &[String]) {
    let strip = |a: &'_ [String]| -> usize { usize::from(a.first().is_some_and(|x| x == "--")) };
    if by_label {
        let s = strip(args);
        return (None, &args[s..]);
    }
    match args.split_first() {
        Some((node, rest)) => (Some(node.as_str()), &rest[strip(rest)..]),
        None => (None, args),
    }
}

fn write_out(out: Option<&std::path::Path>, text: &str) -> Result<(), OpError> {
    match out {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| crate::rt::RtError::io(format!("write {}", p.display()), e).into()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
