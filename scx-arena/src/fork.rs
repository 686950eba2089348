//! Forks `schedulers/scx_template` into a new scheduler of the workspace
//! (`scx-arena new <name>`, `tools/new-scheduler <name>`).
//!
//! The copy is renamed word by word: `scx_template` becomes the new name
//! (crate, binary, statistics label), `template_*`/`TEMPLATE_*` become the
//! new prefix (BPF callbacks, the ops struct, the shared C types), the Rust
//! type `Template` its CamelCase form, and the sched_ext ops name
//! (`.name = "template"`) the prefix. The new crate gets its own README and
//! joins the workspace through the `schedulers/*` members glob; Cargo.lock
//! gains its entry offline (no new dependencies).
//!
//! A name is checked before anything is written. The copy is written into a
//! staging directory and renamed into place in one step; if Cargo.lock then
//! cannot be updated, the directory is removed and Cargo.lock restored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The scheduler every fork starts from (a directory under `schedulers/`).
pub const TEMPLATE: &str = "scx_template";

/// The template's prefix: its word for itself in identifiers and its ops name.
const TEMPLATE_PREFIX: &str = "template";

/// Size of `sched_ext_ops.name` in the kernel, with its terminating NUL.
const SCX_OPS_NAME_LEN: usize = 128;

/// Every scheduler's crate name starts with this.
const NAME_START: &str = "scx_";

/// Prefixes of the kernel's and libbpf's identifiers, which a scheduler's
/// names must not imitate.
const RESERVED_PREFIXES: &[&str] = &["scx", "bpf", "btf"];

/// Rust keywords that a CamelCase type name could become.
const RUST_TYPE_KEYWORDS: &[&str] = &["Self"];

/// Why a fork was refused or failed. Nothing is left behind in either case.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    /// The name cannot be a scheduler's name.
    #[error("'{name}' cannot be a scheduler name: {why}")]
    BadName {
        /// The name asked for.
        name: String,
        /// The rule it breaks.
        why: String,
    },
    /// Something of that name already exists.
    #[error("'{name}' is taken: {what}")]
    Taken {
        /// The name asked for.
        name: String,
        /// What already has it.
        what: String,
    },
    /// The template no longer has the shape these renaming rules expect.
    #[error("cannot fork {TEMPLATE}: {0}")]
    Template(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// cargo could not add the new crate to Cargo.lock.
    #[error("cargo could not add {name} to Cargo.lock (everything was put back): {why}")]
    Lock {
        /// The new crate.
        name: String,
        /// What cargo said.
        why: String,
    },
}

/// The names a new scheduler gets, all derived from its crate name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Crate, binary and directory name, e.g. `scx_my_sched`.
    pub crate_name: String,
    /// Identifier prefix and sched_ext ops name, e.g. `my_sched`.
    pub prefix: String,
    /// Prefix of C macros, e.g. `MY_SCHED`.
    pub upper: String,
    /// The Rust type of the loaded scheduler, e.g. `MySched`.
    pub camel: String,
}

