//! Finding a kernel that can run sched_ext schedulers.
//!
//! Order: `SCX_ARENA_KERNEL` (a bzImage on disk), then the on-disk cache,
//! then a download from Debian (trixie-backports + unstable) with a private
//! apt configuration in a scratch directory. Debian's `linux-binary-unsigned-
//! <abi>-amd64` package holds `vmlinuz.unsigned`; `linux-base-<abi>-amd64`
//! holds the matching `config`.

use std::cmp::Ordering;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{cache_dir, io_err, require_tool, tail_lines, VmError};

/// The known-good Debian kernel ABI version (trixie-backports).
pub const PINNED_KERNEL_VERSION: &str = "7.2.12+deb13";

/// Config options a sched_ext kernel must have set to `y`.
pub const REQUIRED_OPTIONS: &[&str] = &["CONFIG_SCHED_CLASS_EXT", "CONFIG_DEBUG_INFO_BTF"];

const BINARY_PREFIX: &str = "linux-binary-unsigned-";
const FLAVOUR_SUFFIX: &str = "-amd64";
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// How to choose the kernel.
#[derive(Debug, Clone)]
pub struct KernelOptions {
    /// Debian kernel ABI version to download, e.g. `7.2.12+deb13`.
    pub version: String,
    /// If `version` is not in the archive, take the newest one that passes
    /// the config check.
    pub allow_fallback: bool,
    /// Cache directory; `None` means [`super::cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Honour `SCX_ARENA_KERNEL` / `SCX_ARENA_KERNEL_CONFIG`.
    pub use_env: bool,
    /// Never download: fail unless the kernel is cached (`SCX_ARENA_OFFLINE=1`).
    pub offline: bool,
}

impl Default for KernelOptions {
    /// The pinned version (or `$SCX_ARENA_KERNEL_VERSION`), fallback allowed,
    /// default cache, environment honoured.
    fn default() -> Self {
        KernelOptions {
            version: std::env::var("SCX_ARENA_KERNEL_VERSION")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| PINNED_KERNEL_VERSION.to_string()),
            allow_fallback: true,
            cache_dir: None,
            use_env: true,
            offline: std::env::var("SCX_ARENA_OFFLINE").is_ok_and(|v| v == "1"),
        }
    }
}

/// A bootable kernel image and its build config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// The bzImage.
    pub vmlinuz: PathBuf,
    /// Its `.config`, if known (installed in the guest as `/boot/config-<release>`).
    pub config: Option<PathBuf>,
    /// The release string (`uname -r` in the guest), read from the bzImage header.
    pub release: String,
}

impl Kernel {
    /// Use a bzImage from disk. `config` is checked for the sched_ext
    /// options when given; `origin` names where the path came from (for errors).
    pub fn from_image(
        vmlinuz: &Path,
        config: Option<&Path>,
        origin: &str,
    ) -> Result<Kernel, VmError> {
        if !vmlinuz.is_file() {
            return Err(VmError::KernelNotFound {
                path: vmlinuz.to_path_buf(),
                origin: origin.to_string(),
            });
        }
        let release = bzimage_release(vmlinuz)?;
        if let Some(c) = config {
            check_config_file(c)?;
        }
        Ok(Kernel {
            vmlinuz: vmlinuz.to_path_buf(),
            config: config.map(Path::to_path_buf),
            release,
        })
    }
}

