//! One module per subcommand; each owns its clap arguments and its `run`.

pub(crate) mod agent;
pub(crate) mod bench;
pub(crate) mod cilium;
pub(crate) mod cni;
pub(crate) mod decode;
pub(crate) mod lab;
pub(crate) mod router;
pub(crate) mod show;
pub(crate) mod tables;

/// Writes command output to stdout. A reader that went away (`| head`, `| grep -q`) ends
/// the command quietly, as with other Unix tools, instead of a panic.
pub(crate) fn out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match o.write_fmt(text).and_then(|()| o.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("bgplane: cannot write the output: {e}");
            std::process::exit(1);
        }
    }
}

/// `println!` through [`out`].
macro_rules! outln {
    ($($t:tt)*) => { $crate::cmd::out(format_args!("{}\n", format_args!($($t)*))) };
}
/// `print!` through [`out`].
macro_rules! outp {
    ($($t:tt)*) => { $crate::cmd::out(format_args!($($t)*)) };
}
pub(crate) use {outln, outp};
