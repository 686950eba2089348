//! Build-script helper: compiles a scheduler's or a test's BPF C against the
//! scx-arena library in `bpf/` and links them into one object.
//!
//! ```no_run
//! // in a scheduler's build.rs main():
//! scx_arena_build::BpfBuild::new("src/bpf/main.bpf.c")
//!     .lib("arena")
//!     .intf("src/bpf/intf.h", "bpf_intf.rs")
//!     .skeleton()
//!     .unwrap_or_else(scx_arena_build::fail);
//! ```
//!
//! Compilation goes through `scx_cargo::BpfBuilder` (the scx headers,
//! `vmlinux.h`, the CPU version and libbpf's linker with its arena fixups);
//! this crate adds the library's include path and sources, warnings as
//! errors, and a clear one-line error when no suitable clang exists.

use std::collections::BTreeSet;
use std::env;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Oldest clang that compiles arena code: address-space casts came in 19.
pub const MIN_CLANG_MAJOR: u32 = 19;

/// Library units and the units each one needs, in `bpf/lib/<name>.bpf.c`.
/// `arena` (the map and page wrapper) is always linked.
const LIB_DEPS: &[(&str, &[&str])] = &[
    ("arena", &[]),
    ("error", &[]),
    ("lock", &["error"]),
    (
        "alloc",
        &["buddy", "slab", "bump", "check", "lock", "error"],
    ),
    ("check", &["alloc"]),
    ("buddy", &["alloc"]),
    ("slab", &["alloc"]),
    ("bump", &["alloc"]),
    ("heap", &["alloc", "lock", "error"]),
    ("rq", &["heap", "alloc", "lock", "error"]),
    ("rbtree", &["alloc", "lock", "error"]),
    ("bitmap", &["alloc"]),
    ("btree", &["alloc", "lock", "error"]),
];

