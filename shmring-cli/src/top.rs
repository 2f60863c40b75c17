//! `shmring top`: a live view of every ring — kind, payload, fill, processes and their roles,
//! messages/s and bytes/s — refreshed once per interval. Rates come from the rings' own
//! monotonic positions, sampled by reading the files ([`shmring::inspect`]): nothing is added
//! to any ring's hot path and `top` never attaches.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shmring::RingKind;
use shmring::inspect::{InspectError, Inspection};

use crate::ops::{
    aligned, cell, health, liveness, payload, report_json, survey, unreadable_cells,
    unreadable_json,
};
use crate::{Failure, signals};

/// `shmring top`.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// Print one sample and exit instead of the live view (with `--json`: a JSON array, one
    /// object per ring). Rates are measured over one interval, so this takes that long.
    #[arg(long)]
    once: bool,
    /// Seconds between samples (the interval the rates are measured over).
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
}

/// Every ring at one moment.
struct Sample {
    at: Instant,
    rings: Vec<(String, Result<Inspection, InspectError>)>,
}

impl Sample {
    fn take() -> Sample {
        Sample {
            at: Instant::now(),
            rings: survey(),
        }
    }

    /// The same ring (same name, creation time and kind) in this sample, if readable.
    fn find(&self, now: &Inspection) -> Option<&Inspection> {
        self.rings.iter().find_map(|(_, r)| {
            r.as_ref().ok().filter(|p| {
                p.name == now.name
                    && p.info.created_unix_ns == now.info.created_unix_ns
                    && p.info.kind == now.info.kind
            })
        })
    }
}

/// A ring's traffic over one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rate {
    /// Messages per second (typed rings; a framed ring's positions count bytes, not
    /// messages, so it has none).
    messages: Option<f64>,
    /// Bytes per second through the ring: payload bytes of a typed ring, record bytes of a
    /// framed one (each message with its 8-byte header, rounded up to 8).
    bytes: f64,
}

/// The traffic between `before` and `now` of one ring, `seconds` apart: from the growth of
/// its monotonic `tail`. `None` when there is no earlier sample of this same ring, or when
/// the positions are not comparable (a damaged control block).
fn rate(before: Option<&Inspection>, now: &Inspection, seconds: f64) -> Option<Rate> {
    if now.info.kind == RingKind::Event {
        return None; // no messages: an event segment has no positions
    }
    let (old, new) = (before?.control.as_ref()?, now.control.as_ref()?);
    if new.tail < old.tail || seconds <= 0.0 {
        return None;
    }
    let grown = (new.tail - old.tail) as f64;
    Some(if now.info.kind.is_byte_ring() {
        Rate {
            messages: None,
            bytes: grown / seconds,
        }
    } else {
        Rate {
            messages: Some(grown / seconds),
            bytes: grown * f64::from(now.info.slot_size) / seconds,
        }
    })
}

/// `950`, `12.3k`, `4.56M`, `1.2G`: three significant digits.
fn human(x: f64) -> String {
    let (value, unit) = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(scale, _)| x >= *scale)
        .map_or((x, ""), |(scale, unit)| (x / scale, unit));
    let digits = if value >= 100.0 || unit.is_empty() {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$}{unit}")
}

/// `fill` as a percentage of `capacity`, one decimal.
fn percent(fill: u64, capacity: u64) -> f64 {
    if capacity == 0 {
        0.0
    } else {
        (fill as f64 * 1000.0 / capacity as f64).round() / 10.0
    }
}