impl Names {
    /// Checks `name` on its own (not against the workspace): `scx_` followed
    /// by a lowercase identifier without doubled or trailing underscores,
    /// short enough that the ops name with the runtime's version suffix
    /// fits sched_ext's limit, and not imitating kernel or libbpf names.
    pub fn new(name: &str) -> Result<Names, ForkError> {
        let bad = |why: String| ForkError::BadName {
            name: name.to_string(),
            why,
        };
        let Some(prefix) = name.strip_prefix(NAME_START) else {
            let fixed = format!("{NAME_START}{name}");
            let hint = match Names::new(&fixed) {
                Ok(_) => format!(" (try '{fixed}')"),
                Err(_) => String::new(),
            };
            return Err(bad(format!(
                "scheduler names start with '{NAME_START}'{hint}"
            )));
        };
        if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(bad(format!(
                "'{NAME_START}' must be followed by a lowercase letter"
            )));
        }
        if let Some(c) = prefix
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(bad(format!(
                "{c:?} is not allowed: use lowercase letters, digits and '_' \
                 (the name becomes a Rust crate, C identifiers and a sched_ext ops name)"
            )));
        }
        if prefix.contains("__") || prefix.ends_with('_') {
            return Err(bad("no doubled or trailing '_'".into()));
        }
        let max = max_prefix_len();
        if prefix.len() > max {
            return Err(bad(format!(
                "too long: sched_ext ops names hold {} characters and the runtime \
                 appends its version suffix, which leaves {max} after '{NAME_START}' \
                 (this has {})",
                SCX_OPS_NAME_LEN - 1,
                prefix.len()
            )));
        }
        if let Some(r) = RESERVED_PREFIXES
            .iter()
            .find(|r| prefix == **r || prefix.starts_with(&format!("{r}_")))
        {
            return Err(bad(format!(
                "'{r}' and '{r}_...' after '{NAME_START}' are reserved: the scheduler's \
                 identifiers would look like the kernel's or libbpf's"
            )));
        }
        let camel: String = prefix
            .split('_')
            .map(|w| {
                let mut cs = w.chars();
                cs.next()
                    .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                    .unwrap_or_default()
            })
            .collect();
        if RUST_TYPE_KEYWORDS.contains(&camel.as_str()) {
            return Err(bad(format!(
                "its type name would be the Rust keyword '{camel}'"
            )));
        }
        Ok(Names {
            crate_name: name.to_string(),
            prefix: prefix.to_string(),
            upper: prefix.to_ascii_uppercase(),
            camel,
        })
    }

    /// The template's own names.
    fn template() -> Names {
        Names {
            crate_name: TEMPLATE.into(),
            prefix: TEMPLATE_PREFIX.into(),
            upper: TEMPLATE_PREFIX.to_ascii_uppercase(),
            camel: "Template".into(),
        }
    }

    /// What the template's identifier `word` becomes, or None if it stays.
    fn rename(&self, word: &str) -> Option<String> {
        let t = Names::template();
        let swap = |from: &str, to: &str| {
            word.strip_prefix(from).and_then(|rest| {
                (rest.is_empty() || rest.starts_with('_')).then(|| format!("{to}{rest}"))
            })
        };
        replace_segment(word, &t.crate_name, &self.crate_name)
            .or_else(|| swap(&t.prefix, &self.prefix))
            .or_else(|| swap(&t.upper, &self.upper))
            .or_else(|| {
                // Template, TemplateStats: the CamelCase type and its compounds.
                let rest = word.strip_prefix(&t.camel)?;
                (rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase()))
                    .then(|| format!("{}{rest}", self.camel))
            })
    }
}

/// `word` with every `from` that stands between `_`s (or the word's ends)
/// replaced by `to` (`CARGO_BIN_EXE_scx_template`), or None if there is none.
fn replace_segment(word: &str, from: &str, to: &str) -> Option<String> {
    let segs: Vec<&str> = word.split('_').collect();
    let pat: Vec<&str> = from.split('_').collect();
    let mut out = Vec::with_capacity(segs.len());
    let (mut i, mut found) = (0, false);
    while i < segs.len() {
        if segs[i..].starts_with(&pat) {
            out.push(to);
            i += pat.len();
            found = true;
        } else {
            out.push(segs[i]);
            i += 1;
        }
    }
    found.then(|| out.join("_"))
}

/// The longest prefix whose ops name still fits with the version suffix
/// `scx_ops_open!` appends (`_<version>_<git>_<target>`).
fn max_prefix_len() -> usize {
    let suffix = scx_utils::build_id::ops_version_suffix(env!("CARGO_PKG_VERSION"));
    (SCX_OPS_NAME_LEN - 1).saturating_sub(suffix.len())
}

/// `text` with every identifier-like word renamed by `names`; also the
/// words that were renamed, as they now read.
fn rename_words(text: &str, names: &Names) -> (String, BTreeSet<String>) {
    let mut out = String::with_capacity(text.len());
    let mut renamed = BTreeSet::new();
    for piece in words(text) {
        match piece {
            Piece::Word(w) => match names.rename(w) {
                Some(new) => {
                    out.push_str(&new);
                    renamed.insert(new);
                }
                None => out.push_str(w),
            },
            Piece::Other(s) => out.push_str(s),
        }
    }
    (out, renamed)
}

