//! Building the VM's initramfs.
//!
//! The image is two newc cpio archives back to back, the second gzip'd (the
//! kernel unpacks concatenated archives in order):
//!
//! 1. the *base*: static busybox and its applet links, `/dev/console`,
//!    the workload tools (`stress-ng`, `hackbench`, `cyclictest`) and
//!    their shared libraries;
//! 2. the *run* part: `/init`, the command scripts, the kernel config,
//!    the caller's binaries with their libraries and extra files.
//!
//! Each part is cached in `<cache>/initramfs/` under a hash of its
//! uncompressed bytes, so identical inputs are never compressed twice.
//! The cpio writer is [`CpioWriter`].

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{cache_dir, find_in_path, io_err, VmError};

/// The embedded `/init` script.
pub const INIT_SCRIPT: &str = include_str!("init.sh");

/// Workload tools copied into the guest if installed on the host:
/// (executable, Debian package).
pub const WORKLOAD_TOOLS: &[(&str, &str)] = &[
    ("stress-ng", "stress-ng"),
    ("hackbench", "rt-tests"),
    ("cyclictest", "rt-tests"),
];

/// How many cached parts to keep in `<cache>/initramfs/`.
const KEEP_CACHED_PARTS: usize = 24;

/// A command for `/init` to run: a named busybox `sh` script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestCommand {
    /// Name used in the console markers; `[A-Za-z0-9_.-]+`.
    pub name: String,
    /// Shell script text.
    pub script: String,
}

/// What goes into an initramfs.
#[derive(Debug, Clone)]
pub struct InitramfsSpec {
    /// Kernel config file and kernel release: installed as `/boot/config-<release>`.
    pub kernel_config: Option<(PathBuf, String)>,
    /// Host binaries for `/usr/local/bin`, with their shared libraries.
    pub binaries: Vec<PathBuf>,
    /// (host file, absolute guest path).
    pub extra_files: Vec<(PathBuf, String)>,
    /// Commands in order.
    pub commands: Vec<GuestCommand>,
    /// Include the [`WORKLOAD_TOOLS`] found on the host.
    pub workload_tools: bool,
    /// In-guest watchdog deadline.
    pub guest_deadline: Duration,
    /// Make `/init` print sched_ext state changes.
    pub watch_state: bool,
}

/// A built initramfs image; the file is deleted when this is dropped.
#[derive(Debug)]
pub struct Initramfs {
    path: PathBuf,
}

impl Initramfs {
    /// The image file (pass it to qemu's `-initrd`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Initramfs {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------------------
// newc cpio writer

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// Writes a newc ("070701") cpio archive in memory. Parent directories
/// are added automatically; a path added twice keeps its first entry.
/// All entries are owned by root with mtime 0, so output is reproducible.
#[derive(Debug, Default)]
pub struct CpioWriter {
    buf: Vec<u8>,
    next_ino: u32,
    paths: HashSet<String>,
}

impl CpioWriter {
    /// An empty archive.
    pub fn new() -> Self {
        CpioWriter {
            buf: Vec::new(),
            next_ino: 1,
            paths: HashSet::new(),
        }
    }

    fn norm(path: &str) -> String {
        path.trim_start_matches('/')
            .trim_end_matches('/')
            .to_string()
    }

    fn parents(&mut self, path: &str) {
        let mut acc = String::new();
        let comps: Vec<&str> = path.split('/').collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            if !self.paths.contains(&acc) {
                let a = acc.clone();
                self.entry(&a, S_IFDIR | 0o755, 2, (0, 0), &[]);
            }
        }
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        self.paths.insert(name.to_string());
        let ino = self.next_ino;
        self.next_ino += 1;
        let fields = [
            ino,
            mode,
            0,
            0,
            nlink,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn add(&mut self, path: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) -> bool {
        let p = Self::norm(path);
        if p.is_empty() || self.paths.contains(&p) {
            return false;
        }
        self.parents(&p);
        self.entry(&p, mode, nlink, rdev, data);
        true
    }

    /// Whether `path` is already in the archive.
    pub fn contains(&self, path: &str) -> bool {
        self.paths.contains(&Self::norm(path))
    }

    /// Add a directory.
    pub fn dir(&mut self, path: &str, perm: u32) -> bool {
        self.add(path, S_IFDIR | (perm & 0o7777), 2, (0, 0), &[])
    }

    /// Add a regular file.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> bool {
        self.add(path, S_IFREG | (perm & 0o7777), 1, (0, 0), data)
    }

    /// Add a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> bool {
        self.add(path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes())
    }

    /// Add a character device node (no `mknod` needed on the host).
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> bool {
        self.add(path, S_IFCHR | (perm & 0o7777), 1, (major, minor), &[])
    }

