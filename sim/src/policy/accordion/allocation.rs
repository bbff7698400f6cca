//! Who holds which execution places after a tick: Accordion's rule and its four baselines'
//! (T386), as pure functions of the streams' loads and the predictor.
//!
//! Every rule takes places only from a pool of `pool` places; a stream of k stages holding r
//! places uses k·r of them. A stream with nothing waiting or running keeps one place parked, so
//! that its next query starts at once rather than at the next tick; the rest return to the
//! pool, and a parked place goes to any stream that needs it.

use super::predictor::{Predictor, StreamLoad};

/// A scheduling rule: Accordion or one of its baselines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Priority queues, SLO-sized allocations, donation from pipelines that can spare places
    /// and still meet their objectives, and spare places to the least slack.
    Accordion,
    /// The fewest places that meet each stream's objective, as they free up, oldest query
    /// first; never more, never taken from another stream.
    SloConforming,
    /// Every free place to the stream of the oldest query, kept while it has work.
    Fastest,
    /// As SLO-Conforming, with queries buffered into batches (the batching is the data
    /// plane's: the policy sets the batch size and timeout).
    Bbs,
    /// One place per stream with work, oldest query first.
    OneStage,
}

impl Rule {
    /// The name of its `[policy] kind`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Accordion => "accordion",
            Rule::SloConforming => "slo_conforming",
            Rule::Fastest => "fastest",
            Rule::Bbs => "bbs",
            Rule::OneStage => "one_stage",
        }
    }
}

/// Places per stage of every stream after a tick under `rule`. `high[s]` puts stream s in the
/// high-priority queue (Accordion only).
pub fn allocate(
    rule: Rule,
    predictor: &Predictor,
    loads: &[StreamLoad],
    high: &[bool],
    pool: u32,
) -> Vec<u32> {
    let mut book = Book::new(predictor, loads, pool);
    match rule {
        Rule::OneStage => {
            for s in book.oldest_first() {
                book.grow(s, 1);
            }
        }
        Rule::Fastest => {
            for s in book.busy() {
                book.set(s, loads[s].held);
            }
            for s in book.oldest_first() {
                book.grow(s, predictor.most_places());
            }
        }
        Rule::SloConforming | Rule::Bbs => {
            for s in book.busy() {
                let need = book.needed_or_most(s);
                book.set(s, loads[s].held.min(need));
            }
            for s in book.oldest_first() {
                let need = book.needed_or_most(s);
                book.grow(s, need);
            }
        }
        Rule::Accordion => accordion(&mut book, high),
    }
    book.alloc
}

/// Accordion (../shared/THESIS.md §4 [proposed]): running pipelines keep their places; high
/// priority first, least slack first within a queue, each stream grows to the fewest places
/// that meet its goal (one place if none would: a late stream does not take from one that can
/// still be on time) — from the pool, then from the
/// streams after it in that order: a donor predicted to meet its goal keeps the fewest places
/// that still do; one predicted late whatever it holds keeps one place (no deadline it could
/// meet is lost). Spare places go one by one to the waiting stream with the least slack.
fn accordion(book: &mut Book<'_>, high: &[bool]) {
    for s in book.busy() {
        book.set(s, book.loads[s].held);
    }
    let mut order = book.busy();
    order.sort_by(|&a, &b| {
        high[b]
            .cmp(&high[a])
            .then(book.slack(a).total_cmp(&book.slack(b)))
            .then(a.cmp(&b))
    });
    for (k, &s) in order.iter().enumerate() {
        let most = book.predictor.most_places();
        let need = book.predictor.needed(s, &book.loads[s], most).unwrap_or(1);
        book.grow(s, need);
        if book.alloc[s] >= need {
            continue;
        }
        // Donors: the streams after it, low priority first, then the most slack.
        let mut donors = order[k + 1..].to_vec();
        donors.sort_by(|&a, &b| {
            high[a]
                .cmp(&high[b])
                .then(book.slack(b).total_cmp(&book.slack(a)))
                .then(a.cmp(&b))
        });
        for d in donors {
            let spare = book.spare(d);
            if spare == 0 {
                continue;
            }
            // Pool units stream s still lacks, in whole places of the donor's.
            let wanted = (need - book.alloc[s]) * book.predictor.stages(s);
            let given = spare.min(wanted.div_ceil(book.predictor.stages(d)));
            book.set(d, book.alloc[d] - given);
            book.grow(s, need);
            if book.alloc[s] >= need {
                break;
            }
        }
    }
    // Spare places to the waiting stream with the least slack, one at a time.
    loop {
        let candidate = order
            .iter()
            .copied()
            .filter(|&s| {
                book.loads[s].queued > 0
                    && book.alloc[s] < book.predictor.most_places()
                    && book.predictor.stages(s) <= book.free()
            })
            .min_by(|&a, &b| book.slack(a).total_cmp(&book.slack(b)).then(a.cmp(&b)));
        let Some(s) = candidate else { break };
        book.set(s, book.alloc[s] + 1);
    }
}

