//! How a running scheduler's statistics and knobs reach the outside: the
//! `scx_stats` unix socket (statistics for `--monitor` clients, and the
//! control channel for live retuning), and an OpenMetrics endpoint over
//! HTTP for Prometheus. The same binary is also the client: `--monitor` and
//! `--tune` talk to the scheduler already running.
//!
//! The BPF skeleton belongs to the scheduler's main thread, so the server
//! threads only pass requests to it; [`Service::answer`] answers them from
//! the main loop ([`crate::runtime::serve`]).
//!
//! On the socket, a retune is a `stats` request with target `tune`:
//! `{"req":"stats","args":{"target":"tune","slice_us":"5000"}}`. It is
//! checked as a whole (known names, numbers in range) before any knob
//! changes, and answers with the new snapshot.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

use scx_stats::serde_json::Value;
use scx_stats::{StatsClient, StatsServer, StatsServerData};

use crate::stats::Snapshot;

/// Default path of the stats/control socket (the `scx_stats` convention).
pub const DEFAULT_SOCKET: &str = "/var/run/scx/root/stats";
/// Default address of the metrics endpoint when `--metrics-addr` has none.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9469";
/// How long a server thread waits for the main loop to answer. Generous:
/// on a machine overloaded on purpose (stress tests, TCG guests) the
/// scheduler's own thread may wait seconds for a CPU.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a client waits for an answer (longer than the server does, so
/// the server's own timeout message gets through).
const CLIENT_TIMEOUT_MS: u64 = 30_000;

/// Why serving or a client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The stats socket could not be created.
    #[error("cannot serve statistics on {0}: {1}")]
    Socket(PathBuf, String),
    /// The metrics endpoint could not bind.
    #[error("cannot serve metrics on {0}: {1}")]
    Metrics(SocketAddr, std::io::Error),
    /// No scheduler answers on the socket.
    #[error("no scheduler answers on {0} ({1}): is one running?")]
    Connect(PathBuf, String),
    /// The scheduler refused or failed the request.
    #[error("{0}")]
    Request(String),
}

/// A knob that can change while the scheduler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunable {
    /// Name on the command line and the socket (`slice_us`).
    pub name: &'static str,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
}

impl Tunable {
    /// Checks `value` (text) against the range; returns it as a number.
    pub fn parse(&self, value: &str) -> Result<u64, String> {
        let v: u64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{}: '{value}' is not a whole number", self.name))?;
        if !(self.min..=self.max).contains(&v) {
            return Err(format!(
                "{}: {v} is out of range {}..={}",
                self.name, self.min, self.max
            ));
        }
        Ok(v)
    }
}

/// Checks a whole retune request against `tunables`: every name known,
/// every value a number in range. Returns the changes in request order.
pub fn check_tune(
    tunables: &[Tunable],
    args: &[(String, String)],
) -> Result<Vec<(&'static str, u64)>, String> {
    if args.is_empty() {
        return Err("nothing to tune: give NAME=VALUE".into());
    }
    args.iter()
        .map(|(name, value)| {
            let t = tunables.iter().find(|t| t.name == name).ok_or_else(|| {
                let known: Vec<_> = tunables.iter().map(|t| t.name).collect();
                format!(
                    "unknown tunable '{name}' (live tunables: {})",
                    known.join(", ")
                )
            })?;
            Ok((t.name, t.parse(value)?))
        })
        .collect()
}

/// What a server thread asks the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The current snapshot.
    Snapshot,
    /// Apply these `name=value` changes, then the snapshot.
    Tune(Vec<(String, String)>),
}

type Reply = Result<Snapshot, String>;
type Envelope = (Request, Sender<Reply>);

/// Asks the main loop through `tx` and waits for the answer.
fn ask(tx: &Mutex<Sender<Envelope>>, req: Request) -> Reply {
    let (rtx, rrx) = channel();
    tx.lock()
        .map_err(|_| "scheduler loop gone".to_string())?
        .send((req, rtx))
        .map_err(|_| "the scheduler is shutting down".to_string())?;
    rrx.recv_timeout(ANSWER_TIMEOUT)
        .map_err(|_| "the scheduler did not answer".to_string())?
}

/// The running servers of one scheduler.
pub struct Service {
    rx: Receiver<Envelope>,
    _stats: StatsServer<(), ()>,
    metrics: Option<SocketAddr>,
}