/// The lines of one frame: a title, the table (one row per ring) and, under a ring with many
/// participants, one line per participant.
fn frame(before: Option<&Sample>, now: &Sample) -> Vec<String> {
    let seconds = before.map_or(0.0, |b| now.at.duration_since(b.at).as_secs_f64());
    let mut rows: Vec<Vec<String>> = vec![
        [
            "NAME",
            "KIND",
            "PAYLOAD",
            "CAPACITY",
            "FILL",
            "FILL%",
            "MSG/S",
            "BYTES/S",
            "HEALTH",
            "PROCESSES",
        ]
        .map(String::from)
        .to_vec(),
    ];
    // Per participant lines, after the row they belong to.
    let mut details: Vec<Vec<String>> = vec![Vec::new()];
    for (name, r) in &now.rings {
        let Ok(r) = r else {
            rows.push(unreadable_cells(name, r.as_ref().unwrap_err(), 7));
            details.push(Vec::new());
            continue;
        };
        let event = r.info.kind == RingKind::Event;
        let traffic = rate(before.and_then(|b| b.find(r)), r, seconds);
        let fill = crate::ops::fill(r);
        // The summary names one sender and one receiver; more get a line each.
        // Broadcast: always, for each receiver's position and lag.
        let many = (matches!(r.info.kind, RingKind::Mpmc | RingKind::FramedMpsc)
            && r.participants.len() > 2)
            || r.info.kind.is_broadcast()
            || event;
        let tail = r.control.as_ref().map(|c| c.tail);
        rows.push(vec![
            cell(name),
            r.info.kind.to_string(),
            payload(r),
            r.info.capacity.to_string(),
            fill.map_or("-".into(), |f| f.to_string()),
            fill.map_or("-".into(), |f| {
                format!("{:.1}", percent(f, r.info.capacity))
            }),
            traffic.and_then(|t| t.messages).map_or("-".into(), human),
            traffic.map_or("-".into(), |t| format!("{}B", human(t.bytes))),
            health(r).into(),
            summary(r),
        ]);
        details.push(if many {
            r.participants
                .iter()
                .map(|p| {
                    let flight = if p.in_flight.is_empty() {
                        String::new()
                    } else {
                        let at: Vec<String> = p.in_flight.iter().map(u64::to_string).collect();
                        format!(", in flight at {}", at.join(" "))
                    };
                    let lag = match (p.position, crate::ops::lag(p, tail)) {
                        (Some(at), Some(lag)) => format!(", at {at}, lag {lag}"),
                        _ => String::new(),
                    };
                    let state = match p.state {
                        Some(s) if event => format!(", {s}"),
                        _ => String::new(),
                    };
                    format!(
                        "    {} {} {}{flight}{lag}{state}",
                        p.role,
                        p.pid,
                        liveness(p.liveness)
                    )
                })
                .collect()
        } else {
            Vec::new()
        });
    }
    let mut lines = vec![format!(
        "shmring top — {} ring{}, every {:.1} s; q quits",
        now.rings.len(),
        if now.rings.len() == 1 { "" } else { "s" },
        before.map_or(0.0, |_| seconds),
    )];
    if now.rings.is_empty() {
        lines.push(format!("no shmring rings in {}", shmring::inspect::SHM_DIR));
        return lines;
    }
    for (line, extra) in aligned(&rows).into_iter().zip(details) {
        lines.push(line);
        lines.extend(extra);
    }
    lines
}

/// `1 sender, 2 receivers (1 dead)`: the processes of a ring by role.
fn summary(r: &Inspection) -> String {
    if r.participants.is_empty() {
        return "-".into();
    }
    let count = |role: &str| r.participants.iter().filter(|p| p.role == role).count();
    let dead = r
        .participants
        .iter()
        .filter(|p| p.liveness == shmring::process::Liveness::Dead)
        .count();
    let mut parts = Vec::new();
    for role in ["sender", "receiver", "listener", "unannounced"] {
        match count(role) {
            0 => {}
            1 if r.participants.len() <= 2 => {
                let p = r.participants.iter().find(|p| p.role == role).unwrap();
                parts.push(format!("{role} {} {}", p.pid, liveness(p.liveness)));
            }
            1 => parts.push(format!("1 {role}")),
            n => parts.push(format!("{n} {role}s")),
        }
    }
    let mut text = parts.join(", ");
    if dead > 0 && r.participants.len() > 2 {
        text.push_str(&format!(" ({dead} dead)"));
    }
    text
}

/// One sample as JSON: each ring as `inspect --json` shows it, with its fill in percent and
/// its rate over the interval (`null` where it cannot be told).
fn sample_json(before: &Sample, now: &Sample) -> Value {
    let seconds = now.at.duration_since(before.at).as_secs_f64();
    let rings: Vec<Value> = now
        .rings
        .iter()
        .map(|(name, r)| match r {
            Ok(r) => {
                let traffic = rate(before.find(r), r, seconds);
                let mut v = report_json(r);
                v["fill_percent"] = json!(crate::ops::fill(r).map(|f| percent(f, r.info.capacity)));
                v["rate"] = json!({
                    "interval_s": seconds,
                    "messages_per_s": traffic.and_then(|t| t.messages),
                    "bytes_per_s": traffic.map(|t| t.bytes),
                });
                v
            }
            Err(e) => unreadable_json(name, e),
        })
        .collect();
    Value::Array(rings)
}

