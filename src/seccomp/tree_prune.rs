//! Reference counting, removal and pruning in a syscall's diagram: what
//! libseccomp does before it merges a new rule (see `tree.rs`).

use super::{Arena, Conflict, Id, MATCH, MATCHSET, MATCH_ONCE, N_FINISHED, N_PREFIX, X_FINISHED, X_PREFIX};

/// The state of a prune walk.
pub(super) struct Walk {
    pub(super) flags: u32,
    pub(super) action: u32,
}

impl Arena {
    /// Drops a reference; a node left without any is unlinked from its
    /// level and its children dropped. Returns the nodes freed.
    pub(super) fn put(&mut self, slot: &mut Option<Id>) -> usize {
        let Some(id) = *slot else { return 0 };
        self.m(id).refcnt -= 1;
        if self.n(id).refcnt > 0 {
            return 0;
        }
        let (mut lp, mut ln) = (self.n(id).lvl_prv, self.n(id).lvl_nxt);
        let (mut t, mut f) = (self.n(id).nxt_t, self.n(id).nxt_f);
        if let Some(p) = lp {
            self.m(p).lvl_nxt = None;
        }
        if let Some(n) = ln {
            self.m(n).lvl_prv = None;
        }
        let mut cnt = self.put(&mut lp) + self.put(&mut ln);
        if let Some(p) = lp {
            self.m(p).lvl_nxt = self.get(ln);
        }
        if let Some(n) = ln {
            self.m(n).lvl_prv = self.get(lp);
        }
        *slot = lp.or(ln);
        cnt += self.tree_put(&mut t) + self.tree_put(&mut f);
        self.m(id).freed = true;
        cnt + 1
    }

    /// Frees the level of `id` if nothing but its own links refers to it.
    fn level_clean(&mut self, id: Id) -> usize {
        let start = self.level_start(id);
        let mut n = Some(start);
        while let Some(i) = n {
            if !self.step() {
                return 0;
            }
            let links = u32::from(self.n(i).lvl_prv.is_some()) + u32::from(self.n(i).lvl_nxt.is_some());
            if self.n(i).refcnt > links {
                return 0;
            }
            n = self.n(i).lvl_nxt;
        }
        let (mut n, mut cnt) = (Some(start), 0);
        while n.is_some() && self.step() {
            cnt += self.put(&mut n);
        }
        cnt
    }

    pub(crate) fn tree_put(&mut self, slot: &mut Option<Id>) -> usize {
        let mut cnt = self.put(slot);
        if let Some(id) = *slot {
            cnt += self.level_clean(id);
        }
        cnt
    }

    /// Unlinks `node` (or the first node found left without children or
    /// actions) from the diagram under `slot`; returns the nodes freed.
    fn remove(&mut self, slot: &mut Option<Id>, node: Id) -> usize {
        let Some(top) = *slot else { return 0 };
        let mut c = Some(self.level_start(top));
        let mut cnt = 0;
        while let Some(i) = c {
            if !self.step() {
                return cnt;
            }
            if i != node {
                let mut t = self.n(i).nxt_t;
                cnt += self.remove(&mut t, node);
                self.m(i).nxt_t = t;
                let mut f = self.n(i).nxt_f;
                cnt += self.remove(&mut f, node);
                self.m(i).nxt_f = f;
            }
            if i == node || self.zombie(i) {
                if Some(i) == *slot {
                    *slot = self.n(i).lvl_prv.or(self.n(i).lvl_nxt);
                }
                let (p, n) = (self.n(i).lvl_prv, self.n(i).lvl_nxt);
                if let Some(p) = p {
                    self.m(p).lvl_nxt = n;
                }
                if let Some(n) = n {
                    self.m(n).lvl_prv = p;
                }
                self.m(i).lvl_prv = None;
                self.m(i).lvl_nxt = None;
                return cnt + self.put(&mut Some(i));
            }
            if cnt > 0 {
                return cnt;
            }
            c = self.n(i).lvl_nxt;
        }
        cnt
    }

    /// Whether every action under `id` (its whole level) is `action`.
    pub(super) fn act_check(&self, id: Option<Id>, action: u32) -> Result<(), Conflict> {
        let Some(id) = id else { return Ok(()) };
        let mut c = Some(self.level_start(id));
        while let Some(i) = c {
            if !self.step() {
                return Ok(());
            }
            let n = self.n(i);
            if (n.act_t.0 && n.act_t.1 != action) || (n.act_f.0 && n.act_f.1 != action) {
                return Err(Conflict::Exists);
            }
            self.act_check(n.nxt_t, action)?;
            self.act_check(n.nxt_f, action)?;
            c = n.lvl_nxt;
        }
        Ok(())
    }

