//! `lab kubectl get`: the lab's objects in kubectl's formats (tables, `-o wide`, `-o
//! yaml`/`json`, `--show-labels`).

use super::*;

/// A `metadata` string of an object (`name`, `namespace`); empty if absent.
fn meta<'a>(v: &'a Value, key: &str) -> &'a str {
    v["metadata"][key].as_str().unwrap_or("")
}

/// Reads `kubectl get` arguments (after `get`).
pub(super) fn parse(rest: &[String]) -> Result<GetOpts, OpError> {
    let mut o = GetOpts::default();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" | "--output" => o.output = it.next().cloned(),
            "-A" | "--all-namespaces" => o.all_namespaces = true,
            "-n" | "--namespace" => o.namespace = it.next().cloned(),
            "--show-labels" => o.show_labels = true,
            s if s.starts_with("-o") => {
                o.output = Some(
                    s.trim_start_matches("--output=")
                        .trim_start_matches("-o")
                        .trim_start_matches('=')
                        .to_string(),
                )
            }
            s if s.starts_with("--namespace=") => {
                o.namespace = Some(s["--namespace=".len()..].to_string())
            }
            s if s.starts_with('-') => return Err(usage(format!("error: unknown flag: {s}"))),
            s if o.resources.is_empty() => {
                for part in s.split(',') {
                    match part.split_once('/') {
                        Some((r, n)) => {
                            o.resources.push(r.to_string());
                            o.names.push(n.to_string());
                        }
                        None => o.resources.push(part.to_string()),
                    }
                }
                o.resources.dedup();
            }
            s => o.names.push(s.to_string()),
        }
    }
    if o.resources.is_empty() {
        return Err(usage("error: you must specify the type of resource to get (pods, nodes, daemonsets, services, ciliumbgppeeringpolicies, …)"));
    }
    Ok(o)
}

/// kubectl's plain table: left-aligned columns three spaces apart.
fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}   ", width = w[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn age_of(v: &Value) -> String {
    v["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(parse_rfc3339)
        .map(|t| human_age(now().saturating_sub(t)))
        .unwrap_or_else(|| "<unknown>".into())
}

/// Parsed `kubectl get` options.
#[derive(Default)]
pub(super) struct GetOpts {
    resources: Vec<String>,
    names: Vec<String>,
    output: Option<String>,
    all_namespaces: bool,
    namespace: Option<String>,
    show_labels: bool,
}

/// A pod's STATUS and READY, from its record and whether its supervisor lives.
fn pod_status(r: &PodRec) -> (String, String) {
    let n = r.spec["containers"].as_array().map(Vec::len).unwrap_or(1);
    let alive = r.pid.is_some_and(|p| proc::alive(p, r.start));
    match r.phase.as_str() {
        "Running" if alive => ("Running".into(), format!("{n}/{n}")),
        "Running" => ("Unknown".into(), format!("0/{n}")),
        p => (p.to_string(), format!("0/{n}")),
    }
}

fn none(s: Option<&str>) -> String {
    s.filter(|x| !x.is_empty()).unwrap_or("<none>").to_string()
}

fn labels_text(v: &Value) -> String {
    match v["metadata"]["labels"].as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<none>".into(),
    }
}

