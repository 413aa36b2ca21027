//! Plain-text tables.

/// A table with a header row.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (cells may hold several lines).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Renders with `|` separators and a rule under the header.
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0usize; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                for l in c.lines() {
                    width[i] = width[i].max(l.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let height = cells
                .iter()
                .map(|c| c.lines().count().max(1))
                .max()
                .unwrap_or(1);
            for h in 0..height {
                let parts: Vec<String> = (0..cols)
                    .map(|i| {
                        let text = cells.get(i).and_then(|c| c.lines().nth(h)).unwrap_or("");
                        format!("{text:<w$}", w = width[i])
                    })
                    .collect();
                out.push_str(parts.join(" | ").trim_end());
                out.push('\n');
            }
        };
        line(&self.header, &mut out);
        out.push_str(
            &width
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-+-"),
        );
        out.push('\n');
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn renders_aligned_multiline_cells() {
        let mut t = Table::new(["NAME", "ADDR"]);
        t.row(["a", "10.0.0.1/32\n10.0.1.1/24"]);
        t.row(["router0", ""]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "NAME    | ADDR");
        assert_eq!(lines[2], "a       | 10.0.0.1/32");
        assert_eq!(lines[3], "        | 10.0.1.1/24");
        assert_eq!(lines[4], "router0 |");
    }
}