/// Return a sched_ext-capable kernel: from `SCX_ARENA_KERNEL`, the cache, or Debian.
pub fn sched_ext_kernel(opts: &KernelOptions) -> Result<Kernel, VmError> {
    if opts.use_env {
        if let Some(p) = std::env::var_os("SCX_ARENA_KERNEL").filter(|v| !v.is_empty()) {
            return kernel_from_env(Path::new(&p));
        }
    }
    // One acquisition at a time per process: parallel tests on a fresh
    // machine would otherwise each download the kernel into the same
    // scratch names. (Other processes are handled by the atomic install.)
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = FETCH.lock().unwrap_or_else(|p| p.into_inner());
    let cache = opts.cache_dir.clone().unwrap_or_else(cache_dir);
    let kdir = cache.join("kernels");
    if let Some(k) = cached_kernel(&kdir, &opts.version)? {
        return Ok(k);
    }
    // An earlier run may have substituted another version for this one.
    let subst = kdir.join(format!("{}.substitute", opts.version));
    if let Ok(v) = fs::read_to_string(&subst) {
        if let Some(k) = cached_kernel(&kdir, v.trim())? {
            return Ok(k);
        }
    }
    if opts.offline {
        return Err(VmError::KernelDownload(format!(
            "kernel {} is not in the cache {} and offline mode forbids downloading it",
            opts.version,
            kdir.display()
        )));
    }
    let k = download(opts, &kdir)?;
    Ok(k)
}

fn kernel_from_env(p: &Path) -> Result<Kernel, VmError> {
    let origin = "the SCX_ARENA_KERNEL environment variable";
    if !p.is_file() {
        return Err(VmError::KernelNotFound {
            path: p.to_path_buf(),
            origin: origin.to_string(),
        });
    }
    let release = bzimage_release(p)?;
    let config = match std::env::var_os("SCX_ARENA_KERNEL_CONFIG").filter(|v| !v.is_empty()) {
        Some(c) => {
            let c = PathBuf::from(c);
            if !c.is_file() {
                return Err(VmError::Io {
                    context: format!("SCX_ARENA_KERNEL_CONFIG={}", c.display()),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            Some(c)
        }
        None => find_config_near(p, &release),
    };
    match &config {
        Some(c) => check_config_file(c)?,
        None => eprintln!(
            "scx-arena: no kernel config found next to {} (set SCX_ARENA_KERNEL_CONFIG); \
             sched_ext support not verified",
            p.display()
        ),
    }
    Ok(Kernel {
        vmlinuz: p.to_path_buf(),
        config,
        release,
    })
}

/// Look for `config`, `config-<release>` or any `config-*` next to a bzImage.
fn find_config_near(image: &Path, release: &str) -> Option<PathBuf> {
    let dir = image.parent()?;
    for name in ["config".to_string(), format!("config-{release}")] {
        let p = dir.join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    let mut others: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("config-"))
        })
        .collect();
    others.sort();
    (others.len() == 1).then(|| others.remove(0))
}

fn cached_kernel(kdir: &Path, version: &str) -> Result<Option<Kernel>, VmError> {
    let dir = kdir.join(version);
    let (vmlinuz, config) = (dir.join("vmlinuz"), dir.join("config"));
    if !(vmlinuz.is_file() && config.is_file()) {
        return Ok(None);
    }
    Kernel::from_image(&vmlinuz, Some(&config), "the kernel cache").map(Some)
}

/// Check that a kernel config has every option of [`REQUIRED_OPTIONS`] set to `y`.
pub fn check_config_file(config: &Path) -> Result<(), VmError> {
    let text =
        fs::read_to_string(config).map_err(io_err(format!("reading {}", config.display())))?;
    match missing_option(&text) {
        Some(option) => Err(VmError::KernelConfigMissing {
            config: config.to_path_buf(),
            option: option.to_string(),
        }),
        None => Ok(()),
    }
}

/// The first of [`REQUIRED_OPTIONS`] not set to `y` in a config text.
pub fn missing_option(config_text: &str) -> Option<&'static str> {
    REQUIRED_OPTIONS.iter().copied().find(|opt| {
        !config_text
            .lines()
            .any(|l| l.trim().strip_prefix(opt).and_then(|r| r.strip_prefix('=')) == Some("y"))
    })
}