/// Why a BPF build failed.
#[derive(Debug)]
pub enum BuildError {
    /// No clang >= 19 was found.
    NoClang(String),
    /// A library unit name that `bpf/lib` does not have.
    UnknownLib(String),
    /// A source file is missing.
    MissingSource(PathBuf),
    /// Cargo did not set a variable every build script gets.
    Env(&'static str),
    /// Compiling, linking or generating the skeleton failed.
    Compile(String),
    /// Reading or writing a build file failed.
    Io(PathBuf, std::io::Error),
    /// `BpfBuild::asan()` was asked for and no clang instruments BPF arena
    /// accesses (see [`bpf_asan_clang`]).
    NoAsan,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoClang(why) => write!(
                f,
                "BPF arena code needs clang >= {MIN_CLANG_MAJOR} ({why}); \
                 install it with: apt-get install clang-19"
            ),
            BuildError::UnknownLib(name) => write!(
                f,
                "no BPF library unit '{name}' (known: {})",
                LIB_DEPS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            BuildError::MissingSource(p) => write!(f, "BPF source {} does not exist", p.display()),
            BuildError::Env(var) => write!(f, "{var} is not set: run this from a build script"),
            BuildError::Compile(msg) => write!(f, "BPF build failed: {msg}"),
            BuildError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            BuildError::NoAsan => write!(
                f,
                "no clang instruments BPF arena accesses (-fsanitize=kernel-address with \
                 -asan-instrument-address-spaces needs clang >= 22: apt-get install clang-22, \
                 or name one in SCX_ARENA_ASAN_CLANG)"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Ends a build script with the error on one line, for
/// `.unwrap_or_else(scx_arena_build::fail)`.
pub fn fail<T>(err: BuildError) -> T {
    eprintln!("error: {err}");
    println!("cargo::warning={err}");
    std::process::exit(1)
}

/// The library's root: `bpf/` of this workspace.
pub fn library_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|root| root.join("bpf"))
        .unwrap_or_else(|| PathBuf::from("bpf"))
}

/// The clang the BPF build will run: `$BPF_CLANG`, else `clang`, as
/// scx_cargo does. Fails unless its major version is at least 19.
pub fn check_clang() -> Result<String, BuildError> {
    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into());
    let out = Command::new(&clang)
        .arg("-dumpversion")
        .output()
        .map_err(|e| BuildError::NoClang(format!("cannot run {clang}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr
            .lines()
            .last()
            .unwrap_or("no output")
            .trim()
            .to_string();
        return Err(BuildError::NoClang(format!("{clang}: {why}")));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| BuildError::NoClang(format!("{clang} reports version '{version}'")))?;
    if major < MIN_CLANG_MAJOR {
        return Err(BuildError::NoClang(format!("{clang} is version {version}")));
    }
    Ok(clang)
}

/// The compiler instrumentation of checked mode (`BpfBuild::asan`): clang's
/// kernel AddressSanitizer, restricted to arena pointers (address space 1:
/// stack, maps and context are the verifier's business), calling
/// `__asan_<load|store><size>_noabort(addr)` (bpf/lib/check.bpf.c) before
/// every such access instead of reading a shadow itself (BPF cannot follow
/// the computed shadow address), with no stack or global redzones and no
/// module constructor (BPF has no place to run one).
const ASAN_FLAGS: &[&str] = &[
    "-fsanitize=kernel-address",
    "-mllvm",
    "-asan-instrument-address-spaces=1",
    "-mllvm",
    "-asan-instrumentation-with-call-threshold=0",
    "-mllvm",
    "-asan-stack=0",
    "-mllvm",
    "-asan-globals=0",
    "-mllvm",
    "-asan-constructor-kind=none",
];

/// Whether `clang` can instrument BPF arena accesses with the flags checked mode's
/// compiler instrumentation uses (`-fsanitize=kernel-address` restricted to
/// the arena's address space).
/// clang-19 rejects `-fsanitize=kernel-address` for BPF; clang-22 accepts it
/// and, with `-asan-instrument-address-spaces=1`, instruments the arena's
/// address space (by default AddressSanitizer skips every address space but
/// 0, i.e. every arena access).
pub fn bpf_asan_available(clang: &str) -> bool {
    Command::new(clang)
        .args(["-target", "bpf"])
        .args(ASAN_FLAGS)
        .args(["-x", "c", "-c", "-o", "/dev/null", "/dev/null"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A clang that can build checked mode with compiler instrumentation:
/// `$SCX_ARENA_ASAN_CLANG` if set, else the first of the build's clang
/// (`$BPF_CLANG`), clang-22, clang-23, clang-24 and clang that passes
/// [`bpf_asan_available`]. None if there is none (the usual case with
/// clang-19): checked mode then relies on the checked accessors alone.
pub fn bpf_asan_clang() -> Option<String> {
    println!("cargo:rerun-if-env-changed=SCX_ARENA_ASAN_CLANG");
    if let Ok(c) = env::var("SCX_ARENA_ASAN_CLANG") {
        return bpf_asan_available(&c).then_some(c);
    }
    let mut candidates: Vec<String> = env::var("BPF_CLANG").into_iter().collect();
    candidates.extend(["clang-22", "clang-23", "clang-24", "clang"].map(String::from));
    candidates.into_iter().find(|c| bpf_asan_available(c))
}

/// One BPF object: a main source plus the library units it names.
#[derive(Debug, Clone)]
pub struct BpfBuild {
    main: PathBuf,
    libs: BTreeSet<&'static str>,
    cflags: Vec<String>,
    intf: Option<(PathBuf, String)>,
    unknown_libs: Vec<String>,
    checked: bool,
    asan: bool,
}

impl BpfBuild {
    /// Starts a build of `main` (relative to the crate being built) with the
    /// `arena` unit linked.
    pub fn new(main: impl AsRef<Path>) -> Self {
        let mut libs = BTreeSet::new();
        libs.insert("arena");
        BpfBuild {
            main: main.as_ref().to_path_buf(),
            libs,
            cflags: Vec::new(),
            intf: None,
            unknown_libs: Vec::new(),
            checked: false,
            asan: false,
        }
    }

    /// Links library unit `name` (`bpf/lib/<name>.bpf.c`) and, transitively,
    /// the units it depends on. An unknown name fails at build time.
    pub fn lib(mut self, name: &str) -> Self {
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            match LIB_DEPS.iter().find(|(u, _)| *u == n) {
                Some((unit, deps)) => {
                    if self.libs.insert(unit) {
                        todo.extend(deps.iter().map(|d| d.to_string()));
                    }
                }
                None => self.unknown_libs.push(n),
            }
        }
        self
    }

    /// Links every library unit (what BPF tests do).
    pub fn all_libs(mut self) -> Self {
        self.libs.extend(LIB_DEPS.iter().map(|(n, _)| *n));
        self
    }

    /// Adds `-D<name>=<value>` to every unit's compilation.
    pub fn define(mut self, name: &str, value: &str) -> Self {
        self.cflags.push(format!("-D{name}={value}"));
        self
    }

    /// Builds in checked mode ("arena ASAN", `bpf/include/scx_arena/check.h`):
    /// every unit gets `-DSCX_ARENA_CHECKED=1`. `SCX_ARENA_CHECKED=1` in the
    /// build's environment does the same for every object.
    pub fn checked(mut self, on: bool) -> Self {
        self.checked = on;
        self
    }

    /// Builds checked mode with compiler instrumentation as well: every
    /// load and store through an arena pointer in `main` (plain C too, not
    /// only the checked accessors) is checked against the shadow map and
    /// reported like an accessor's. Implies [`BpfBuild::checked`]. Needs a
    /// clang from [`bpf_asan_clang`] (it compiles this whole object; the
    /// library units stay uninstrumented); without one the build fails with
    /// [`BuildError::NoAsan`], so callers test [`bpf_asan_clang`] first.
    pub fn asan(mut self, on: bool) -> Self {
        self.asan = on;
        self
    }

    /// Generates Rust bindings of `header` into `$OUT_DIR/<out>` (bindgen).
    pub fn intf(mut self, header: impl AsRef<Path>, out: &str) -> Self {
        self.intf = Some((header.as_ref().to_path_buf(), out.to_string()));
        self
    }

    /// Compiles and links, and generates the skeleton `$OUT_DIR/bpf_skel.rs`
    /// (types `BpfSkel`, `BpfSkelBuilder`). Returns the linked object.
    pub fn skeleton(self) -> Result<PathBuf, BuildError> {
        self.compile_link()
    }

    /// Compiles and links into `$OUT_DIR/<name>.bpf.o` and returns that path
    /// (for objects loaded at run time, such as BPF tests).
    pub fn object(self, name: &str) -> Result<PathBuf, BuildError> {
        let linked = self.compile_link()?;
        let out = linked.with_file_name(format!("{name}.bpf.o"));
        fs::copy(&linked, &out).map_err(|e| BuildError::Io(out.clone(), e))?;
        Ok(out)
    }

    fn compile_link(&self) -> Result<PathBuf, BuildError> {
        let asan_clang = if self.asan {
            Some(bpf_asan_clang().ok_or(BuildError::NoAsan)?)
        } else {
            None
        };
        let prev_clang = env::var_os("BPF_CLANG");
        if let Some(c) = &asan_clang {
            // scx_cargo takes its clang from BPF_CLANG; only for this object.
            env::set_var("BPF_CLANG", c);
        }
        let built = self.compile_link_with();
        if asan_clang.is_some() {
            match prev_clang {
                Some(v) => env::set_var("BPF_CLANG", v),
                None => env::remove_var("BPF_CLANG"),
            }
        }
        built
    }

    fn compile_link_with(&self) -> Result<PathBuf, BuildError> {
        check_clang()?;
        if let Some(bad) = self.unknown_libs.first() {
            return Err(BuildError::UnknownLib(bad.clone()));
        }
        let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|_| BuildError::Env("OUT_DIR"))?);
        let lib_dir = library_dir();
        let main = path_str(&self.main)?;
        let mut sources = vec![main.clone()];
        for lib in &self.libs {
            sources.push(path_str(&lib_dir.join("lib").join(format!("{lib}.bpf.c")))?);
        }

        let mut b = scx_cargo::BpfBuilder::new().map_err(compile_err)?;
        b.add_include_path(&path_str(&lib_dir.join("include"))?);
        b.add_cflag("-Werror");
        println!("cargo:rerun-if-env-changed=SCX_ARENA_CHECKED");
        if self.checked || self.asan || env::var("SCX_ARENA_CHECKED").is_ok_and(|v| v == "1") {
            b.add_cflag("-DSCX_ARENA_CHECKED=1");
        }
        if self.asan {
            for f in ASAN_FLAGS {
                b.add_cflag(f);
            }
            // Only the object's own code: the library's units handle
            // redzones and headers by design.
            let ignore = out_dir.join("scx_arena_asan_ignore.txt");
            let pattern = format!("src:{}/*\n", lib_dir.join("lib").display());
            fs::write(&ignore, pattern).map_err(|e| BuildError::Io(ignore.clone(), e))?;
            b.add_cflag(&format!("-fsanitize-ignorelist={}", path_str(&ignore)?));
        }
        for f in &self.cflags {
            b.add_cflag(f);
        }
        if let Some((header, out)) = &self.intf {
            b.enable_intf(&path_str(header)?, out);
        }
        b.enable_skel(&main, "bpf");
        for s in &sources[1..] {
            b.add_source(s);
        }
        b.compile_link_gen().map_err(compile_err)?;
        // Any change under bpf/ (headers, library units, new tests) rebuilds.
        println!("cargo:rerun-if-changed={}", lib_dir.display());
        Ok(out_dir.join("bpf.bpf.o"))
    }
}

fn path_str(p: &Path) -> Result<String, BuildError> {
    if !p.exists() {
        return Err(BuildError::MissingSource(p.to_path_buf()));
    }
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| BuildError::MissingSource(p.to_path_buf()))
}

/// Keeps every cause, down to the compiler's full stderr (the root cause),
/// but drops libbpf-cargo's echo of the whole clang command line.
fn compile_err(e: anyhow::Error) -> BuildError {
    let causes: Vec<String> = e
        .chain()
        .map(|c| c.to_string())
        .filter(|c| !c.starts_with("command `"))
        .collect();
    BuildError::Compile(causes.join("\n"))
}

/// Names of the `SEC("syscall")` programs called `test_*` in a built
/// object, in object order: one Rust test is generated per name.
pub fn syscall_tests(obj: &Path) -> Result<Vec<String>, BuildError> {
    let open = libbpf_rs::ObjectBuilder::default()
        .open_file(obj)
        .map_err(|e| BuildError::Compile(format!("{}: {e}", obj.display())))?;
    Ok(open
        .progs()
        .filter(|p| p.section() == "syscall")
        .filter_map(|p| p.name().to_str().map(str::to_string))
        .filter(|n| n.starts_with("test_"))
        .collect())
}
