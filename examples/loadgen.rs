//! An open-loop, fixed-rate HTTP load generator for the decision endpoint (wrk2-style).
//!
//! Why not wrk: wrk2 is not installed here, and wrk's Lua `delay()` is closed-loop (the next
//! request waits for the previous answer) with millisecond timers, so a slow answer hides the
//! requests that should have been sent meanwhile ("coordinated omission"). Here every request
//! has an *intended* send time on a fixed schedule and its latency is measured from that time,
//! so queueing behind a slow answer counts against the server, as a real client would see it.
//! The generator's own lateness counts too: `thread::sleep` wakes 50-100 µs late here (timer
//! slack plus the scheduler), which is a floor under the latencies, as it is in wrk2.
//!
//!     cargo build --release --example loadgen
//!     target/release/examples/loadgen --addr 127.0.0.1:18181 --rate 5000 --duration 10 \
//!         --mix distinct --orgs 50 --users 900 --workspaces 50
//!
//! Prints one JSON line for the recorded window (warm-up excluded):
//! `{"target_rate","sent","completed","non_2xx","errors","achieved_rate","p50_ms",...}`.
//! `sent` below rate × duration means the server fell so far behind that sending stopped at
//! the deadline (one window past the end); `achieved_rate` then shows what it sustained.

use std::error::Error;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mix {
    /// Every request drawn afresh (scripts/wrk/distinct.lua).
    Distinct,
    /// 300 fixed bodies drawn uniformly (scripts/wrk/repeating.lua).
    Repeating,
}

/// Open-loop fixed-rate load generator; latency is corrected for coordinated omission.
#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:18181")]
    addr: String,
    #[arg(long, default_value = "/v1/authorize")]
    path: String,
    /// Total requests per second over all connections.
    #[arg(long)]
    rate: f64,
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Recorded seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds sent on the same schedule before recording starts.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    #[arg(long, value_enum, default_value_t = Mix::Distinct)]
    mix: Mix,
    #[arg(long)]
    orgs: u64,
    #[arg(long)]
    users: u64,
    #[arg(long)]
    workspaces: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Draw orgs from [0, N) only (0, or more than --orgs, = all orgs), as common.lua's arg 7.
    #[arg(long, default_value_t = 0)]
    org_pool: u64,
    /// Draw members from the first N users of each org only (0 = all), as common.lua's arg 8.
    #[arg(long, default_value_t = 0)]
    users_per_org: u64,
    /// Extra request header, "Name: value" (repeatable), e.g. Authorization.
    #[arg(long = "header")]
    headers: Vec<String>,
}

/// splitmix64: tiny, fast, good enough to draw request shapes (no rand crate here).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1), like Lua's `math.random()`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi] inclusive, like Lua's `math.random(lo, hi)`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        let span = hi - lo + 1;
        lo + ((u128::from(self.next()) * u128::from(span)) >> 64) as u64
    }
}

