//! Profiling driver (not part of the extension): decodes newline-separated capture events from
//! a file in batches of 20,000, `ROUNDS` times, with the bench's 25-feature plan for every model.
//! `cargo run --release --example profile_decode -- FILE ROUNDS`, or under `perf record`.

use std::collections::HashMap;
use std::time::Instant;

use modelmon_native::batch;
use modelmon_native::layout::Plans;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE");
    let rounds: usize = args.next().map_or(10, |r| r.parse().expect("ROUNDS"));
    let data = std::fs::read(&path).expect("read");
    let values: Vec<Option<&[u8]>> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(Some)
        .collect();
    let mut names: Vec<String> = (0..21).map(|i| format!("n{i:02}")).collect();
    names.extend((0..4).map(|i| format!("c{i}")));
    let plans = Plans::new(HashMap::from([("bench".to_owned(), names)]));
    let started = Instant::now();
    let mut accepted = 0;
    for _ in 0..rounds {
        for chunk in values.chunks(20_000) {
            accepted += batch::decode(chunk, &plans, 1 << 20, 64).index.len();
        }
    }
    let per = started.elapsed().as_secs_f64() / (rounds * values.len()) as f64 * 1e6;
    println!("{accepted} accepted, {per:.3} us/event");
}