    /// Add a host file's content at `guest` (symlinks are followed),
    /// keeping its permission bits.
    pub fn host_file(&mut self, host: &Path, guest: &str) -> Result<bool, VmError> {
        let data = fs::read(host).map_err(io_err(format!("reading {}", host.display())))?;
        let perm = fs::metadata(host)
            .map_err(io_err(format!("stat {}", host.display())))?
            .permissions()
            .mode();
        Ok(self.file(guest, perm, &data))
    }

    /// Terminate the archive and return its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        // Pad to 512 bytes like cpio(1) does.
        while !self.buf.len().is_multiple_of(512) {
            self.buf.push(0);
        }
        self.buf
    }
}

// ---------------------------------------------------------------------------
// shared libraries

/// Parse `ldd` output into the absolute paths of the libraries (the
/// dynamic loader included). A library that is `not found` is an error;
/// a static binary gives an empty list.
pub fn parse_ldd(output: &str) -> Result<Vec<String>, String> {
    let mut libs = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        if line.contains("not a dynamic executable") || line.contains("statically linked") {
            return Ok(Vec::new());
        }
        if line.contains("=> not found") {
            return Err(line.to_string());
        }
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            if !libs.iter().any(|l| l == p) {
                libs.push(p.to_string());
            }
        }
    }
    Ok(libs)
}

/// The shared libraries a host binary needs (via `ldd`).
pub fn shared_libs(binary: &Path) -> Result<Vec<String>, VmError> {
    let out = Command::new("ldd")
        .arg(binary)
        .env("LC_ALL", "C")
        .output()
        .map_err(io_err("running ldd (package libc-bin)"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_ldd(&text).map_err(|l| {
        VmError::Initramfs(format!("{}: missing shared library: {l}", binary.display()))
    })
}

fn add_with_libs(w: &mut CpioWriter, host: &Path, guest: &str) -> Result<(), VmError> {
    w.host_file(host, guest)?;
    for lib in shared_libs(host)? {
        if !w.contains(&lib) {
            w.host_file(Path::new(&lib), &lib)?;
        }
    }
    Ok(())
}

/// The bytes of `bin` without debug sections (`strip --strip-debug`, from
/// binutils), or as they are when strip is not installed.
fn without_debug_info(bin: &Path) -> Result<Vec<u8>, VmError> {
    let read = |p: &Path| fs::read(p).map_err(io_err(format!("reading {}", p.display())));
    let Some(strip) = super::find_in_path("strip") else {
        return read(bin);
    };
    let tmp = std::env::temp_dir().join(format!("scx-arena-strip-{}", crate::vm::unique_suffix()));
    let ok = std::process::Command::new(strip)
        .arg("--strip-debug")
        .arg("-o")
        .arg(&tmp)
        .arg(bin)
        .status()
        .is_ok_and(|s| s.success());
    let data = if ok { read(&tmp) } else { read(bin) };
    let _ = fs::remove_file(&tmp);
    data
}

// ---------------------------------------------------------------------------
// the two parts

/// Path of the host's static busybox; an error names `busybox-static`.
pub fn static_busybox() -> Result<PathBuf, VmError> {
    let missing = || VmError::ToolMissing {
        tool: "busybox (static)".into(),
        package: "busybox-static".into(),
    };
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        let p = Path::new(p);
        if p.is_file() {
            return if shared_libs(p)?.is_empty() {
                Ok(p.to_path_buf())
            } else {
                Err(missing())
            };
        }
    }
    Err(missing())
}

fn base_part(tools: bool) -> Result<Vec<u8>, VmError> {
    let busybox = static_busybox()?;
    let mut w = CpioWriter::new();
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "usr/local/bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "etc",
        "root",
        "boot",
        "lib",
        "lib64",
    ] {
        w.dir(d, 0o755);
    }
    w.char_dev("dev/console", 0o600, 5, 1);
    w.char_dev("dev/null", 0o666, 1, 3);
    w.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n");
    w.file("etc/group", 0o644, b"root:x:0:\n");
    w.host_file(&busybox, "bin/busybox")?;
    if tools {
        for (tool, _pkg) in WORKLOAD_TOOLS {
            let host = find_in_path(tool).or_else(|| {
                ["/usr/bin", "/usr/sbin"]
                    .iter()
                    .map(|d| Path::new(d).join(tool))
                    .find(|p| p.is_file())
            });
            if let Some(h) = host {
                add_with_libs(&mut w, &h, &format!("usr/bin/{tool}"))?;
            }
        }
    }
    let list = Command::new(&busybox)
        .arg("--list-full")
        .output()
        .map_err(io_err("running busybox --list-full"))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        w.symlink(applet, "/bin/busybox");
    }
    Ok(w.finish())
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn run_part(spec: &InitramfsSpec) -> Result<Vec<u8>, VmError> {
    let mut w = CpioWriter::new();
    w.file("init", 0o755, INIT_SCRIPT.as_bytes());
    let config = format!(
        "SCXVM_DEADLINE={}\nSCXVM_WATCH_STATE={}\n",
        spec.guest_deadline.as_secs().max(1),
        u8::from(spec.watch_state)
    );
    w.file("scxvm/config", 0o644, config.as_bytes());
    w.dir("scxvm/cmds", 0o755);
    let mut names = HashSet::new();
    for (i, c) in spec.commands.iter().enumerate() {
        if !valid_name(&c.name) {
            return Err(VmError::Config(format!(
                "command name `{}` must match [A-Za-z0-9_.-]{{1,64}}",
                c.name
            )));
        }
        if !names.insert(c.name.as_str()) {
            return Err(VmError::Config(format!(
                "duplicate command name `{}`",
                c.name
            )));
        }
        let script = format!("#!/bin/sh\n{}\n", c.script);
        w.file(
            &format!("scxvm/cmds/{i:03}-{}.sh", c.name),
            0o755,
            script.as_bytes(),
        );
    }
    if let Some((cfg, release)) = &spec.kernel_config {
        w.host_file(cfg, &format!("boot/config-{release}"))?;
    }
    for b in &spec.binaries {
        if !b.is_file() {
            return Err(VmError::Initramfs(format!(
                "binary {} does not exist",
                b.display()
            )));
        }
        let name = b
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| VmError::Initramfs(format!("bad binary path {}", b.display())))?;
        // Debug builds carry tens of MiB of DWARF the guest never reads;
        // leaving it out keeps the initramfs (and its unpacking under TCG)
        // small.
        w.file(
            &format!("usr/local/bin/{name}"),
            0o755,
            &without_debug_info(b)?,
        );
        for lib in shared_libs(b)? {
            if !w.contains(&lib) {
                w.host_file(Path::new(&lib), &lib)?;
            }
        }
    }
    for (host, guest) in &spec.extra_files {
        if !guest.starts_with('/') {
            return Err(VmError::Config(format!(
                "guest path `{guest}` must be absolute"
            )));
        }
        w.host_file(host, guest)?;
    }
    Ok(w.finish())
}