pub fn run(args: &TopArgs, json: bool) -> Result<(), Failure> {
    if !(args.interval.is_finite() && (0.01..=3600.0).contains(&args.interval)) {
        return Err(Failure::new(
            2,
            format!(
                "--interval {} is out of range (0.01 to 3600 seconds)",
                args.interval
            ),
        ));
    }
    let interval = Duration::from_secs_f64(args.interval);
    if args.once {
        let before = Sample::take();
        std::thread::sleep(interval);
        let now = Sample::take();
        if json {
            outln!("{}", sample_json(&before, &now))?;
        } else {
            for line in frame(Some(&before), &now) {
                outln!("{line}")?;
            }
        }
        return Ok(());
    }
    if json {
        return Err(Failure::new(
            2,
            "--json needs --once (top --once --json prints one sample)",
        ));
    }
    if !std::io::stdout().is_terminal() {
        return Err(Failure::new(
            2,
            "top draws a live view on a terminal; for a script or a pipe use \
             `shmring top --once` (or --once --json)",
        ));
    }
    live(interval)
}

/// The terminal in raw mode on the alternate screen, cursor hidden; restored when dropped
/// (also after an error or a stop signal).
struct Screen;

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        use crossterm::{cursor, execute, terminal};
        terminal::enable_raw_mode()?;
        let screen = Screen;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(screen)
    }

    /// Draws `lines` from the top left, each cut to the terminal's width, as many as fit.
    fn draw(&self, lines: &[String]) -> std::io::Result<()> {
        use crossterm::{cursor, queue, style::Print, terminal};
        let (width, height) = terminal::size().unwrap_or((80, 24));
        let (width, height) = (usize::from(width), usize::from(height).max(2));
        let mut out = std::io::stdout().lock();
        queue!(
            out,
            cursor::MoveTo(0, 0),
            terminal::Clear(terminal::ClearType::All)
        )?;
        let shown = if lines.len() > height {
            height - 1
        } else {
            lines.len()
        };
        for (row, line) in lines.iter().take(shown).enumerate() {
            let cut: String = line.chars().take(width).collect();
            queue!(out, cursor::MoveTo(0, row as u16), Print(cut))?;
        }
        if shown < lines.len() {
            let more = format!(
                "… {} more lines (a taller terminal shows them)",
                lines.len() - shown
            );
            let cut: String = more.chars().take(width).collect();
            queue!(out, cursor::MoveTo(0, shown as u16), Print(cut))?;
        }
        out.flush()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        use crossterm::{cursor, execute, terminal};
        let _ = execute!(
            std::io::stdout(),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// The live view: a frame per interval until `q`, Esc, Ctrl-C or a stop signal.
fn live(interval: Duration) -> Result<(), Failure> {
    use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
    let terminal_error = |e: std::io::Error| Failure::new(1, format!("terminal: {e}"));
    signals::catch();
    let screen = Screen::enter().map_err(terminal_error)?;
    let mut before: Option<Sample> = None;
    loop {
        let now = Sample::take();
        let lines = frame(before.as_ref(), &now);
        screen.draw(&lines).map_err(terminal_error)?;
        before = Some(now);
        let next = Instant::now() + interval;
        loop {
            let stopped = signals::caught();
            if stopped != 0 {
                drop(screen);
                return Err(Failure::new((128 + stopped) as u8, String::new()));
            }
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if !event::poll(left.min(Duration::from_millis(100))).map_err(terminal_error)? {
                continue;
            }
            match event::read().map_err(terminal_error)? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL);
                    if matches!(key.code, KeyCode::Char('q' | 'Q') | KeyCode::Esc) || ctrl_c {
                        return Ok(());
                    }
                }
                // The same frame again, at the new size.
                Event::Resize(..) => screen.draw(&lines).map_err(terminal_error)?,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers_have_three_digits() {
        assert_eq!(human(0.0), "0");
        assert_eq!(human(950.4), "950");
        assert_eq!(human(12_345.0), "12.3k");
        assert_eq!(human(4_560_000.0), "4.56M");
        assert_eq!(human(1.2e9), "1.20G");
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(5, 0), 0.0);
    }
}