/// A run of identifier characters, or anything between two of them.
enum Piece<'a> {
    Word(&'a str),
    Other(&'a str),
}

/// Splits `text` into words (`[A-Za-z0-9_]+`) and what lies between them.
fn words(text: &str) -> impl Iterator<Item = Piece<'_>> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let word = is_word(first);
        let end = rest
            .find(|c: char| is_word(c) != word)
            .unwrap_or(rest.len());
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(if word {
            Piece::Word(piece)
        } else {
            Piece::Other(piece)
        })
    })
}

/// The new scheduler's files, relative to its directory, before they are
/// written.
#[derive(Debug)]
struct Plan {
    files: Vec<(PathBuf, String)>,
}

/// Renders the template under `workspace` for `names`: every file renamed,
/// a README of its own. Refuses a name whose renamed identifiers would
/// collide with names the template or the library already use.
fn plan(workspace: &Path, names: &Names) -> Result<Plan, ForkError> {
    let src = workspace.join("schedulers").join(TEMPLATE);
    let mut files = Vec::new();
    let mut renamed = BTreeSet::new();
    let mut kept = BTreeSet::new();
    for rel in list_files(&src)? {
        if rel == Path::new("README.md") {
            continue; // the fork gets its own
        }
        let path = src.join(&rel);
        let text = std::fs::read_to_string(&path).map_err(|source| io(&path, source))?;
        kept.extend(unrenamed_words(&text, names));
        let (mut new, words) = rename_words(&text, names);
        renamed.extend(words);
        if rel == Path::new("Cargo.toml") {
            new = describe(&new, names);
        }
        files.push((rel, new));
    }
    // The library's names are in scope of every scheduler.
    let include = workspace.join("bpf/include/scx_arena");
    for rel in list_files(&include)? {
        let path = include.join(rel);
        let text = std::fs::read_to_string(&path).map_err(|source| io(&path, source))?;
        kept.extend(unrenamed_words(&text, names));
    }
    // The bare prefix is the ops name, a string: it may equal an identifier.
    renamed.remove(&names.prefix);
    if let Some(clash) = renamed.intersection(&kept).next() {
        return Err(ForkError::Taken {
            name: names.crate_name.clone(),
            what: format!(
                "renaming the template would make '{clash}', which the template or \
                 the scx_arena headers already use"
            ),
        });
    }
    let main = files
        .iter()
        .find(|(rel, _)| rel == Path::new("src/bpf/main.bpf.c"))
        .ok_or_else(|| ForkError::Template("it has no src/bpf/main.bpf.c".into()))?;
    for want in [
        format!("SCX_OPS_DEFINE({}_ops,", names.prefix),
        format!(".name = \"{}\"", names.prefix),
    ] {
        if !main.1.contains(&want) {
            return Err(ForkError::Template(format!(
                "after renaming, src/bpf/main.bpf.c lacks `{want}`: the fork rules in \
                 scx-arena/src/fork.rs need updating"
            )));
        }
    }
    files.push(("README.md".into(), readme(names)));
    Ok(Plan { files })
}

/// The words of `text` that renaming leaves as they are.
fn unrenamed_words(text: &str, names: &Names) -> Vec<String> {
    words(text)
        .filter_map(|p| match p {
            Piece::Word(w) if names.rename(w).is_none() => Some(w.to_string()),
            _ => None,
        })
        .collect()
}