/// The allocation being built, and what it is built from.
struct Book<'a> {
    predictor: &'a Predictor,
    loads: &'a [StreamLoad],
    pool: u32,
    alloc: Vec<u32>,
}

impl<'a> Book<'a> {
    fn new(predictor: &'a Predictor, loads: &'a [StreamLoad], pool: u32) -> Self {
        assert_eq!(predictor.streams(), loads.len());
        let alloc = loads
            .iter()
            .map(|l| if l.busy() { 0 } else { l.held.min(1) })
            .collect();
        Book {
            predictor,
            loads,
            pool,
            alloc,
        }
    }

    /// Streams with work, in index order.
    fn busy(&self) -> Vec<usize> {
        (0..self.loads.len())
            .filter(|&s| self.loads[s].busy())
            .collect()
    }

    /// Streams with work, the oldest waiting query first (those with none waiting last).
    fn oldest_first(&self) -> Vec<usize> {
        let mut order = self.busy();
        order.sort_by(|&a, &b| {
            let age = |s: usize| {
                let l = &self.loads[s];
                if l.queued > 0 { l.head_age_s } else { -1.0 }
            };
            age(b).total_cmp(&age(a)).then(a.cmp(&b))
        });
        order
    }

    fn used(&self) -> u32 {
        self.alloc
            .iter()
            .enumerate()
            .map(|(s, &a)| a * self.predictor.stages(s))
            .sum()
    }

    fn free(&self) -> u32 {
        self.pool.saturating_sub(self.used())
    }

    fn set(&mut self, stream: usize, places: u32) {
        self.alloc[stream] = places.min(self.predictor.most_places());
        debug_assert!(
            self.used() <= self.pool,
            "{:?} over {}",
            self.alloc,
            self.pool
        );
    }

    /// Grows `stream` towards `to` places from the pool, taking back places parked by idle
    /// streams where the pool is short.
    fn grow(&mut self, stream: usize, to: u32) {
        let per_place = self.predictor.stages(stream);
        let short = (to.saturating_sub(self.alloc[stream]) * per_place).saturating_sub(self.free());
        let mut freed = 0;
        for idle in 0..self.loads.len() {
            if freed >= short {
                break;
            }
            if !self.loads[idle].busy() && self.alloc[idle] > 0 {
                freed += self.alloc[idle] * self.predictor.stages(idle);
                self.alloc[idle] = 0;
            }
        }
        let can = self.alloc[stream] + self.free() / per_place;
        let next = to.min(can).max(self.alloc[stream]);
        self.set(stream, next);
    }

    /// The fewest places that meet the stream's goal, or all it may hold if none do.
    fn needed_or_most(&self, stream: usize) -> u32 {
        let most = self.predictor.most_places();
        self.predictor
            .needed(stream, &self.loads[stream], most)
            .unwrap_or(most)
    }

    /// Places `stream` can give and still meet its goal in the prediction: down to the fewest
    /// that do; all but one if it misses its goal already with what it holds.
    fn spare(&self, stream: usize) -> u32 {
        let held = self.alloc[stream];
        let load = &self.loads[stream];
        if !load.busy() {
            return held;
        }
        match self.predictor.needed(stream, load, held) {
            Some(need) => held - need,
            None => held.saturating_sub(1),
        }
    }

    /// Slack with what it holds now in the allocation.
    fn slack(&self, stream: usize) -> f64 {
        self.predictor
            .slack_s(stream, &self.loads[stream], self.alloc[stream].max(1))
    }
}
