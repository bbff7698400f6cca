//! Accordion's predictor: how long a stream's queued queries will take with a number of
//! execution places, from "preprofiled performance data" (T375) — here the cost model's time of
//! the stream's stages alone, at each number of places and batch size.

/// What the scheduler sees of one stream at a tick.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamLoad {
    /// Queries waiting (in any of its stages' queues).
    pub queued: u64,
    /// Queries being executed.
    pub in_service: u64,
    /// How long the oldest waiting query has been in the system, s (0: none waiting).
    pub head_age_s: f64,
    /// Places it holds now (per stage).
    pub held: u32,
}

impl StreamLoad {
    /// Whether it has queries waiting or running.
    pub fn busy(&self) -> bool {
        self.queued + self.in_service > 0
    }
}

/// Predicted times of every stream, from a table of the cost model's times.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictor {
    /// Per stream: its stages' summed time alone, s, at `[places − 1][batch − 1]`.
    time_s: Vec<Vec<Vec<f64>>>,
    /// Per stream: the latency it plans for, s (`target` × its objective).
    goal_s: Vec<f64>,
    /// Per stream: its stages (each holds the stream's places).
    stages: Vec<u32>,
    /// Largest batch a stage forms.
    max_batch: u32,
}

impl Predictor {
    /// A predictor over `time_s[stream][places − 1][batch − 1]` (every stream with the same
    /// number of places and batches), with each stream's goal and stage count.
    pub fn new(time_s: Vec<Vec<Vec<f64>>>, goal_s: Vec<f64>, stages: Vec<u32>) -> Self {
        assert!(time_s.len() == goal_s.len() && time_s.len() == stages.len());
        let max_batch = time_s
            .first()
            .and_then(|t| t.first())
            .map_or(1, |b| b.len() as u32);
        Predictor {
            time_s,
            goal_s,
            stages,
            max_batch,
        }
    }

    /// Streams.
    pub fn streams(&self) -> usize {
        self.time_s.len()
    }

    /// The most places a stage may hold.
    pub fn most_places(&self) -> u32 {
        self.time_s.first().map_or(0, |t| t.len() as u32)
    }

    /// Stages of `stream`: its places count once per stage against the pool.
    pub fn stages(&self, stream: usize) -> u32 {
        self.stages[stream]
    }

    /// The latency `stream` plans for, s.
    pub fn goal_s(&self, stream: usize) -> f64 {
        self.goal_s[stream]
    }

    /// Time of one batch of `batch` queries through `stream`'s stages holding `places` each,
    /// alone, s.
    pub fn time_s(&self, stream: usize, places: u32, batch: u32) -> f64 {
        let by_places = &self.time_s[stream];
        let p = places.clamp(1, by_places.len() as u32) as usize - 1;
        let b = batch.clamp(1, self.max_batch) as usize - 1;
        by_places[p][b]
    }

    /// Predicted latency of `stream`'s waiting queries if it held `places` from now (`∞` with
    /// none while some wait): the batch running has half its time left (the mean residual of a
    /// fixed service seen at a random instant); then the waiting queries run in batches of up
    /// to the largest batch. It is the later of the oldest query's (its age, the residual, one
    /// batch) and the newest's (the residual, every batch). With nothing waiting, the residual.
    pub fn latency_s(&self, stream: usize, load: &StreamLoad, places: u32) -> f64 {
        let residual = if load.in_service > 0 {
            let running = load.in_service.min(u64::from(self.max_batch)) as u32;
            0.5 * self.time_s(stream, load.held, running)
        } else {
            0.0
        };
        if load.queued == 0 {
            return residual;
        }
        if places == 0 {
            return f64::INFINITY;
        }
        let batch = load.queued.min(u64::from(self.max_batch)) as u32;
        let batches = load.queued.div_ceil(u64::from(self.max_batch));
        let one = self.time_s(stream, places, batch);
        let oldest = load.head_age_s + residual + one;
        let newest = residual + batches as f64 * one;
        oldest.max(newest)
    }

    /// How much earlier than its goal `stream` is predicted to finish with `places` (negative:
    /// late).
    pub fn slack_s(&self, stream: usize, load: &StreamLoad, places: u32) -> f64 {
        self.goal_s[stream] - self.latency_s(stream, load, places)
    }

    /// The fewest places (1 ..= `most`) with which `stream` meets its goal; `None` if even
    /// `most` do not.
    pub fn needed(&self, stream: usize, load: &StreamLoad, most: u32) -> Option<u32> {
        (1..=most).find(|&p| self.latency_s(stream, load, p) <= self.goal_s[stream])
    }
}
