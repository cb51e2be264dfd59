//! Adding a rule to a syscall's diagram: the merge into the existing
//! levels, after the prune (`tree_prune.rs`; see `tree.rs`).

use super::prune::Walk;
use super::{Arena, Conflict, Id, REDUNDANT};

/// The rules of one syscall: an unconditional action, or a diagram whose
/// paths that end without an action fall to the filter's default.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) chains: Option<Id>,
    pub(crate) action: u32,
}

impl Arena {
    /// Merges the new chain into the level under `slot`.
    fn add(&mut self, slot: &mut Option<Id>, new: Id) -> Result<(), Conflict> {
        let mut x = slot.expect("add into an existing level");
        let n = new;
        while self.step() {
            if self.eq(x, n) {
                let nn = self.n(n).clone();
                for t in [true, false] {
                    let (n_act, x_act, x_nxt) = if t {
                        (nn.act_t, self.n(x).act_t, self.n(x).nxt_t)
                    } else {
                        (nn.act_f, self.n(x).act_f, self.n(x).nxt_f)
                    };
                    if !n_act.0 {
                        continue;
                    }
                    if !x_act.0 {
                        self.act_check(x_nxt, n_act.1)?;
                        let mut s = x_nxt;
                        self.put(&mut s);
                        let xm = self.m(x);
                        if t {
                            (xm.nxt_t, xm.act_t) = (None, (true, n_act.1));
                        } else {
                            (xm.nxt_f, xm.act_f) = (None, (true, n_act.1));
                        }
                    } else if n_act.1 != x_act.1 {
                        // libseccomp's 64-bit GT/GE (and, by a slip, LT/LE)
                        // fix-up: both overwrite the true action.
                        let wider =
                            if t { nn.datum_full > self.n(x).datum_full } else { nn.datum_full < self.n(x).datum_full };
                        if nn.hi && wider {
                            self.m(x).act_t.1 = nn.act_t.1;
                        }
                        if self.leaf(x) || self.leaf(n) {
                            return Err(Conflict::Exists);
                        }
                    }
                }
                for t in [true, false] {
                    let (n_nxt, x_nxt, x_act) = if t {
                        (nn.nxt_t, self.n(x).nxt_t, self.n(x).act_t)
                    } else {
                        (nn.nxt_f, self.n(x).nxt_f, self.n(x).act_f)
                    };
                    let Some(n_nxt) = n_nxt else { continue };
                    if x_nxt.is_some() {
                        let mut s = x_nxt;
                        self.add(&mut s, n_nxt)?;
                        if t {
                            self.m(x).nxt_t = s;
                        } else {
                            self.m(x).nxt_f = s;
                        }
                    } else if !x_act.0 {
                        let g = self.get(Some(n_nxt));
                        if t {
                            self.m(x).nxt_t = g;
                        } else {
                            self.m(x).nxt_f = g;
                        }
                    } else {
                        return Ok(());
                    }
                }
                return Ok(());
            } else if !self.lt(x, n) {
                match self.n(x).lvl_nxt {
                    None => {
                        self.m(n).lvl_prv = self.get(Some(x));
                        self.m(x).lvl_nxt = self.get(Some(n));
                        return Ok(());
                    }
                    Some(next) => x = next,
                }
            } else {
                if let Some(p) = self.n(x).lvl_prv {
                    self.m(p).lvl_nxt = self.get(Some(n));
                    self.m(n).lvl_prv = Some(p);
                    self.m(x).lvl_prv = self.get(Some(n));
                    self.m(n).lvl_nxt = Some(x);
                } else {
                    self.m(x).lvl_prv = self.get(Some(n));
                    self.m(n).lvl_nxt = self.get(Some(x));
                }
                if *slot == Some(x) {
                    *slot = self.get(Some(n));
                    self.put(&mut Some(x));
                }
                return Ok(());
            }
        }
        Ok(())
    }

    /// Adds one rule (its chain from [`Arena::chain`], `None` if
    /// unconditional) to a syscall's entry, as libseccomp's db_rule_add.
    pub(crate) fn rule_add(
        &mut self,
        entry: &mut Option<Entry>,
        chain: Option<Id>,
        action: u32,
    ) -> Result<(), Conflict> {
        self.budget.set(10_000 * (self.nodes.len() as u64 + 100));
        let r = self.merge(entry, chain, action);
        if self.looped.get() {
            return Err(Conflict::Loops);
        }
        r
    }

    fn merge(&mut self, entry: &mut Option<Entry>, chain: Option<Id>, action: u32) -> Result<(), Conflict> {
        let Some(e) = entry else {
            *entry = Some(Entry { chains: chain, action });
            return Ok(());
        };
        let mut pruned = false;
        loop {
            match (e.chains, chain) {
                (None, _) => {
                    if pruned {
                        (e.chains, e.action) = (chain, action);
                    } else {
                        self.tree_put(&mut chain.clone());
                    }
                    return Ok(());
                }
                (Some(_), None) => {
                    self.tree_put(&mut e.chains);
                    (e.chains, e.action) = (None, action);
                    return Ok(());
                }
                (Some(_), Some(new)) => {
                    let mut state = Walk { flags: 0, action };
                    let mut root = e.chains;
                    let cnt = self.prune(&mut root, e.chains, new, &mut state);
                    e.chains = root;
                    if cnt > 0 {
                        pruned = true;
                        if e.chains.is_none() {
                            continue;
                        }
                    } else if state.flags & REDUNDANT == REDUNDANT {
                        self.tree_put(&mut Some(new));
                        return Ok(());
                    }
                    let mut s = e.chains;
                    self.add(&mut s, new)?;
                    e.chains = s;
                    self.tree_put(&mut Some(new));
                    return Ok(());
                }
            }
        }
    }
}
