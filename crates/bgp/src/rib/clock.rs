//! When selections changed, without a timestamp per destination.
//!
//! Every change of a destination's selection gets the RIB's next change number (its
//! `stamp`). The clock notes, about once per tick of the router, the change number reached
//! at that moment; the time of a change is then the first note at or past its number. A
//! full table costs nothing more per destination (a timestamp in each would cost 8 MB per
//! million), and the notes are bounded: when there are too many, every other one of the
//! older half goes, so old changes are dated less finely than recent ones.

use std::collections::VecDeque;
use std::time::Instant;

/// Notes kept at most.
const NOTES: usize = 4096;

/// Change numbers and the moments they were reached.
#[derive(Debug, Clone, Default)]
pub struct ChangeClock {
    /// `(change number, when)`, oldest first; change numbers increase (wrapping).
    notes: VecDeque<(u32, Instant)>,
}

/// Whether change number `a` comes after `b` (numbers wrap).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl ChangeClock {
    /// Notes that by `now` the change numbers reached `seq`.
    pub fn note(&mut self, seq: u32, now: Instant) {
        if self.notes.back().is_some_and(|&(s, _)| !after(seq, s)) {
            return; // nothing changed since the last note
        }
        self.notes.push_back((seq, now));
        if self.notes.len() > NOTES {
            let old = NOTES / 2;
            let mut kept: VecDeque<(u32, Instant)> = VecDeque::with_capacity(NOTES);
            kept.extend(self.notes.iter().take(old).step_by(2).copied());
            kept.extend(self.notes.iter().skip(old).copied());
            self.notes = kept;
        }
    }

    /// When the change numbered `stamp` happened, at the latest: `None` if it came after
    /// the last note (it is more recent than the last tick) or nothing was noted. A change
    /// older than every note is dated by the oldest.
    pub fn when(&self, stamp: u32) -> Option<Instant> {
        let i = self.notes.partition_point(|&(s, _)| after(stamp, s));
        self.notes.get(i).map(|&(_, t)| t)
    }

    /// Whether anything was noted (a speaker whose runtime keeps no clock has none).
    pub fn is_running(&self) -> bool {
        !self.notes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_change_is_dated_by_the_first_note_at_or_past_its_number() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut c = ChangeClock::default();
        assert_eq!(c.when(1), None);
        c.note(5, at(1));
        c.note(5, at(2)); // no change: no note
        c.note(9, at(3));
        assert_eq!(c.when(1), Some(at(1)), "older than every note");
        assert_eq!(c.when(5), Some(at(1)));
        assert_eq!(c.when(6), Some(at(3)));
        assert_eq!(c.when(9), Some(at(3)));
        assert_eq!(c.when(10), None, "after the last note");
    }

    #[test]
    fn numbers_that_wrap_keep_their_order() {
        let t0 = Instant::now();
        let mut c = ChangeClock::default();
        c.note(u32::MAX - 1, t0);
        c.note(3, t0 + Duration::from_secs(1));
        assert_eq!(c.when(u32::MAX), Some(t0 + Duration::from_secs(1)));
        assert_eq!(c.when(2), Some(t0 + Duration::from_secs(1)));
        assert_eq!(c.when(u32::MAX - 1), Some(t0));
    }

    #[test]
    fn notes_stay_bounded_and_recent_changes_keep_their_precision() {
        let t0 = Instant::now();
        let mut c = ChangeClock::default();
        for i in 1..=20_000u32 {
            c.note(i * 10, t0 + Duration::from_secs(u64::from(i)));
        }
        assert!(c.notes.len() <= NOTES);
        // The last few thousand changes are dated to their own second.
        let t = c.when(19_999 * 10 - 5).unwrap();
        assert_eq!(t, t0 + Duration::from_secs(19_999));
        // Old ones are still dated, less finely, never before they happened.
        let t = c.when(15).unwrap();
        assert!(t >= t0 + Duration::from_secs(2), "{:?}", t - t0);
    }
}
