//! The fork command end to end: `scx-arena new` forks the template into a
//! scratch copy of this workspace, the new scheduler builds there with
//! `--locked` (so `tools/run`'s locked build finds it), and its own smoke
//! test (the template's, renamed) runs it in the VM under the stress suite
//! to a clean exit. The scratch copy and the new scheduler's build outputs
//! are removed afterwards. Refused names are covered by the unit tests of
//! `scx_arena::fork` and by scx-arena's CLI tests.
//!
//! The scratch copy lives at a fixed place in this workspace's target
//! directory and builds into it, with the same BPF_CLANG and the files'
//! modification times kept: cargo then reuses this workspace's builds and
//! compiles only the new crate. (The fork's test binary, `deps/vm-<hash>`,
//! stays, overwritten by the next run.)

use std::path::{Path, PathBuf};
use std::process::Command;

use scx_arena::run::{build_scheduler, workspace_root};

/// The fork's name: its prefix is longer than the kernel's 15-character
/// BPF object names, so truncated program names are exercised too.
const NAME: &str = "scx_fork_check";
const PREFIX: &str = "fork_check";

/// This workspace's target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The files of this workspace: git's tracked and untracked-but-not-ignored
/// ones, or, outside a git checkout, everything but `target/` and `.git`.
fn workspace_files(root: &Path) -> Vec<PathBuf> {
    let git = Command::new("git")
        .current_dir(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(out) = git {
        return out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .filter(|p| root.join(p).is_file())
            .collect();
    }
    let mut files = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for entry in std::fs::read_dir(root.join(&rel)).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let child = rel.join(entry.file_name());
            if child == Path::new("target") || child == Path::new(".git") {
                continue;
            }
            if entry.file_type().expect("file type").is_dir() {
                todo.push(child);
            } else {
                files.push(child);
            }
        }
    }
    files
}

/// Copies `files` from `from` to `to`, keeping modification times so cargo
/// finds a previous run's build of the copy still fresh.
fn copy_files(files: &[PathBuf], from: &Path, to: &Path) {
    for rel in files {
        let (src, dst) = (from.join(rel), to.join(rel));
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        let mtime = std::fs::metadata(&src)
            .and_then(|m| m.modified())
            .expect("mtime");
        std::fs::File::options()
            .write(true)
            .open(&dst)
            .and_then(|f| f.set_modified(mtime))
            .expect("set mtime");
    }
}

/// Removes the scratch workspace and the fork's build outputs, also when
/// the test fails.
struct Cleanup {
    scratch: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
        let debug = target_dir().join("debug");
        let _ = std::fs::remove_file(debug.join(NAME));
        for dir in ["deps", "build", ".fingerprint"] {
            let Ok(entries) = std::fs::read_dir(debug.join(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{NAME}-"))
                {
                    let p = e.path();
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                }
            }
        }
    }
}

/// Runs `cmd`, streaming its output; panics with `what` if it fails.
fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what}: {status}");
}

#[test]
fn forked_scheduler_builds_and_passes_its_smoke_test_in_the_vm() {
    let root = workspace_root();
    let scx_arena = build_scheduler("scx-arena", false).expect("build scx-arena");
    let scratch = target_dir().join("fork-test");
    let _ = std::fs::remove_dir_all(&scratch);
    let cleanup = Cleanup {
        scratch: scratch.clone(),
    };
    copy_files(&workspace_files(&root), &root, &scratch);
    let lock_before = std::fs::read_to_string(scratch.join("Cargo.lock")).expect("Cargo.lock");

    // The command, as a user runs it (tools/new-scheduler runs the same).
    let out = Command::new(&scx_arena)
        .args(["new", NAME, "--workspace"])
        .arg(&scratch)
        .output()
        .expect("run scx-arena new");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scx-arena new failed: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{said}");
    assert!(said.contains(&format!("tools/run {NAME}")), "{said}");

    // Renamed through and through: no identifier of the template is left.
    let dir = scratch.join("schedulers").join(NAME);
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).expect(rel);
    let bpf = read("src/bpf/main.bpf.c");
    assert!(bpf.contains(&format!("SCX_OPS_DEFINE({PREFIX}_ops,")));
    assert!(bpf.contains(&format!(".name = \"{PREFIX}\"")));
    for rel in [
        "src/bpf/main.bpf.c",
        "src/bpf/intf.h",
        "src/main.rs",
        "tests/vm.rs",
        "build.rs",
    ] {
        let text = read(rel);
        let left: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.to_ascii_lowercase().contains("template"))
            .collect();
        assert!(left.is_empty(), "{rel} still says {left:?}");
    }
    assert!(read("Cargo.toml").contains(&format!("name = \"{NAME}\"")));
    assert!(read("README.md").starts_with(&format!("# {NAME}\n")));
    // Cargo.lock gained exactly the new package.
    let lock = std::fs::read_to_string(scratch.join("Cargo.lock")).expect("Cargo.lock");
    let added: Vec<&str> = diff_lines(&lock_before, &lock);
    assert!(
        added.contains(&format!("name = \"{NAME}\"").as_str()),
        "Cargo.lock does not list {NAME}: added {added:?}"
    );
    assert!(
        diff_lines(&lock, &lock_before).is_empty(),
        "Cargo.lock lost lines"
    );

    // Build it as tools/run does (--locked) and run its own smoke test: the
    // stress suite in the VM, to the clean exit.
    let bpf_clang = root.join("tools/bpf-clang");
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&scratch)
            .args([
                "test",
                "--locked",
                "--offline",
                "-p",
                NAME,
                "--",
                "--nocapture",
            ])
            .env("CARGO_TARGET_DIR", target_dir())
            .env("BPF_CLANG", &bpf_clang),
        &format!("cargo test -p {NAME} in the scratch workspace"),
    );
    drop(cleanup);
    assert!(!scratch.exists(), "the scratch workspace was not removed");
    assert!(!target_dir().join("debug").join(NAME).exists());
}

/// Lines of `b` that `a` lacks.
fn diff_lines<'a>(a: &str, b: &'a str) -> Vec<&'a str> {
    let have: std::collections::BTreeSet<&str> = a.lines().collect();
    b.lines().filter(|l| !have.contains(l)).collect()
}