/// A 64-bit FNV-1a-style hash over 8-byte words (cache keys only, not
/// cryptographic; word-wise so that hashing tens of MiB stays cheap).
fn content_hash(data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(PRIME);
        h ^= h >> 29;
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// gzip `data` with the host's `gzip`.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, VmError> {
    let gz = super::require_tool("gzip", "gzip")?;
    let mut child = Command::new(gz)
        .args(["-n", "-6", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(io_err("running gzip"))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| VmError::Initramfs("gzip stdin unavailable".into()))?;
    let out = std::thread::scope(|s| {
        let writer = s.spawn(move || stdin.write_all(data));
        let out = child.wait_with_output();
        (writer.join(), out)
    });
    match out {
        (Ok(Ok(())), Ok(o)) if o.status.success() => Ok(o.stdout),
        (_, Ok(o)) if !o.status.success() => {
            Err(VmError::Initramfs(format!("gzip failed: {}", o.status)))
        }
        (Ok(Err(e)), _) => Err(VmError::Io {
            context: "writing to gzip".into(),
            source: e,
        }),
        (_, Err(e)) => Err(VmError::Io {
            context: "waiting for gzip".into(),
            source: e,
        }),
        _ => Err(VmError::Initramfs("gzip writer thread panicked".into())),
    }
}

/// Store `cpio` (gzip'd if `compress`) unless a part with the same bytes is
/// already cached; return the cached part's path.
///
/// The large base part stays uncompressed: under TCG the guest kernel
/// inflating 11 MB of gzip costs about 0.7 s more than copying 35 MB.
fn cached_part(dir: &Path, kind: &str, cpio: &[u8], compress: bool) -> Result<PathBuf, VmError> {
    let path = dir.join(format!(
        "{kind}-{:016x}-{}.{}",
        content_hash(cpio),
        cpio.len(),
        if compress { "cpio.gz" } else { "cpio" }
    ));
    if path.is_file() {
        // Touch so pruning keeps recently used parts.
        let _ = fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        return Ok(path);
    }
    if compress {
        write_atomic(&path, &gzip(cpio)?)?;
    } else {
        write_atomic(&path, cpio)?;
    }
    Ok(path)
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), VmError> {
    let tmp = path.with_extension(format!("tmp{}", crate::vm::unique_suffix()));
    fs::write(&tmp, data).map_err(io_err(format!("writing {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io_err(format!("renaming to {}", path.display())))
}

fn prune(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut parts: Vec<(std::time::SystemTime, PathBuf)> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.to_str()
                .is_some_and(|s| s.ends_with(".cpio.gz") || s.ends_with(".cpio"))
        })
        .filter_map(|p| Some((fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    if parts.len() <= KEEP_CACHED_PARTS {
        return;
    }
    parts.sort();
    for (_, p) in &parts[..parts.len() - KEEP_CACHED_PARTS] {
        let _ = fs::remove_file(p);
    }
}

fn initramfs_dir() -> Result<PathBuf, VmError> {
    let dir = cache_dir().join("initramfs");
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    Ok(dir)
}

fn concat(dir: &Path, parts: &[PathBuf]) -> Result<Initramfs, VmError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = dir.join(format!("image-{}-{nanos}.img", crate::vm::unique_suffix()));
    let mut out = Vec::new();
    for p in parts {
        out.extend(fs::read(p).map_err(io_err(format!("reading {}", p.display())))?);
    }
    fs::write(&path, out).map_err(io_err(format!("writing {}", path.display())))?;
    Ok(Initramfs { path })
}

/// Build (or reuse from the cache) the initramfs for `spec`.
pub fn build(spec: &InitramfsSpec) -> Result<Initramfs, VmError> {
    let dir = initramfs_dir()?;
    let base = cached_part(&dir, "base", &base_part(spec.workload_tools)?, false)?;
    let run = cached_part(&dir, "run", &run_part(spec)?, true)?;
    let img = concat(&dir, &[base, run])?;
    prune(&dir);
    Ok(img)
}

/// A minimal image whose `/init` prints `marker` and powers off (for
/// probing whether an accelerator can boot the kernel).
pub fn build_probe(marker: &str) -> Result<Initramfs, VmError> {
    let dir = initramfs_dir()?;
    let mut w = CpioWriter::new();
    w.char_dev("dev/console", 0o600, 5, 1);
    w.host_file(&static_busybox()?, "bin/busybox")?;
    let init = format!("#!/bin/busybox sh\n/bin/busybox echo {marker}\n/bin/busybox poweroff -f\n");
    w.file("init", 0o755, init.as_bytes());
    let part = cached_part(&dir, "probe", &w.finish(), true)?;
    concat(&dir, &[part])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(hdr: &[u8], i: usize) -> u32 {
        let s = std::str::from_utf8(&hdr[6 + 8 * i..14 + 8 * i]).unwrap();
        u32::from_str_radix(s, 16).unwrap()
    }

    /// Decode a newc archive into (name, mode, rdevmajor, rdevminor, data).
    fn decode(buf: &[u8]) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut off = 0;
        loop {
            let hdr = &buf[off..off + 110];
            assert_eq!(&hdr[..6], b"070701");
            let mode = field(hdr, 1);
            let size = field(hdr, 6) as usize;
            let namesize = field(hdr, 11) as usize;
            let name = std::str::from_utf8(&buf[off + 110..off + 110 + namesize - 1])
                .unwrap()
                .to_string();
            assert_eq!(buf[off + 110 + namesize - 1], 0);
            let data_off = (off + 110 + namesize + 3) & !3;
            let data = buf[data_off..data_off + size].to_vec();
            off = (data_off + size + 3) & !3;
            if name == "TRAILER!!!" {
                assert_eq!(buf.len() % 512, 0);
                return out;
            }
            out.push((name, mode, field(hdr, 9), field(hdr, 10), data));
        }
    }

    #[test]
    fn cpio_roundtrip() {
        let mut w = CpioWriter::new();
        w.char_dev("/dev/console", 0o600, 5, 1);
        assert!(w.file("/usr/local/bin/x", 0o755, b"hello"));
        assert!(!w.file("usr/local/bin/x", 0o644, b"again"));
        w.symlink("bin/sh", "/bin/busybox");
        let e = decode(&w.finish());
        let names: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "dev",
                "dev/console",
                "usr",
                "usr/local",
                "usr/local/bin",
                "usr/local/bin/x",
                "bin",
                "bin/sh"
            ]
        );
        assert_eq!(e[1].1, S_IFCHR | 0o600);
        assert_eq!((e[1].2, e[1].3), (5, 1));
        assert_eq!(e[5].1, S_IFREG | 0o755);
        assert_eq!(e[5].4, b"hello");
        assert_eq!(e[7].1, S_IFLNK | 0o777);
        assert_eq!(e[7].4, b"/bin/busybox");
        assert_eq!(e[0].1, S_IFDIR | 0o755);
    }

    #[test]
    fn ldd_parsing() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibelf.so.1 => /lib/x86_64-linux-gnu/libelf.so.1 (0x00007f)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(out).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libelf.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n")
            .unwrap()
            .is_empty());
        assert!(parse_ldd("\tstatically linked\n").unwrap().is_empty());
        assert!(parse_ldd("\tlibfoo.so.1 => not found\n").is_err());
    }

    #[test]
    fn names_and_hash() {
        assert!(valid_name("stress-ng_1.x"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }
}