/// Cargo.toml's `description` line, rewritten for the fork.
fn describe(manifest: &str, names: &Names) -> String {
    manifest
        .lines()
        .map(|l| {
            if l.starts_with("description") {
                format!(
                    "description = \"{}: a sched_ext scheduler forked from {TEMPLATE}.\"",
                    names.crate_name
                )
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The fork's own README.
fn readme(n: &Names) -> String {
    let name = &n.crate_name;
    format!(
        "# {name}

A sched_ext scheduler forked from `{TEMPLATE}` (`tools/new-scheduler {name}`).
It starts as the template's policy, one global FIFO; make it yours.

| file | what it holds |
|---|---|
| `src/bpf/main.bpf.c` | the policy: the sched_ext callbacks (ops name `{prefix}`) |
| `src/bpf/intf.h` | types shared with Rust: statistics, the live knobs (`struct {prefix}_tune`) |
| `src/main.rs` | flags, statistics and live tuning, through the shared runtime |
| `tests/vm.rs` | its smoke test: the stress suite in the sched_ext VM |

```sh
tools/run {name} -- --slice-us 5000      # build it, run it under load (in the VM here)
cargo test -p {name}                      # its smoke test in the VM (as root)
{name} --help                             # flags: --stats, --monitor, --tune, ...
```

The guide `docs/writing-a-scheduler.md` (at the workspace root) walks from
here to a working policy change.
",
        prefix = n.prefix
    )
}

/// Files under `dir`, relative to it, sorted.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, ForkError> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let abs = dir.join(&rel);
        let entries = std::fs::read_dir(&abs).map_err(|source| io(&abs, source))?;
        for entry in entries {
            let entry = entry.map_err(|source| io(&abs, source))?;
            let kind = entry
                .file_type()
                .map_err(|source| io(&entry.path(), source))?;
            let child = rel.join(entry.file_name());
            if kind.is_dir() {
                todo.push(child);
            } else {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn io(path: &Path, source: std::io::Error) -> ForkError {
    ForkError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The crate names in `workspace`'s Cargo.lock ('-' read as '_'): the
/// workspace's own packages and every dependency.
fn locked_crates(workspace: &Path) -> Result<BTreeSet<String>, ForkError> {
    let path = workspace.join("Cargo.lock");
    let lock = std::fs::read_to_string(&path).map_err(|source| io(&path, source))?;
    Ok(lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(|n| n.replace('-', "_"))
        .collect())
}

/// Checks that `names` is free in `workspace`: no such directory under
/// `schedulers/`, no crate of that name in Cargo.lock.
fn check_free(workspace: &Path, names: &Names) -> Result<(), ForkError> {
    let taken = |what: String| ForkError::Taken {
        name: names.crate_name.clone(),
        what,
    };
    let dir = workspace.join("schedulers").join(&names.crate_name);
    if dir.symlink_metadata().is_ok() {
        return Err(taken(format!("{} already exists", dir.display())));
    }
    if locked_crates(workspace)?.contains(&names.crate_name) {
        return Err(taken(
            "a crate of that name is already in Cargo.lock (a workspace package or a dependency)"
                .into(),
        ));
    }
    Ok(())
}

/// A directory that is removed when dropped, unless kept.
struct Staging {
    dir: PathBuf,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A scheduler [`fork`] created.
#[derive(Debug)]
pub struct Forked {
    /// Its directory, `schedulers/<name>`.
    pub dir: PathBuf,
    /// Its names.
    pub names: Names,
}

/// Forks the template of `workspace` into `schedulers/<name>` and adds it to
/// Cargo.lock. On any error nothing is left: no directory, Cargo.lock as it
/// was.
pub fn fork(workspace: &Path, name: &str) -> Result<Forked, ForkError> {
    let names = Names::new(name)?;
    check_free(workspace, &names)?;
    let plan = plan(workspace, &names)?;

    let staging = Staging {
        dir: workspace.join(format!(".scx-arena-new.{}", std::process::id())),
    };
    let tree = staging.dir.join(&names.crate_name);
    for (rel, text) in &plan.files {
        let path = tree.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| io(parent, source))?;
        }
        std::fs::write(&path, text).map_err(|source| io(&path, source))?;
    }
    let lock_path = workspace.join("Cargo.lock");
    let lock = std::fs::read(&lock_path).map_err(|source| io(&lock_path, source))?;
    let dest = workspace.join("schedulers").join(&names.crate_name);
    std::fs::rename(&tree, &dest).map_err(|source| io(&dest, source))?;

    if let Err(e) = update_lock(workspace, &names) {
        let _ = std::fs::remove_dir_all(&dest);
        let _ = std::fs::write(&lock_path, &lock);
        return Err(e);
    }
    Ok(Forked { dir: dest, names })
}

/// Lets cargo add the new workspace member to Cargo.lock, offline (it has
/// no dependency the lock does not already hold), and checks it did.
fn update_lock(workspace: &Path, names: &Names) -> Result<(), ForkError> {
    let fail = |why: String| ForkError::Lock {
        name: names.crate_name.clone(),
        why,
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(workspace)
        .args(["update", "--workspace", "--offline"])
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run {cargo}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(fail(stderr.trim().to_string()));
    }
    if !locked_crates(workspace)?.contains(&names.crate_name) {
        return Err(fail(
            "it is not a workspace member: the root Cargo.toml must list schedulers/*".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str) -> String {
        match Names::new(name) {
            Err(e @ ForkError::BadName { .. }) => e.to_string(),
            other => panic!("{name:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn names_derive_from_the_crate_name() {
        let n = Names::new("scx_my_sched2").expect("valid");
        assert_eq!(n.crate_name, "scx_my_sched2");
        assert_eq!(n.prefix, "my_sched2");
        assert_eq!(n.upper, "MY_SCHED2");
        assert_eq!(n.camel, "MySched2");
        assert!(Names::new("scx_a").is_ok());
    }

    #[test]
    fn bad_names_are_refused_with_the_rule() {
        for (name, says) in [
            ("mysched", "start with 'scx_' (try 'scx_mysched')"),
            ("My-Sched", "start with 'scx_'"),
            ("scx_", "followed by a lowercase letter"),
            ("scx_1st", "followed by a lowercase letter"),
            ("scx__x", "followed by a lowercase letter"),
            ("scx_My", "followed by a lowercase letter"),
            ("scx_myS", "'S' is not allowed"),
            ("scx_my-sched", "'-' is not allowed"),
            ("scx_my sched", "' ' is not allowed"),
            ("scx_my.sched", "'.' is not allowed"),
            ("scx_über", "followed by a lowercase letter"),
            ("scx_a__b", "no doubled or trailing '_'"),
            ("scx_ab_", "no doubled or trailing '_'"),
            ("scx_bpf", "reserved"),
            ("scx_scx_fifo", "reserved"),
            ("scx_btf_x", "reserved"),
            ("scx_self", "Rust keyword 'Self'"),
        ] {
            let err = refused(name);
            assert!(err.contains(says), "{name:?}: {err:?} lacks {says:?}");
        }
        // A hint only when it would be accepted.
        assert!(!refused("My-Sched").contains("try"));
        // Reserved words only as whole words: bpfish is fine.
        assert!(Names::new("scx_bpfish").is_ok());
    }

    #[test]
    fn the_ops_name_limit_counts_the_version_suffix() {
        let max = max_prefix_len();
        let suffix = scx_utils::build_id::ops_version_suffix(env!("CARGO_PKG_VERSION"));
        assert_eq!(max + suffix.len(), SCX_OPS_NAME_LEN - 1);
        assert!(max >= 32, "room for sensible names: {max}");
        let fits = format!("scx_{}", "a".repeat(max));
        assert!(Names::new(&fits).is_ok());
        let err = refused(&format!("scx_{}", "a".repeat(max + 1)));
        assert!(err.contains("too long"), "{err}");
    }

    #[test]
    fn renaming_touches_only_the_templates_words() {
        let n = Names::new("scx_mine").expect("valid");
        let text = "scx_template template_ops(TEMPLATE_MAX) Template TemplateStats \
                    .name = \"template\" templates my_template_x Templated x_template \
                    CARGO_BIN_EXE_scx_template scx_templates";
        let (out, renamed) = rename_words(text, &n);
        assert_eq!(
            out,
            "scx_mine mine_ops(MINE_MAX) Mine MineStats .name = \"mine\" templates \
             my_template_x Templated x_template CARGO_BIN_EXE_scx_mine scx_templates"
        );
        let want: BTreeSet<String> = [
            "scx_mine",
            "mine_ops",
            "MINE_MAX",
            "Mine",
            "MineStats",
            "mine",
            "CARGO_BIN_EXE_scx_mine",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(renamed, want);
    }

    /// A throwaway workspace: the template's files and a Cargo.lock, but no
    /// root Cargo.toml, so cargo fails when asked to update the lock.
    struct FakeWorkspace(PathBuf);

    impl FakeWorkspace {
        fn new(tag: &str) -> Self {
            let root =
                std::env::temp_dir().join(format!("scx-arena-fork-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let t = root.join("schedulers").join(TEMPLATE);
            std::fs::create_dir_all(t.join("src/bpf")).expect("mkdir");
            std::fs::create_dir_all(root.join("bpf/include/scx_arena")).expect("mkdir");
            std::fs::write(
                root.join("bpf/include/scx_arena/rq.h"),
                "#define SCX_ARENA_RQ_DEFINE(name) name##_init\n",
            )
            .expect("write");
            std::fs::write(
                t.join("Cargo.toml"),
                "[package]\nname = \"scx_template\"\ndescription = \"x\"\n",
            )
            .expect("write");
            std::fs::write(
                t.join("src/bpf/main.bpf.c"),
                "SCX_ARENA_RQ_DEFINE(runq);\nrunq_init(t);\n\
                 SCX_OPS_DEFINE(template_ops, .init = (void *)template_init, .name = \"template\");\n",
            )
            .expect("write");
            std::fs::write(
                root.join("Cargo.lock"),
                "[[package]]\nname = \"scx-arena\"\n\n[[package]]\nname = \"scx_template\"\n",
            )
            .expect("write");
            FakeWorkspace(root)
        }

        /// Every path under the workspace, and Cargo.lock's bytes.
        fn state(&self) -> (Vec<PathBuf>, Vec<u8>) {
            (
                list_files(&self.0).expect("list"),
                std::fs::read(self.0.join("Cargo.lock")).expect("lock"),
            )
        }
    }

    impl Drop for FakeWorkspace {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn refused_names_leave_nothing_behind() {
        let ws = FakeWorkspace::new("refused");
        std::fs::create_dir_all(ws.0.join("schedulers/scx_old")).expect("mkdir");
        let before = ws.state();
        for (name, says) in [
            ("Bad-Name", "start with 'scx_'"),
            ("scx_template", "already exists"),
            ("scx_old", "already exists"),
            ("scx_arena", "already in Cargo.lock"),
            // template_init would become runq_init, which the template uses.
            ("scx_runq", "would make 'runq_init'"),
        ] {
            let err = fork(&ws.0, name).expect_err(name).to_string();
            assert!(err.contains(says), "{name}: {err:?} lacks {says:?}");
            assert_eq!(ws.state(), before, "{name} left something behind");
        }
    }

    #[test]
    fn a_failed_lock_update_puts_everything_back() {
        let ws = FakeWorkspace::new("rollback");
        let before = ws.state();
        let err = fork(&ws.0, "scx_mine")
            .expect_err("no root Cargo.toml")
            .to_string();
        assert!(
            err.contains("could not add scx_mine to Cargo.lock"),
            "{err}"
        );
        assert_eq!(ws.state(), before);
        assert!(!ws.0.join("schedulers/scx_mine").exists());
    }

    #[test]
    fn the_plan_renames_and_adds_a_readme() {
        let ws = FakeWorkspace::new("plan");
        let n = Names::new("scx_mine").expect("valid");
        let plan = plan(&ws.0, &n).expect("plan");
        let file = |rel: &str| {
            &plan
                .files
                .iter()
                .find(|(p, _)| p == Path::new(rel))
                .unwrap_or_else(|| panic!("no {rel}"))
                .1
        };
        assert!(file("src/bpf/main.bpf.c")
            .contains("SCX_OPS_DEFINE(mine_ops, .init = (void *)mine_init, .name = \"mine\")"));
        assert!(file("Cargo.toml").contains("name = \"scx_mine\""));
        assert!(file("Cargo.toml").contains("forked from scx_template"));
        assert!(file("README.md").starts_with("# scx_mine\n"));
    }
}