impl Service {
    /// Starts the stats/control socket at `socket` and, with `metrics`, the
    /// OpenMetrics endpoint at `http://<addr>/metrics`.
    pub fn launch(socket: &Path, metrics: Option<SocketAddr>) -> Result<Self, ServeError> {
        let (tx, rx) = channel::<Envelope>();
        let tx = std::sync::Arc::new(Mutex::new(tx));
        let stx = tx.clone();
        let data = StatsServerData::<(), ()>::new().add_stats(
            "top",
            Box::new(move |_args: &BTreeMap<String, String>, _| {
                ask(&stx, Request::Snapshot)
                    .map(|s| s.to_json())
                    .map_err(|e| anyhow_msg(&e))
            }),
        );
        let ttx = tx.clone();
        let data = data.add_stats(
            "tune",
            Box::new(move |args: &BTreeMap<String, String>, _| {
                let changes = args
                    .iter()
                    .filter(|(k, _)| k.as_str() != "target")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                ask(&ttx, Request::Tune(changes))
                    .map(|s| s.to_json())
                    .map_err(|e| anyhow_msg(&e))
            }),
        );
        let stats = StatsServer::new(data)
            .set_path(socket)
            .launch()
            .map_err(|e| ServeError::Socket(socket.to_path_buf(), format!("{e:#}")))?;
        // Root only: the socket retunes the scheduler.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| ServeError::Socket(socket.to_path_buf(), e.to_string()))?;

        let metrics = match metrics {
            Some(addr) => {
                let listener = TcpListener::bind(addr).map_err(|e| ServeError::Metrics(addr, e))?;
                let bound = listener
                    .local_addr()
                    .map_err(|e| ServeError::Metrics(addr, e))?;
                let mtx = tx.clone();
                std::thread::spawn(move || {
                    for stream in listener.incoming().flatten() {
                        // One scrape at a time: Prometheus scrapes rarely.
                        let _ = answer_http(stream, &mtx);
                    }
                });
                Some(bound)
            }
            None => None,
        };
        Ok(Self {
            rx,
            _stats: stats,
            metrics,
        })
    }

    /// Where the metrics endpoint listens, if it runs.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// Waits up to `timeout` for requests from the server threads and
    /// answers every one that came: `snapshot` reads the scheduler, `tune`
    /// applies one checked change (see [`check_tune`]).
    pub fn answer(
        &self,
        timeout: Duration,
        tunables: &[Tunable],
        snapshot: &mut dyn FnMut() -> Result<Snapshot, String>,
        tune: &mut dyn FnMut(&'static str, u64) -> Result<(), String>,
    ) {
        let mut next = match self.rx.recv_timeout(timeout) {
            Ok(env) => Some(env),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                // No server thread left to ask: still pace the caller's loop.
                std::thread::sleep(timeout);
                None
            }
        };
        while let Some((req, reply)) = next {
            let answer = match req {
                Request::Snapshot => snapshot(),
                Request::Tune(args) => check_tune(tunables, &args).and_then(|changes| {
                    for (name, v) in changes {
                        tune(name, v)?;
                    }
                    snapshot()
                }),
            };
            let _ = reply.send(answer);
            next = self.rx.try_recv().ok();
        }
    }
}

/// An error for the scx_stats server's reply (it sends the message back).
fn anyhow_msg(msg: &str) -> anyhow::Error {
    anyhow::anyhow!("{msg}")
}

/// Serves one HTTP request: `GET /metrics` gets the OpenMetrics text.
fn answer_http(mut stream: TcpStream, tx: &Mutex<Sender<Envelope>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Skip the headers (bounded: a client sending endless headers times out).
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = if method != "GET" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else if path != "/metrics" && !path.starts_with("/metrics?") {
        ("404 Not Found", "text/plain", "see /metrics\n".to_string())
    } else {
        match ask(tx, Request::Snapshot) {
            Ok(s) => (
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                s.openmetrics(),
            ),
            Err(e) => ("503 Service Unavailable", "text/plain", format!("{e}\n")),
        }
    };
    write!(
        stream,
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// A connection to a running scheduler's stats/control socket.
pub struct Client {
    inner: StatsClient,
    path: PathBuf,
}

impl Client {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Self, ServeError> {
        let inner = StatsClient::new()
            .set_path(path)
            .connect(Some(CLIENT_TIMEOUT_MS))
            .map_err(|e| ServeError::Connect(path.to_path_buf(), format!("{e:#}")))?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
        })
    }

    /// The scheduler's current statistics (the JSON of [`Snapshot::to_json`]).
    pub fn stats(&mut self) -> Result<Value, ServeError> {
        self.inner
            .request("stats", vec![("target".into(), "top".into())])
            .map_err(|e| self.error(e))
    }

    /// Applies `changes` (name, value) on the running scheduler; returns
    /// its statistics afterwards.
    pub fn tune(&mut self, changes: &[(String, String)]) -> Result<Value, ServeError> {
        let mut args = vec![("target".to_string(), "tune".to_string())];
        args.extend(changes.iter().cloned());
        self.inner.request("stats", args).map_err(|e| self.error(e))
    }

    fn error(&self, e: anyhow::Error) -> ServeError {
        let msg = format!("{e:#}");
        if msg.contains("connection closed") || msg.contains("Broken pipe") {
            return ServeError::Connect(self.path.clone(), msg);
        }
        // The server sends back the debug form of its error: the first line
        // is the message.
        ServeError::Request(
            msg.trim_matches('"')
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        )
    }
}

