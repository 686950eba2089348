//! Running `qemu-system-x86_64` and capturing its serial console.
//!
//! TCG is always `thread=single`: multi-threaded TCG randomly oopses the
//! guest at freshly patched static-key sites. KVM is used only when a probe
//! boot of the same kernel under KVM printed a marker; the answer is cached.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{cache_dir, initramfs, io_err, require_tool, tail_lines, Kernel, VmError};

/// The qemu binary.
pub const QEMU: &str = "qemu-system-x86_64";
/// The Debian package providing [`QEMU`].
pub const QEMU_PACKAGE: &str = "qemu-system-x86";
/// The kernel command line every boot gets (extra words are appended).
pub const BASE_CMDLINE: &str = "console=ttyS0 quiet panic=-1 oops=panic";

const PROBE_MARKER: &str = "SCXVM-KVM-PROBE-OK";
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which accelerator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// KVM if a cached probe says it boots this kernel, else TCG.
    Auto,
    /// Single-threaded TCG.
    Tcg,
    /// KVM (fails if qemu cannot use it).
    Kvm,
}

/// CPU topology: `sockets * cores * threads` vCPUs, optionally split into
/// NUMA nodes. Each socket gets its own L3 in the guest's CPUID, so two
/// sockets model a 2-LLC machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Sockets.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// NUMA nodes (0 = none); sockets are spread evenly over them.
    pub numa_nodes: u32,
}

impl Topology {
    /// Total vCPUs.
    pub fn cpus(&self) -> u32 {
        self.sockets * self.cores * self.threads
    }

    /// `sockets` sockets, each its own NUMA node and LLC.
    pub fn llcs(sockets: u32, cores_per_socket: u32) -> Topology {
        Topology {
            sockets,
            cores: cores_per_socket,
            threads: 1,
            numa_nodes: sockets,
        }
    }
}

/// How to run qemu.
#[derive(Debug, Clone)]
pub struct QemuOptions {
    /// vCPUs (overridden by `topology`).
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_mb: u32,
    /// Optional topology.
    pub topology: Option<Topology>,
    /// Host wall-clock limit; qemu is killed after it.
    pub timeout: Duration,
    /// Deterministic instruction-counted mode with this seed (TCG only).
    pub deterministic_seed: Option<u64>,
    /// Extra kernel command-line words.
    pub extra_cmdline: Vec<String>,
    /// Stream console lines to stderr with this prefix.
    pub stream_prefix: Option<String>,
    /// Accelerator.
    pub accel: Accel,
}

impl Default for QemuOptions {
    fn default() -> Self {
        QemuOptions {
            cpus: 2,
            memory_mb: 1024,
            topology: None,
            timeout: Duration::from_secs(180),
            deterministic_seed: None,
            extra_cmdline: Vec::new(),
            stream_prefix: None,
            accel: Accel::Auto,
        }
    }
}

/// What a qemu run produced.
#[derive(Debug, Clone)]
pub struct QemuOutput {
    /// The serial console, `\r` removed.
    pub console: String,
    /// Host time from spawn to the first `SCXVM BEGIN` line.
    pub first_command_at: Option<Duration>,
    /// Host time from spawn to exit.
    pub elapsed: Duration,
    /// The accelerator used.
    pub accel: Accel,
}

