//! Prints the CRDs of every resource bgplane understands, as `deploy/crds.yaml` holds them:
//! `cargo run -p k8s --example gen-crds > deploy/crds.yaml`.

fn main() {
    match k8s::deploy::crds_yaml() {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("gen-crds: {e}");
            std::process::exit(1);
        }
    }
}
