//! Cedar and miette diagnostics rendered for people: against their file with line, column and
//! a caret excerpt, or as one line with the cause chain and help.

/// Renders a diagnostic against its file the way compilers do: file, line, column and a caret
/// excerpt (miette's graphical report, without colours so it reads the same in logs).
pub fn diagnostic<D: miette::Diagnostic + Send + Sync + 'static>(
    d: D,
    name: &str,
    text: &str,
) -> String {
    // Where the first label points, for a report whose location line miette left out.
    let offset = d.labels().and_then(|mut l| l.next()).map(|l| l.offset());
    let report =
        miette::Report::new(d).with_source_code(miette::NamedSource::new(name, text.to_string()));
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    match handler.render_report(&mut out, report.as_ref()) {
        // Cedar's diagnostics carry their own (unnamed) source, which wins over ours; put the
        // file name into the location line so `file:line:col` always reads whole.
        Ok(()) if !out.contains(&format!("[{name}:")) => {
            let out = out.trim_end().replace("╭─[", &format!("╭─[{name}:"));
            // An error on the first lines gets no location line at all (`╭────`).
            match offset {
                Some(at) if !out.contains(&format!("[{name}:")) && text.is_char_boundary(at) => {
                    let before = &text[..at];
                    let line = before.matches('\n').count() + 1;
                    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    out.replacen("╭────", &format!("╭─[{name}:{line}:{col}]"), 1)
                }
                _ => out,
            }
        }
        Ok(()) => out.trim_end().to_string(),
        Err(_) => format!("{name}: {report}"),
    }
}

/// A cedar diagnostic as one line, with its help when it has one.
pub fn render(e: &dyn miette::Diagnostic) -> String {
    let mut out = e.to_string();
    // Cedar often puts the useful part ("expected a string, got 5") in the cause chain.
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    if let Some(h) = e.help() {
        out.push_str("; ");
        out.push_str(&h.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    #[test]
    fn an_error_on_the_first_line_names_its_file_line_and_column() {
        let text = "forbid(principal action, resource);\n";
        let e = cedar_policy::PolicySet::from_str(text).unwrap_err();
        let out = super::diagnostic(e, "zz.cedar", text);
        assert!(out.contains("[zz.cedar:1:18]"), "{out}");
    }
}