/// The qemu arguments for a run (without the binary name).
pub fn qemu_args(
    kernel: &Path,
    initrd: &Path,
    opts: &QemuOptions,
    accel: Accel,
) -> Result<Vec<String>, VmError> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |s: &str| a.push(s.to_string());
    match accel {
        Accel::Kvm => {
            push("-accel");
            push("kvm");
            push("-cpu");
            push("host");
        }
        Accel::Tcg | Accel::Auto => {
            push("-accel");
            push("tcg,thread=single");
            push("-cpu");
            push("max");
        }
    }
    if let Some(seed) = opts.deterministic_seed {
        if accel == Accel::Kvm {
            return Err(VmError::Config(
                "deterministic mode needs TCG, not KVM".into(),
            ));
        }
        push("-icount");
        push("shift=0,sleep=off");
        push("-seed");
        a.push(seed.to_string());
        a.push("-rtc".into());
        a.push("base=2025-01-01T00:00:00,clock=vm".into());
    }
    if opts.memory_mb < 128 {
        return Err(VmError::Config(format!(
            "memory_mb {} is too small",
            opts.memory_mb
        )));
    }
    a.push("-m".into());
    a.push(format!("{}M", opts.memory_mb));
    match &opts.topology {
        Some(t) => {
            if t.cpus() == 0 {
                return Err(VmError::Config("topology has zero CPUs".into()));
            }
            a.push("-smp".into());
            a.push(format!(
                "cpus={},sockets={},cores={},threads={}",
                t.cpus(),
                t.sockets,
                t.cores,
                t.threads
            ));
            if t.numa_nodes > 0 {
                if t.sockets % t.numa_nodes != 0 {
                    return Err(VmError::Config(format!(
                        "{} sockets cannot be split evenly over {} NUMA nodes",
                        t.sockets, t.numa_nodes
                    )));
                }
                let per_node_cpus = t.cpus() / t.numa_nodes;
                let mem = opts.memory_mb / t.numa_nodes;
                for n in 0..t.numa_nodes {
                    let size = if n == t.numa_nodes - 1 {
                        opts.memory_mb - mem * (t.numa_nodes - 1)
                    } else {
                        mem
                    };
                    a.push("-object".into());
                    a.push(format!("memory-backend-ram,id=mem{n},size={size}M"));
                    a.push("-numa".into());
                    let first = n * per_node_cpus;
                    a.push(format!(
                        "node,nodeid={n},cpus={}-{},memdev=mem{n}",
                        first,
                        first + per_node_cpus - 1
                    ));
                }
            }
        }
        None => {
            if opts.cpus == 0 {
                return Err(VmError::Config("cpus must be at least 1".into()));
            }
            a.push("-smp".into());
            a.push(opts.cpus.to_string());
        }
    }
    for s in [
        "-nographic",
        "-no-reboot",
        "-nodefaults",
        "-serial",
        "stdio",
    ] {
        a.push(s.into());
    }
    // -nodefaults drops the default monitor; -nographic would otherwise
    // multiplex it on stdio.
    a.push("-monitor".into());
    a.push("none".into());
    a.push("-kernel".into());
    a.push(kernel.display().to_string());
    a.push("-initrd".into());
    a.push(initrd.display().to_string());
    let mut cmdline = BASE_CMDLINE.to_string();
    for w in &opts.extra_cmdline {
        cmdline.push(' ');
        cmdline.push_str(w);
    }
    a.push("-append".into());
    a.push(cmdline);
    Ok(a)
}

struct Capture {
    console: String,
    first_command_at: Option<Duration>,
}