/// Read the kernel release (`uname -r`) from a bzImage's setup header.
pub fn bzimage_release(path: &Path) -> Result<String, VmError> {
    let bad = |reason: &str| VmError::NotABzImage {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut head = vec![0u8; 0x8000];
    let n = {
        use std::io::Read;
        let mut f = fs::File::open(path).map_err(io_err(format!("opening {}", path.display())))?;
        let mut n = 0;
        while n < head.len() {
            let r = f
                .read(&mut head[n..])
                .map_err(io_err(format!("reading {}", path.display())))?;
            if r == 0 {
                break;
            }
            n += r;
        }
        n
    };
    head.truncate(n);
    if head.len() < 0x210 || &head[0x202..0x206] != b"HdrS" {
        return Err(bad("no \"HdrS\" setup header magic"));
    }
    let off = u16::from_le_bytes([head[0x20e], head[0x20f]]) as usize + 0x200;
    if off >= head.len() {
        return Err(bad("kernel_version offset outside the setup code"));
    }
    let s = &head[off..];
    let end = s
        .iter()
        .position(|&b| b == 0 || b == b' ')
        .unwrap_or(s.len().min(64));
    let release = String::from_utf8_lossy(&s[..end]).to_string();
    if release.is_empty() {
        return Err(bad("empty kernel version string"));
    }
    Ok(release)
}

// ---------------------------------------------------------------------------
// Debian download

/// The Debian mirror URI configured on the host (deb822 or one-line
/// format), ignoring security mirrors; `http://deb.debian.org/debian` if none.
pub fn host_mirror() -> String {
    for f in [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ] {
        if let Ok(text) = fs::read_to_string(f) {
            if let Some(m) = parse_mirror(&text) {
                return m;
            }
        }
    }
    DEFAULT_MIRROR.to_string()
}

/// Extract the first non-security Debian mirror from a sources file's text.
pub fn parse_mirror(text: &str) -> Option<String> {
    let ok = |u: &str| {
        (u.starts_with("http://") || u.starts_with("https://"))
            && !u.contains("security")
            && u.contains("debian")
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("URIs:") {
            if let Some(u) = rest.split_whitespace().find(|u| ok(u)) {
                return Some(u.trim_end_matches('/').to_string());
            }
        } else if let Some(rest) = line.strip_prefix("deb ") {
            // `deb [opts] uri suite comps`
            let rest = match rest.trim_start().strip_prefix('[') {
                Some(r) => r.split_once(']').map(|(_, r)| r).unwrap_or(""),
                None => rest,
            };
            if let Some(u) = rest.split_whitespace().next().filter(|u| ok(u)) {
                return Some(u.trim_end_matches('/').to_string());
            }
        }
    }
    None
}

/// A downloadable kernel: ABI version (`7.2.12+deb13`) and Debian package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The ABI version in the package name.
    pub abi: String,
    /// The package's Debian version (`7.2.12-1~bpo13+1`).
    pub version: String,
}

/// The ABI version of a generic amd64 kernel package name
/// (`linux-binary-unsigned-7.2.12+deb13-amd64` → `7.2.12+deb13`); `None`
/// for other flavours (`-cloud-amd64`, `-rt-amd64`) and other packages.
pub fn abi_of_package(name: &str) -> Option<&str> {
    let abi = name
        .strip_prefix(BINARY_PREFIX)?
        .strip_suffix(FLAVOUR_SUFFIX)?;
    let ok = abi.starts_with(|c: char| c.is_ascii_digit())
        && abi
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '~')
        && abi.contains("+deb");
    ok.then_some(abi)
}

/// Parse `apt-cache show` output into candidates, newest package version
/// first (one entry per ABI version, its newest package version).
pub fn parse_candidates(show_output: &str) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for stanza in show_output.split("\n\n") {
        let mut pkg = None;
        let mut ver = None;
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package:") {
                pkg = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version:") {
                ver = Some(v.trim());
            }
        }
        let (Some(pkg), Some(ver)) = (pkg, ver) else {
            continue;
        };
        let Some(abi) = abi_of_package(pkg) else {
            continue;
        };
        match out.iter_mut().find(|c| c.abi == abi) {
            Some(c) => {
                if compare_debian_versions(ver, &c.version) == Ordering::Greater {
                    c.version = ver.to_string();
                }
            }
            None => out.push(Candidate {
                abi: abi.to_string(),
                version: ver.to_string(),
            }),
        }
    }
    out.sort_by(|a, b| compare_debian_versions(&b.version, &a.version));
    out
}