const ORG_ACTIONS: [(&str, &str); 9] = [
    ("view_org", "{}"),
    ("view_subscription_usage", "{}"),
    ("create_project", "{}"),
    ("create_workspace", "{}"),
    ("view_audit_logs", "{}"),
    ("update_retention_policy", "{}"),
    ("configure_sso", "{}"),
    ("start_checkout", "{}"),
    ("invite_user", r#"{"role":"member"}"#),
];
const WS_ACTIONS: [&str; 3] = ["view_workspace", "create_agent", "view_analytics"];

/// The data shape of scripts/gen_data.py, drawn as scripts/wrk/common.lua does: user u<k> is
/// in org o<k % orgs> (u<o> its primary owner), workspace w<j> in org o<j % orgs>.
impl Args {
    /// Largest j with `o + orgs*j < n` (0 when there is none, as Lua's `max(k, 0)`).
    fn last(&self, n: u64, o: u64) -> u64 {
        n.saturating_sub(1 + o) / self.orgs
    }

    /// A user of org o: its primary owner 30% of the time (so plan gates answer 402).
    fn user_of(&self, rng: &mut Rng, o: u64) -> u64 {
        if rng.unit() < 0.3 {
            return o;
        }
        let mut k = self.last(self.users, o);
        if self.users_per_org > 0 {
            k = k.min(self.users_per_org - 1);
        }
        o + self.orgs * rng.range(0, k)
    }

    /// One decision body: 25% workspace actions, else org actions.
    fn body(&self, rng: &mut Rng) -> String {
        let pool = match self.org_pool {
            0 => self.orgs,
            p => p.min(self.orgs),
        };
        let o = rng.range(0, pool - 1);
        let u = self.user_of(rng, o);
        if rng.unit() < 0.25 {
            let w = o + self.orgs * rng.range(0, self.last(self.workspaces, o));
            let a = WS_ACTIONS[rng.range(0, WS_ACTIONS.len() as u64 - 1) as usize];
            return format!(
                r#"{{"principal":{{"type":"User","id":"u{u}"}},"action":{{"type":"Action","id":"{a}"}},"resource":{{"type":"Workspace","id":"w{w}"}}}}"#
            );
        }
        let (a, ctx) = ORG_ACTIONS[rng.range(0, ORG_ACTIONS.len() as u64 - 1) as usize];
        format!(
            r#"{{"principal":{{"type":"User","id":"u{u}"}},"action":{{"type":"Action","id":"{a}"}},"resource":{{"type":"Org","id":"o{o}"}},"context":{ctx}}}"#
        )
    }
}

/// One connection's results for the recorded window.
#[derive(Default)]
struct Stats {
    sent: u64,
    completed: u64,
    non_2xx: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    last_done: Option<Instant>,
}

/// Reads one response: status line, headers (Content-Length, Connection), then the body.
/// Returns the status and whether the server will close the connection.
fn read_response(r: &mut BufReader<TcpStream>, line: &mut String) -> io::Result<(u16, bool)> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    line.clear();
    if r.read_line(line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let (mut len, mut close) = (0u64, false);
    loop {
        line.clear();
        if r.read_line(line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if line.trim_end().is_empty() {
            break; // the empty line ending the headers
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad("bad header line"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            len = value.parse().map_err(|_| bad("bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("chunked responses are not supported"));
        }
    }
    if io::copy(&mut r.by_ref().take(len), &mut io::sink())? != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok((status, close))
}

/// Sends one request on the connection, (re)connecting first if there is none.
fn exchange(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: &str,
    req: &str,
    line: &mut String,
) -> io::Result<(u16, bool)> {
    let c = match conn {
        Some(c) => c,
        None => {
            let s = TcpStream::connect(addr)?;
            s.set_nodelay(true)?;
            // A hung server must not hang the run; 10 s is far past any latency of interest.
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            conn.insert(BufReader::new(s))
        }
    };
    c.get_mut().write_all(req.as_bytes())?;
    read_response(c, line)
}

/// Connection `i`: its k-th request is intended at `t0 + i*P/C + k*P` with `P = C/R`, so the
/// connections interleave evenly. Behind schedule it sends at once (never skips), and the
/// latency still counts from the intended time. Requests intended before `record` are warm-up.
fn connection(
    i: usize,
    args: &Args,
    working_set: &[String],
    head: &str,
    (t0, record, end): (Instant, Instant, Instant),
) -> Stats {
    let period = args.connections as f64 / args.rate;
    let offset = i as f64 * period / args.connections as f64;
    // Far behind schedule (overload), stop sending one window past `end` so the run ends.
    let deadline = end + (end - record);
    let mut rng = Rng(args.seed ^ (i as u64 + 1).wrapping_mul(0xD134_2543_DE82_EF95));
    let (mut stats, mut conn, mut line) = (Stats::default(), None, String::new());
    for k in 0u64.. {
        let intended = t0 + Duration::from_secs_f64(offset + k as f64 * period);
        if intended >= end || Instant::now() >= deadline {
            break;
        }
        let body = match args.mix {
            Mix::Distinct => args.body(&mut rng),
            Mix::Repeating => {
                working_set[rng.range(0, working_set.len() as u64 - 1) as usize].clone()
            }
        };
        let req = format!("{head}Content-Length: {}\r\n\r\n{body}", body.len());
        // Prepared ahead, so the send itself is on time; sleep, never spin.
        if let Some(wait) = intended.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let recorded = intended >= record;
        stats.sent += u64::from(recorded);
        let result = exchange(&mut conn, &args.addr, &req, &mut line);
        let done = Instant::now();
        match result {
            Ok((status, close)) => {
                if close {
                    conn = None;
                }
                if recorded {
                    stats.completed += 1;
                    stats.non_2xx += u64::from(!(200..300).contains(&status));
                    let us = (done - intended).as_micros();
                    stats
                        .latencies_us
                        .push(u32::try_from(us).unwrap_or(u32::MAX));
                    stats.last_done = Some(done);
                }
            }
            Err(_) => {
                conn = None; // reconnect on the next request
                stats.errors += u64::from(recorded);
            }
        }
    }
    stats
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn pct_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    if !args.rate.is_finite()
        || args.rate <= 0.0
        || args.connections == 0
        || args.duration <= 0.0
        || args.warmup < 0.0
    {
        return Err("--rate and --duration must be > 0, --connections >= 1, --warmup >= 0".into());
    }
    if args.orgs == 0 || args.users == 0 || args.workspaces == 0 {
        return Err("--orgs, --users and --workspaces must be >= 1".into());
    }
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n",
        args.path, args.addr
    );
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or(format!("bad --header {h:?}"))?;
        head.push_str(&format!("{}: {}\r\n", name.trim(), value.trim()));
    }
    // repeating.lua: 300 bodies from seed 42, the same working set on every connection.
    let mut ws_rng = Rng(42);
    let working_set: Vec<String> = match args.mix {
        Mix::Repeating => (0..300).map(|_| args.body(&mut ws_rng)).collect(),
        Mix::Distinct => Vec::new(),
    };
    // A short lead so every thread is up before its first intended send.
    let t0 = Instant::now() + Duration::from_millis(50);
    let record = t0 + Duration::from_secs_f64(args.warmup);
    let end = record + Duration::from_secs_f64(args.duration);
    let window = (t0, record, end);
    let all: Vec<Stats> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.connections)
            .map(|i| {
                let (ws, head) = (&working_set, &head);
                s.spawn(move || connection(i, args, ws, head, window))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    if all.len() != args.connections {
        return Err("a connection thread panicked".into());
    }
    let mut lat: Vec<u32> = all
        .iter()
        .flat_map(|s| s.latencies_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let sum = |f: fn(&Stats) -> u64| all.iter().map(f).sum::<u64>();
    let completed = sum(|s| s.completed);
    // The window lasts to `end`, or to the last answer when the server fell behind.
    let last = all.iter().filter_map(|s| s.last_done).max().unwrap_or(end);
    let elapsed = (last.max(end) - record).as_secs_f64();
    let out = serde_json::json!({
        "target_rate": args.rate,
        "sent": sum(|s| s.sent),
        "completed": completed,
        "non_2xx": sum(|s| s.non_2xx),
        "errors": sum(|s| s.errors),
        "achieved_rate": completed as f64 / elapsed,
        "p50_ms": pct_ms(&lat, 0.50),
        "p90_ms": pct_ms(&lat, 0.90),
        "p99_ms": pct_ms(&lat, 0.99),
        "p999_ms": pct_ms(&lat, 0.999),
        "max_ms": lat.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
    });
    println!("{out}");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
