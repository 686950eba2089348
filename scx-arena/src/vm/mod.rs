//! Boot a sched_ext kernel under qemu and run commands in it.
//!
//! The host kernel does not need sched_ext: schedulers run inside a small
//! VM. The pieces are:
//!
//! - [`kernel`]: finds or downloads (Debian, private apt configuration) a
//!   kernel built with `CONFIG_SCHED_CLASS_EXT=y`, cached on disk.
//! - [`initramfs`]: builds a gzip'd newc cpio with static busybox, the
//!   caller's binaries and their shared libraries, workload tools and the
//!   embedded `/init` script.
//! - [`qemu`]: runs `qemu-system-x86_64` (TCG unless KVM is proven to boot
//!   the kernel) and captures the serial console.
//! - [`console`]: turns the console log into per-command exit codes,
//!   detected kernel problems and sched_ext state transitions.
//!
//! [`VmConfig`] ties them together:
//!
//! ```no_run
//! use scx_arena::vm::VmConfig;
//! let run = VmConfig::new()
//!     .cpus(2)
//!     .command("uname", "uname -r")
//!     .run()?;
//! run.check()?;
//! println!("{}", run.console);
//! # Ok::<(), scx_arena::vm::VmError>(())
//! ```

pub mod console;
pub mod initramfs;
pub mod kernel;
pub mod qemu;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use console::{CommandResult, ConsoleReport, Problem, SchedExtEvent, SchedExtEventKind};
pub use initramfs::{GuestCommand, Initramfs, InitramfsSpec};
pub use kernel::{sched_ext_kernel, Kernel, KernelOptions, PINNED_KERNEL_VERSION};
pub use qemu::{Accel, QemuOptions, QemuOutput, Topology};

/// Everything that can go wrong while preparing or running a VM.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A host tool is missing; `package` is the Debian package providing it.
    #[error("`{tool}` not found in PATH: install the Debian package `{package}`")]
    ToolMissing {
        /// The executable that was looked for.
        tool: String,
        /// The Debian package that provides it.
        package: String,
    },
    /// The kernel image given by the caller (or `SCX_ARENA_KERNEL`) does not exist.
    #[error("kernel image {path} does not exist (from {origin})")]
    KernelNotFound {
        /// The path that was tried.
        path: PathBuf,
        /// Where the path came from (e.g. the `SCX_ARENA_KERNEL` variable).
        origin: String,
    },
    /// The kernel's config lacks a required option.
    #[error(
        "kernel config {config} lacks {option}=y: this kernel cannot run sched_ext schedulers"
    )]
    KernelConfigMissing {
        /// The config file that was checked.
        config: PathBuf,
        /// The option that is missing, e.g. `CONFIG_SCHED_CLASS_EXT`.
        option: String,
    },
    /// A file that should be a bzImage is not one.
    #[error("{path} is not an x86 bzImage: {reason}")]
    NotABzImage {
        /// The file that was checked.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// Downloading or unpacking the Debian kernel failed.
    #[error("kernel download failed: {0}")]
    KernelDownload(String),
    /// The initramfs could not be built.
    #[error("initramfs: {0}")]
    Initramfs(String),
    /// The VM configuration is invalid.
    #[error("invalid VM configuration: {0}")]
    Config(String),
    /// qemu could not be started or failed on its own (not the guest).
    #[error("qemu failed: {message}\n--- console tail ---\n{tail}")]
    Qemu {
        /// What went wrong, including qemu's stderr.
        message: String,
        /// The last lines of the serial console.
        tail: String,
    },
    /// The VM did not power off within the wall-clock timeout and was killed.
    #[error("VM timed out after {secs:.1}s and was killed\n--- console tail ---\n{tail}")]
    Timeout {
        /// The timeout that expired, in seconds.
        secs: f64,
        /// The last lines of the serial console.
        tail: String,
    },
    /// The guest reported a problem (kernel oops, stall, sched_ext error, ...).
    #[error(transparent)]
    Guest(#[from] Problem),
    /// A guest command exited with a non-zero status.
    #[error("guest command `{name}` exited with status {code}\n--- console tail ---\n{tail}")]
    CommandFailed {
        /// The command's name.
        name: String,
        /// Its exit status.
        code: i32,
        /// The last lines of the serial console.
        tail: String,
    },
    /// The guest did not run all commands (it stopped early or the in-VM
    /// watchdog fired).
    #[error("guest did not finish: {reason}\n--- console tail ---\n{tail}")]
    Incomplete {
        /// What was missing.
        reason: String,
        /// The last lines of the serial console.
        tail: String,
    },
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// A suffix for scratch file names that no other thread or process of
/// this machine uses at the same time: pid and a per-process counter.
pub(crate) fn unique_suffix() -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{seq}", std::process::id())
}

/// Attach a context string to an [`io::Error`].
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> VmError {
    let context = context.into();
    move |source| VmError::Io { context, source }
}

/// The directory where kernels, initramfs pieces and probe results are cached.
///
/// `$SCX_ARENA_CACHE`, else `$XDG_CACHE_HOME/scx-arena`, else
/// `$HOME/.cache/scx-arena`, else a directory under the system temp dir.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SCX_ARENA_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("scx-arena");
    }
    if let Some(d) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join(".cache").join("scx-arena");
    }
    std::env::temp_dir().join("scx-arena-cache")
}