pub(super) fn get(st: &LabState, o: &GetOpts) -> Result<i32, OpError> {
    let lab_dir = &st.plan.lab_dir;
    let mdir = manifests_dir(lab_dir);
    let wide = o.output.as_deref() == Some("wide");
    let ns_ok = |ns: Option<&str>| -> bool {
        o.all_namespaces || ns.is_none() || ns == Some(o.namespace.as_deref().unwrap_or("default"))
    };
    let mut all_items: Vec<Value> = Vec::new();
    let mut text = String::new();
    let mut status = 0;
    for res in &o.resources {
        let mut kind = kind_of(res);
        if kind.is_empty() {
            kind = generic_kind(&mdir, res).ok_or_else(|| {
                usage(format!(
                    "error: the server doesn't have a resource type \"{res}\""
                ))
            })?;
        }
        // Objects of the kind, in the namespaces asked for.
        let items: Vec<Value> = if kind == "Pod" {
            pods::load_all(lab_dir)
                .iter()
                .map(pods::pod_object)
                .collect()
        } else {
            objects::list(&mdir, &kind)
        };
        let mut items: Vec<Value> = items
            .into_iter()
            .filter(|v| ns_ok(objects::namespace_of(v).as_deref()))
            .filter(|v| {
                o.names.is_empty()
                    || o.names
                        .iter()
                        .any(|n| v["metadata"]["name"].as_str() == Some(n.as_str()))
            })
            .collect();
        for n in &o.names {
            if !items
                .iter()
                .any(|v| v["metadata"]["name"].as_str() == Some(n.as_str()))
            {
                eprintln!(
                    "Error from server (NotFound): {}s \"{n}\" not found",
                    kind.to_ascii_lowercase()
                );
                status = 1;
            }
        }
        items.sort_by_key(|v| {
            (
                objects::namespace_of(v).unwrap_or_default(),
                meta(v, "name").to_string(),
            )
        });
        match o.output.as_deref() {
            Some("json") => {
                all_items.extend(items);
                continue;
            }
            Some("name") => {
                for v in &items {
                    let r = objects::ref_name(v);
                    // kubectl names core kinds without a group: node/x, pod/x.
                    text.push_str(&r.replace(".apps/", "/"));
                    text.push('\n');
                }
                continue;
            }
            None | Some("wide") => {}
            Some(other) => {
                return Err(usage(format!(
                    "error: unable to match a printer suitable for the output format \"{other}\" (json, name, wide)"
                )))
            }
        }
        if items.is_empty() {
            if o.resources.len() == 1 && o.names.is_empty() {
                let scoped = objects::namespace_of(&json!({"kind": kind})).is_some();
                if scoped && !o.all_namespaces {
                    eprintln!(
                        "No resources found in {} namespace.",
                        o.namespace.as_deref().unwrap_or("default")
                    );
                } else {
                    eprintln!("No resources found");
                }
            }
            continue;
        }
        let scoped = objects::namespace_of(&items[0]).is_some();
        let with_ns = o.all_namespaces && scoped;
        let (mut header, rows): (Vec<&str>, Vec<Vec<String>>) = match kind.as_str() {
            "Pod" => {
                let mut h = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
                if wide {
                    h.extend(["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]);
                }
                let recs = pods::load_all(lab_dir);
                let rows = items
                    .iter()
                    .map(|v| {
                        let name = meta(v, "name");
                        let ns = meta(v, "namespace");
                        let r = recs.iter().find(|r| r.name == name && r.namespace == ns);
                        let (status, ready) = r.map(pod_status).unwrap_or_default();
                        let mut row = vec![name.to_string(), ready, status, "0".into(), age_of(v)];
                        if wide {
                            row.push(none(v["status"]["podIP"].as_str()));
                            row.push(none(v["spec"]["nodeName"].as_str()));
                            row.push("<none>".into());
                            row.push("<none>".into());
                        }
                        row
                    })
                    .collect();
                (h, rows)
            }
            "Node" => {
                let mut h = vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"];
                if wide {
                    h.extend([
                        "INTERNAL-IP",
                        "EXTERNAL-IP",
                        "OS-IMAGE",
                        "KERNEL-VERSION",
                        "CONTAINER-RUNTIME",
                    ]);
                }
                let rows = items
                    .iter()
                    .map(|v| {
                        let roles: Vec<String> = v["metadata"]["labels"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                            .map(str::to_string)
                            .collect();
                        let alive = st
                            .plan
                            .node_index(meta(v, "name"))
                            .and_then(|i| {
                                st.nodes[i].pid.map(|p| proc::alive(p, st.nodes[i].start))
                            })
                            .unwrap_or(false);
                        let mut status = if alive { "Ready" } else { "NotReady" }.to_string();
                        let unschedulable = v["spec"]["unschedulable"].as_bool() == Some(true);
                        if unschedulable {
                            status.push_str(",SchedulingDisabled");
                        }
                        let info = &v["status"]["nodeInfo"];
                        let mut row = vec![
                            meta(v, "name").to_string(),
                            status,
                            if roles.is_empty() {
                                "<none>".into()
                            } else {
                                roles.join(",")
                            },
                            age_of(v),
                            info["kubeletVersion"].as_str().unwrap_or("").to_string(),
                        ];
                        if wide {
                            let addr = |t: &str| {
                                v["status"]["addresses"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .find(|a| a["type"] == t)
                                    .and_then(|a| a["address"].as_str())
                                    .map(str::to_string)
                            };
                            row.push(none(addr("InternalIP").as_deref()));
                            row.push(none(addr("ExternalIP").as_deref()));
                            row.push(info["osImage"].as_str().unwrap_or("").to_string());
                            row.push(info["kernelVersion"].as_str().unwrap_or("").to_string());
                            row.push(
                                info["containerRuntimeVersion"]
                                    .as_str()
                                    .unwrap_or("")
                                    .to_string(),
                            );
                        }
                        row
                    })
                    .collect();
                (h, rows)
            }
            "DaemonSet" => {
                let mut h = vec![
                    "NAME",
                    "DESIRED",
                    "CURRENT",
                    "READY",
                    "UP-TO-DATE",
                    "AVAILABLE",
                    "NODE SELECTOR",
                    "AGE",
                ];
                if wide {
                    h.extend(["CONTAINERS", "IMAGES", "SELECTOR"]);
                }
                let nodes = pods::sched_nodes(st);
                let recs = pods::load_all(lab_dir);
                let rows = items
                    .iter()
                    .map(|v| {
                        let name = meta(v, "name");
                        let ns = meta(v, "namespace");
                        let spec = &v["spec"]["template"]["spec"];
                        let desired = nodes.iter().filter(|n| pods::fits(spec, n)).count();
                        let mine: Vec<&PodRec> = recs
                            .iter()
                            .filter(|r| r.namespace == ns && r.owner.as_deref() == Some(name))
                            .collect();
                        let ready = mine.iter().filter(|r| pod_status(r).0 == "Running").count();
                        let selector = spec["nodeSelector"]
                            .as_object()
                            .filter(|m| !m.is_empty())
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_else(|| "<none>".into());
                        let mut row = vec![
                            name.to_string(),
                            desired.to_string(),
                            mine.len().to_string(),
                            ready.to_string(),
                            mine.len().to_string(),
                            ready.to_string(),
                            selector,
                            age_of(v),
                        ];
                        if wide {
                            let cs = spec["containers"].as_array().cloned().unwrap_or_default();
                            let join = |k: &str| {
                                cs.iter()
                                    .map(|c| c[k].as_str().unwrap_or("").to_string())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            };
                            row.push(join("name"));
                            row.push(join("image"));
                            row.push(
                                v["spec"]["selector"]["matchLabels"]
                                    .as_object()
                                    .map(|m| {
                                        m.iter()
                                            .map(|(k, v)| {
                                                format!("{k}={}", v.as_str().unwrap_or(""))
                                            })
                                            .collect::<Vec<_>>()
                                            .join(",")
                                    })
                                    .unwrap_or_else(|| "<none>".into()),
                            );
                        }
                        row
                    })
                    .collect();
                (h, rows)
            }
            "Service" => {
                let h = vec![
                    "NAME",
                    "TYPE",
                    "CLUSTER-IP",
                    "EXTERNAL-IP",
                    "PORT(S)",
                    "AGE",
                ];
                let rows = items
                    .iter()
                    .map(|v| {
                        let s = &v["spec"];
                        let ext: Vec<String> = v["status"]["loadBalancer"]["ingress"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|i| i["ip"].as_str().map(str::to_string))
                            .chain(
                                s["externalIPs"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(|i| i.as_str().map(str::to_string)),
                            )
                            .collect();
                        let ty = s["type"].as_str().unwrap_or("ClusterIP");
                        let ports: Vec<String> = s["ports"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|p| {
                                format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
                            })
                            .collect();
                        vec![
                            meta(v, "name").to_string(),
                            ty.to_string(),
                            none(s["clusterIP"].as_str()),
                            if ext.is_empty() {
                                if ty == "LoadBalancer" {
                                    "<pending>"
                                } else {
                                    "<none>"
                                }
                                .into()
                            } else {
                                ext.join(",")
                            },
                            if ports.is_empty() {
                                "<none>".into()
                            } else {
                                ports.join(",")
                            },
                            age_of(v),
                        ]
                    })
                    .collect();
                (h, rows)
            }
            _ => {
                let h = vec!["NAME", "AGE"];
                let rows = items
                    .iter()
                    .map(|v| vec![meta(v, "name").to_string(), age_of(v)])
                    .collect();
                (h, rows)
            }
        };
        let mut rows = rows;
        if with_ns {
            header.insert(0, "NAMESPACE");
            for (r, v) in rows.iter_mut().zip(&items) {
                r.insert(0, meta(v, "namespace").into());
            }
        }
        if o.show_labels {
            header.push("LABELS");
            for (r, v) in rows.iter_mut().zip(&items) {
                r.push(labels_text(v));
            }
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&render(&header, &rows));
    }
    if o.output.as_deref() == Some("json") {
        let out = if all_items.len() == 1 && !o.names.is_empty() {
            all_items.remove(0)
        } else {
            json!({"apiVersion": "v1", "kind": "List", "items": all_items, "metadata": {"resourceVersion": ""}})
        };
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{text}");
    }
    Ok(status)
}
