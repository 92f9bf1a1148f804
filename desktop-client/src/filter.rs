//! What is not synced: the rules of `.nimbusignore` at the top of the sync
//! folder (gitignore syntax, `ignore` crate) plus the temporary files of
//! common editors and office suites, which would otherwise be uploaded
//! and deleted again every time a document is saved.

use std::path::Path;
use std::sync::Arc;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::engine::Ignore;

/// The file of user rules, at the top of the sync folder. It is synced
/// itself, so every device applies the same rules.
pub const IGNORE_FILE: &str = ".nimbusignore";

/// Editor, office and download temporaries (gitignore syntax).
pub const BUILT_IN: &[&str] = &[
    "*~",
    "*.swp",
    "*.swo",
    "*.swx",
    ".*.sw?",
    ".#*",
    "#*#",
    "4913",
    "*.tmp",
    "~$*",
    ".~lock.*#",
    "*.crdownload",
    "*.part",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".nimbus",
];

/// The ignore rules of the folder `root`: built-in ones, then those of its
/// `.nimbusignore` (which may re-include with `!`). A broken rule is
/// skipped with a warning; the others still apply.
pub fn load(root: &Path) -> Ignore {
    let mut builder = GitignoreBuilder::new(root);
    for rule in BUILT_IN {
        if let Err(error) = builder.add_line(None, rule) {
            tracing::warn!(%rule, %error, "bad built-in ignore rule");
        }
    }
    let file = root.join(IGNORE_FILE);
    if file.is_file()
        && let Some(error) = builder.add(&file)
    {
        tracing::warn!(file = %file.display(), %error, "some ignore rules cannot be used");
    }
    let rules = builder.build().unwrap_or_else(|error| {
        tracing::warn!(%error, "ignore rules cannot be used; only built-in ones apply");
        let mut fallback = GitignoreBuilder::new(root);
        for rule in BUILT_IN {
            let _ = fallback.add_line(None, rule);
        }
        fallback.build().unwrap_or_else(|_| Gitignore::empty())
    });
    from_rules(rules)
}

fn from_rules(rules: Gitignore) -> Ignore {
    let rules = Arc::new(rules);
    Arc::new(move |path: &str, is_folder: bool| {
        rules
            .matched_path_or_any_parents(path, is_folder)
            .is_ignore()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_files_and_user_rules_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IGNORE_FILE), "build/\n*.log\n!keep.log\n").unwrap();
        let ignored = load(dir.path());
        assert!(ignored("notes.txt.swp", false));
        assert!(ignored("docs/.report.md.swp", false));
        assert!(ignored("docs/~$budget.xlsx", false));
        assert!(ignored("draft.md~", false));
        assert!(ignored("build", true));
        assert!(ignored("build/out.bin", false));
        assert!(ignored("src/app.log", false));
        assert!(!ignored("keep.log", false));
        assert!(!ignored("notes.txt", false));
        assert!(!ignored(IGNORE_FILE, false));
        assert!(!ignored("docs", true));
    }
}