/// Find an executable in `PATH` (or return the path itself if it contains a `/`).
pub fn find_in_path(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let p = PathBuf::from(tool);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Like [`find_in_path`], but a missing tool is a [`VmError::ToolMissing`]
/// naming the Debian `package` that provides it.
pub fn require_tool(tool: &str, package: &str) -> Result<PathBuf, VmError> {
    find_in_path(tool).ok_or_else(|| VmError::ToolMissing {
        tool: tool.to_string(),
        package: package.to_string(),
    })
}

/// The last `n` lines of `s`.
pub fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// A complete VM run description; build it with the chainable methods and
/// call [`VmConfig::run`].
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Number of vCPUs (ignored when `topology` is set: it decides).
    pub cpus: u32,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// Optional sockets/cores/threads/NUMA layout.
    pub topology: Option<Topology>,
    /// Host wall-clock limit for the whole VM (boot included).
    pub timeout: Duration,
    /// In-guest watchdog deadline for all commands, counted from `/init`
    /// start in guest time; default: `timeout` minus 15 s (at least 10 s).
    pub guest_deadline: Option<Duration>,
    /// Deterministic TCG mode (instruction-counted clock) with this seed.
    pub deterministic_seed: Option<u64>,
    /// Extra kernel command-line words.
    pub extra_cmdline: Vec<String>,
    /// Host binaries to copy into the guest's `/usr/local/bin` (with their
    /// shared libraries).
    pub binaries: Vec<PathBuf>,
    /// Extra files: (host path, absolute guest path).
    pub extra_files: Vec<(PathBuf, String)>,
    /// Commands run in order by `/init`.
    pub commands: Vec<GuestCommand>,
    /// Print `/sys/kernel/sched_ext/state` changes while commands run.
    pub watch_state: bool,
    /// Stream the console live to stderr, each line prefixed with this.
    pub stream_prefix: Option<String>,
    /// The kernel to boot; `None` means [`sched_ext_kernel`] with defaults.
    pub kernel: Option<Kernel>,
    /// Accelerator choice.
    pub accel: Accel,
    /// Include `stress-ng`, `hackbench`, `cyclictest` if installed on the host.
    pub workload_tools: bool,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            cpus: 2,
            memory_mb: 1024,
            topology: None,
            timeout: Duration::from_secs(180),
            guest_deadline: None,
            deterministic_seed: None,
            extra_cmdline: Vec::new(),
            binaries: Vec::new(),
            extra_files: Vec::new(),
            commands: Vec::new(),
            watch_state: false,
            stream_prefix: None,
            kernel: None,
            accel: Accel::Auto,
            workload_tools: true,
        }
    }
}

