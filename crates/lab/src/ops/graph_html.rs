//! The HTML page of `lab graph`: inline SVG, CSS and a little JavaScript (drag nodes,
//! highlight a node's links, node and link lists). No external resources at all.

use std::fmt::Write;

use super::graph::Graph;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;color:#1d2330;display:flex}
main{flex:1;overflow:auto;padding:12px}
aside{width:280px;border-left:1px solid #d7dbe2;background:#fff;padding:12px;font-size:13px;max-height:100vh;overflow:auto}
h1{font-size:18px;margin:4px 0 8px}
svg{background:#fff;border:1px solid #d7dbe2;border-radius:8px}
.group rect{fill:#eef4ff;stroke:#9db8e8;stroke-dasharray:5 4;rx:12}
.group text{font-size:13px;font-weight:600;fill:#3d5f9e}
.edge line{stroke:#7c8597;stroke-width:2}
.edge.hot line{stroke:#d9480f;stroke-width:3.5}
.ifl{font-size:11px;fill:#39404d;paint-order:stroke;stroke:#fff;stroke-width:4px;text-anchor:middle}
.node{cursor:grab}
.node .shape{stroke-width:2}
.role-router .shape{fill:#e6f4ea;stroke:#2f8f4e}
.role-host .shape{fill:#eef1f6;stroke:#5b6b86}
.role-k8s .shape{fill:#e8f0fe;stroke:#326ce5}
.role-bridge .shape{fill:#fff4e0;stroke:#c27c0e}
.role-external .shape{fill:#fbe9e9;stroke:#b03a3a}
.name{font-size:13px;font-weight:600;text-anchor:middle}
.sub{font-size:10px;fill:#5b6475;text-anchor:middle}
aside ul{padding-left:16px;margin:4px 0 12px}
aside li{margin:2px 0}
.tag{display:inline-block;font-size:10px;padding:0 5px;border-radius:6px;background:#eef1f6;margin-left:4px}
"#;

const JS: &str = r#"
(function(){
  var data = JSON.parse(document.getElementById('lab-data').textContent);
  var svg = document.getElementById('topo');
  var nodes = Array.prototype.slice.call(svg.querySelectorAll('g.node'));
  var edges = Array.prototype.slice.call(svg.querySelectorAll('g.edge'));
  function place(e){
    var a = data.nodes[+e.dataset.a], b = data.nodes[+e.dataset.b];
    var l = e.querySelector('line');
    l.setAttribute('x1', a.x); l.setAttribute('y1', a.y); l.setAttribute('x2', b.x); l.setAttribute('y2', b.y);
    var t = e.querySelectorAll('text');
    var pa = labelAt(a, b), pb = labelAt(b, a);
    t[0].setAttribute('x', pa[0]); t[0].setAttribute('y', pa[1]);
    t[1].setAttribute('x', pb[0]); t[1].setAttribute('y', pb[1]);
  }
  // Same rule as the server-side layout: past the name text when the link leaves downwards.
  function labelAt(a, b){
    var dx = b.x - a.x, dy = b.y - a.y, len = Math.sqrt(dx * dx + dy * dy) || 1;
    var d = dy > 20 ? 78 : 46;
    d = Math.min(d, len / 2);
    return [a.x + dx / len * d, a.y + dy / len * d + 4];
  }
  var drag = null;
  nodes.forEach(function(g){
    var i = +g.dataset.i;
    g.addEventListener('mouseenter', function(){ edges.forEach(function(e){ if (+e.dataset.a === i || +e.dataset.b === i) e.classList.add('hot'); }); });
    g.addEventListener('mouseleave', function(){ edges.forEach(function(e){ e.classList.remove('hot'); }); });
    g.addEventListener('pointerdown', function(ev){ drag = {i: i, g: g}; g.setPointerCapture(ev.pointerId); });
    g.addEventListener('pointermove', function(ev){
      if (!drag || drag.i !== i) return;
      var pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      data.nodes[i].x = p.x; data.nodes[i].y = p.y;
      g.setAttribute('transform', 'translate(' + p.x + ',' + p.y + ')');
      edges.forEach(function(e){ if (+e.dataset.a === i || +e.dataset.b === i) place(e); });
    });
    g.addEventListener('pointerup', function(){ drag = null; });
  });
  var nl = document.getElementById('node-list');
  data.nodes.forEach(function(n){
    var li = document.createElement('li');
    li.textContent = n.name;
    var tag = document.createElement('span'); tag.className = 'tag'; tag.textContent = n.role + (n.group ? ' · ' + n.group : '');
    li.appendChild(tag); nl.appendChild(li);
  });
  var ll = document.getElementById('link-list');
  data.edges.forEach(function(e){
    var li = document.createElement('li');
    li.textContent = data.nodes[e.a].name + ':' + e.a_if + ' \u2194 ' + data.nodes[e.b].name + ':' + e.b_if;
    ll.appendChild(li);
  });
  document.body.dataset.nodes = String(nodes.length);
  document.body.dataset.edges = String(edges.length);
  document.body.dataset.rendered = 'ok';
})();
"#;

/// Where the interface label of the end at (ax, ay) goes: along the link, past the node's
/// name when the link leaves downwards (names are drawn under the shapes).
fn label_at(ax: f64, ay: f64, bx: f64, by: f64) -> (f64, f64) {
    let (dx, dy) = (bx - ax, by - ay);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let d: f64 = if dy > 20.0 { 78.0 } else { 46.0 };
    let d = d.min(len / 2.0);
    (ax + dx / len * d, ay + dy / len * d + 4.0)
}

/// At most `max` characters, with an ellipsis when cut (the full text is in a tooltip).
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Renders the page.
pub(super) fn render(g: &Graph) -> String {
    let mut svg = String::new();
    let w = &mut svg;
    let _ = write!(
        w,
        r#"<svg id="topo" xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" viewBox="0 0 {:.0} {:.0}">"#,
        g.width, g.height, g.width, g.height
    );
    let mut groups: Vec<String> = g.nodes.iter().filter_map(|n| n.group.clone()).collect();
    groups.sort();
    groups.dedup();
    for gr in &groups {
        let members: Vec<_> = g
            .nodes
            .iter()
            .filter(|n| n.group.as_ref() == Some(gr))
            .collect();
        let x0 = members.iter().map(|n| n.x).fold(f64::MAX, f64::min) - 72.0;
        let x1 = members.iter().map(|n| n.x).fold(f64::MIN, f64::max) + 72.0;
        let y0 = members.iter().map(|n| n.y).fold(f64::MAX, f64::min) - 52.0;
        let y1 = members.iter().map(|n| n.y).fold(f64::MIN, f64::max) + 48.0;
        let _ = write!(
            w,
            r#"<g class="group" data-group="{g}"><rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}">{g}</text></g>"#,
            x1 - x0,
            y1 - y0,
            x0 + 8.0,
            y0 + 16.0,
            g = esc(gr)
        );
    }
    for e in &g.edges {
        let (a, b) = (&g.nodes[e.a], &g.nodes[e.b]);
        let (la, lb) = (label_at(a.x, a.y, b.x, b.y), label_at(b.x, b.y, a.x, a.y));
        let _ = write!(
            w,
            r#"<g class="edge" data-a="{}" data-b="{}"><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><text class="ifl" x="{:.1}" y="{:.1}">{}</text><text class="ifl" x="{:.1}" y="{:.1}">{}</text></g>"#,
            e.a,
            e.b,
            a.x,
            a.y,
            b.x,
            b.y,
            la.0,
            la.1,
            esc(&e.a_if),
            lb.0,
            lb.1,
            esc(&e.b_if)
        );
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let shape = match n.role.as_str() {
            "router" => r#"<circle class="shape" r="30"/>"#.to_string(),
            "bridge" => r#"<rect class="shape" x="-45" y="-14" width="90" height="28" rx="14"/>"#
                .to_string(),
            _ => {
                r#"<rect class="shape" x="-40" y="-24" width="80" height="48" rx="8"/>"#.to_string()
            }
        };
        let _ = write!(
            w,
            r#"<g class="node role-{role}" data-i="{i}" data-name="{name}" transform="translate({:.1},{:.1})"><title>{name}: {full}</title>{shape}<text class="name" y="44">{name}</text><text class="sub" y="58">{sub}</text></g>"#,
            n.x,
            n.y,
            role = esc(&n.role),
            name = esc(&n.name),
            full = esc(&n.sub),
            sub = esc(&short(&n.sub, 26))
        );
    }
    svg.push_str("</svg>");
    // JSON inside <script>: keep `</` from closing the element.
    let data = serde_json::to_string(g)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lab {title}</title><style>{CSS}</style></head>\n<body><main><h1>lab {title}</h1>{svg}</main>\n<aside><b>Nodes</b><ul id=\"node-list\"></ul><b>Links</b><ul id=\"link-list\"></ul><p>Drag nodes to rearrange; hover a node to see its links.</p></aside>\n<script id=\"lab-data\" type=\"application/json\">{data}</script>\n<script>{JS}</script></body></html>\n",
        title = esc(&g.lab)
    )
}