/// One `key=value` line of a statistics JSON object (as [`Snapshot::line`]
/// prints it: numbers, then tunables as `tune_<name>`).
pub fn json_line(prefix: &str, v: &Value) -> String {
    let mut line = prefix.to_string();
    if let Value::Object(map) = v {
        for (k, val) in map {
            if let Some(n) = val.as_u64() {
                line.push_str(&format!(" {k}={n}"));
            }
        }
        if let Some(Value::Object(t)) = map.get("tunables") {
            for (k, val) in t {
                if let Some(n) = val.as_u64() {
                    line.push_str(&format!(" tune_{k}={n}"));
                }
            }
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Metric;

    const KNOBS: &[Tunable] = &[Tunable {
        name: "slice_us",
        min: 100,
        max: 1_000_000,
    }];

    #[test]
    fn tune_requests_are_checked_as_a_whole() {
        let ok = check_tune(KNOBS, &[("slice_us".into(), "5000".into())]);
        assert_eq!(ok, Ok(vec![("slice_us", 5000)]));
        let err = check_tune(KNOBS, &[("slice_us".into(), "5".into())]).unwrap_err();
        assert!(err.contains("out of range 100..=1000000"), "{err}");
        let err = check_tune(KNOBS, &[("slice_us".into(), "fast".into())]).unwrap_err();
        assert!(err.contains("not a whole number"), "{err}");
        let err = check_tune(
            KNOBS,
            &[
                ("slice_us".into(), "5000".into()),
                ("bogus".into(), "1".into()),
            ],
        )
        .unwrap_err();
        assert!(err.contains("unknown tunable 'bogus'"), "{err}");
        assert!(check_tune(KNOBS, &[]).is_err());
    }

    /// A scheduler loop (this thread) answering a client and a scrape
    /// through real sockets.
    #[test]
    fn socket_and_metrics_round_trip() {
        let dir = std::env::temp_dir().join(format!("scx-arena-serve-{}", std::process::id()));
        let sock = dir.join("stats");
        let svc =
            Service::launch(&sock, Some("127.0.0.1:0".parse().expect("addr"))).expect("launch");
        let addr = svc.metrics_addr().expect("metrics runs");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sock)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the socket is for its owner only");
        let slice = std::cell::Cell::new(20_000u64);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let client = {
            let (sock, stop) = (sock.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(&sock).expect("connect");
                let before = c.stats().expect("stats");
                let after = c.tune(&[("slice_us".into(), "5000".into())]).expect("tune");
                let refused = c.tune(&[("slice_us".into(), "1".into())]).unwrap_err();
                let mut http = TcpStream::connect(addr).expect("scrape");
                http.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
                    .expect("send");
                let mut body = String::new();
                std::io::Read::read_to_string(&mut http, &mut body).expect("read");
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                (before, after, refused, body)
            })
        };
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            svc.answer(
                Duration::from_millis(50),
                KNOBS,
                &mut || {
                    let mut s = Snapshot::new("scx_test");
                    s.push(Metric::counter("enqueues", "tasks queued", 7));
                    s.tunables.push(("slice_us".into(), slice.get()));
                    Ok(s)
                },
                &mut |_, v| {
                    slice.set(v);
                    Ok(())
                },
            );
        }
        let (before, after, refused, body) = client.join().expect("client");
        assert_eq!(before["tunables"]["slice_us"], 20_000);
        assert_eq!(after["tunables"]["slice_us"], 5000);
        assert_eq!(slice.get(), 5000);
        assert!(refused.to_string().contains("out of range"), "{refused}");
        assert!(body.starts_with("HTTP/1.0 200 OK\r\n"), "{body}");
        assert!(body.contains("scx_enqueues_total{scheduler=\"scx_test\"} 7\n"));
        assert!(body.ends_with("# EOF\n"));
        assert_eq!(
            json_line("stats:", &after),
            "stats: enqueues=7 tune_slice_us=5000"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