impl VmConfig {
    /// A configuration with defaults: 2 vCPUs, 1 GiB, 180 s timeout, TCG
    /// unless KVM is proven to work, workload tools included.
    pub fn new() -> Self {
        Self::default()
    }
    /// Set the vCPU count.
    pub fn cpus(mut self, n: u32) -> Self {
        self.cpus = n;
        self
    }
    /// Set guest memory in MiB.
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }
    /// Set the CPU topology (also sets the vCPU count).
    pub fn topology(mut self, t: Topology) -> Self {
        self.cpus = t.cpus();
        self.topology = Some(t);
        self
    }
    /// Set the host wall-clock timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Set the in-guest watchdog deadline.
    pub fn guest_deadline(mut self, t: Duration) -> Self {
        self.guest_deadline = Some(t);
        self
    }
    /// Enable deterministic mode with this seed.
    pub fn deterministic(mut self, seed: u64) -> Self {
        self.deterministic_seed = Some(seed);
        self
    }
    /// Append a kernel command-line word.
    pub fn cmdline(mut self, word: impl Into<String>) -> Self {
        self.extra_cmdline.push(word.into());
        self
    }
    /// Add a host binary (copied to `/usr/local/bin/<file name>`).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binaries.push(path.into());
        self
    }
    /// Add a host file at an absolute guest path.
    pub fn file(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.extra_files.push((host.into(), guest.into()));
        self
    }
    /// Add a shell command (run by busybox `sh`) under a name used in the
    /// console markers (`[A-Za-z0-9_.-]+`).
    pub fn command(mut self, name: impl Into<String>, script: impl Into<String>) -> Self {
        self.commands.push(GuestCommand {
            name: name.into(),
            script: script.into(),
        });
        self
    }
    /// Print sched_ext state changes while commands run.
    pub fn watch_state(mut self, on: bool) -> Self {
        self.watch_state = on;
        self
    }
    /// Stream the console to stderr with this line prefix.
    pub fn stream(mut self, prefix: impl Into<String>) -> Self {
        self.stream_prefix = Some(prefix.into());
        self
    }
    /// Use this kernel instead of the default one.
    pub fn kernel(mut self, k: Kernel) -> Self {
        self.kernel = Some(k);
        self
    }
    /// Choose the accelerator.
    pub fn accel(mut self, a: Accel) -> Self {
        self.accel = a;
        self
    }
    /// Include or leave out the workload tools.
    pub fn workload_tools(mut self, on: bool) -> Self {
        self.workload_tools = on;
        self
    }

    /// Fetch the kernel (if not given), build the initramfs, boot the VM,
    /// run the commands and analyse the console.
    ///
    /// Guest problems (oops, stalls, non-zero exits) do not make this fail:
    /// they are in the returned [`VmRun`]; call [`VmRun::check`] to turn them
    /// into an error. Host-side failures and the wall-clock timeout are errors.
    pub fn run(&self) -> Result<VmRun, VmError> {
        // Fail fast, before any download or build.
        require_tool(qemu::QEMU, qemu::QEMU_PACKAGE)?;
        let kernel = match &self.kernel {
            Some(k) => k.clone(),
            None => sched_ext_kernel(&KernelOptions::default())?,
        };
        let deadline = self.guest_deadline.unwrap_or_else(|| {
            self.timeout
                .saturating_sub(Duration::from_secs(15))
                .max(Duration::from_secs(10))
        });
        let spec = InitramfsSpec {
            kernel_config: kernel.config.clone().map(|c| (c, kernel.release.clone())),
            binaries: self.binaries.clone(),
            extra_files: self.extra_files.clone(),
            commands: self.commands.clone(),
            workload_tools: self.workload_tools,
            guest_deadline: deadline,
            watch_state: self.watch_state,
        };
        let initrd = initramfs::build(&spec)?;
        let opts = QemuOptions {
            cpus: self.cpus,
            memory_mb: self.memory_mb,
            topology: self.topology.clone(),
            timeout: self.timeout,
            deterministic_seed: self.deterministic_seed,
            extra_cmdline: self.extra_cmdline.clone(),
            stream_prefix: self.stream_prefix.clone(),
            accel: self.accel,
        };
        let start = Instant::now();
        let out = qemu::run(&kernel, initrd.path(), &opts)?;
        let total_time = start.elapsed();
        let console = console::untangle(&out.console);
        let report = console::analyze(&console);
        Ok(VmRun {
            commands: report.commands,
            problems: report.problems,
            sched_ext: report.sched_ext,
            done: report.done,
            watchdog_fired: report.watchdog_fired,
            watchdog_report: report.watchdog_report,
            boot_time: out.first_command_at,
            total_time,
            accel: out.accel,
            kernel_release: kernel.release.clone(),
            expected_commands: self.commands.iter().map(|c| c.name.clone()).collect(),
            console,
        })
    }
}

