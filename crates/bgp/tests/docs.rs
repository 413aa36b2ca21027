//! The YAML examples of docs/router.md are valid configurations.

use bgp::config::RouterConfig;

#[test]
fn every_complete_example_in_the_router_guide_validates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/router.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line.trim_start()) {
            (None, "```yaml") => cur = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    let complete: Vec<&String> = blocks.iter().filter(|b| b.starts_with("router:")).collect();
    assert!(!complete.is_empty(), "no complete example found");
    for b in complete {
        RouterConfig::parse("docs/router.md", b).unwrap_or_else(|e| panic!("{e}\n{b}"));
    }
    // Fragments parse once a router section is added.
    for b in blocks.iter().filter(|b| !b.starts_with("router:")) {
        let full = format!("router: {{ asn: 65005, router-id: 10.0.5.1 }}\n{b}");
        RouterConfig::parse("docs/router.md", &full).unwrap_or_else(|e| panic!("{e}\n{full}"));
    }
}