/// The order in which to try candidates: the pinned one alone, or (if it
/// is missing or fallback is allowed) the others newest first after it.
pub fn selection_order(cands: &[Candidate], pin: &str, allow_fallback: bool) -> Vec<Candidate> {
    let mut order: Vec<Candidate> = cands.iter().filter(|c| c.abi == pin).cloned().collect();
    if allow_fallback {
        order.extend(cands.iter().filter(|c| c.abi != pin).cloned());
    }
    order
}

/// Compare two Debian version strings (epoch, upstream, revision; `~` sorts
/// before everything, letters before other symbols), like `dpkg --compare-versions`.
pub fn compare_debian_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((u, r)) => (epoch, u, r),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    fn part(a: &str, b: &str) -> Ordering {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            // Non-digit prefix.
            while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit())
            {
                let ca = (i < a.len() && !a[i].is_ascii_digit()).then(|| a[i]);
                let cb = (j < b.len() && !b[j].is_ascii_digit()).then(|| b[j]);
                let (oa, ob) = (order(ca), order(cb));
                if oa != ob {
                    return oa.cmp(&ob);
                }
                if ca.is_some() {
                    i += 1;
                }
                if cb.is_some() {
                    j += 1;
                }
            }
            // Numeric part.
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[si..i])
                .unwrap_or("0")
                .trim_start_matches('0');
            let nb = std::str::from_utf8(&b[sj..j])
                .unwrap_or("0")
                .trim_start_matches('0');
            let c = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| part(ua, ub))
        .then_with(|| part(ra, rb))
}

/// A private apt configuration rooted in a scratch directory.
struct PrivateApt {
    root: PathBuf,
    opts: Vec<String>,
}