/// The result of one VM boot.
#[derive(Debug, Clone)]
pub struct VmRun {
    /// The whole serial console (kernel messages and command output), with
    /// kernel lines the port cut into guest lines put back on their own
    /// ([`console::untangle`]).
    pub console: String,
    /// Per-command results, in the order they ran.
    pub commands: Vec<CommandResult>,
    /// Kernel problems found in the console.
    pub problems: Vec<Problem>,
    /// sched_ext enable/disable events and state changes.
    pub sched_ext: Vec<SchedExtEvent>,
    /// `/init` printed its final marker.
    pub done: bool,
    /// The in-guest watchdog fired.
    pub watchdog_fired: bool,
    /// The watchdog's dump (`ps`, blocked tasks, dmesg tail), if it fired.
    pub watchdog_report: String,
    /// Host time from qemu start to the first command marker.
    pub boot_time: Option<Duration>,
    /// Host time for the whole qemu run.
    pub total_time: Duration,
    /// The accelerator that was used.
    pub accel: Accel,
    /// The guest kernel release (`uname -r`).
    pub kernel_release: String,
    /// Names of the commands that were requested.
    pub expected_commands: Vec<String>,
}

impl VmRun {
    /// The exit status of the named command, if it finished.
    pub fn exit_code(&self, name: &str) -> Option<i32> {
        self.commands
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.exit_code)
    }

    /// The console output printed between the named command's markers.
    pub fn output(&self, name: &str) -> Option<&str> {
        self.commands
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.output.as_str())
    }

    /// `Ok` iff no kernel problem was seen, every requested command ran and
    /// exited 0, and `/init` finished. Otherwise the first failure.
    pub fn check(&self) -> Result<(), VmError> {
        if let Some(p) = self.problems.first() {
            return Err(VmError::Guest(p.clone()));
        }
        let tail = || tail_lines(&self.console, 30);
        if self.watchdog_fired {
            return Err(VmError::Incomplete {
                reason: "the in-guest watchdog deadline expired".into(),
                tail: self.watchdog_report.clone(),
            });
        }
        for name in &self.expected_commands {
            match self.commands.iter().find(|c| &c.name == name) {
                Some(CommandResult {
                    exit_code: Some(0), ..
                }) => {}
                Some(CommandResult {
                    exit_code: Some(code),
                    ..
                }) => {
                    return Err(VmError::CommandFailed {
                        name: name.clone(),
                        code: *code,
                        tail: tail(),
                    })
                }
                Some(_) => {
                    return Err(VmError::Incomplete {
                        reason: format!("command `{name}` started but did not finish"),
                        tail: tail(),
                    })
                }
                None => {
                    return Err(VmError::Incomplete {
                        reason: format!("command `{name}` never started"),
                        tail: tail(),
                    })
                }
            }
        }
        if !self.done {
            return Err(VmError::Incomplete {
                reason: "/init did not print its final marker".into(),
                tail: tail(),
            });
        }
        Ok(())
    }
}