    /// Prunes below `x` (its true or false branch, or `x`'s own level when
    /// `branch` is `None`) against `new`, holding a reference on `x`
    /// meanwhile. Returns the walk's flags and what is left of `x`.
    fn prune_sub(
        &mut self,
        root: &mut Option<Id>,
        x: Id,
        branch: Option<bool>,
        new: Id,
        walk: Walk,
        cnt: &mut usize,
    ) -> (u32, Option<Id>) {
        self.get(Some(x));
        let mut next = walk;
        let slot = match branch {
            Some(true) => self.n(x).nxt_t,
            Some(false) => self.n(x).nxt_f,
            None => Some(x),
        };
        *cnt += self.prune(root, slot, new, &mut next);
        let mut xs = Some(x);
        *cnt += self.put(&mut xs);
        (next.flags, xs)
    }

    /// Removes the parts of the existing diagram the new chain makes
    /// redundant. `root` is the syscall's diagram, `slot` the level walked.
    pub(super) fn prune(&mut self, root: &mut Option<Id>, slot: Option<Id>, new: Id, state: &mut Walk) -> usize {
        let mut cnt = 0;
        let mut st = Walk { flags: state.flags, action: state.action };
        let Some(top) = slot else { return Self::prune_ret(state, &st, cnt) };
        if state.flags & MATCHSET == MATCH_ONCE {
            return Self::prune_ret(state, &st, cnt);
        }
        let n = new;
        let action = state.action;
        let mut cursor = Some(self.level_start(top));
        while let Some(mut x) = cursor {
            if !self.step() {
                break;
            }
            let x_next = self.n(x).lvl_nxt;
            'node: {
                if self.eq(x, n) {
                    st.flags |= MATCHSET;
                    if self.leaf(n) {
                        st.flags |= N_FINISHED;
                    }
                    if self.leaf(x) {
                        st.flags |= X_FINISHED;
                    }
                    let (xn, nn) = (self.n(x).clone(), self.n(n).clone());
                    if (xn.act_t.0 || xn.nxt_t.is_some()) && !(nn.act_t.0 || nn.nxt_t.is_some()) {
                        return Self::prune_ret(state, &st, cnt);
                    }
                    if (xn.act_f.0 || xn.nxt_f.is_some()) && !(nn.act_f.0 || nn.nxt_f.is_some()) {
                        return Self::prune_ret(state, &st, cnt);
                    }
                    let finished = N_FINISHED | X_FINISHED;
                    if st.flags & finished == finished && (nn.act_t != xn.act_t || nn.act_f != xn.act_f) {
                        return Self::prune_ret(state, &st, cnt);
                    }
                    for (t, nsub) in [(true, nn.nxt_t), (false, nn.nxt_f)] {
                        let Some(nsub) = nsub else { continue };
                        let walk = Walk { flags: state.flags | MATCHSET, action };
                        let (flags, left) = self.prune_sub(root, x, Some(t), nsub, walk, &mut cnt);
                        if flags & MATCH != 0 {
                            st.flags |= flags;
                        }
                        match left {
                            None => break 'node,
                            Some(l) => x = l,
                        }
                    }
                    let same = self.act_check(Some(x), action).is_ok() && st.flags & MATCH != 0;
                    if same && st.flags & N_FINISHED != 0 && st.flags & X_PREFIX != 0 {
                        cnt += self.remove(root, x);
                        if root.is_none() {
                            return Self::prune_ret(state, &st, cnt);
                        }
                    } else if same && st.flags & X_FINISHED != 0 && st.flags & N_PREFIX != 0 {
                        return Self::prune_ret(state, &st, cnt);
                    }
                } else if self.lt(x, n) {
                    if state.flags & N_PREFIX != 0 {
                        return Self::prune_ret(state, &st, cnt);
                    }
                    for t in [true, false] {
                        let has = if t { self.n(x).nxt_t.is_some() } else { self.n(x).nxt_f.is_some() };
                        if !has {
                            continue;
                        }
                        let walk = Walk { flags: (state.flags & !MATCH) | X_PREFIX, action };
                        let (flags, left) = self.prune_sub(root, x, Some(t), n, walk, &mut cnt);
                        if flags & MATCH != 0 {
                            st.flags |= flags;
                            return Self::prune_ret(state, &st, cnt);
                        }
                        match left {
                            None => break 'node,
                            Some(l) => x = l,
                        }
                    }
                } else {
                    if state.flags & X_PREFIX != 0 {
                        return Self::prune_ret(state, &st, cnt);
                    }
                    for t in [true, false] {
                        let nsub = if t { self.n(n).nxt_t } else { self.n(n).nxt_f };
                        let Some(nsub) = nsub else { continue };
                        let walk = Walk { flags: (state.flags & !MATCH) | N_PREFIX, action };
                        let (flags, left) = self.prune_sub(root, x, None, nsub, walk, &mut cnt);
                        if flags & MATCH != 0 {
                            st.flags |= flags;
                            return Self::prune_ret(state, &st, cnt);
                        }
                        match left {
                            None => break 'node,
                            Some(l) => x = l,
                        }
                    }
                }
            }
            cursor = x_next;
        }
        st.flags &= !MATCH;
        Self::prune_ret(state, &st, cnt)
    }

    fn prune_ret(state: &mut Walk, st: &Walk, cnt: usize) -> usize {
        if st.flags & MATCH != 0 {
            state.flags |= st.flags;
        } else {
            state.flags &= !MATCH;
        }
        cnt
    }
}
