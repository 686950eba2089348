//! The `scx-arena` command's refusals: each is one clear line on stderr and
//! a failing exit status, before any build or boot starts.

use std::path::Path;
use std::process::{Command, Output};

fn scx_arena(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scx-arena"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run scx-arena")
}

/// Asserts failure with exactly one stderr line containing `want`.
fn one_line_error(out: &Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{stderr}");
    assert!(
        lines[0].contains(want),
        "{:?} does not contain {want:?}",
        lines[0]
    );
}

#[test]
fn unknown_scheduler_names_the_bundled_ones() {
    let out = scx_arena(&["run", "scx_nope"], &[]);
    one_line_error(&out, "no bundled scheduler 'scx_nope' (have: ");
    assert!(String::from_utf8_lossy(&out.stderr).contains("scx_template"));
}

#[test]
fn missing_qemu_names_the_package() {
    let empty = tempdir("noqemu");
    let out = scx_arena(
        &["run", "scx_template", "--on", "vm"],
        &[("PATH", empty.to_str().expect("utf-8"))],
    );
    one_line_error(&out, "install the Debian package `qemu-system-x86`");
}

#[test]
fn kernel_without_sched_ext_is_refused() {
    let dir = tempdir("nosched");
    let image = dir.join("vmlinuz");
    std::fs::write(&image, fake_bzimage("7.2.0-nosched")).expect("write image");
    std::fs::write(
        dir.join("config"),
        "CONFIG_BPF=y\nCONFIG_DEBUG_INFO_BTF=y\n# CONFIG_SCHED_CLASS_EXT is not set\n",
    )
    .expect("write config");
    let out = scx_arena(
        &["run", "scx_template", "--on", "vm"],
        &[("SCX_ARENA_KERNEL", image.to_str().expect("utf-8"))],
    );
    one_line_error(&out, "lacks CONFIG_SCHED_CLASS_EXT=y");
}

#[test]
fn missing_kernel_image_is_refused() {
    let out = scx_arena(
        &["run", "scx_template", "--on", "vm"],
        &[("SCX_ARENA_KERNEL", "/nonexistent/bzImage")],
    );
    one_line_error(&out, "kernel image /nonexistent/bzImage does not exist");
}

#[test]
fn bad_flag_values_are_refused() {
    for args in [
        &["run", "--cpus", "0"][..],
        &["run", "--duration", "-1"],
        &["run", "--nodes", "2", "--cpus", "3"],
        &["run", "--memory-mb", "lots"],
    ] {
        let out = scx_arena(args, &[("PATH", "/nonexistent")]);
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error") || stderr.contains("scx-arena:"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn bad_or_taken_scheduler_names_are_refused_in_one_line() {
    // Checked before the workspace is even looked at.
    let out = scx_arena(&["new", "My-Sched", "--workspace", "/nonexistent"], &[]);
    one_line_error(
        &out,
        "'My-Sched' cannot be a scheduler name: scheduler names start with 'scx_'",
    );
    // Taken: checked before anything is written (the real workspace is only read).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let out = scx_arena(
        &[
            "new",
            "scx_template",
            "--workspace",
            root.to_str().expect("utf-8"),
        ],
        &[],
    );
    one_line_error(&out, "'scx_template' is taken: ");
    one_line_error(&out, "schedulers/scx_template already exists");
}

/// A file with just enough of the x86 boot header for the release string.
fn fake_bzimage(release: &str) -> Vec<u8> {
    let mut img = vec![0u8; 0x1000];
    img[0x202..0x206].copy_from_slice(b"HdrS");
    // kernel_version: offset of the version string, relative to 0x200.
    img[0x20e..0x210].copy_from_slice(&0x600u16.to_le_bytes());
    let v = format!("{release} (fake@scx-arena) #1 SMP");
    img[0x800..0x800 + v.len()].copy_from_slice(v.as_bytes());
    img
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scx-arena-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    assert!(Path::new(&dir).is_dir());
    dir
}