/// Spawn qemu, capture the console, enforce the timeout.
fn run_qemu(
    args: &[String],
    timeout: Duration,
    stream_prefix: Option<&str>,
) -> Result<(Capture, std::process::ExitStatus, String, Duration), VmError> {
    let qemu = require_tool(QEMU, QEMU_PACKAGE)?;
    let start = Instant::now();
    let mut child: Child = Command::new(qemu)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("starting {QEMU}")))?;
    let cap = Arc::new(Mutex::new(Capture {
        console: String::new(),
        first_command_at: None,
    }));
    let stdout = child.stdout.take().ok_or_else(|| VmError::Qemu {
        message: "no stdout pipe".into(),
        tail: String::new(),
    })?;
    let mut stderr = child.stderr.take();
    let reader = {
        let cap = Arc::clone(&cap);
        let prefix = stream_prefix.map(str::to_string);
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&buf);
                let line = strip_escapes(line.trim_end_matches(['\n', '\r']));
                if let Some(p) = &prefix {
                    eprintln!("{p}{line}");
                }
                let mut c = match cap.lock() {
                    Ok(c) => c,
                    Err(p) => p.into_inner(),
                };
                if c.first_command_at.is_none() && line.contains("SCXVM BEGIN ") {
                    c.first_command_at = Some(start.elapsed());
                }
                c.console.push_str(&line);
                c.console.push('\n');
            }
        })
    };
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let status = loop {
        match child.try_wait().map_err(io_err("waiting for qemu"))? {
            Some(st) => break Some(st),
            None if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let elapsed = start.elapsed();
    let _ = reader.join();
    let stderr_text = err_reader.join().unwrap_or_default();
    let cap = match Arc::try_unwrap(cap) {
        Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
        Err(arc) => {
            let c = arc.lock().unwrap_or_else(|p| p.into_inner());
            Capture {
                console: c.console.clone(),
                first_command_at: c.first_command_at,
            }
        }
    };
    match status {
        Some(st) => Ok((cap, st, stderr_text, elapsed)),
        None => Err(VmError::Timeout {
            secs: timeout.as_secs_f64(),
            tail: tail_lines(&cap.console, 40),
        }),
    }
}

/// Remove `\r` and terminal escape sequences (SeaBIOS clears the screen).
pub fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // CSI: parameters, then one final byte in '@'..='~'.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    // Two-character escape such as ESC c (reset).
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn kvm_usable_device() -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Whether KVM can boot `kernel` on this host: probed once per (host
/// kernel, guest kernel) pair and cached in `<cache>/kvm-probe/`.
pub fn kvm_works(kernel: &Kernel) -> Result<bool, VmError> {
    if !kvm_usable_device() {
        return Ok(false);
    }
    let host = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let dir = cache_dir().join("kvm-probe");
    let key = format!("{}--{}", host.trim(), kernel.release).replace('/', "_");
    let file = dir.join(key);
    if let Ok(s) = fs::read_to_string(&file) {
        return Ok(s.trim() == "yes");
    }
    let probe = initramfs::build_probe(PROBE_MARKER)?;
    let opts = QemuOptions {
        cpus: 1,
        memory_mb: 512,
        timeout: PROBE_TIMEOUT,
        ..QemuOptions::default()
    };
    let args = qemu_args(&kernel.vmlinuz, probe.path(), &opts, Accel::Kvm)?;
    let ok = match run_qemu(&args, PROBE_TIMEOUT, None) {
        Ok((cap, _, _, _)) => cap.console.contains(PROBE_MARKER),
        Err(VmError::Timeout { .. }) => false,
        Err(e) => return Err(e),
    };
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    fs::write(&file, if ok { "yes\n" } else { "no\n" })
        .map_err(io_err(format!("writing {}", file.display())))?;
    if !ok {
        eprintln!(
            "scx-arena: KVM cannot boot {} here; using TCG (cached)",
            kernel.release
        );
    }
    Ok(ok)
}

/// Boot `kernel` with `initrd` and capture the console until qemu exits
/// or the timeout expires.
pub fn run(kernel: &Kernel, initrd: &Path, opts: &QemuOptions) -> Result<QemuOutput, VmError> {
    require_tool(QEMU, QEMU_PACKAGE)?;
    let accel = match opts.accel {
        Accel::Auto if opts.deterministic_seed.is_none() && kvm_works(kernel)? => Accel::Kvm,
        Accel::Auto => Accel::Tcg,
        a => a,
    };
    let args = qemu_args(&kernel.vmlinuz, initrd, opts, accel)?;
    let (cap, status, stderr, elapsed) =
        run_qemu(&args, opts.timeout, opts.stream_prefix.as_deref())?;
    if !status.success() && cap.console.is_empty() {
        return Err(VmError::Qemu {
            message: format!(
                "{QEMU} exited with {status}: {}",
                tail_lines(stderr.trim(), 5)
            ),
            tail: String::new(),
        });
    }
    Ok(QemuOutput {
        console: cap.console,
        first_command_at: cap.first_command_at,
        elapsed,
        accel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            strip_escapes("\x1bc\x1b[?7l\x1b[2JSCXVM INIT\r"),
            "SCXVM INIT"
        );
        assert_eq!(strip_escapes("plain [1.0] text"), "plain [1.0] text");
    }

    #[test]
    fn args_default_tcg() {
        let a = qemu_args(
            Path::new("/k"),
            Path::new("/i"),
            &QemuOptions::default(),
            Accel::Auto,
        )
        .unwrap();
        let s = a.join(" ");
        assert!(s.contains("-accel tcg,thread=single -cpu max"));
        assert!(s.contains("-smp 2"));
        assert!(s.contains("-m 1024M"));
        assert!(s.contains("-kernel /k -initrd /i"));
        assert_eq!(a.last().map(String::as_str), Some(BASE_CMDLINE));
        assert!(!s.contains("thread=multi"));
    }

    #[test]
    fn args_topology_and_determinism() {
        let opts = QemuOptions {
            topology: Some(Topology::llcs(2, 2)),
            deterministic_seed: Some(7),
            extra_cmdline: vec!["foo=1".into()],
            ..QemuOptions::default()
        };
        let s = qemu_args(Path::new("/k"), Path::new("/i"), &opts, Accel::Tcg)
            .unwrap()
            .join(" ");
        assert!(s.contains("-smp cpus=4,sockets=2,cores=2,threads=1"));
        assert!(s.contains("memory-backend-ram,id=mem0,size=512M"));
        assert!(s.contains("-numa node,nodeid=1,cpus=2-3,memdev=mem1"));
        assert!(
            s.contains("-icount shift=0,sleep=off -seed 7 -rtc base=2025-01-01T00:00:00,clock=vm")
        );
        assert!(s.ends_with("oops=panic foo=1"));
        assert!(qemu_args(Path::new("/k"), Path::new("/i"), &opts, Accel::Kvm).is_err());
    }
}