impl PrivateApt {
    fn new(root: &Path, mirror: &str) -> Result<PrivateApt, VmError> {
        for d in ["state/lists/partial", "cache/archives/partial", "dl", "x"] {
            fs::create_dir_all(root.join(d))
                .map_err(io_err(format!("creating {}", root.display())))?;
        }
        let sources = root.join("sources.list");
        fs::write(
            &sources,
            format!(
                "deb [trusted=yes] {mirror} trixie-backports main\n\
                 deb [trusted=yes] {mirror} unstable main\n"
            ),
        )
        .map_err(io_err("writing private sources.list"))?;
        let status = root.join("state/status");
        fs::write(&status, "").map_err(io_err("writing private dpkg status"))?;
        let p = |s: &str| root.join(s).display().to_string();
        let mut opts = vec![
            format!("Dir::Etc::SourceList={}", sources.display()),
            "Dir::Etc::SourceParts=/dev/null".to_string(),
            format!("Dir::State={}", p("state")),
            format!("Dir::State::Lists={}", p("state/lists")),
            format!("Dir::State::status={}", status.display()),
            format!("Dir::Cache={}", p("cache")),
            format!("Dir::Cache::Archives={}", p("cache/archives")),
            "Debug::NoLocking=1".to_string(),
            "APT::Architecture=amd64".to_string(),
            "APT::Architectures=amd64".to_string(),
            "Acquire::Languages=none".to_string(),
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_string(),
            "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false".to_string(),
            "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false".to_string(),
            "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false".to_string(),
        ];
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // Root: download without the _apt sandbox user, which cannot
            // write into our scratch directory.
            opts.push("APT::Sandbox::User=root".to_string());
        }
        Ok(PrivateApt {
            root: root.to_path_buf(),
            opts,
        })
    }

    fn run(&self, tool: &str, args: &[&str], cwd: &Path) -> Result<String, VmError> {
        let mut cmd = Command::new(tool);
        for o in &self.opts {
            cmd.arg("-o").arg(o);
        }
        let out = cmd
            .args(args)
            .current_dir(cwd)
            .env("LC_ALL", "C")
            .output()
            .map_err(io_err(format!("running {tool}")))?;
        if !out.status.success() {
            return Err(VmError::KernelDownload(format!(
                "`{tool} {}` failed ({}): {}",
                args.join(" "),
                out.status,
                tail_lines(&String::from_utf8_lossy(&out.stderr), 5)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn download(opts: &KernelOptions, kdir: &Path) -> Result<Kernel, VmError> {
    require_tool("apt-get", "apt")?;
    require_tool("dpkg-deb", "dpkg")?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let scratch = kdir.join(format!(".apt-{}-{nanos}", crate::vm::unique_suffix()));
    let result = download_in(opts, kdir, &scratch);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn download_in(opts: &KernelOptions, kdir: &Path, scratch: &Path) -> Result<Kernel, VmError> {
    let mirror = host_mirror();
    eprintln!("scx-arena: fetching the Debian kernel index from {mirror} (private apt config)");
    let apt = PrivateApt::new(scratch, &mirror)?;
    apt.run("apt-get", &["-q", "update"], scratch)?;
    let names = apt.run("apt-cache", &["pkgnames", BINARY_PREFIX], scratch)?;
    let names: Vec<&str> = names
        .lines()
        .filter(|n| abi_of_package(n).is_some())
        .collect();
    if names.is_empty() {
        return Err(VmError::KernelDownload(format!(
            "no {BINARY_PREFIX}*{FLAVOUR_SUFFIX} package found in {mirror}"
        )));
    }
    let mut args = vec!["show"];
    args.extend(names.iter().copied());
    let show = apt.run("apt-cache", &args, scratch)?;
    let cands = parse_candidates(&show);
    let order = selection_order(&cands, &opts.version, opts.allow_fallback);
    if order.is_empty() {
        return Err(VmError::KernelDownload(format!(
            "kernel {} is not in the archive and fallback is disabled",
            opts.version
        )));
    }
    let mut last_err = None;
    for cand in order {
        if cand.abi != opts.version {
            eprintln!(
                "scx-arena: kernel {} unavailable or unusable; trying {} ({})",
                opts.version, cand.abi, cand.version
            );
        }
        match fetch_one(&apt, &cand, kdir) {
            Ok(k) => {
                if cand.abi != opts.version {
                    eprintln!(
                        "scx-arena: using kernel {} instead of {}",
                        cand.abi, opts.version
                    );
                    let _ = fs::write(kdir.join(format!("{}.substitute", opts.version)), &cand.abi);
                }
                return Ok(k);
            }
            Err(e @ VmError::KernelConfigMissing { .. }) if opts.allow_fallback => {
                eprintln!("scx-arena: rejecting kernel {}: {e}", cand.abi);
                last_err = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| VmError::KernelDownload("no usable kernel".into())))
}

fn fetch_one(apt: &PrivateApt, cand: &Candidate, kdir: &Path) -> Result<Kernel, VmError> {
    let dl = apt.root.join("dl");
    let x = apt.root.join("x").join(&cand.abi);
    let bin = format!("{BINARY_PREFIX}{}{FLAVOUR_SUFFIX}", cand.abi);
    let base = format!("linux-base-{}{FLAVOUR_SUFFIX}", cand.abi);
    eprintln!("scx-arena: downloading {bin} {}", cand.version);
    apt.run(
        "apt-get",
        &["-q", "download", &format!("{bin}={}", cand.version), &base],
        &dl,
    )?;
    fs::create_dir_all(&x).map_err(io_err("creating extraction dir"))?;
    for entry in fs::read_dir(&dl).map_err(io_err("listing downloads"))? {
        let p = entry.map_err(io_err("listing downloads"))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".deb") && name.contains(&cand.abi) {
            let st = Command::new("dpkg-deb")
                .arg("-x")
                .arg(&p)
                .arg(&x)
                .status()
                .map_err(io_err("running dpkg-deb"))?;
            if !st.success() {
                return Err(VmError::KernelDownload(format!(
                    "dpkg-deb -x {name} failed: {st}"
                )));
            }
        }
    }
    let mut files = Vec::new();
    walk(&x, &mut files);
    let find = |pred: &dyn Fn(&str) -> bool| {
        files
            .iter()
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(pred))
            .cloned()
    };
    let vmlinuz = find(&|n| n.starts_with("vmlinuz"))
        .ok_or_else(|| VmError::KernelDownload(format!("{bin} holds no vmlinuz")))?;
    let config = find(&|n| n == "config" || n.starts_with("config-"))
        .ok_or_else(|| VmError::KernelDownload(format!("{base} holds no kernel config")))?;
    check_config_file(&config)?;
    // Install atomically: temp dir in the same parent, then rename.
    let tmp = kdir.join(format!(".new-{}-{}", cand.abi, crate::vm::unique_suffix()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(io_err(format!("creating {}", tmp.display())))?;
    fs::copy(&vmlinuz, tmp.join("vmlinuz")).map_err(io_err("caching vmlinuz"))?;
    fs::copy(&config, tmp.join("config")).map_err(io_err("caching kernel config"))?;
    fs::write(tmp.join("package-version"), &cand.version).map_err(io_err("caching version"))?;
    let dest = kdir.join(&cand.abi);
    if let Err(e) = fs::rename(&tmp, &dest) {
        let _ = fs::remove_dir_all(&tmp);
        if !dest.join("vmlinuz").is_file() {
            return Err(VmError::Io {
                context: format!("installing {}", dest.display()),
                source: e,
            });
        }
    }
    Kernel::from_image(
        &dest.join("vmlinuz"),
        Some(&dest.join("config")),
        "the kernel cache",
    )
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&p, out),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn debian_version_ordering() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "2.0", Greater),
            ("7.2.12-1~bpo13+1", "7.2.12-1", Less),
            ("7.2.13-1", "7.2.12-1~bpo13+1", Greater),
            ("7.3.4-1~bpo13+1", "7.2.13-1", Greater),
            ("7.2.9-1~bpo13+1", "7.2.11-1~bpo13+1", Less),
            ("1.0a", "1.0+", Less),
            ("1.0-1", "1.0-01", Equal),
            ("2.0~~", "2.0~", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_debian_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_debian_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    /// Cross-check against dpkg itself when it is installed.
    #[test]
    fn debian_version_ordering_matches_dpkg() {
        if crate::vm::find_in_path("dpkg").is_none() {
            return;
        }
        let vs = [
            "7.2.12-1~bpo13+1",
            "7.2.12-1",
            "7.2.12-1+b1",
            "7.2.12~rc3-1~exp1",
            "7.3-1",
            "7.3.0-1",
            "1:1.0",
            "1.0a-1",
            "1.0+dfsg-2",
            "1.0.0~~a",
            "10.0",
            "9.99",
        ];
        for a in vs {
            for b in vs {
                let lt = Command::new("dpkg")
                    .args(["--compare-versions", a, "lt", b])
                    .status()
                    .unwrap()
                    .success();
                let eq = Command::new("dpkg")
                    .args(["--compare-versions", a, "eq", b])
                    .status()
                    .unwrap()
                    .success();
                let want = if lt {
                    Less
                } else if eq {
                    Equal
                } else {
                    Greater
                };
                assert_eq!(compare_debian_versions(a, b), want, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn package_names() {
        assert_eq!(
            abi_of_package("linux-binary-unsigned-7.2.12+deb13-amd64"),
            Some("7.2.12+deb13")
        );
        assert_eq!(
            abi_of_package("linux-binary-unsigned-7.2.12+deb13-cloud-amd64"),
            None
        );
        assert_eq!(
            abi_of_package("linux-binary-unsigned-7.2.12+deb13-rt-amd64"),
            None
        );
        assert_eq!(abi_of_package("linux-base-7.2.12+deb13-amd64"), None);
    }

    #[test]
    fn candidates_newest_first() {
        let show = "Package: linux-binary-unsigned-7.2.12+deb13-amd64\nVersion: 7.2.12-1~bpo13+1\n\
                    Filename: x\n\n\
                    Package: linux-binary-unsigned-7.3.4+deb13-amd64\nVersion: 7.3.4-1~bpo13+1\n\n\
                    Package: linux-binary-unsigned-7.2.13+deb14-amd64\nVersion: 7.2.13-1\n\n\
                    Package: linux-binary-unsigned-7.2.9+deb13-amd64\nVersion: 7.2.9-1~bpo13+1\n\n\
                    Package: linux-binary-unsigned-7.2.9+deb13-amd64\nVersion: 7.2.9-1~bpo13+2\n\n\
                    Package: linux-binary-unsigned-7.2.9+deb13-rt-amd64\nVersion: 9.9-1\n";
        let c = parse_candidates(show);
        let abis: Vec<&str> = c.iter().map(|c| c.abi.as_str()).collect();
        assert_eq!(
            abis,
            ["7.3.4+deb13", "7.2.13+deb14", "7.2.12+deb13", "7.2.9+deb13"]
        );
        assert_eq!(c[3].version, "7.2.9-1~bpo13+2");
        let o = selection_order(&c, "7.2.12+deb13", true);
        assert_eq!(o[0].abi, "7.2.12+deb13");
        assert_eq!(o[1].abi, "7.3.4+deb13");
        assert_eq!(o.len(), 4);
        assert_eq!(selection_order(&c, "7.2.12+deb13", false).len(), 1);
        let o = selection_order(&c, "6.0+deb99", true);
        assert_eq!(o[0].abi, "7.3.4+deb13");
        assert!(selection_order(&c, "6.0+deb99", false).is_empty());
    }

    #[test]
    fn mirrors() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/x\nURIs: http://ftp.de.debian.org/debian/\n\
                      Suites: bookworm\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n";
        assert_eq!(
            parse_mirror(deb822).as_deref(),
            Some("http://ftp.de.debian.org/debian")
        );
        let one = "deb http://security.debian.org/debian-security bookworm-security main\n\
                   deb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            parse_mirror(one).as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(parse_mirror("# nothing\n"), None);
    }

    #[test]
    fn config_check() {
        let good = "CONFIG_SCHED_CLASS_EXT=y\nCONFIG_DEBUG_INFO_BTF=y\n";
        assert_eq!(missing_option(good), None);
        let bad = "# CONFIG_SCHED_CLASS_EXT is not set\nCONFIG_DEBUG_INFO_BTF=y\n";
        assert_eq!(missing_option(bad), Some("CONFIG_SCHED_CLASS_EXT"));
        assert_eq!(
            missing_option("CONFIG_SCHED_CLASS_EXT=y\nCONFIG_DEBUG_INFO_BTF_MODULES=y\n"),
            Some("CONFIG_DEBUG_INFO_BTF")
        );
    }

    #[test]
    fn bzimage_header() {
        let dir = std::env::temp_dir().join(format!("scx-arena-bz-{}", crate::vm::unique_suffix()));
        fs::create_dir_all(&dir).unwrap();
        let mut img = vec![0u8; 0x1000];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x20e..0x210].copy_from_slice(&0x300u16.to_le_bytes());
        let v = b"7.2.12+deb13-amd64 (debian-kernel@lists.debian.org) #1 SMP\0";
        img[0x500..0x500 + v.len()].copy_from_slice(v);
        let p = dir.join("bz");
        fs::write(&p, &img).unwrap();
        assert_eq!(bzimage_release(&p).unwrap(), "7.2.12+deb13-amd64");
        fs::write(&p, b"not a kernel").unwrap();
        assert!(matches!(
            bzimage_release(&p),
            Err(VmError::NotABzImage { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
